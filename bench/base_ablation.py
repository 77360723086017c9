"""Which base is worth fine-tuning? The same classifier, config and splits from three bases:

  (a) random init            -- bootstrap with base.seed_embeddings=false and base.encoder_init=random
  (b) navec-seeded           -- the embedded default base (python -m training.bootstrap)
  (c) navec-seeded + MLM     -- (b) after masked-LM pretraining on an unlabeled dump, for a fixed budget

plus the TF-IDF + logistic-regression baseline on the same train split. Each row is fine-tuned once per
seed; the table gives the mean (and the spread) of dev/test macro-F1 and wall time, and WORK_DIR/ablation.json
keeps every run. On a few hundred test paragraphs one run moves by about 0.01, hence the seeds.

    python bench/base_ablation.py --corpus ../shared/corpora/moldova_ru_news.jsonl \\
        ../shared/corpora/ria_news_sample.jsonl --pretrain-minutes 30 --seeds 42 7 --work-dir runs/ablation

Every stage (base, pretraining, each fine-tune) is skipped when its output exists, so the bench resumes
after a crash and can be run in pieces (`--rows random seeded` while pretraining runs elsewhere).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

TITLES = {"random": "(a) random init", "seeded": "(b) navec-seeded base (default)",
          "adapted": "(c) navec-seeded + MLM {minutes:g} min"}


def run(cmd: list[str], log: Path) -> float:
    started = time.time()
    with open(log, "w", encoding="utf-8") as handle:
        code = subprocess.call(cmd, stdout=handle, stderr=subprocess.STDOUT)
    if code != 0:
        sys.exit(f"failed ({code}): {' '.join(cmd)}; see {log}")
    return time.time() - started


def spread(values: list[float]) -> str:
    mean = statistics.mean(values)
    return f"{mean:.3f}" if len(values) == 1 else f"{mean:.3f} ± {statistics.stdev(values):.3f}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="configs/default.yaml")
    p.add_argument("--corpus", nargs="+", required=True, help="unlabeled dump(s) for row (c)")
    p.add_argument("--pretrain-minutes", type=float, default=30)
    p.add_argument("--seeds", nargs="+", type=int, default=[42])
    p.add_argument("--rows", nargs="+", choices=list(TITLES), default=list(TITLES))
    p.add_argument("--work-dir", default="runs/ablation")
    p.add_argument("--set", dest="overrides", action="append", default=[], help="passed to every fine-tune")
    args = p.parse_args()
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    overrides = [x for o in args.overrides for x in ("--set", o)]
    bases = work / "bases"

    def stage(folder: Path, card: str, cmd: list[str], log: str) -> float:
        if not (folder / card).exists():
            run(cmd, work / log)
        return json.loads((folder / card).read_text(encoding="utf-8"))["seconds"]

    def bootstrap(name: str, *sets: str) -> float:
        return stage(bases / name, "base_card.json",
                     [py, "-m", "training.bootstrap", "--config", args.config, "--output-dir", str(bases / name),
                      *[x for s in sets for x in ("--set", s)]], f"bootstrap_{name}.log")

    cost = {}
    if "random" in args.rows:
        cost["random"] = bootstrap("random", "base.seed_embeddings=false", "base.encoder_init=random")
    if {"seeded", "adapted"} & set(args.rows):
        cost["seeded"] = bootstrap("seeded")
    if "adapted" in args.rows:
        cost["adapted"] = cost["seeded"] + stage(
            bases / "adapted", "pretrain_card.json",
            [py, "-m", "training.pretrain", "--base", str(bases / "seeded"), "--corpus", *args.corpus,
             "--minutes", str(args.pretrain_minutes), "--output-dir", str(bases / "adapted")], "pretrain.log")

    runs, baseline = {}, None
    for key in args.rows:
        for seed in args.seeds:
            out = work / f"run_{key}_s{seed}"
            timing = out / "wall_seconds.txt"  # written last: its presence means the run finished
            if not timing.exists():
                seconds = run([py, "-m", "training", "--config", args.config, "--output-dir", str(out),
                               "--overwrite", "--set", f"model.name_or_path={bases / key}",
                               "--set", f"train.seed={seed}", *overrides], work / f"train_{key}_s{seed}.log")
                timing.write_text(f"{seconds:.1f}\n")
            metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
            runs.setdefault(key, []).append({
                "seed": seed, "dev_macro_f1": metrics["dev"]["macro_f1"], "test_macro_f1": metrics["test"]["macro_f1"],
                "test_accuracy": metrics["test"]["accuracy"],
                "finetune_seconds": float(timing.read_text())})
            baseline = metrics["baseline_tfidf_logreg"]

    summary = {"config": args.config, "corpus": args.corpus, "seeds": args.seeds, "base_seconds": cost, "runs": runs,
               "tfidf": {"dev_macro_f1": baseline["dev"]["macro_f1"], "test_macro_f1": baseline["test"]["macro_f1"]}}
    if "adapted" in args.rows:
        card = json.loads((bases / "adapted" / "pretrain_card.json").read_text(encoding="utf-8"))
        summary["pretrain"] = {k: card[k] for k in ("steps", "sequences_seen", "seconds", "loss_first_last_logged")}
    (work / "ablation.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")

    print(f"seeds {args.seeds}: mean ± standard deviation over seeds\n")
    print("| base | dev macro-F1 | test macro-F1 | test, each seed | seeds above TF-IDF on test | base build (s) "
          "| fine-tune (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for key, rows in runs.items():
        each = " / ".join(f"{r['test_macro_f1']:.3f}" for r in rows)
        ft = statistics.mean(r["finetune_seconds"] for r in rows)
        above = sum(r["test_macro_f1"] > summary["tfidf"]["test_macro_f1"] for r in rows)
        print(f"| {TITLES[key].format(minutes=args.pretrain_minutes)} | {spread([r['dev_macro_f1'] for r in rows])} | "
              f"{spread([r['test_macro_f1'] for r in rows])} | {each} | {above} of {len(rows)} | {cost[key]:.0f} "
              f"| {ft:.0f} |")
    print(f"| TF-IDF + logistic regression | {summary['tfidf']['dev_macro_f1']:.3f} | "
          f"{summary['tfidf']['test_macro_f1']:.3f} | (deterministic) | — | — | — |")
    if "pretrain" in summary:
        pre = summary["pretrain"]
        print(f"\nMLM pretraining: {pre['steps']} steps, {pre['sequences_seen']} sequences, loss "
              f"{pre['loss_first_last_logged'][0]:.2f} -> {pre['loss_first_last_logged'][1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
