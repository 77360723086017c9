"""How often a model calls an event on real news: label shares on a random sample of real articles.

    python bench/event_share.py --model runs/default/model [--model runs/start/model ...] [--articles 2000]
        [--audit-sample 100 --audit-out /tmp/audit.jsonl [--audit-seed 1] [--audit-exclude bench/audit/*.jsonl]]

Real dumps have about 5% event paragraphs; a model far above that is raising false alarms. Each model scores
the same random articles of ../shared/corpora/moldova_ru_news.jsonl (seed 0), plain and with the EM prior
correction, and the estimated priors of each shared dump are printed. With --audit-sample, that many
paragraphs labeled as events by the first model are drawn at random for reading; that file holds real text
and belongs outside the repository (the audit in bench/ keeps ids and verdicts only).
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.audit import read_audit  # noqa: E402
from inference import EventClassifier, score_dump  # noqa: E402
from inference.readers import iter_paragraphs  # noqa: E402
from inference.splitter import paragraph_contexts  # noqa: E402

CORPORA = ROOT.parent / "shared" / "corpora"
MOLDOVA = CORPORA / "moldova_ru_news.jsonl"
RIA = CORPORA / "ria_news_sample.jsonl"


def sample_articles(n: int, seed: int, tmp: Path) -> Path:
    lines = MOLDOVA.read_text(encoding="utf-8").splitlines()
    chosen = sorted(random.Random(seed).sample(range(len(lines)), min(n, len(lines))))
    path = tmp / "sample.jsonl"
    path.write_text("\n".join(lines[i] for i in chosen) + "\n", encoding="utf-8")
    return path


def shares(rows_path: Path) -> dict:
    counts = Counter(json.loads(line)["label"] for line in rows_path.open(encoding="utf-8"))
    total = sum(counts.values())
    out = {label: round(c / total, 4) for label, c in sorted(counts.items())}
    out["events"] = round(1 - counts.get("other", 0) / total, 4)
    out["paragraphs"] = total
    return out


def audited_articles(paths: list[str]) -> set[str]:
    """Article ids of earlier audits: a new audit leaves them out, since corpus batches were written after
    reading their false alarms and would look better on them than on fresh text."""
    return {row["article_id"] for path in paths for row in read_audit(Path(path))}


def write_audit_sample(rows_path: Path, n: int, seed: int, out: str, exclude: set[str] = frozenset()) -> None:
    """`n` paragraphs labeled as events, drawn at random, each with its title and previous paragraph for the
    reader (real text: this file stays outside the repository)."""
    rows = [json.loads(line) for line in rows_path.open(encoding="utf-8")]
    by_key = {(r["article_id"], r["paragraph"]): r for r in rows}
    events = [r for r in rows if r["label"] != "other" and r["article_id"] not in exclude]
    picked = random.Random(seed).sample(events, min(n, len(events)))
    with open(out, "w", encoding="utf-8") as handle:
        for r in picked:
            title = by_key.get((r["article_id"], 0), {})
            previous = by_key.get((r["article_id"], r["paragraph"] - 1), {})
            item = {key: r[key] for key in ("article_id", "paragraph", "kind", "label", "score", "text")}
            item["title"] = title.get("text", "") if title.get("kind") == "title" else ""
            item["previous"] = previous.get("text", "") if r["paragraph"] > 1 else ""
            handle.write(json.dumps(item, ensure_ascii=False) + "\n")


def engine(bf16: bool) -> dict:
    """ONNX fp32, or the torch backend in bfloat16 (several times faster for a 12-layer model on AMX cores)."""
    return {"backend": "torch", "bf16": True} if bf16 else {"backend": "onnx"}


def dump_priors(model: str, dump: Path, sample: int, bf16: bool = False) -> dict | None:
    clf = EventClassifier.from_pretrained(model, **engine(bf16))
    if not clf.settings.train_priors:
        return None
    texts, contexts = [], []
    for _, paragraphs in iter_paragraphs(dump):
        texts += [p.text for p in paragraphs]
        contexts += paragraph_contexts(paragraphs, clf.settings.context)
        if len(texts) >= sample:
            break
    return {x: round(float(p), 4) for x, p in zip(clf.labels, clf.estimate_priors(texts[:sample], contexts[:sample]))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True)
    p.add_argument("--articles", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--prior-sample", type=int, default=5000)
    p.add_argument("--audit-sample", type=int, default=0)
    p.add_argument("--audit-out", default="/tmp/audit_sample.jsonl")
    p.add_argument("--audit-seed", type=int, help="seed of the audit draw (default: --seed)")
    p.add_argument("--audit-exclude", nargs="*", default=[], metavar="AUDIT",
                   help="earlier audit files (bench/audit/*.jsonl) whose articles the draw leaves out")
    p.add_argument("--audit-adjusted", action="store_true",
                   help="draw the audit sample from the prior-adjusted labels instead of the plain ones")
    p.add_argument("--bf16", action="store_true", help="score with the torch backend in bfloat16 instead of ONNX")
    p.add_argument("--output", help="write the results as JSON here too")
    p.add_argument("--keep-rows", type=Path, metavar="DIR",
                   help="copy each model's scored rows here (real text: keep DIR outside the repository)")
    args = p.parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        dump = sample_articles(args.articles, args.seed, tmp)
        for k, model in enumerate(args.model):
            entry = {}
            for adjust in (False, True):
                out = tmp / f"m{k}_{adjust}.jsonl"
                try:
                    summary = score_dump(model, dump, out, **engine(args.bf16), progress=False, print_errors=False,
                                         adjust_priors=adjust, prior_sample=args.prior_sample)
                except Exception as exc:  # a folder without training priors cannot adjust
                    entry["adjusted"] = f"not available: {exc}"
                    continue
                if args.keep_rows:
                    args.keep_rows.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(out, args.keep_rows / f"m{k}_{'adjusted' if adjust else 'plain'}.jsonl")
                entry["adjusted" if adjust else "plain"] = {"shares": shares(out),
                                                            "estimated_priors": summary["estimated_priors"]}
                if k == 0 and adjust == args.audit_adjusted and args.audit_sample:
                    write_audit_sample(out, args.audit_sample,
                                       args.seed if args.audit_seed is None else args.audit_seed, args.audit_out,
                                       audited_articles(args.audit_exclude))
            entry["priors_by_dump"] = {d.name: dump_priors(model, d, args.prior_sample, args.bf16)
                                       for d in (MOLDOVA, RIA)}
            results[model] = entry
            print(model, json.dumps(entry, ensure_ascii=False), flush=True)
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
