"""Score an article dump paragraph by paragraph.

    python -m inference --model runs/default/model --input dump.jsonl[.gz] --output scored.jsonl

Input: JSONL / CSV / Parquet / a folder of .txt files, each optionally gzipped. Output by extension: .jsonl,
.csv or .parquet, one row per paragraph (article_id, paragraph, kind, text, label, score, windows, probs).
Records that cannot be read go to OUTPUT.errors.jsonl with their file and line. A killed run, started again
with the same command, resumes where it stopped. The window length, context and temperature come from the
model folder, as training saved them.
"""
from __future__ import annotations

import argparse
import json

from . import errors
from .classifier import BACKENDS
from .readers import FORMATS, Fields
from .scoring import score_dump


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m inference", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="model folder written by `python -m training` (or any "
                                                   "text-classification folder with safetensors weights)")
    p.add_argument("--input", required=True, help="dump file or folder")
    p.add_argument("--output", required=True, help="scored paragraphs: .jsonl, .csv or .parquet")
    p.add_argument("--errors", help="bad records (default: OUTPUT.errors.jsonl)")
    p.add_argument("--article-summary", help="one row per article (.jsonl, .csv or .parquet): events found, and "
                                             "the top paragraph and score of each")
    p.add_argument("--format", choices=FORMATS, help="input format (default: from the file name)")
    p.add_argument("--id-field", default="id")
    p.add_argument("--title-field", default="title")
    p.add_argument("--text-field", default="text")
    p.add_argument("--backend", choices=BACKENDS, default="torch",
                   help="torch, or onnx (exported once and cached in MODEL/onnx/)")
    p.add_argument("--int8", action="store_true", help="with --backend onnx: dynamic int8 quantization")
    p.add_argument("--bf16", action="store_true",
                   help="with --backend torch: weights in bfloat16 (fast on CPUs with AMX or AVX512-BF16)")
    p.add_argument("--adjust-priors", action=argparse.BooleanOptionalAction, default=False,
                   help="estimate the dump's label priors by EM on a sample of its paragraphs and correct the "
                        "posteriors for them (docs/models.md says when)")
    p.add_argument("--prior-sample", type=int, default=5000, help="paragraphs the prior estimate reads")
    p.add_argument("--batch-size", type=int, default=32, help="windows per forward pass")
    p.add_argument("--chunk-articles", type=int, default=256,
                   help="articles scored and flushed together; a crash loses at most one chunk of work")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: this process; ray: Ray Data with an actor pool, on a local Ray or the cluster "
                        "in RAY_ADDRESS (pip install -e '.[ray]'; docs/scaling.md)")
    p.add_argument("--actors", type=int, default=2, help="with --engine ray: actors, one model each")
    p.add_argument("--cpus-per-actor", type=float, default=1, help="with --engine ray")
    p.add_argument("--gpus-per-actor", type=float, default=0, help="with --engine ray: e.g. 1, or 0.5 to share")
    p.add_argument("--records-per-batch", type=int, default=16,
                   help="with --engine ray: records handed to an actor at a time")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    p.add_argument("--overwrite", action="store_true", help="start afresh instead of resuming")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--debug", action="store_true", help="show the traceback of an error instead of one line")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        if args.engine == "ray":
            if args.adjust_priors:
                raise ValueError("--adjust-priors is not available with --engine ray: the prior estimate needs "
                                 "one pass over the dump's head before scoring; run it with the local engine")
            from .ray_engine import score_dump_ray

            summary = score_dump_ray(
                args.model, args.input, args.output, errors=args.errors, article_summary=args.article_summary,
                fmt=args.format, fields=Fields(args.id_field, args.title_field, args.text_field),
                backend=args.backend, int8=args.int8, bf16=args.bf16, device=args.device,
                batch_size=args.batch_size, actors=args.actors, cpus_per_actor=args.cpus_per_actor,
                gpus_per_actor=args.gpus_per_actor,
                records_per_batch=args.records_per_batch, chunk_articles=args.chunk_articles,
                overwrite=args.overwrite, progress=not args.quiet)
            summary.setdefault("cache", {})
            summary.setdefault("estimated_priors", None)
        else:
            summary = score_dump(args.model, args.input, args.output, errors=args.errors,
                                 article_summary=args.article_summary, fmt=args.format,
                                 fields=Fields(args.id_field, args.title_field, args.text_field), backend=args.backend,
                                 int8=args.int8, bf16=args.bf16, device=args.device, batch_size=args.batch_size,
                                 chunk_articles=args.chunk_articles, overwrite=args.overwrite, progress=not args.quiet,
                                 adjust_priors=args.adjust_priors, prior_sample=args.prior_sample)
    except BaseException as exc:  # report() re-raises what is not an expected failure, and SystemExit
        return errors.report(exc, args.debug, where=args.output,
                             resume_hint="run the same command again to resume after the last written chunk")
    print(f"{summary['records']} records -> {summary['paragraphs']} scored paragraphs in {args.output}; "
          f"{summary['errors']} bad records in {summary['errors_file']}")
    print("labels: " + json.dumps(summary["label_share"]) + "; cache: " + json.dumps(summary["cache"]))
    if summary["estimated_priors"]:
        print("estimated priors: " + json.dumps(summary["estimated_priors"]) + " (training: "
              + json.dumps(summary["train_priors"]) + ")")
    return 0
