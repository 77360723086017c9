import json
from collections import Counter

import numpy as np
import pytest

from inference.classifier import EventClassifier, normalize_text
from inference.readers import LabeledDataError, iter_paragraphs, read_labeled
from inference.select import Candidate, Pools, diversify, main, select
from inference.splitter import Paragraph

DUMP = "data/sample_dump.jsonl"
FIELDS = {"text", "label", "guess", "score", "article_id", "paragraph", "kind", "title", "context", "reason"}


def dump_paragraphs() -> list[tuple[str, int, str]]:
    return [(a.id, p.index, p.text) for a, ps in iter_paragraphs(DUMP) for p in ps]


def test_cli_writes_n_distinct_paragraphs_in_the_labeled_format(tiny_run, tmp_path, capsys):
    out = tmp_path / "to_label.jsonl"
    assert main(["--model", str(tiny_run / "model"), "--input", DUMP, "--n", "8", "--output", str(out),
                 "--per-article", "2", "--quiet"]) == 0
    assert "8 picked" in capsys.readouterr().out
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 8 and all(set(r) == FIELDS for r in rows)
    assert all(r["label"] == "" and r["reason"] in ("uncertain", "audit") for r in rows)
    assert max(Counter(r["article_id"] for r in rows).values()) <= 2
    assert len({normalize_text(r["text"]) for r in rows}) == 8
    assert {(r["article_id"], r["paragraph"], r["text"]) for r in rows} <= set(dump_paragraphs())
    # Not data until labeled: the one labeled reader refuses the empty labels, then takes the filled file.
    with pytest.raises(LabeledDataError, match=f"{out}:1: label ''"):
        read_labeled(out, ["phone_call", "support_statement", "unrest_report", "trade_news", "other"])
    filled = tmp_path / "labeled.jsonl"
    filled.write_text("".join(json.dumps(dict(r, label=r["guess"]), ensure_ascii=False) + "\n" for r in rows),
                      encoding="utf-8")
    assert [r.text for r in read_labeled(filled)] == [r["text"] for r in rows]
    # A file someone may be labeling is never overwritten silently.
    assert main(["--model", str(tiny_run / "model"), "--input", DUMP, "--n", "8", "--output", str(out),
                 "--quiet"]) == 2
    assert "exists" in capsys.readouterr().err


def test_audit_share_and_per_article_cap_on_a_real_model(tiny_run):
    clf = EventClassifier.from_pretrained(tiny_run / "model")
    # The tiny model calls every paragraph `other`; with `phone_call` as its background those calls are events.
    clf.settings.background = "phone_call"
    result = select(clf, DUMP, n=12, audit_share=0.25, per_article=1, progress=False)
    rows = result["rows"]
    assert (result["uncertain"], result["audit"]) == (9, 3) and len(rows) == 12
    assert all(r["guess"] != "phone_call" for r in rows if r["reason"] == "audit")
    assert len({r["article_id"] for r in rows}) == 12  # twelve articles in the dump, one pick each
    # Fewer eligible paragraphs than asked for: all of them, still one per article.
    assert len(select(clf, DUMP, n=50, per_article=1, progress=False)["rows"]) == 12


def test_sample_scores_only_the_head_of_the_dump(tiny_run):
    result = select(tiny_run / "model", DUMP, n=4, sample=10, progress=False)
    assert result["paragraphs"] == 10 and len(result["rows"]) == 4
    head = set(dump_paragraphs()[:10])
    assert all((r["article_id"], r["paragraph"], r["text"]) in head for r in result["rows"])


def fake_article(article_id: str, texts: list[str]) -> list[Paragraph]:
    return [Paragraph(i, "body", t) for i, t in enumerate(texts)]


def test_most_uncertain_and_most_confident_events_with_caps_and_duplicates_once():
    labels = ["call", "other"]
    pools = Pools(labels, "other", size_uncertain=4, size_audit=2, per_article=2, by="margin")
    p_call = {
        "a": [0.50, 0.51, 0.52],        # the three most uncertain: only two may come from one article
        "b": [0.55, 0.97, 0.10],
        "c": [0.56, 0.99, 0.98],        # two confident calls
        "d": [0.53, 0.02, 0.01],        # confident `other`: never audited
    }
    for article_id, values in p_call.items():
        texts = [f"Абзац {article_id}{i} о разном: {article_id * (i + 1)}" for i in range(3)]
        probs = np.array([[v, 1 - v] for v in values])
        pools.add_article(article_id, "", fake_article(article_id, texts), [""] * 3, probs, probs.argmax(1))
    # The same text as d0 again, with other whitespace and as uncertain: it is kept once.
    probs = np.array([[0.5, 0.5]])
    pools.add_article("e", "", fake_article("e", ["Абзац  d0 о разном:\nd"]), [""], probs, probs.argmax(1))
    uncertain, audit = pools.uncertain.ranked(), pools.audit.ranked()
    assert [(c.article_id, c.paragraph) for c in uncertain] == [("a", 0), ("a", 1), ("d", 0), ("b", 0)]
    assert [(c.article_id, c.paragraph, c.guess) for c in audit] == [("c", 1, "call"), ("c", 2, "call")]
    picks = diversify(uncertain, audit, n=6, n_audit=2, per_article=2)
    assert Counter(reason for _, reason in picks) == {"uncertain": 4, "audit": 2}
    assert {(c.article_id, c.paragraph) for c, _ in picks} == {("a", 0), ("a", 1), ("d", 0), ("b", 0), ("c", 1),
                                                                ("c", 2)}
    # With a cap of one per article over both kinds, article c gives one row and a gives one.
    capped = diversify(uncertain, audit, n=6, n_audit=2, per_article=1)
    assert max(Counter(c.article_id for c, _ in capped).values()) == 1 and len(capped) == 4


def test_entropy_ranks_like_margin_on_two_labels_and_rejects_unknown_measures():
    from inference.select import uncertainty

    probs = np.array([[0.9, 0.1], [0.5, 0.5], [0.7, 0.3]])
    assert list(np.argsort(-uncertainty(probs, "entropy"))) == list(np.argsort(-uncertainty(probs, "margin")))
    assert uncertainty(probs, "margin")[1] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="margin"):
        uncertainty(probs, "variance")


def test_farthest_point_step_spreads_the_picks_over_topics():
    def candidate(i: int, text: str) -> Candidate:
        return Candidate(text, "other", 0.5, f"art{i}", 0, "body", "", "")

    near = [candidate(i, f"Парламент Молдовы принял закон о государственном бюджете на 2025 год, чтение {i}")
            for i in range(6)]
    apart = [candidate(10, "Фермеры перекрыли трассу у Бельц, требуя компенсаций за погибший урожай"),
             candidate(11, "Египет закупил у России еще 500 тысяч тонн пшеницы нового урожая"),
             candidate(12, "Лидеры двух стран обсудили по телефону подготовку визита в Астану")]
    # The near-identical texts rank first: uncertainty alone would pick three of them.
    picks = diversify(near + apart, [], n=3, n_audit=0, per_article=2)
    texts = [c.text for c, _ in picks]
    assert texts[0] == near[0].text
    assert sum(t.startswith("Парламент") for t in texts) == 1
