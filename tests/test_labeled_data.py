"""The labeled corpus in data/labeled is checked like code: labels, splits, duplicates, minimums."""
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from training.config import load_config
from training.splits import near_duplicate_pairs

SPLITS = ("train", "dev", "test")
EVENT_LABELS = ("phone_call", "support_statement", "unrest_report", "trade_news")
# Event vocabulary used in another sense: what makes an `other` paragraph a hard negative.
EVENT_WORDS = re.compile(
    r"телефон|звон|созвон|разговор|горяч\w* лини|поддерж|солидар|приветств|одобр|протест|митинг|акци\w* |"
    r"беспоряд|задержа|комендантск|чрезвычайн|экспорт|импорт|поставк|постав|ввез|вывез|пошлин|квот|"
    r"товарооборот|урожа|отгруз|закуп", re.IGNORECASE)


@pytest.fixture(scope="module")
def splits():
    out = {}
    for name in SPLITS:
        path = Path("data/labeled") / f"{name}.jsonl"
        out[name] = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    return out


def test_every_row_has_a_known_label_and_text(splits):
    labels = set(load_config("configs/default.yaml").labels)
    for name, rows in splits.items():
        for i, row in enumerate(rows, 1):
            assert row["label"] in labels, f"{name}:{i}"
            assert isinstance(row["text"], str) and row["text"].strip(), f"{name}:{i}"
            assert row["article_id"] and row["kind"] in ("title", "body", "related"), f"{name}:{i}"


def test_per_label_minimums(splits):
    counts = Counter(row["label"] for rows in splits.values() for row in rows)
    assert sum(counts.values()) >= 2500
    for label in EVENT_LABELS:
        assert counts[label] >= 400, label
    assert counts["other"] >= 700
    hard = sum(1 for rows in splits.values() for r in rows if r["label"] == "other" and EVENT_WORDS.search(r["text"]))
    # Since the real-register batches (h15-h22) most `other` is ordinary news, as in real dumps; a fifth still
    # uses event vocabulary in another sense.
    assert hard >= counts["other"] / 5
    assert counts["other"] / sum(counts.values()) > 0.55


def test_most_positives_avoid_the_obvious_keyword(splits):
    keyword = {"phone_call": "телефон", "support_statement": "поддерж", "unrest_report": "протест",
               "trade_news": "экспорт"}
    rows = [r for part in splits.values() for r in part]
    for label, word in keyword.items():
        positives = [r for r in rows if r["label"] == label]
        without = sum(1 for r in positives if word not in r["text"].lower())
        assert without / len(positives) > 0.5, label


def test_splits_share_no_article(splits):
    owners = {}
    for name, rows in splits.items():
        for row in rows:
            assert owners.setdefault(row["article_id"], name) == name, row["article_id"]


def test_no_exact_or_near_duplicate_straddles_two_splits(splits):
    rows = [(name, r["text"]) for name in SPLITS for r in splits[name]]
    crossing = [(rows[i][1][:60], rows[j][1][:60]) for i, j in near_duplicate_pairs([t for _, t in rows])
                if rows[i][0] != rows[j][0]]
    assert crossing == []


def test_split_proportions_are_about_80_10_10(splits):
    total = sum(len(rows) for rows in splits.values())
    assert 0.75 < len(splits["train"]) / total < 0.85
    for name in ("dev", "test"):
        assert 0.07 < len(splits[name]) / total < 0.13
        assert set(r["label"] for r in splits[name]) == set(r["label"] for r in splits["train"])
