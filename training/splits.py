"""Rebuild data/labeled/{train,dev,test}.jsonl from the hand-written articles in data/source/.

    python -m training.splits [--source data/source] [--output data/labeled] [--seed 13]

Splits are by article, stratified by label (scikit-learn's StratifiedGroupKFold, 10 folds: one test,
one dev, eight train). Articles that share an exact or near-duplicate paragraph (word 5-gram Jaccard
>= 0.7) are one group, so no duplicate straddles two splits. Articles already in the output splits keep their
split (new articles are split among themselves), so a model trained before a corpus addition is evaluated on a
test split it never trained on; `--reshuffle` splits everything afresh.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

from sklearn.model_selection import StratifiedGroupKFold

from inference.readers import LabeledDataError, read_labeled

from .config import load_config

NEAR_DUPLICATE = 0.7
_WORD = re.compile(r"\w+")


def shingles(text: str, n: int = 5) -> frozenset:
    words = _WORD.findall(text.lower().replace("ё", "е"))
    if len(words) < n:
        return frozenset([tuple(words)])
    return frozenset(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def near_duplicate_pairs(texts: list[str], threshold: float = NEAR_DUPLICATE) -> list[tuple[int, int]]:
    """Index pairs with word 5-gram Jaccard >= threshold, found through shared shingles, not all pairs."""
    sets = [shingles(t) for t in texts]
    postings: dict[tuple, list[int]] = defaultdict(list)
    for i, s in enumerate(sets):
        for gram in s:
            postings[gram].append(i)
    shared: Counter = Counter()
    for ids in postings.values():
        if len(ids) > 1:
            for a in range(len(ids)):
                for b in range(a + 1, len(ids)):
                    shared[(ids[a], ids[b])] += 1
    pairs = []
    for (i, j), inter in shared.items():
        if inter / (len(sets[i]) + len(sets[j]) - inter) >= threshold:
            pairs.append((i, j))
    return pairs


def read_source(folder: Path, labels: list[str]) -> list[dict]:
    rows = []
    for path in sorted(folder.glob("*.jsonl")):
        for row in read_labeled(path, labels):
            if not row.article_id:
                raise LabeledDataError(f"{path}:{row.line}: missing article_id")
            rows.append({"text": row.text, "label": row.label, "article_id": row.article_id, "kind": row.kind})
    return rows


def article_groups(rows: list[dict]) -> list[int]:
    """A group id per row: articles joined whenever two of their paragraphs are (near) duplicates."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j in near_duplicate_pairs([r["text"] for r in rows]):
        a, b = find(rows[i]["article_id"]), find(rows[j]["article_id"])
        if a != b:
            parent[a] = b
    roots = {}
    return [roots.setdefault(find(r["article_id"]), len(roots)) for r in rows]


def split_rows(rows: list[dict], seed: int, fixed: dict[str, str] | None = None) -> dict[str, list[dict]]:
    """Rows by split. `fixed` pins articles to the split they already had (so models trained on the old splits
    stay comparable on the new test split); a group holding a pinned article follows it, the rest are split
    by StratifiedGroupKFold."""
    groups = article_groups(rows)
    fixed = fixed or {}
    pinned: dict[int, str] = {}
    for row, group in zip(rows, groups):
        if row["article_id"] in fixed:
            pinned.setdefault(group, fixed[row["article_id"]])
    assignment = {i: pinned[g] for i, g in enumerate(groups) if g in pinned}
    free = [i for i in range(len(rows)) if i not in assignment]
    if free:
        folds = StratifiedGroupKFold(n_splits=10, shuffle=True, random_state=seed)
        free_rows = [rows[i] for i in free]
        for fold, (_, held) in enumerate(folds.split(free_rows, [r["label"] for r in free_rows],
                                                      [groups[i] for i in free])):
            for k in held:
                assignment[free[k]] = "test" if fold == 0 else "dev" if fold == 1 else "train"
    out = {"train": [], "dev": [], "test": []}
    for i, row in enumerate(rows):
        out[assignment[i]].append(row)
    return out


def current_assignment(folder: Path) -> dict[str, str]:
    """article_id -> split of the splits already in `folder` (empty when there are none)."""
    out = {}
    for name in ("train", "dev", "test"):
        path = folder / f"{name}.jsonl"
        if path.is_file():
            for row in read_labeled(path):
                if row.article_id:
                    out[row.article_id] = name
    return out


def count_table(splits: dict[str, list[dict]], labels: list[str]) -> str:
    lines = ["| label | train | dev | test | total |", "|---|---:|---:|---:|---:|"]
    for label in labels + ["all"]:
        counts = [sum(1 for r in splits[s] if label in ("all", r["label"])) for s in ("train", "dev", "test")]
        lines.append(f"| {label} | " + " | ".join(map(str, counts)) + f" | {sum(counts)} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.splits", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", default="data/source")
    p.add_argument("--output", default="data/labeled")
    p.add_argument("--config", default="configs/default.yaml", help="config whose `labels` are allowed")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--reshuffle", action="store_true",
                   help="split every article afresh instead of keeping the articles already in OUTPUT where they are")
    args = p.parse_args(argv)
    labels = load_config(args.config).labels
    try:
        rows = read_source(Path(args.source), labels)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    fixed = {} if args.reshuffle else current_assignment(Path(args.output))
    splits = split_rows(rows, args.seed, fixed)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    for name, part in splits.items():
        with open(out / f"{name}.jsonl", "w", encoding="utf-8") as handle:
            for row in part:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(count_table(splits, labels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
