"""Evaluate a model folder on any labeled JSONL file: metrics, calibration, precision-recall curves, worst errors.

    python -m training.evaluate --model runs/default/model --data my_labeled.jsonl [--output-dir DIR]
                                [--baseline configs/default.yaml]

    from training.evaluate import evaluate
    result = evaluate("runs/default/model", "my_labeled.jsonl")          # what metrics.json holds

The file has one JSON object a line with `text` and `label` (optional `article_id`, `kind`, `title`,
`context`; other fields are ignored): a split of `python -m training.splits`, or the output of
`python -m inference.select` once its labels are filled. It is read by the project's one labeled reader, so a
bad row (or a label the model does not know) stops the run with `FILE:LINE: problem`. Each paragraph gets the
context the model was trained with (title, previous paragraph of the same article), and predictions come from
`EventClassifier`, the scorer's own path, with the folder's temperature and thresholds: the numbers are what
`python -m inference` would give on these paragraphs.

OUTPUT_DIR (default: `eval-<data file name>` in the model's run folder, e.g. runs/default/eval-test beside
runs/default/model) receives metrics.json, report.md, confusion_matrix.png, reliability.png, pr_curves.png and
predictions.jsonl (every paragraph in the scorer's row schema plus `gold` and `line`).
"""
from __future__ import annotations

import argparse
import json
import logging
import random
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless machines: never ask for a display
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve
from tqdm import tqdm

from inference.calibration import expected_calibration_error
from inference.classifier import BACKENDS, EventClassifier
from inference.readers import read_labeled

from . import baseline as tfidf
from . import metrics
from .config import ConfigError, load_config
from .data import Example, with_context
from .report import TEXT_CHARS, write_report

log = logging.getLogger("training.evaluate")

CHUNK = 1024  # paragraphs per classifier call: a progress step, small enough to keep memory flat
ECE_BINS = 15  # inference.calibration's default, so the diagram shows the bins the ECE is made of
WORST = 20


def default_output_dir(model_dir: str | Path, data_path: str | Path) -> Path:
    name = Path(data_path).name
    for suffix in (".gz", ".jsonl", ".ndjson", ".json"):
        name = name.removesuffix(suffix)
    return Path(model_dir).resolve().parent / f"eval-{name}"


def predict(clf: EventClassifier, examples: list[Example], chunk: int = CHUNK,
            progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and window counts of `examples`, `chunk` paragraphs per call, with a progress bar."""
    probs = np.zeros((len(examples), len(clf.labels)), dtype=np.float32)
    windows = np.zeros(len(examples), dtype=np.int64)
    with tqdm(total=len(examples), unit="par", desc="paragraphs", disable=not progress) as bar:
        for start in range(0, len(examples), chunk):
            part = examples[start:start + chunk]
            p, w = clf.infer([e.text for e in part], [e.context for e in part])
            probs[start:start + len(part)], windows[start:start + len(part)] = p, w
            bar.update(len(part))
    return probs, windows


def calibration_summary(probs: np.ndarray, gold: np.ndarray, bins: int = ECE_BINS) -> dict:
    """Expected calibration error of the top label and the non-empty confidence bins it averages: the range,
    the paragraphs in it, their mean confidence and their accuracy."""
    gold = np.asarray(gold)
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == gold
    edges = np.linspace(0.0, 1.0, bins + 1)
    rows = []
    # (lo, hi] as inference.calibration bins them, so the rows add up to its ECE.
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            rows.append({"from": round(float(lo), 4), "to": round(float(hi), 4), "paragraphs": int(inside.sum()),
                         "confidence": round(float(confidence[inside].mean()), 4),
                         "accuracy": round(float(correct[inside].mean()), 4)})
    return {"ece": round(expected_calibration_error(probs, gold, bins), 4), "bins": rows}


def worst_errors(examples: list[Example], lines: list[int], probs: np.ndarray, decided: np.ndarray,
                 gold: np.ndarray, labels: list[str], n: int = WORST) -> list[dict]:
    """The `n` wrong predictions with the highest score: where the model is surest and still wrong."""
    score = probs[np.arange(len(decided)), decided]
    wrong = np.nonzero(decided != gold)[0]
    order = wrong[np.argsort(-score[wrong], kind="stable")][:n]
    out = []
    for i in order:
        text = examples[i].text
        out.append({"line": lines[i], "article_id": examples[i].article_id,
                    "text": text if len(text) <= TEXT_CHARS else text[:TEXT_CHARS].rstrip() + "…",
                    "gold": labels[gold[i]], "predicted": labels[decided[i]], "score": round(float(score[i]), 4)})
    return out


def pr_curves(probs: np.ndarray, gold: np.ndarray, labels: list[str], background: str | None,
              report: dict, path: Path) -> dict[str, float | None]:
    """One precision-recall curve per event label in one PNG; returns each label's average precision (None for a
    label with no paragraph in the file, where recall is undefined)."""
    fig, ax = plt.subplots(figsize=(7, 5.5))
    average = {}
    for k, label in enumerate(labels):
        if label == background:
            continue
        positives = gold == k
        if not positives.any():
            average[label] = None
            continue
        precision, recall, _ = precision_recall_curve(positives, probs[:, k])
        ap = float(average_precision_score(positives, probs[:, k]))
        average[label] = round(ap, 4)
        line, = ax.step(recall, precision, where="post", label=f"{label} (AP {ap:.3f}, n={int(positives.sum())})")
        # Where the model's decisions (thresholds included) put this label on its curve.
        decided = report["per_label"][label]
        ax.plot([decided["recall"]], [decided["precision"]], "o", color=line.get_color())
    if not any(v is not None for v in average.values()):
        ax.text(0.5, 0.5, "no event paragraph in this file", ha="center", va="center")
    ax.set_xlim(0, 1.01)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("precision-recall per event label (dot: the model's decisions)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return average


def plot_reliability(calibration: dict, path: Path, bins: int = ECE_BINS) -> None:
    rows = calibration["bins"]
    width = 1.0 / bins
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    centers = [(r["from"] + r["to"]) / 2 for r in rows]
    top.bar(centers, [r["accuracy"] for r in rows], width=width * 0.9, color="tab:blue", label="accuracy")
    top.plot([r["confidence"] for r in rows], [r["confidence"] for r in rows], "_", color="tab:red",
             markersize=14, mew=2, label="mean confidence")
    top.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    top.set_ylim(0, 1)
    top.set_ylabel("accuracy of the top label")
    top.set_title(f"reliability, ECE {calibration['ece']:.3f}")
    top.legend(loc="upper left", fontsize=8)
    bottom.bar(centers, [r["paragraphs"] for r in rows], width=width * 0.9, color="tab:grey")
    bottom.set_xlim(0, 1)
    bottom.set_xlabel("confidence (top-label probability)")
    bottom.set_ylabel("paragraphs")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def baseline_report(config_path: str | Path, data_path: str | Path, texts: list[str], gold: np.ndarray,
                    labels: list[str]) -> dict:
    """The TF-IDF + logistic-regression baseline fitted on CONFIG's train split, scored on `texts` (the
    paragraphs of `data_path`)."""
    config = load_config(config_path)
    if Path(data_path).resolve() == Path(config.data.train).resolve():
        log.warning("%s is the baseline's own training split: its baseline scores are not held out", data_path)
    unknown = [x for x in config.labels if x not in labels]
    if unknown:
        raise ConfigError(f"{config_path}: labels {unknown} are not among the model's labels {labels}")
    rows = read_labeled(config.data.train, config.labels, config.data.text_column, config.data.label_column)
    if config.train.max_train_samples:
        # The same draw as training.data.load_splits, so this is the baseline the run's metrics.json reports.
        n = min(config.train.max_train_samples, len(rows))
        rows = random.Random(config.train.seed).sample(rows, n)
    predicted = tfidf.fit_predict([r.text for r in rows], [config.label2id[r.label] for r in rows],
                                  {"eval": texts}, seed=config.train.seed)["eval"]
    report = metrics.report(gold, [labels.index(config.labels[i]) for i in predicted], labels)
    return {"config": str(config_path), "train": config.data.train, "train_paragraphs": len(rows), **report}


def evaluate(model_dir: str | Path, data_path: str | Path, output_dir: str | Path | None = None,
             baseline_config: str | Path | None = None, backend: str = "torch", *, text_field: str = "text",
             label_field: str = "label", progress: bool = True, device: str | None = None) -> dict:
    """Score the labeled file `data_path` with the model folder `model_dir`, write metrics.json, report.md and
    the plots to `output_dir` (see the module docstring) and return the metrics."""
    clf = EventClassifier.from_pretrained(model_dir, backend=backend, device=device)
    labels = clf.labels
    rows = read_labeled(data_path, labels, text_field, label_field)
    examples = with_context(rows, clf.settings.context)
    out = Path(output_dir) if output_dir is not None else default_output_dir(model_dir, data_path)
    out.mkdir(parents=True, exist_ok=True)

    probs, windows = predict(clf, examples, progress=progress)
    gold = np.asarray([labels.index(e.label) for e in examples])
    decided = clf.decide(probs)
    result = metrics.report(gold, decided, labels)
    calibration = calibration_summary(probs, gold)
    calibration = {"ece": calibration["ece"], "temperature": clf.settings.temperature, "bins": calibration["bins"]}
    files = {"metrics": "metrics.json", "report": "report.md", "confusion_matrix": "confusion_matrix.png",
             "reliability": "reliability.png", "pr_curves": "pr_curves.png", "predictions": "predictions.jsonl"}
    result["average_precision"] = pr_curves(probs, gold, labels, clf.settings.background, result,
                                            out / files["pr_curves"])
    base = None
    if baseline_config is not None:
        base = baseline_report(baseline_config, data_path, [e.text for e in examples], gold, labels)
    errors = worst_errors(examples, [r.line for r in rows], probs, decided, gold, labels)
    summary = {
        "model": str(model_dir),
        "data": str(data_path),
        "paragraphs": len(examples),
        "windows": int(windows.sum()),
        "labels": labels,
        "settings": {"context": clf.settings.context, "temperature": clf.settings.temperature,
                     "background": clf.settings.background, "thresholds": clf.settings.thresholds},
        **result,
        # Before thresholds: the top label of every paragraph (equal to the above when the folder sets none).
        "top_label": metrics.report(gold, probs.argmax(axis=1), labels),
        "calibration": calibration,
        "baseline_tfidf_logreg": base,
        "worst_errors": errors,
        "files": files,
    }
    (out / files["metrics"]).write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    with open(out / files["predictions"], "w", encoding="utf-8") as handle:
        for example, row, p, w, g in zip(examples, rows, probs, windows, gold):
            scored = clf.row(example.article_id, example.paragraph, example.kind, example.text, p, int(w)).to_dict()
            scored.update(gold=labels[g], line=row.line)
            handle.write(json.dumps(scored, ensure_ascii=False) + "\n")
    name = Path(data_path).name
    metrics.plot_confusion(result, out / files["confusion_matrix"], f"{name}, macro-F1 {result['macro_f1']:.3f}")
    plot_reliability(calibration, out / files["reliability"])
    plots = {"confusion matrix": out / files["confusion_matrix"], "reliability": out / files["reliability"],
             "precision-recall per event label": out / files["pr_curves"]}
    write_report(out / files["report"], f"{Path(model_dir).resolve().parent.name} on {name}",
                 {name: result, "calibration": calibration}, plots, {name: base} if base else None, errors)
    return {**summary, "output_dir": str(out)}


def format_summary(result: dict) -> str:
    """What the CLI prints: the headline numbers and the per-label table."""
    base = result["baseline_tfidf_logreg"]
    head = (f"{result['paragraphs']} paragraphs of {result['data']}: accuracy {result['accuracy']:.3f}, "
            f"macro-F1 {result['macro_f1']:.3f}"
            + (f" (TF-IDF baseline {base['macro_f1']:.3f})" if base else "")
            + f", ECE {result['calibration']['ece']:.3f}")
    width = max(len(x) for x in result["labels"])
    lines = [head, f"{'label':<{width}}  precision  recall     F1  support     AP"]
    for label, s in result["per_label"].items():
        ap = result["average_precision"].get(label)
        lines.append(f"{label:<{width}}  {s['precision']:9.3f}  {s['recall']:6.3f}  {s['f1']:5.3f}  {s['support']:7d}"
                     f"  {'' if ap is None else format(ap, '5.3f'):>5}")
    out = Path(result["output_dir"])
    lines.append(f"report: {out / result['files']['report']} (metrics.json, confusion_matrix.png, reliability.png, "
                 "pr_curves.png, predictions.jsonl)")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="model folder written by `python -m training`")
    p.add_argument("--data", required=True, help="labeled JSONL (text, label; optional article_id, kind, title, "
                                                 "context)")
    p.add_argument("--output-dir", help="where the report goes (default: eval-<data file name> in the model's run "
                                        "folder, beside MODEL)")
    p.add_argument("--baseline", metavar="CONFIG", help="also fit the TF-IDF + logistic-regression baseline on "
                                                        "CONFIG's train split and report it side by side")
    p.add_argument("--backend", choices=BACKENDS, default="torch")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    p.add_argument("--text-field", default="text")
    p.add_argument("--label-field", default="label")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        result = evaluate(args.model, args.data, args.output_dir, args.baseline, args.backend,
                          text_field=args.text_field, label_field=args.label_field, progress=not args.quiet,
                          device=args.device)
    except (ValueError, OSError, ImportError) as exc:  # LabeledDataError, ModelFolderError, ConfigError among them
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
