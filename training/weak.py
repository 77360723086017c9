"""Paragraphs of the user's own unlabeled dump as weakly labeled background for training.

The labeled corpus is written; a user's dump is the real register of ordinary news (long quotes, bylines,
scraping noise). A random sample of its paragraphs joins training as the background label (`other`) at a
loss weight below 1; paragraphs that match the event keywords (they may well report an event) are left out,
or kept at a lower weight still (`keyword_weight`): they are also where false alarms on real news come from.
It is read at run time and never stored. The shortcut it invites: "reads like a real dump => other", which
costs recall on real-register events; measure with an ablation (docs/models.md) before turning it on.
"""
from __future__ import annotations

import random
import re

from inference.readers import iter_paragraphs
from inference.splitter import paragraph_contexts

from .data import RESERVED_PREFIX, Example, check_corpus

# Shorter pieces are bylines and fragments: the labeled corpus already has them, and they say nothing new.
MIN_CHARS = 40


def sample_background(paths: list[str], n: int, label: str, context: str, skip: str = "",
                      seed: int = 42, weight: float = 1.0,
                      keyword_weight: float = 0.0) -> tuple[list[Example], dict]:
    """A uniform sample (reservoir, one streamed pass) of `n` dump paragraphs as `label` examples, each with
    its context under `context` exactly as the scorer builds it, and loss weight `weight`. A paragraph
    matching `skip` is left out when `keyword_weight` is 0, else drawn like the rest at `weight *
    keyword_weight`. Returns the examples and counts."""
    skip_re = re.compile(skip, re.IGNORECASE) if skip else None
    rng = random.Random(seed)
    reservoir: list[Example] = []
    seen = skipped = keyword = 0
    for path in check_corpus(paths):
        for article, paragraphs in iter_paragraphs(path, skip_prefix=RESERVED_PREFIX):
            contexts = paragraph_contexts(paragraphs, context)
            for i, (paragraph, ctx) in enumerate(zip(paragraphs, contexts)):
                if len(paragraph.text) < MIN_CHARS:
                    continue
                w = weight
                if skip_re is not None and skip_re.search(paragraph.text):
                    if not keyword_weight:
                        skipped += 1
                        continue
                    keyword += 1
                    w = weight * keyword_weight
                seen += 1
                example = Example(paragraph.text, label, ctx, f"dump:{article.id}", i, paragraph.kind, w)
                if len(reservoir) < n:
                    reservoir.append(example)
                else:
                    j = rng.randrange(seen)
                    if j < n:
                        reservoir[j] = example
    counts = {"drawn": len(reservoir), "eligible": seen, "skipped_by_keywords": skipped}
    if keyword_weight and skip_re is not None:
        counts["keyword_eligible"] = keyword
        counts["keyword_drawn"] = sum(bool(skip_re.search(e.text)) for e in reservoir)
    return reservoir, counts
