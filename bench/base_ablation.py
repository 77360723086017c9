"""Which base is worth fine-tuning? The same classifier, config and splits from three bases:

  (a) random init            -- bootstrap with base.seed_embeddings=false (embeddings trained, not frozen)
  (b) navec-seeded           -- the embedded default base
  (c) navec-seeded + MLM     -- (b) after masked-LM pretraining on an unlabeled dump, for a fixed budget

plus the TF-IDF + logistic-regression baseline on the same train split. Prints a Markdown table of
dev/test macro-F1 and wall time, and writes WORK_DIR/ablation.json.

    python bench/base_ablation.py --corpus ../shared/corpora/moldova_ru_news.jsonl \
        ../shared/corpora/ria_news_sample.jsonl --pretrain-minutes 30 --work-dir runs/ablation
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def run(cmd: list[str], log: Path) -> float:
    started = time.time()
    with open(log, "w", encoding="utf-8") as handle:
        code = subprocess.call(cmd, stdout=handle, stderr=subprocess.STDOUT)
    if code != 0:
        sys.exit(f"failed ({code}): {' '.join(cmd)}; see {log}")
    return time.time() - started


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="configs/default.yaml")
    p.add_argument("--corpus", nargs="+", required=True, help="unlabeled dump(s) for row (c)")
    p.add_argument("--pretrain-minutes", type=float, default=30)
    p.add_argument("--work-dir", default="runs/ablation")
    p.add_argument("--set", dest="overrides", action="append", default=[], help="passed to every fine-tune")
    args = p.parse_args()
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    overrides = [x for o in args.overrides for x in ("--set", o)]

    # Each stage is skipped when its output already exists, so the bench can be re-run or resumed; the
    # cost reported is the one recorded by the stage itself.
    bases = work / "bases"

    def stage(folder: Path, card: str, cmd: list[str], log: str) -> float:
        if not (folder / card).exists():
            run(cmd, work / log)
        return json.loads((folder / card).read_text(encoding="utf-8"))["seconds"]

    cost = {
        "random": stage(bases / "random", "base_card.json",
                        [py, "-m", "training.bootstrap", "--config", args.config, "--output-dir",
                         str(bases / "random"), "--set", "base.seed_embeddings=false"], "bootstrap_random.log"),
        "seeded": stage(bases / "seeded", "base_card.json",
                        [py, "-m", "training.bootstrap", "--config", args.config, "--output-dir",
                         str(bases / "seeded")], "bootstrap_seeded.log"),
    }
    cost["adapted"] = cost["seeded"] + stage(
        bases / "adapted", "pretrain_card.json",
        [py, "-m", "training.pretrain", "--base", str(bases / "seeded"), "--corpus", *args.corpus,
         "--minutes", str(args.pretrain_minutes), "--output-dir", str(bases / "adapted")], "pretrain.log")

    rows = {
        "random": ("(a) random init", ["--set", "model.freeze_embeddings=false"]),
        "seeded": ("(b) navec-seeded base", []),
        "adapted": (f"(c) navec-seeded + MLM {args.pretrain_minutes:g} min", []),
    }
    results = {}
    for key, (title, extra) in rows.items():
        out = work / f"run_{key}"
        seconds = run([py, "-m", "training", "--config", args.config, "--output-dir", str(out), "--overwrite",
                       "--set", f"model.name_or_path={bases / key}", *extra, *overrides], work / f"train_{key}.log")
        metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
        results[key] = {"row": title, "dev_macro_f1": metrics["dev"]["macro_f1"],
                        "test_macro_f1": metrics["test"]["macro_f1"], "test_accuracy": metrics["test"]["accuracy"],
                        "base_seconds": round(cost[key], 1), "finetune_seconds": round(seconds, 1)}
        baseline = metrics["baseline_tfidf_logreg"]
    results["tfidf"] = {"row": "TF-IDF + logistic regression", "dev_macro_f1": baseline["dev"]["macro_f1"],
                        "test_macro_f1": baseline["test"]["macro_f1"], "test_accuracy": baseline["test"]["accuracy"],
                        "base_seconds": 0.0, "finetune_seconds": None}
    pretrain_card = json.loads((bases / "adapted" / "pretrain_card.json").read_text(encoding="utf-8"))
    summary = {"config": args.config, "corpus": args.corpus, "pretrain": {
        k: pretrain_card[k] for k in ("steps", "sequences_seen", "seconds", "loss_first_last_logged")},
        "rows": results}
    (work / "ablation.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")

    print("| base | dev macro-F1 | test macro-F1 | test accuracy | base build (s) | fine-tune (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in results.values():
        ft = "—" if r["finetune_seconds"] is None else f"{r['finetune_seconds']:.0f}"
        print(f"| {r['row']} | {r['dev_macro_f1']:.3f} | {r['test_macro_f1']:.3f} | {r['test_accuracy']:.3f} | "
              f"{r['base_seconds']:.0f} | {ft} |")
    print(f"MLM pretraining: {pretrain_card['steps']} steps, {pretrain_card['sequences_seen']} sequences, "
          f"loss {pretrain_card['loss_first_last_logged']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
