"""Score a whole dump: stream articles in chunks through one `EventClassifier`, write rows as they come.

    from inference import score_dump
    summary = score_dump("runs/default/model", "dump.jsonl.gz", "scored.parquet", article_summary="articles.csv")

Memory stays flat however large the dump: records are read lazily, a chunk of articles is scored, written,
fsynced and forgotten, and the classifier's cache of repeated paragraphs is bounded. Every record ends up in
the output or in the errors file; a killed run called again with the same arguments resumes after the last
committed chunk (see `inference.output`).
"""
from __future__ import annotations

import sys
import time
from collections import Counter
from itertools import islice
from pathlib import Path

from tqdm import tqdm

from .classifier import EventClassifier
from .output import ScoredWriter
from .readers import Article, BadRecord, Fields, iter_paragraphs, iter_records
from .splitter import paragraph_contexts, split_article


def scorable(record: Article | BadRecord) -> Article | BadRecord:
    """The record, or a bad record when an article splits into nothing: text that is all scraper junk (a view
    counter, "Читайте также") would leave no row, and every record must end up somewhere."""
    if isinstance(record, Article) and not split_article(record.title, record.text):
        return BadRecord(record.source, record.line, "no paragraphs left after removing page furniture (view "
                         "counters, share buttons, timestamps)", record.id)
    return record


def score_dump(model: str | Path | EventClassifier, input: str | Path, output: str | Path, *,
               errors: str | Path | None = None, article_summary: str | Path | None = None,
               fmt: str | None = None, fields: Fields | None = None, backend: str = "torch", int8: bool = False,
               bf16: bool = False, device: str | None = None, batch_size: int = 32, chunk_articles: int = 256,
               overwrite: bool = False, progress: bool = True, print_errors: bool = True,
               adjust_priors: bool = False, prior_sample: int = 5000) -> dict:
    """Score every paragraph of `input` into `output` (.jsonl, .csv or .parquet) and return a run summary:
    records, paragraphs, bad records, the share of each label and the cache's savings.

    With `adjust_priors`, the first `prior_sample` paragraphs of the dump (all of it when smaller) are scored
    first, the dump's label priors are estimated from them by EM (`EventClassifier.estimate_priors`) and every
    posterior is corrected for them; the sample's scores stay in the cache, so they are not computed twice. The
    sample is the dump's head, so a resumed run estimates the same priors."""
    if not Path(input).exists():
        raise FileNotFoundError(f"{input}: no such file or folder")
    if chunk_articles < 1:
        raise ValueError(f"chunk_articles must be at least 1, got {chunk_articles}")
    classifier = model if isinstance(model, EventClassifier) else EventClassifier.from_pretrained(
        model, backend=backend, int8=int8, bf16=bf16, device=device, batch_size=batch_size)
    priors = None
    if adjust_priors:
        texts, contexts = [], []
        for _, paragraphs in iter_paragraphs(input, fmt, fields or Fields()):
            texts += [p.text for p in paragraphs]
            contexts += paragraph_contexts(paragraphs, classifier.settings.context)
            if len(texts) >= prior_sample:
                break
        estimated = classifier.estimate_priors(texts[:prior_sample], contexts[:prior_sample])
        priors = {label: round(float(x), 4) for label, x in zip(classifier.labels, estimated)}
    writer = ScoredWriter(output, classifier.labels, errors=errors, summary=article_summary, resume=not overwrite)
    records = islice(iter_records(input, fmt, fields or Fields()), writer.records_done, None)
    bar = tqdm(desc="articles", unit="art", initial=writer.records_done, disable=not progress)
    counts: Counter = Counter()
    started, finished = time.time(), False
    try:
        while True:
            chunk = list(islice(records, chunk_articles))
            if not chunk:
                finished = True
                break
            articles = []
            for record in chunk:
                record = scorable(record)
                if isinstance(record, Article):
                    articles.append(record)
                else:
                    if print_errors:
                        print(f"error: {record}", file=sys.stderr)
                    writer.write_error(record)
            commit_chunk(writer, classifier.score(articles), counts, len(chunk), bar)
    finally:
        bar.close()
        writer.close(finished)
    return {
        **run_summary(writer, counts, classifier.labels, finished, started),
        "cache": classifier.cache_stats,
        "train_priors": dict(zip(classifier.labels, classifier.settings.train_priors or [])),
        "estimated_priors": priors,
        "output": str(output),
        "errors_file": str(writer.errors),
    }


def commit_chunk(writer: ScoredWriter, rows, counts: Counter, records: int, bar) -> None:
    """Write a chunk's rows and make it durable: `records` input records are done once this returns."""
    counts.update(r.label for r in rows)
    writer.write_rows(rows)
    writer.commit(records)
    bar.update(records)


def run_summary(writer: ScoredWriter, counts: Counter, labels, finished: bool, started: float) -> dict:
    """The summary keys both engines report."""
    scored = sum(counts.values())
    return {
        "records": writer.records_done,
        "paragraphs": writer.rows_written,
        "errors": writer.errors_written,
        "finished": finished,
        "seconds": round(time.time() - started, 1),
        # This run's paragraphs only: a resumed run counts what it scored itself.
        "label_share": {label: round(counts[label] / scored, 4) if scored else 0.0 for label in labels},
    }
