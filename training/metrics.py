"""Classification metrics (scikit-learn) and the plots a run leaves behind."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless machines: never ask for a display
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support


def trainer_metrics(eval_pred) -> dict[str, float]:
    """`compute_metrics` for the Trainer: what picks the best checkpoint."""
    logits, labels = eval_pred
    preds = np.asarray(logits).argmax(axis=-1)
    return {
        "accuracy": float(accuracy_score(labels, preds)),
        "macro_f1": float(f1_score(labels, preds, average="macro", zero_division=0)),
    }


def report(y_true, y_pred, labels: list[str]) -> dict:
    """Accuracy, macro-F1, per-label precision/recall/F1/support and the confusion matrix (rows = truth)."""
    ids = list(range(len(labels)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=ids, zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=ids, average="macro", zero_division=0)),
        "per_label": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(labels)
        },
        "confusion_matrix": {
            "labels": labels,
            "matrix": confusion_matrix(y_true, y_pred, labels=ids).tolist(),
        },
    }


def top_confusions(result: dict, n: int = 5) -> list[tuple[str, str, int]]:
    labels = result["confusion_matrix"]["labels"]
    matrix = result["confusion_matrix"]["matrix"]
    pairs = [
        (labels[i], labels[j], matrix[i][j])
        for i in range(len(labels))
        for j in range(len(labels))
        if i != j and matrix[i][j]
    ]
    return sorted(pairs, key=lambda p: -p[2])[:n]


def plot_confusion(result: dict, path: str | Path, title: str) -> None:
    labels = result["confusion_matrix"]["labels"]
    matrix = np.asarray(result["confusion_matrix"]["matrix"])
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=35, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    peak = matrix.max() or 1
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center",
                    color="white" if matrix[i, j] > peak / 2 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_history(log_history: list[dict], path: str | Path) -> None:
    """Training loss and dev macro-F1 against the step, from `trainer.state.log_history`."""
    train = [(h["step"], h["loss"]) for h in log_history if "loss" in h]
    dev = [(h["step"], h["eval_macro_f1"]) for h in log_history if "eval_macro_f1" in h]
    fig, ax = plt.subplots(figsize=(7, 4))
    if train:
        ax.plot(*zip(*train), label="train loss", color="tab:blue")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if dev:
        right = ax.twinx()
        right.plot(*zip(*dev), "o-", label="dev macro-F1", color="tab:orange")
        right.set_ylabel("dev macro-F1")
        right.set_ylim(0, 1)
    ax.set_title("training curve")
    fig.legend(loc="upper center", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
