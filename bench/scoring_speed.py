"""This project's scorer against plain `transformers.pipeline` on the same model and the same paragraphs.

    python bench/scoring_speed.py --model runs/default/model --dump ../shared/corpora/ria_news_sample.jsonl \
        --paragraphs 2000

Both score the paragraphs the splitter cuts from the dump; each is run twice, interleaved, and the
better time of each is kept, so machine noise hits both alike. Prints paragraphs/s and the ratio, and
checks that both predict the same labels.
"""
from __future__ import annotations

import argparse
import sys
import time
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from transformers import pipeline  # noqa: E402

from inference.readers import Article, iter_records  # noqa: E402
from inference.scorer import Scorer  # noqa: E402
from inference.splitter import split_article  # noqa: E402


def paragraphs(dump: str, limit: int) -> list[str]:
    texts = (p.text for r in iter_records(dump) if isinstance(r, Article) for p in split_article(r.title, r.text))
    return list(islice(texts, limit))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--dump", required=True)
    p.add_argument("--paragraphs", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=256)
    args = p.parse_args()
    texts = paragraphs(args.dump, args.paragraphs)
    scorer = Scorer(args.model, batch_size=args.batch_size, max_length=args.max_length, device="cpu")
    plain = pipeline("text-classification", model=args.model, device="cpu")

    def ours():
        return [scorer.labels[i] for i in scorer.predict_proba(texts).argmax(axis=1)]

    def theirs():
        out = plain(texts, batch_size=args.batch_size, truncation=True, max_length=args.max_length)
        return [o["label"] for o in out]

    best = {"ours": float("inf"), "pipeline": float("inf")}
    labels = {}
    for _ in range(2):
        for name, fn in (("pipeline", theirs), ("ours", ours)):
            started = time.perf_counter()
            labels[name] = fn()
            best[name] = min(best[name], time.perf_counter() - started)
    agree = sum(a == b for a, b in zip(labels["ours"], labels["pipeline"])) / len(texts)
    print(f"{len(texts)} paragraphs, batch {args.batch_size}, max_length {args.max_length}")
    for name in ("pipeline", "ours"):
        print(f"{name:>9}: {len(texts) / best[name]:7.1f} paragraphs/s")
    print(f"speed-up: {best['pipeline'] / best['ours']:.2f}x; same label on {agree:.1%} of paragraphs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
