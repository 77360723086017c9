"""The Ray Data engine against the local one: same rows, same errors, same resume semantics."""
import gzip
import json

import pytest

from inference import score_dump
from inference.output import ScoredWriter
from inference.readers import Fields, dump_units, iter_records

ray = pytest.importorskip("ray")
from inference.ray_engine import committed_per_unit, score_dump_ray  # noqa: E402

TEXTS = [
    ("Путин провёл телефонный разговор с Токаевым", "Стороны обсудили поставки зерна.\n\nТакже речь шла о "
     "транзите.\n\nЧитайте также:\n- Экспорт пшеницы вырос"),
    ("В Кишинёве прошёл митинг", "Несколько тысяч человек вышли на площадь.\n\nПолиция задержала двоих."),
    ("Погода на выходные", "В субботу ожидается до плюс 12 градусов, без осадков."),
    ("Партия заявила о поддержке реформы", "«Мы поддерживаем курс правительства», — сказал лидер фракции."),
]


@pytest.fixture(scope="module")
def ray_local():
    # Two actors of one CPU each on this machine; threads pinned so they do not fight over the cores.
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}})
    yield
    ray.shutdown()


def make_dump(folder):
    folder.mkdir()
    lines = []
    for i in range(14):
        title, text = TEXTS[i % len(TEXTS)]
        lines.append(json.dumps({"id": f"a{i}", "title": title, "text": text}, ensure_ascii=False))
    lines.insert(3, "{not json")
    lines.insert(7, json.dumps({"id": "junk", "title": "", "text": "Просмотров: 120"}))
    (folder / "part-1.jsonl").write_text("\n".join(lines[:9]) + "\n", encoding="utf-8")
    with gzip.open(folder / "part-2.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines[9:]) + "\n")
    (folder / "part-3.csv").write_text("id,title,text\nc1,Экспорт вина,Молдова увеличила поставки вина.\nc2,,\n",
                                       encoding="utf-8")
    return folder


def rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_ray_engine_gives_the_local_engines_rows_and_errors(tiny_run, tmp_path, ray_local):
    dump = make_dump(tmp_path / "dump")
    local = score_dump(tiny_run / "model", dump, tmp_path / "local.jsonl", progress=False, print_errors=False,
                       article_summary=tmp_path / "local-articles.jsonl")
    summary = score_dump_ray(tiny_run / "model", dump, tmp_path / "ray.jsonl", actors=2, records_per_batch=3,
                             chunk_articles=4, progress=False, print_errors=False,
                             article_summary=tmp_path / "ray-articles.jsonl")
    ours, theirs = rows(tmp_path / "ray.jsonl"), rows(tmp_path / "local.jsonl")
    assert [(r["article_id"], r["paragraph"], r["kind"], r["label"]) for r in ours] == \
           [(r["article_id"], r["paragraph"], r["kind"], r["label"]) for r in theirs]
    # The tiny model's labels barely vary; its probabilities are what tells two scorings apart.
    flat = [p for r in ours for _, p in sorted(r["probs"].items())]
    assert flat == pytest.approx([p for r in theirs for _, p in sorted(r["probs"].items())], abs=1e-5)
    assert rows(tmp_path / "ray.jsonl.errors.jsonl") == rows(tmp_path / "local.jsonl.errors.jsonl")
    assert len(rows(tmp_path / "ray.jsonl.errors.jsonl")) == 3  # bad JSON, junk-only text, empty CSV row
    assert [a["article_id"] for a in rows(tmp_path / "ray-articles.jsonl")] == \
           [a["article_id"] for a in rows(tmp_path / "local-articles.jsonl")]
    assert (summary["records"], summary["paragraphs"], summary["errors"]) == \
           (local["records"], local["paragraphs"], local["errors"]) == (18, len(theirs), 3)


def test_ray_run_killed_after_a_commit_resumes_without_duplicates_or_losses(tiny_run, tmp_path, ray_local,
                                                                          monkeypatch):
    dump = make_dump(tmp_path / "dump")
    score_dump(tiny_run / "model", dump, tmp_path / "local.jsonl", progress=False, print_errors=False)
    commit, calls = ScoredWriter.commit, []

    def dying_commit(self, records):
        commit(self, records)
        calls.append(records)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the driver is killed right after its second commit

    monkeypatch.setattr(ScoredWriter, "commit", dying_commit)
    with pytest.raises(KeyboardInterrupt):
        score_dump_ray(tiny_run / "model", dump, tmp_path / "ray.jsonl", actors=2, records_per_batch=2,
                       chunk_articles=5, progress=False, print_errors=False)
    monkeypatch.setattr(ScoredWriter, "commit", commit)
    assert not (tmp_path / "ray.jsonl").exists()
    assert json.loads((tmp_path / "ray.jsonl.progress.json").read_text())["records_done"] == 10
    summary = score_dump_ray(tiny_run / "model", dump, tmp_path / "ray.jsonl", actors=2, records_per_batch=2,
                             chunk_articles=5, progress=False, print_errors=False)
    assert summary["records"] == 18
    assert [(r["article_id"], r["paragraph"], r["label"]) for r in rows(tmp_path / "ray.jsonl")] == \
           [(r["article_id"], r["paragraph"], r["label"]) for r in rows(tmp_path / "local.jsonl")]
    assert rows(tmp_path / "ray.jsonl.errors.jsonl") == rows(tmp_path / "local.jsonl.errors.jsonl")


def test_committed_records_are_counted_file_by_file_in_reading_order(tmp_path):
    dump = make_dump(tmp_path / "dump")
    units = dump_units(dump)
    assert [u.name for u, _ in units] == ["part-1.jsonl", "part-2.jsonl.gz", "part-3.csv"]
    sizes = [sum(1 for _ in iter_records(u, f)) for u, f in units]
    assert sizes == [9, 7, 2]
    assert committed_per_unit(units, Fields(), 0) == [0, 0, 0]
    assert committed_per_unit(units, Fields(), 11) == [9, 2, 0]
    assert committed_per_unit(units, Fields(), 18) == [9, 7, 2]
