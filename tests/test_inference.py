import csv
import json

import pyarrow.parquet as pq
import pytest

from inference import EventClassifier, cli, score_dump
from inference.readers import iter_paragraphs
from tests.conftest import write_jsonl

DUMP = [
    {"id": "x1", "title": "Лидеры созвонились",
     "text": "Стороны обсудили поставки газа.\nДоговорились о встрече.\n- Фермеры перекрыли трассу 1 245"},
    {"id": "x2", "title": "Отгрузки пшеницы выросли", "text": "Ввезено 12 тысяч тонн."},
    "{broken",
    {"id": "x3", "title": "", "text": ""},
    {"id": "x4", "title": "Только заголовок", "text": ""},
] + [{"id": f"n{i}", "title": f"Новость {i}", "text": f"Абзац {i}.\nЕще абзац {i}."} for i in range(9)]


def expected_rows(path):
    return [(a.id, p.index, p.kind, p.text) for a, paragraphs in iter_paragraphs(path) for p in paragraphs]


def read_rows(path):
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def test_every_paragraph_of_every_article_is_scored_and_bad_records_are_kept(tiny_run, tmp_path, capsys):
    dump = write_jsonl(tmp_path / "dump.jsonl", DUMP)
    out = tmp_path / "scored.jsonl"
    assert cli.main(["--model", str(tiny_run / "model"), "--input", str(dump), "--output", str(out),
                     "--batch-size", "4", "--chunk-articles", "3", "--quiet"]) == 0
    rows = read_rows(out)
    assert [(r["article_id"], r["paragraph"], r["kind"], r["text"]) for r in rows] == expected_rows(dump)
    assert rows[3]["kind"] == "related" and rows[3]["text"] == "Фермеры перекрыли трассу"
    labels = {"phone_call", "support_statement", "unrest_report", "trade_news", "other"}
    for row in rows:
        assert row["label"] in labels and set(row["probs"]) == labels and row["windows"] == 1
        assert row["score"] == max(row["probs"].values())
        assert abs(sum(row["probs"].values()) - 1) < 1e-3
    errors = read_rows(str(out) + ".errors.jsonl")
    assert [(e["line"], e["article_id"]) for e in errors] == [(3, None), (4, "x3")]
    assert f"{dump}:3: not valid JSON" in capsys.readouterr().err
    # Every input article is accounted for: in the output or in the errors file.
    assert len({r["article_id"] for r in rows}) + len(errors) == len(DUMP)
    assert not (tmp_path / "scored.jsonl.progress.json").exists()


def test_scores_match_plain_pipeline_up_to_the_fitted_temperature(tiny_run, tmp_path):
    import numpy as np
    from transformers import pipeline

    from inference.calibration import apply_temperature
    from inference.classifier import ClassifierSettings

    dump = write_jsonl(tmp_path / "dump.jsonl", DUMP[:2])
    out = tmp_path / "scored.jsonl"
    cli.main(["--model", str(tiny_run / "model"), "--input", str(dump), "--output", str(out), "--quiet"])
    rows = read_rows(out)
    reference = pipeline("text-classification", model=str(tiny_run / "model"), top_k=None)([r["text"] for r in rows])
    labels = list(rows[0]["probs"])
    plain = np.array([[{s["label"]: s["score"] for s in scores}[x] for x in labels] for scores in reference])
    temperature = ClassifierSettings.load(tiny_run / "model").temperature
    assert temperature != 1.0  # training fitted one on dev
    expected = apply_temperature(plain, temperature)
    assert [r["label"] for r in rows] == [labels[i] for i in expected.argmax(1)]
    np.testing.assert_allclose([[r["probs"][x] for x in labels] for r in rows], expected, atol=1e-4)


def test_repeated_paragraphs_are_scored_once(tiny_run, tmp_path):
    byline = "Подписывайтесь на наш Telegram-канал"
    dump = write_jsonl(tmp_path / "dump.jsonl", [{"id": f"a{i}", "title": f"Заголовок {i}",
                                                  "text": f"Новость номер {i}.\n{byline}"} for i in range(6)])
    summary = score_dump(tiny_run / "model", dump, tmp_path / "o.jsonl", progress=False, chunk_articles=2)
    # 6 titles + 6 bodies + 1 byline scored; the byline's 5 repeats come from the cache.
    assert summary["cache"] == {"texts": 18, "scored": 13, "from_cache": 5, "saved_share": round(5 / 18, 4)}
    rows = read_rows(tmp_path / "o.jsonl")
    assert len({json.dumps(r["probs"]) for r in rows if r["text"] == byline}) == 1


def test_a_crashed_run_resumes_without_duplicates_or_losses(tiny_run, tmp_path, monkeypatch):
    dump = write_jsonl(tmp_path / "dump.jsonl", DUMP)
    args = ["--model", str(tiny_run / "model"), "--input", str(dump), "--chunk-articles", "2", "--quiet",
            "--article-summary"]
    clean = tmp_path / "clean.jsonl"
    assert cli.main(args + [str(tmp_path / "clean_articles.jsonl"), "--output", str(clean)]) == 0

    crashed = tmp_path / "crashed.jsonl"
    real_score, calls = EventClassifier.score, {"n": 0}

    def dying_score(self, articles):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt("killed")
        return real_score(self, articles)

    monkeypatch.setattr(EventClassifier, "score", dying_score)
    # Ctrl-C ends the command with 130 and a note, after the writer has kept what was committed.
    assert cli.main(args + [str(tmp_path / "crashed_articles.jsonl"), "--output", str(crashed)]) == 130
    assert not crashed.exists()
    # Simulate a half-written chunk left behind by the crash: resume must cut it off.
    with open(str(crashed) + ".partial", "a", encoding="utf-8") as handle:
        handle.write('{"article_id": "partial"')
    monkeypatch.setattr(EventClassifier, "score", real_score)
    assert cli.main(args + [str(tmp_path / "crashed_articles.jsonl"), "--output", str(crashed)]) == 0
    assert crashed.read_text(encoding="utf-8") == clean.read_text(encoding="utf-8")
    assert (tmp_path / "crashed.jsonl.errors.jsonl").read_text() == (tmp_path / "clean.jsonl.errors.jsonl").read_text()
    assert (tmp_path / "crashed_articles.jsonl").read_text() == (tmp_path / "clean_articles.jsonl").read_text()


def test_existing_output_without_progress_needs_overwrite(tiny_run, tmp_path, capsys):
    dump = write_jsonl(tmp_path / "dump.jsonl", DUMP[:2])
    out = tmp_path / "scored.jsonl"
    out.write_text("old results\n", encoding="utf-8")
    args = ["--model", str(tiny_run / "model"), "--input", str(dump), "--output", str(out), "--quiet"]
    assert cli.main(args) == 2 and "--overwrite" in capsys.readouterr().err
    assert cli.main(args + ["--overwrite"]) == 0 and "old results" not in out.read_text(encoding="utf-8")


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_csv_and_parquet_outputs_hold_the_same_rows_as_jsonl(tiny_run, tmp_path, ext):
    dump = write_jsonl(tmp_path / "dump.jsonl", DUMP)
    model = tiny_run / "model"
    score_dump(model, dump, tmp_path / "o.jsonl", progress=False, print_errors=False)
    score_dump(model, dump, tmp_path / f"o.{ext}", progress=False, print_errors=False, chunk_articles=3,
               article_summary=tmp_path / f"articles.{ext}")
    reference = read_rows(tmp_path / "o.jsonl")
    if ext == "csv":
        rows = list(csv.DictReader(open(tmp_path / "o.csv", encoding="utf-8")))
        summaries = list(csv.DictReader(open(tmp_path / "articles.csv", encoding="utf-8")))
    else:
        rows = pq.read_table(tmp_path / "o.parquet").to_pylist()
        summaries = pq.read_table(tmp_path / "articles.parquet").to_pylist()
        assert pq.ParquetFile(tmp_path / "o.parquet").metadata.num_row_groups == 5  # one per chunk: 14 records by 3
    assert [(r["article_id"], int(r["paragraph"]), r["label"]) for r in rows] == [
        (r["article_id"], r["paragraph"], r["label"]) for r in reference]
    assert [float(r["prob_other"]) for r in rows] == pytest.approx([r["probs"]["other"] for r in reference], abs=1e-5)
    assert [s["article_id"] for s in summaries] == list(dict.fromkeys(r["article_id"] for r in reference))


def test_missing_input_is_a_one_line_error(tiny_run, tmp_path, capsys):
    code = cli.main(["--model", str(tiny_run / "model"), "--input", str(tmp_path / "nope.jsonl"),
                     "--output", str(tmp_path / "o.jsonl"), "--quiet"])
    assert code == 2 and "nope.jsonl: no such file" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()


def test_a_folder_of_pickled_weights_is_refused_with_a_hint(tmp_path, capsys):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "pytorch_model.bin").write_bytes(b"not loaded")
    dump = write_jsonl(tmp_path / "dump.jsonl", DUMP[:1])
    code = cli.main(["--model", str(folder), "--input", str(dump), "--output", str(tmp_path / "o.jsonl"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "no safetensors weights" in err and "safe_serialization=True" in err


def test_adjust_priors_estimates_the_dump_priors_before_scoring(tiny_run, tmp_path, capsys):
    dump = write_jsonl(tmp_path / "dump.jsonl", DUMP)
    out = tmp_path / "o.jsonl"
    assert cli.main(["--model", str(tiny_run / "model"), "--input", str(dump), "--output", str(out), "--quiet",
                     "--adjust-priors", "--prior-sample", "10"]) == 0
    printed = capsys.readouterr().out
    assert "estimated priors:" in printed
    priors = json.loads(printed.split("estimated priors: ")[1].split(" (training")[0])
    assert set(priors) == {"phone_call", "support_statement", "unrest_report", "trade_news", "other"}
    assert sum(priors.values()) == pytest.approx(1.0, abs=1e-3)
