import csv
import json

import pyarrow.parquet as pq
import pytest

from inference.classifier import ScoredParagraph
from inference.output import ScoredWriter, article_summaries
from inference.readers import BadRecord

LABELS = ["a", "b", "other"]


def row(i, label="a", score=0.9, article=None, paragraph=0):
    rest = round(1 - score, 6)
    probs = {"a": score if label == "a" else rest, "b": score if label == "b" else 0.0, "other": 0.0}
    if label == "other":
        probs = {"a": rest, "b": 0.0, "other": score}
    return ScoredParagraph(article or f"x{i}", paragraph, "body", f"t{i}", label, score, probs, 1)


def test_resume_cuts_what_was_written_after_the_last_commit(tmp_path):
    out = tmp_path / "o.jsonl"
    writer = ScoredWriter(out, LABELS)
    writer.write_rows([row(1), row(2)])
    writer.write_error(BadRecord("d.jsonl", 3, "not valid JSON"))
    writer.commit(3)
    writer.write_rows([row(3)])  # never committed: the run "dies" here
    writer.write_error(BadRecord("d.jsonl", 5, "no text"))
    for sink in writer.sinks.values():
        sink.handle.flush()
    assert not out.exists()  # the final name never holds half a run

    resumed = ScoredWriter(out, LABELS)
    assert (resumed.records_done, resumed.rows_written, resumed.errors_written) == (3, 2, 1)
    resumed.write_rows([row(3)])
    resumed.commit(1)
    resumed.close(finished=True)
    assert [json.loads(line)["article_id"] for line in out.open()] == ["x1", "x2", "x3"]
    assert len((tmp_path / "o.jsonl.errors.jsonl").read_text().splitlines()) == 1
    assert not (tmp_path / "o.jsonl.progress.json").exists()
    assert not (tmp_path / "o.jsonl.partial").exists()


def test_progress_from_another_model_is_refused(tmp_path):
    out = tmp_path / "o.jsonl"
    ScoredWriter(out, LABELS).commit(0)
    with pytest.raises(ValueError, match="another model"):
        ScoredWriter(out, ["a", "b", "c"])


def test_overwrite_starts_afresh_and_csv_has_a_column_per_label(tmp_path):
    out = tmp_path / "o.csv"
    writer = ScoredWriter(out, LABELS)
    writer.write_rows([row(1)])
    writer.commit(1)
    writer.close(finished=False)
    fresh = ScoredWriter(out, LABELS, resume=False)
    fresh.write_rows([row(2, "b", 0.75)])
    fresh.commit(1)
    fresh.close(finished=True)
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert list(rows[0]) == ["article_id", "paragraph", "kind", "text", "label", "score", "windows",
                             "raw_label", "raw_score", "prob_a", "prob_b", "prob_other"]
    assert [(r["article_id"], r["label"], float(r["prob_b"])) for r in rows] == [("x2", "b", 0.75)]


def test_parquet_is_written_in_row_groups_and_resumes_by_part(tmp_path):
    out = tmp_path / "o.parquet"
    writer = ScoredWriter(out, LABELS)
    writer.write_rows([row(1), row(2)])
    writer.commit(2)
    writer.write_rows([row(3)])
    writer.commit(1)
    writer.write_rows([row(4)])  # lost with the crash, rewritten on resume
    writer.close(finished=False)
    resumed = ScoredWriter(out, LABELS)
    assert resumed.records_done == 3
    resumed.write_rows([row(4)])
    resumed.commit(1)
    resumed.close(finished=True)
    table = pq.read_table(out)
    assert table.column("article_id").to_pylist() == ["x1", "x2", "x3", "x4"]
    assert pq.ParquetFile(out).metadata.num_row_groups == 3
    assert table.schema.field("prob_b").type == "float"


def test_article_summary_names_each_event_and_its_top_paragraph(tmp_path):
    rows = [row(1, "a", 0.7, "art", 0), row(2, "a", 0.95, "art", 1), row(3, "other", 0.8, "art", 2),
            row(4, "other", 0.99, "quiet", 0)]
    summaries = article_summaries(rows, ["a", "b"])
    assert summaries == [
        {"article_id": "art", "paragraphs": 3, "events": ["a"], "top": {"a": {"paragraph": 1, "score": 0.95}}},
        {"article_id": "quiet", "paragraphs": 1, "events": [], "top": {}},
    ]
    out, summary = tmp_path / "o.jsonl", tmp_path / "articles.csv"
    writer = ScoredWriter(out, LABELS, summary=summary)
    writer.write_rows(rows)
    writer.commit(2)
    writer.close(finished=True)
    flat = list(csv.DictReader(summary.open(encoding="utf-8")))
    assert [(r["article_id"], r["events"], r["top_a_paragraph"], r["top_b_score"]) for r in flat] == [
        ("art", "a", "1", ""), ("quiet", "", "", "")]
