"""Precision of event labels on real news, from a hand audit stored as ids and verdicts (never text).

    python bench/audit.py bench/audit/NAME.jsonl [--dump ../shared/corpora/moldova_ru_news.jsonl]
        [--thresholds runs/OTHER/model] [--shares phone_call=0.51,support_statement=2.01,...]

Each line of the audit file: `article_id`, `paragraph` (index as the splitter numbers it, the title is 0),
`label` (what the model said), `verdict` (`correct` or `wrong`) and, for a wrong one, `true_label`. The file
is made by reading the sample that `bench/event_share.py --audit-sample 100` writes to /tmp; the ids point
into the shared dump, so anyone with the dump can reread a verdict. With --dump, every id is checked to
exist there. Prints precision per label with a 95% Wilson interval.

With --thresholds, the audit is first narrowed to the paragraphs that model folder's per-label thresholds
still label as events (same model, stricter thresholds: the audited `score` is the raw top score), which
estimates the precision those thresholds would have on the same dump without a second audit. Only valid
when the folder holds the same weights as the audited model and thresholds at least as high.

With --shares (each event label's share of the scored paragraphs, as bench/event_share.py prints them), the
per-label precisions are also weighted by those shares: a draw that leaves out earlier audits' articles can
hold another label mix than the model's output, and the weighted figure is the precision of that output, with
the share of all paragraphs that get a correct event label ("yield").
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inference.classifier import ClassifierSettings  # noqa: E402
from inference.readers import iter_paragraphs  # noqa: E402

VERDICTS = ("correct", "wrong")


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return round(centre - half, 3), round(centre + half, 3)


def read_audit(path: Path) -> list[dict]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        missing = {"article_id", "paragraph", "label", "verdict"} - set(row)
        if missing or row["verdict"] not in VERDICTS:
            raise ValueError(f"{path}:{number}: needs article_id, paragraph, label and a verdict in {VERDICTS}")
        if "text" in row:
            raise ValueError(f"{path}:{number}: an audit keeps ids and verdicts only, never the text")
        rows.append(row)
    return rows


def summarize(rows: list[dict]) -> dict:
    per = defaultdict(Counter)
    for row in rows:
        per[row["label"]][row["verdict"]] += 1
    out = {}
    for label in sorted(per):
        k, n = per[label]["correct"], sum(per[label].values())
        out[label] = {"audited": n, "correct": k, "precision": round(k / n, 3), "wilson_95": wilson(k, n)}
    k, n = sum(c["correct"] for c in per.values()), len(rows)
    out["all events"] = {"audited": n, "correct": k, "precision": round(k / n, 3) if n else 0.0,
                         "wilson_95": wilson(k, n)}
    out["wrong_as"] = dict(Counter(f"{r['label']} -> {r.get('true_label', '?')}" for r in rows
                                   if r["verdict"] == "wrong").most_common())
    return out


def keep_above(rows: list[dict], thresholds: dict[str, float]) -> list[dict]:
    """The audited paragraphs that are still events under `thresholds` (label -> minimum raw score)."""
    return [r for r in rows if float(r["score"]) >= thresholds.get(r["label"], 0.0)]


def weighted_by_shares(summary: dict, shares: dict[str, float]) -> dict:
    """Precision of the model's whole output when each label's audited precision stands for its share."""
    total = sum(shares.values())
    correct = sum(summary.get(label, {}).get("precision", 0.0) * share for label, share in shares.items())
    unaudited = sorted(label for label in shares if label not in summary)
    return {"precision": round(correct / total, 3) if total else 0.0, "yield": round(correct, 4),
            "unaudited_labels": unaudited}


def parse_shares(text: str) -> dict[str, float]:
    try:
        return {label: float(share) for label, share in (item.split("=", 1) for item in text.split(","))}
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected LABEL=SHARE,... with numbers, "
                                         "e.g. phone_call=0.51,trade_news=1.40") from None


def check_ids(rows: list[dict], dump: Path) -> list[str]:
    wanted = {(r["article_id"], int(r["paragraph"])) for r in rows}
    found = set()
    for article, paragraphs in iter_paragraphs(dump):
        for p in paragraphs:
            if (article.id, p.index) in wanted:
                found.add((article.id, p.index))
    return [f"{a}#{i}" for a, i in sorted(wanted - found)]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("audit", type=Path)
    p.add_argument("--dump", type=Path, help="check that every audited id exists in this dump")
    p.add_argument("--thresholds", type=Path, metavar="MODEL_DIR",
                   help="narrow the audit to what this folder's (stricter) thresholds keep as events")
    p.add_argument("--shares", type=parse_shares,
                   help="LABEL=SHARE,... of the scored paragraphs: weight per-label precision by them")
    args = p.parse_args(argv)
    rows = read_audit(args.audit)
    if args.thresholds:
        settings = ClassifierSettings.load(args.thresholds)
        kept = keep_above(rows, settings.thresholds)
        print(f"{args.audit}: thresholds of {args.thresholds} {settings.thresholds} keep {len(kept)} of {len(rows)}",
              file=sys.stderr)
        rows = kept
    if args.dump:
        missing = check_ids(rows, args.dump)
        if missing:
            print(f"{args.audit}: {len(missing)} ids not in {args.dump}: {', '.join(missing[:5])}", file=sys.stderr)
            return 1
    summary = summarize(rows)
    if args.shares:
        summary["weighted_by_shares"] = weighted_by_shares(summary, args.shares)
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
