import pytest

from bench.audit import check_ids, read_audit, summarize, wilson
from tests.conftest import write_jsonl


def test_precision_per_label_and_overall_with_wilson_intervals(tmp_path):
    rows = ([{"article_id": f"a{i}", "paragraph": 1, "label": "trade_news", "verdict": "correct"} for i in range(8)]
            + [{"article_id": "b", "paragraph": 2, "label": "trade_news", "verdict": "wrong", "true_label": "other"},
               {"article_id": "c", "paragraph": 0, "label": "phone_call", "verdict": "wrong", "true_label": "other"}])
    path = write_jsonl(tmp_path / "audit.jsonl", rows)
    summary = summarize(read_audit(path))
    assert summary["trade_news"]["precision"] == pytest.approx(8 / 9, abs=1e-3)
    assert summary["phone_call"] == {"audited": 1, "correct": 0, "precision": 0.0, "wilson_95": wilson(0, 1)}
    assert summary["all events"]["precision"] == 0.8
    assert summary["wrong_as"] == {"trade_news -> other": 1, "phone_call -> other": 1}
    low, high = wilson(8, 10)
    assert 0.45 < low < 0.8 < high < 0.95


def test_an_audit_never_holds_text_and_its_ids_must_exist(tmp_path):
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"article_id": "a", "paragraph": 1, "label": "phone_call",
                                               "verdict": "correct", "text": "..."}])
    with pytest.raises(ValueError, match="never the text"):
        read_audit(bad)
    dump = write_jsonl(tmp_path / "dump.jsonl", [{"id": "a", "title": "Заголовок", "text": "Первый.\nВторой."}])
    rows = [{"article_id": "a", "paragraph": 2, "label": "other", "verdict": "correct"},
            {"article_id": "a", "paragraph": 5, "label": "other", "verdict": "correct"}]
    assert check_ids(rows, dump) == ["a#5"]
