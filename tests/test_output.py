import json

import pytest

from inference.output import ScoredWriter
from inference.readers import BadRecord

LABELS = ["a", "b"]


def row(i):
    return {"article_id": f"x{i}", "paragraph": 0, "kind": "body", "text": f"t{i}", "label": "a", "score": 0.9,
            "probs": {"a": 0.9, "b": 0.1}}


def test_resume_cuts_what_was_written_after_the_last_commit(tmp_path):
    out = tmp_path / "o.jsonl"
    writer = ScoredWriter(out, LABELS)
    writer.write_rows([row(1), row(2)])
    writer.write_error(BadRecord("d.jsonl", 3, "not valid JSON"))
    writer.commit(3)
    writer.write_rows([row(3)])  # never committed: the run "dies" here
    writer.write_error(BadRecord("d.jsonl", 5, "no text"))
    writer._out.flush()
    writer._err.flush()

    resumed = ScoredWriter(out, LABELS)
    assert (resumed.records_done, resumed.rows_written, resumed.errors_written) == (3, 2, 1)
    resumed.write_rows([row(3)])
    resumed.commit(1)
    resumed.close(finished=True)
    assert [json.loads(line)["article_id"] for line in out.open()] == ["x1", "x2", "x3"]
    assert len((tmp_path / "o.jsonl.errors.jsonl").read_text().splitlines()) == 1
    assert not (tmp_path / "o.jsonl.progress.json").exists()


def test_progress_from_another_model_is_refused(tmp_path):
    out = tmp_path / "o.jsonl"
    ScoredWriter(out, LABELS).commit(0)
    with pytest.raises(ValueError, match="another model"):
        ScoredWriter(out, ["a", "b", "c"])


def test_overwrite_starts_afresh(tmp_path):
    out = tmp_path / "o.csv"
    writer = ScoredWriter(out, LABELS)
    writer.write_rows([row(1)])
    writer.commit(1)
    writer.close(finished=False)
    fresh = ScoredWriter(out, LABELS, resume=False)
    fresh.close(finished=True)
    assert out.read_text(encoding="utf-8").splitlines() == ["article_id,paragraph,kind,text,label,score,prob_a,prob_b"]
