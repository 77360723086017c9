"""Score an article dump paragraph by paragraph.

    python -m inference --model runs/default/model --input dump.jsonl[.gz] --output scored.jsonl

Input: JSONL / CSV / Parquet / a folder of .txt files, each optionally gzipped. Output: one row per
paragraph (article_id, paragraph, kind, text, label, score, probs). Records that cannot be read go to
OUTPUT.errors.jsonl with their file and line. A killed run, started again with the same command,
resumes where it stopped.
"""
from __future__ import annotations

import argparse
import sys
from itertools import islice
from pathlib import Path

from tqdm import tqdm

from .output import ScoredWriter
from .readers import FORMATS, Article, Fields, iter_records
from .scorer import Scorer
from .splitter import split_article


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m inference", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="model folder written by `python -m training` (or any "
                                                   "text-classification folder with safetensors weights)")
    p.add_argument("--input", required=True, help="dump file or folder")
    p.add_argument("--output", required=True, help="scored paragraphs: .jsonl or .csv")
    p.add_argument("--errors", help="bad records (default: OUTPUT.errors.jsonl)")
    p.add_argument("--format", choices=FORMATS, help="input format (default: from the file name)")
    p.add_argument("--id-field", default="id")
    p.add_argument("--title-field", default="title")
    p.add_argument("--text-field", default="text")
    p.add_argument("--batch-size", type=int, default=32, help="paragraphs per forward pass")
    p.add_argument("--max-length", type=int, default=256, help="tokens per paragraph; longer ones are truncated")
    p.add_argument("--chunk-articles", type=int, default=256,
                   help="articles scored and flushed together; a crash loses at most one chunk of work")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    p.add_argument("--overwrite", action="store_true", help="start afresh instead of resuming")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def score_chunk(scorer: Scorer, articles: list[Article]) -> list[dict]:
    items = [(article, paragraph) for article in articles for paragraph in split_article(article.title, article.text)]
    probs = scorer.predict_proba([paragraph.text for _, paragraph in items]) if items else []
    rows = []
    for (article, paragraph), p in zip(items, probs):
        best = int(p.argmax())
        rows.append({
            "article_id": article.id,
            "paragraph": paragraph.index,
            "kind": paragraph.kind,
            "text": paragraph.text,
            "label": scorer.labels[best],
            "score": round(float(p[best]), 6),
            "probs": {name: round(float(x), 6) for name, x in zip(scorer.labels, p)},
        })
    return rows


def run(args) -> dict:
    if not Path(args.input).exists():
        raise FileNotFoundError(f"{args.input}: no such file or folder")
    scorer = Scorer(args.model, batch_size=args.batch_size, max_length=args.max_length, device=args.device)
    writer = ScoredWriter(args.output, scorer.labels, errors=args.errors, resume=not args.overwrite)
    fields = Fields(args.id_field, args.title_field, args.text_field)
    records = islice(iter_records(args.input, args.format, fields), writer.records_done, None)
    progress = tqdm(desc="articles", unit="art", initial=writer.records_done, disable=args.quiet)
    finished = False
    try:
        while True:
            chunk = list(islice(records, args.chunk_articles))
            if not chunk:
                finished = True
                break
            articles = []
            for record in chunk:
                if isinstance(record, Article):
                    articles.append(record)
                else:
                    print(f"error: {record}", file=sys.stderr)
                    writer.write_error(record)
            writer.write_rows(score_chunk(scorer, articles))
            writer.commit(len(chunk))
            progress.update(len(chunk))
    finally:
        progress.close()
        writer.close(finished)
    return {"records": writer.records_done, "paragraphs": writer.rows_written, "errors": writer.errors_written}


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        summary = run(args)
    except (FileNotFoundError, FileExistsError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{summary['records']} records -> {summary['paragraphs']} scored paragraphs in {args.output}; "
          f"{summary['errors']} bad records in {args.errors or args.output + '.errors.jsonl'}")
    return 0
