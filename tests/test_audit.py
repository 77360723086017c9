import json

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


def test_a_fresh_audit_draw_leaves_out_articles_of_earlier_audits(tmp_path):
    from bench.event_share import audited_articles, write_audit_sample

    rows = [{"article_id": f"a{i}", "paragraph": p, "kind": "title" if p == 0 else "body", "label": label,
             "score": 0.9, "text": f"текст {i} {p}"}
            for i in range(6) for p, label in enumerate(["other", "trade_news", "other"])]
    scored = write_jsonl(tmp_path / "scored.jsonl", rows)
    earlier = write_jsonl(tmp_path / "earlier.jsonl", [{"article_id": "a1", "paragraph": 1, "label": "trade_news",
                                                        "verdict": "wrong", "true_label": "other"},
                                                       {"article_id": "a4", "paragraph": 1, "label": "trade_news",
                                                        "verdict": "correct"}])
    out = tmp_path / "sample.jsonl"
    write_audit_sample(scored, 10, 0, str(out), audited_articles([str(earlier)]))
    drawn = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["article_id"] for r in drawn) == ["a0", "a2", "a3", "a5"]
    assert all(r["label"] == "trade_news" and r["title"] == f"текст {r['article_id'][1:]} 0" for r in drawn)


def test_stricter_thresholds_narrow_an_audit_to_what_they_still_label(tmp_path):
    from bench.audit import keep_above
    rows = [{"article_id": "a", "paragraph": 1, "label": "trade_news", "score": 0.97, "verdict": "correct"},
            {"article_id": "a", "paragraph": 2, "label": "trade_news", "score": 0.91, "verdict": "wrong",
             "true_label": "other"},
            {"article_id": "b", "paragraph": 1, "label": "phone_call", "score": 0.6, "verdict": "wrong",
             "true_label": "other"}]
    kept = keep_above(rows, {"trade_news": 0.95})
    assert [(r["article_id"], r["paragraph"]) for r in kept] == [("a", 1), ("b", 1)]
    assert summarize(kept)["trade_news"]["precision"] == 1.0


def test_precision_weighted_by_the_models_label_shares():
    from bench.audit import weighted_by_shares
    summary = {"trade_news": {"precision": 0.5}, "phone_call": {"precision": 0.0}}
    out = weighted_by_shares(summary, {"trade_news": 3.0, "phone_call": 1.0, "unrest_report": 1.0})
    assert out == {"precision": 0.3, "yield": 1.5, "unaudited_labels": ["unrest_report"]}
