import json

import pytest

from inference import cli
from inference.readers import Article, iter_records
from inference.splitter import split_article
from tests.conftest import write_jsonl

DUMP = [
    {"id": "x1", "title": "Лидеры созвонились", "text": "Стороны обсудили поставки газа.\nДоговорились о встрече.\n- Фермеры перекрыли трассу 1 245"},
    {"id": "x2", "title": "Отгрузки пшеницы выросли", "text": "Ввезено 12 тысяч тонн."},
    "{broken",
    {"id": "x3", "title": "", "text": ""},
    {"id": "x4", "title": "Только заголовок", "text": ""},
] + [{"id": f"n{i}", "title": f"Новость {i}", "text": f"Абзац {i}.\nЕще абзац {i}."} for i in range(9)]


def expected_rows(path):
    return [(r.id, p.index, p.kind, p.text) for r in iter_records(path) if isinstance(r, Article)
            for p in split_article(r.title, r.text)]


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
        assert row["label"] in labels and set(row["probs"]) == labels
        assert row["score"] == max(row["probs"].values())
        assert abs(sum(row["probs"].values()) - 1) < 1e-3
    errors = read_rows(str(out) + ".errors.jsonl")
    assert [(e["line"], e["article_id"]) for e in errors] == [(3, None), (4, "x3")]
    assert f"{dump}:3: not valid JSON" in capsys.readouterr().err
    # Every input article is accounted for: in the output or in the errors file.
    assert len({r["article_id"] for r in rows}) + len(errors) == len(DUMP)
    assert not (tmp_path / "scored.jsonl.progress.json").exists()


def test_scores_match_plain_pipeline(tiny_run, tmp_path):
    from transformers import pipeline

    dump = write_jsonl(tmp_path / "dump.jsonl", DUMP[:2])
    out = tmp_path / "scored.jsonl"
    cli.main(["--model", str(tiny_run / "model"), "--input", str(dump), "--output", str(out), "--quiet"])
    rows = read_rows(out)
    reference = pipeline("text-classification", model=str(tiny_run / "model"))([r["text"] for r in rows])
    assert [r["label"] for r in rows] == [p["label"] for p in reference]
    assert [r["score"] for r in rows] == pytest.approx([p["score"] for p in reference], abs=1e-4)


def test_a_crashed_run_resumes_without_duplicates_or_losses(tiny_run, tmp_path, monkeypatch):
    dump = write_jsonl(tmp_path / "dump.jsonl", DUMP)
    args = ["--model", str(tiny_run / "model"), "--input", str(dump), "--chunk-articles", "2", "--quiet"]
    clean = tmp_path / "clean.jsonl"
    assert cli.main(args + ["--output", str(clean)]) == 0

    crashed = tmp_path / "crashed.jsonl"
    real_score_chunk, calls = cli.score_chunk, {"n": 0}

    def dying_score_chunk(scorer, articles):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt("killed")
        return real_score_chunk(scorer, articles)

    monkeypatch.setattr(cli, "score_chunk", dying_score_chunk)
    with pytest.raises(KeyboardInterrupt):
        cli.main(args + ["--output", str(crashed)])
    # Simulate a half-written chunk left behind by the crash: resume must cut it off.
    with open(crashed, "a", encoding="utf-8") as handle:
        handle.write('{"article_id": "partial"')
    monkeypatch.setattr(cli, "score_chunk", real_score_chunk)
    assert cli.main(args + ["--output", str(crashed)]) == 0
    assert crashed.read_text(encoding="utf-8") == clean.read_text(encoding="utf-8")
    assert (tmp_path / "crashed.jsonl.errors.jsonl").read_text() == (tmp_path / "clean.jsonl.errors.jsonl").read_text()


def test_existing_output_without_progress_needs_overwrite(tiny_run, tmp_path, capsys):
    dump = write_jsonl(tmp_path / "dump.jsonl", DUMP[:2])
    out = tmp_path / "scored.jsonl"
    out.write_text("old results\n", encoding="utf-8")
    args = ["--model", str(tiny_run / "model"), "--input", str(dump), "--output", str(out), "--quiet"]
    assert cli.main(args) == 2 and "--overwrite" in capsys.readouterr().err
    assert cli.main(args + ["--overwrite"]) == 0 and "old results" not in out.read_text(encoding="utf-8")


def test_csv_output_has_one_probability_column_per_label(tiny_run, tmp_path):
    import csv

    dump = write_jsonl(tmp_path / "dump.jsonl", DUMP[:2])
    out = tmp_path / "scored.csv"
    assert cli.main(["--model", str(tiny_run / "model"), "--input", str(dump), "--output", str(out), "--quiet"]) == 0
    rows = list(csv.DictReader(open(out, encoding="utf-8")))
    assert len(rows) == len(expected_rows(dump))
    assert {"article_id", "paragraph", "kind", "text", "label", "score", "prob_phone_call", "prob_other"} <= set(rows[0])


def test_missing_input_is_a_one_line_error(tiny_run, tmp_path, capsys):
    code = cli.main(["--model", str(tiny_run / "model"), "--input", str(tmp_path / "nope.jsonl"),
                     "--output", str(tmp_path / "o.jsonl"), "--quiet"])
    assert code == 2 and "nope.jsonl: no such file" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()
