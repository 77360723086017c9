"""Pick the paragraphs of an unlabeled dump worth labeling next: those the model is least sure of, plus a share of
its surest event calls, to audit their precision.

    python -m inference.select --model runs/default/model --input DUMP --n 200 --output to_label.jsonl
                               [--by margin|entropy] [--audit-share 0.25] [--per-article 2] [--sample N]

    from inference.select import select
    rows = select("runs/default/model", "dump.jsonl.gz", n=200, output="to_label.jsonl")["rows"]

How the picks are made:
- The dump is streamed (`iter_paragraphs`, the scorer's splitter and contexts) and scored in chunks; `--sample N`
  scores only its first N paragraphs. Memory stays bounded: only the best candidates are kept as it goes.
- Uncertainty is taken from the calibrated probabilities: `margin` (top-1 minus top-2, smaller is less sure) or
  `entropy`. The audit share is the most confident event predictions (the decided label, thresholds included,
  is not the model's background label; with no background label every prediction counts).
- Diversity: at most `--per-article` picks per article (over both kinds), a text that recurs (identical once
  whitespace is normalized: bylines, captions, shared headlines) at most once, and, inside a pool of the
  `pool_factor` x n best candidates, a farthest-point (max-min) step: each next pick is the candidate whose
  nearest already-picked paragraph is farthest. Distances are cosine distances between character 3-5-gram
  TF-IDF vectors of the candidates' texts (scikit-learn, fitted on the pool): what a paragraph says, not just
  how the model scored it, and no second model pass. A kind that runs short is made up from the other, so n
  rows come back whenever the dump has that many eligible paragraphs.

The output is JSONL in the labeled-file format with an empty `label`: `text`, `label`, `guess` (the model's
decided label), `score` (its probability), `article_id`, `paragraph`, `kind`, `title`, `context` (what the model
saw beside the paragraph), `reason` (`uncertain` or `audit`). It is NOT data yet: `read_labeled`, which every
trainer and evaluator reads labeled files with, rejects an empty label with FILE:LINE. Fill `label` in every
row following docs/labeling.md (`guess` is there to be checked, not copied) and delete the rows you skip. Then:
- evaluate on it, as real-register held-out data:
  `python -m training.evaluate --model runs/default/model --data labeled.jsonl`;
- or add it to the corpus: save it as a new batch in data/source/ (e.g. data/source/h23_a.jsonl; the batch
  letters are yours to choose) and run `python -m training.splits`. That command reads every
  data/source/*.jsonl with `read_labeled` against configs/default.yaml's labels, needs `article_id` on every
  row (written here: the dump's article ids, which must not clash with the corpus's hN-NNNN ids), keeps only
  text, label, article_id and kind, leaves the articles already in data/labeled in their split and splits the
  new articles 80/10/10 among themselves. Retrain afterwards. Two caveats: the splits drop `title` and
  `context`, so a model trained with context sees these paragraphs with only the context their few picked
  siblings give; and data/README.md describes the corpus as written for the project, never copied from dumps,
  so adding dump paragraphs means updating the data card (and minding the dump's licence).
"""
from __future__ import annotations

import argparse
import heapq
import json
import os
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .classifier import BACKENDS, EventClassifier, ModelFolderError, normalize_text
from .readers import FORMATS, Fields, iter_paragraphs
from .splitter import paragraph_contexts

MEASURES = ("margin", "entropy")
CHUNK = 1024  # paragraphs per classifier call and progress step


@dataclass
class Candidate:
    text: str
    guess: str
    score: float
    article_id: str
    paragraph: int
    kind: str
    title: str
    context: str

    @property
    def key(self) -> str:
        return normalize_text(self.text)

    def row(self, reason: str) -> dict:
        return {"text": self.text, "label": "", "guess": self.guess, "score": round(self.score, 4),
                "article_id": self.article_id, "paragraph": self.paragraph, "kind": self.kind, "title": self.title,
                "context": self.context, "reason": reason}


class TopK:
    """The `size` candidates of highest priority offered so far, each text once: bounded memory on any dump."""

    def __init__(self, size: int):
        self.size = size
        self.heap: list[tuple[float, int, Candidate]] = []
        self.keys: set[str] = set()
        self.offered = 0

    def offer(self, priority: float, candidate: Candidate) -> None:
        key = candidate.key
        if self.size <= 0 or key in self.keys:
            return
        self.offered += 1
        # -offered: among equal priorities the earlier paragraph stays, and Candidates are never compared.
        entry = (float(priority), -self.offered, candidate)
        if len(self.heap) < self.size:
            heapq.heappush(self.heap, entry)
        elif entry[:2] > self.heap[0][:2]:
            self.keys.discard(heapq.heapreplace(self.heap, entry)[2].key)
        else:
            return
        self.keys.add(key)

    def ranked(self) -> list[Candidate]:
        return [c for _, _, c in sorted(self.heap, key=lambda e: e[:2], reverse=True)]


def uncertainty(probs: np.ndarray, by: str) -> np.ndarray:
    """Higher is less sure: minus the top-1/top-2 margin, or the entropy of each row."""
    if by == "margin":
        top = np.sort(probs, axis=1)
        return -(top[:, -1] - top[:, -2])
    if by == "entropy":
        p = np.clip(probs, 1e-12, 1.0)
        return -(p * np.log(p)).sum(axis=1)
    raise ValueError(f"by={by!r}: use one of {', '.join(MEASURES)}")


class Pools:
    """The uncertain and audit candidate pools, fed one scored article at a time."""

    def __init__(self, labels: list[str], background: str | None, size_uncertain: int, size_audit: int,
                 per_article: int, by: str):
        self.labels = labels
        self.background = labels.index(background) if background in labels else None
        self.uncertain = TopK(size_uncertain)
        self.audit = TopK(size_audit)
        self.per_article = per_article
        self.by = by

    def add_article(self, article_id: str, title: str, paragraphs, contexts: list[str], probs: np.ndarray,
                    decided: np.ndarray) -> None:
        score = probs[np.arange(len(decided)), decided]
        event = decided != self.background if self.background is not None else np.ones(len(decided), dtype=bool)
        candidates = [Candidate(p.text, self.labels[d], float(s), article_id, p.index, p.kind, title, c)
                      for p, c, d, s in zip(paragraphs, contexts, decided, score)]
        # Only an article's best few can ever be picked (per_article), so only they compete for the pools.
        kinds = ((self.uncertain, uncertainty(probs, self.by), None), (self.audit, score, event))
        for pool, priority, allowed in kinds:
            seen, taken = set(), 0
            for i in np.argsort(-priority, kind="stable"):
                if taken == self.per_article:
                    break
                if (allowed is not None and not allowed[i]) or candidates[i].key in seen:
                    continue
                seen.add(candidates[i].key)
                pool.offer(priority[i], candidates[i])
                taken += 1


def diversify(uncertain: list[Candidate], audit: list[Candidate], n: int, n_audit: int,
              per_article: int) -> list[tuple[Candidate, str]]:
    """Up to n picks, n_audit of them from `audit` (both lists ranked best first), by farthest-point selection
    over TF-IDF vectors, with at most `per_article` per article and each text once."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    pool = uncertain + audit
    if not pool or n <= 0:
        return []
    reasons = ["uncertain"] * len(uncertain) + ["audit"] * len(audit)
    # Rows come L2-normalized, so a dot product is a cosine similarity.
    vectors = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, lowercase=True
                              ).fit_transform([c.text for c in pool])
    nearest = np.full(len(pool), np.inf)
    open_ = np.ones(len(pool), dtype=bool)
    by_key, by_article = defaultdict(list), defaultdict(list)
    for i, c in enumerate(pool):
        by_key[c.key].append(i)
        by_article[c.article_id].append(i)
    per: Counter = Counter()
    picks: list[int] = []

    def take(indices: range, k: int) -> None:
        for _ in range(max(k, 0)):
            free = [i for i in indices if open_[i]]
            if not free:
                return
            # The first pick is the best-ranked; after that the farthest from every pick, ties to the better rank.
            best = free[0] if not picks else max(free, key=lambda i: (nearest[i], -i))
            picks.append(best)
            np.minimum(nearest, 1.0 - (vectors @ vectors[best].T).toarray().ravel(), out=nearest)
            open_[by_key[pool[best].key]] = False
            per[pool[best].article_id] += 1
            if per[pool[best].article_id] >= per_article:
                open_[by_article[pool[best].article_id]] = False

    from_uncertain, from_audit = range(len(uncertain)), range(len(uncertain), len(pool))
    take(from_uncertain, n - n_audit)
    take(from_audit, n_audit)
    take(from_uncertain, n - len(picks))
    take(from_audit, n - len(picks))
    return [(pool[i], reasons[i]) for i in picks]


def select(model: str | Path | EventClassifier, input: str | Path, n: int = 200, output: str | Path | None = None,
           *, by: str = "margin", audit_share: float = 0.25, per_article: int = 2, sample: int | None = None,
           pool_factor: int = 5, fmt: str | None = None, fields: Fields | None = None, backend: str = "torch",
           device: str | None = None, chunk: int = CHUNK, progress: bool = True, overwrite: bool = False) -> dict:
    """Pick `n` paragraphs of the dump `input` to label next (see the module docstring) and write them to
    `output` (JSONL) when given. Returns `rows` (the picks, as written), `paragraphs` and `articles` scored,
    and how many picks are `uncertain` and `audit`."""
    if n < 1 or per_article < 1 or pool_factor < 1 or chunk < 1:
        raise ValueError(f"n, per_article, pool_factor and chunk must be at least 1, got {n}, {per_article}, "
                         f"{pool_factor}, {chunk}")
    if not 0.0 <= audit_share <= 1.0:
        raise ValueError(f"audit_share must be between 0 and 1, got {audit_share}")
    if sample is not None and sample < 1:
        raise ValueError(f"sample must be at least 1, got {sample}")
    if by not in MEASURES:
        raise ValueError(f"by={by!r}: use one of {', '.join(MEASURES)}")
    if not Path(input).exists():
        raise FileNotFoundError(f"{input}: no such file or folder")
    if output is not None and Path(output).exists() and not overwrite:
        # It may be a file someone is halfway through labeling.
        raise FileExistsError(f"{output}: exists; pass overwrite=True (--overwrite) to replace it")
    clf = model if isinstance(model, EventClassifier) else EventClassifier.from_pretrained(
        model, backend=backend, device=device)
    n_audit = int(round(n * audit_share))
    pools = Pools(clf.labels, clf.settings.background, pool_factor * n, pool_factor * n_audit, per_article, by)

    scored = articles = 0
    buffer: list[tuple] = []

    def flush() -> None:
        texts = [p.text for _, _, ps, _ in buffer for p in ps]
        if not texts:
            return
        probs, _ = clf.infer(texts, [c for _, _, _, cs in buffer for c in cs])
        decided = clf.decide(probs)
        start = 0
        for article_id, title, ps, cs in buffer:
            end = start + len(ps)
            pools.add_article(article_id, title, ps, cs, probs[start:end], decided[start:end])
            start = end
        bar.update(len(texts))
        buffer.clear()

    with tqdm(total=sample, unit="par", desc="paragraphs", disable=not progress) as bar:
        pending = 0
        for article, paragraphs in iter_paragraphs(input, fmt, fields or Fields()):
            if sample is not None:
                if scored + pending >= sample:
                    break
                paragraphs = paragraphs[:sample - scored - pending]
            # Contexts of a prefix of an article are the prefix of its contexts: cutting for --sample is safe.
            contexts = paragraph_contexts(paragraphs, clf.settings.context)
            buffer.append((article.id, article.title, paragraphs, contexts))
            pending += len(paragraphs)
            articles += 1
            if pending >= chunk:
                flush()
                scored, pending = scored + pending, 0
        flush()
        scored += pending

    picks = diversify(pools.uncertain.ranked(), pools.audit.ranked(), n, n_audit, per_article)
    rows = [c.row(reason) for c, reason in picks]
    if output is not None:
        write_rows(rows, Path(output))
    reasons = Counter(r["reason"] for r in rows)
    return {"rows": rows, "paragraphs": scored, "articles": articles, "uncertain": reasons["uncertain"],
            "audit": reasons["audit"], "output": str(output) if output is not None else None}


def write_rows(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(partial, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m inference.select", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="model folder written by `python -m training`")
    p.add_argument("--input", required=True, help="unlabeled dump file or folder (as `python -m inference` reads)")
    p.add_argument("--output", required=True, help="JSONL of paragraphs to label (refuses to overwrite one)")
    p.add_argument("--n", type=int, default=200, help="paragraphs to pick")
    p.add_argument("--by", choices=MEASURES, default="margin", help="uncertainty measure")
    p.add_argument("--audit-share", type=float, default=0.25,
                   help="share of the picks that are the most confident event predictions")
    p.add_argument("--per-article", type=int, default=2, help="most picks from one article")
    p.add_argument("--sample", type=int, help="score only the dump's first N paragraphs (default: all)")
    p.add_argument("--pool-factor", type=int, default=5,
                   help="the diversity step chooses among this many times n of the best candidates")
    p.add_argument("--format", choices=FORMATS, help="input format (default: from the file name)")
    p.add_argument("--id-field", default="id")
    p.add_argument("--title-field", default="title")
    p.add_argument("--text-field", default="text")
    p.add_argument("--backend", choices=BACKENDS, default="torch")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    try:
        result = select(args.model, args.input, args.n, args.output, by=args.by, audit_share=args.audit_share,
                        per_article=args.per_article, sample=args.sample, pool_factor=args.pool_factor,
                        fmt=args.format, fields=Fields(args.id_field, args.title_field, args.text_field),
                        backend=args.backend, device=args.device, progress=not args.quiet, overwrite=args.overwrite)
    except (FileNotFoundError, FileExistsError, ModelFolderError, ValueError, OSError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{result['paragraphs']} paragraphs of {result['articles']} articles scored; {len(result['rows'])} picked "
          f"({result['uncertain']} uncertain, {result['audit']} audit) -> {args.output}")
    print("fill `label` in every row (docs/labeling.md) before using the file as data: `python -m inference.select "
          "--help` says how it joins the corpus")
    return 0


if __name__ == "__main__":
    sys.exit(main())
