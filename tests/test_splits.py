from training.splits import article_groups, near_duplicate_pairs, split_rows

BASE = "Президент Казахстана провел телефонный разговор с премьер-министром Индии и обсудил поставки зерна"


def test_near_duplicates_are_found_and_different_texts_are_not():
    texts = [BASE, BASE + " в текущем году", "Фермеры перекрыли трассу у Бельц и потребовали компенсаций за урожай",
             BASE.upper()]
    pairs = set(near_duplicate_pairs(texts))
    assert (0, 1) in pairs and (0, 3) in pairs and (1, 3) in pairs
    assert not any(2 in pair for pair in pairs)


def test_jaccard_threshold_is_respected():
    half = " ".join(BASE.split()[:8]) + " и совсем другие слова о погоде в горах Кавказа завтра утром"
    assert near_duplicate_pairs([BASE, half]) == []


def test_articles_sharing_a_near_duplicate_become_one_group():
    rows = [
        {"article_id": "a", "text": BASE, "label": "phone_call"},
        {"article_id": "a", "text": "Другой абзац статьи а", "label": "other"},
        {"article_id": "b", "text": BASE + " в среду", "label": "phone_call"},
        {"article_id": "c", "text": "Совсем иная новость про выставку картин", "label": "other"},
    ]
    groups = article_groups(rows)
    assert groups[0] == groups[1] == groups[2] != groups[3]


def test_split_keeps_every_row_once_and_articles_whole():
    rows = [{"article_id": f"art{i // 3}", "text": f"уникальный абзац номер {i} " + "слово " * (i % 7),
             "label": ["phone_call", "other", "trade_news"][i % 3]} for i in range(300)]
    splits = split_rows(rows, seed=1)
    assert sum(len(v) for v in splits.values()) == 300
    owners = {}
    for name, part in splits.items():
        for row in part:
            assert owners.setdefault(row["article_id"], name) == name
    assert 0.7 < len(splits["train"]) / 300 < 0.9


def test_pinned_articles_keep_their_split_and_their_near_duplicates_follow():
    rows = [{"article_id": f"art{i // 3}", "text": f"уникальный абзац номер {i} " + "слово " * (i % 7),
             "label": ["phone_call", "other", "trade_news"][i % 3]} for i in range(300)]
    rows.append({"article_id": "new-dup", "text": rows[0]["text"], "label": "phone_call"})
    fixed = {f"art{k}": "test" for k in range(10)}
    splits = split_rows(rows, seed=1, fixed=fixed)
    where = {r["article_id"]: name for name, part in splits.items() for r in part}
    assert all(where[a] == "test" for a in fixed) and where["new-dup"] == "test"
    assert {where[f"art{k}"] for k in range(10, 100)} == {"train", "dev", "test"}
