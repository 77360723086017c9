"""Turning a classifier's probabilities into decisions a user can trust on a real dump.

- Temperature scaling (Guo et al., 2017): one scalar T fitted on dev by minimizing the negative log-likelihood
  of softmax(logits / T); it changes confidence, never the ranking. Log-probabilities stand in for logits:
  softmax(log p / T) = softmax(z / T) because log p and z differ by a per-row constant.
- Expected calibration error: the gap between confidence and accuracy, averaged over equal-width confidence
  bins weighted by their size.
- Prior shift (Saerens, Latinne and Decaestecker, 2002): a dump's label distribution is not the corpus's.
  EM alternates re-weighting each posterior by new_prior / train_prior with re-estimating the new priors as
  the mean adjusted posterior, until the priors stop moving.
- Thresholds: per event label, the smallest score at which that label's precision on dev reaches a target
  (a sweep, as `spacy find-threshold` does); below it a paragraph is called `other`.
"""
from __future__ import annotations

import numpy as np


def fit_temperature(probs: np.ndarray, gold: np.ndarray, bounds: tuple[float, float] = (0.05, 20.0)) -> float:
    from scipy.optimize import minimize_scalar

    logp = np.log(np.clip(probs, 1e-12, 1.0))
    gold = np.asarray(gold)

    def nll(log_t: float) -> float:
        z = logp / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        return float(-(z[np.arange(len(gold)), gold] - np.log(np.exp(z).sum(axis=1))).mean())

    found = minimize_scalar(nll, bounds=(np.log(bounds[0]), np.log(bounds[1])), method="bounded")
    return float(np.exp(found.x))


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    z = np.log(np.clip(probs, 1e-12, 1.0)) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def expected_calibration_error(probs: np.ndarray, gold: np.ndarray, bins: int = 15) -> float:
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(gold)
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(ece)


def shift_priors(probs: np.ndarray, train_priors: np.ndarray, new_priors: np.ndarray) -> np.ndarray:
    """Posteriors under `new_priors` from posteriors under `train_priors` (Bayes' rule, per row)."""
    weighted = probs * (np.asarray(new_priors) / np.asarray(train_priors))[None, :]
    return weighted / weighted.sum(axis=1, keepdims=True)


def em_priors(probs: np.ndarray, train_priors: np.ndarray, max_iter: int = 200, tol: float = 1e-6,
              floor: float = 1e-4) -> tuple[np.ndarray, int]:
    """The label priors of the population `probs` came from, by Saerens et al.'s EM; and the iterations used.
    A floor keeps a label that vanishes from the sample from being ruled out for the whole dump."""
    train_priors = np.asarray(train_priors, dtype=np.float64)
    priors = train_priors.copy()
    for step in range(1, max_iter + 1):
        adjusted = shift_priors(probs.astype(np.float64), train_priors, priors)
        new = np.maximum(adjusted.mean(axis=0), floor)
        new /= new.sum()
        if np.abs(new - priors).max() < tol:
            return new, step
        priors = new
    return priors, max_iter


def background_weights(gold: np.ndarray, labels: list[str], background: str, share: float) -> np.ndarray:
    """Per-example weights under which `background` makes up `share` of the examples and the other labels
    keep their relative frequencies: dev is about a third events, a real dump about 5%, so a dev false alarm
    stands for many more on a dump than dev's own precision counts."""
    gold = np.asarray(gold)
    is_bg = gold == labels.index(background)
    n_bg, n_ev = int(is_bg.sum()), int((~is_bg).sum())
    if not n_bg or not n_ev:
        return np.ones(len(gold))
    return np.where(is_bg, share / n_bg, (1 - share) / n_ev) * len(gold)


def choose_thresholds(probs: np.ndarray, gold: np.ndarray, labels: list[str], background: str,
                      target_precision: float, weights: np.ndarray | None = None) -> dict[str, dict]:
    """For each label but `background`: the lowest score threshold at which the paragraphs predicted as that
    label reach `target_precision` on these (dev) examples, with the precision and recall it gives there.
    With `weights`, precision counts each example by its weight (background_weights: precision at a dump's
    label mix). A label that never reaches the target gets the threshold of its best F1 instead
    (`reached: false`)."""
    gold = np.asarray(gold)
    weights = np.ones(len(gold)) if weights is None else np.asarray(weights, dtype=float)
    predicted = probs.argmax(axis=1)
    out = {}
    for k, label in enumerate(labels):
        if label == background:
            continue
        scores = probs[predicted == k, k]
        hits = gold[predicted == k] == k
        w = weights[predicted == k]
        positives = int((gold == k).sum())
        order = np.argsort(-scores, kind="stable")
        scores, hits, w = scores[order], hits[order], w[order]
        tp = np.cumsum(hits)
        precision = np.cumsum(w * hits) / np.cumsum(w) if len(hits) else np.array([])
        recall = tp / max(positives, 1)
        # Keeping the top i+1 predictions means threshold scores[i]; want the largest i with precision >= target.
        ok = np.nonzero(precision >= target_precision)[0]
        if len(ok):
            i, reached = int(ok.max()), True
        elif len(hits):
            f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
            i, reached = int(f1.argmax()), False
        else:
            out[label] = {"threshold": 0.0, "precision": None, "recall": 0.0, "reached": False}
            continue
        out[label] = {"threshold": round(float(scores[i]), 6), "precision": round(float(precision[i]), 4),
                      "recall": round(float(recall[i]), 4), "reached": reached}
    return out
