import numpy as np
import pytest

from inference.calibration import (
    apply_temperature,
    background_weights,
    choose_thresholds,
    em_priors,
    expected_calibration_error,
    fit_temperature,
    shift_priors,
)


def overconfident(n=4000, seed=0):
    """Posteriors whose true temperature is 3: the model is sharper than it is right."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, size=(n, 4))
    calibrated = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    gold = np.array([rng.choice(4, p=p) for p in calibrated])
    sharp = apply_temperature(calibrated, 1 / 3)
    return sharp, gold


def test_temperature_recovers_the_true_scale_and_lowers_ece():
    sharp, gold = overconfident()
    t = fit_temperature(sharp, gold)
    assert t == pytest.approx(3.0, rel=0.1)
    fixed = apply_temperature(sharp, t)
    assert expected_calibration_error(fixed, gold) < expected_calibration_error(sharp, gold) / 3
    assert (fixed.argmax(1) == sharp.argmax(1)).all()  # a temperature never changes the ranking


def test_em_recovers_a_shifted_prior():
    rng = np.random.default_rng(1)
    train_priors = np.array([0.5, 0.5])
    # Two classes, Gaussian scores; the dump is 10% class 0 though training was 50/50.
    gold = (rng.random(20000) > 0.1).astype(int)
    x = rng.normal(np.where(gold == 0, -1.0, 1.0), 1.0)
    p0 = 1 / (1 + np.exp(2 * x))  # the exact posterior under 50/50 priors
    probs = np.stack([p0, 1 - p0], axis=1)
    priors, steps = em_priors(probs, train_priors)
    assert priors[0] == pytest.approx(0.1, abs=0.015) and steps < 200
    adjusted = shift_priors(probs, train_priors, priors)
    assert (adjusted.argmax(1) == gold).mean() > (probs.argmax(1) == gold).mean()


def test_thresholds_reach_the_target_precision_on_the_data_they_were_chosen_on():
    rng = np.random.default_rng(2)
    labels = ["call", "other"]
    gold = rng.integers(0, 2, 3000)
    score = np.clip(np.where(gold == 0, rng.normal(0.75, 0.15, 3000), rng.normal(0.45, 0.15, 3000)), 0.01, 0.99)
    probs = np.stack([score, 1 - score], axis=1)
    chosen = choose_thresholds(probs, gold, labels, "other", 0.95)
    assert set(chosen) == {"call"} and chosen["call"]["reached"]
    keep = (probs.argmax(1) == 0) & (probs[:, 0] >= chosen["call"]["threshold"])
    assert (gold[keep] == 0).mean() >= 0.95
    loose = (probs.argmax(1) == 0)
    assert (gold[loose] == 0).mean() < 0.95  # the threshold did something
    assert chosen["call"]["recall"] == pytest.approx(((gold == 0) & keep).sum() / (gold == 0).sum(), abs=1e-3)


def test_thresholds_at_a_dumps_label_mix_hold_their_precision_on_such_a_dump():
    rng = np.random.default_rng(3)
    labels = ["call", "other"]

    def draw(n_call, n_other):
        gold = np.array([0] * n_call + [1] * n_other)
        score = np.clip(np.where(gold == 0, rng.normal(0.75, 0.15, len(gold)), rng.normal(0.45, 0.15, len(gold))),
                        0.01, 0.99)
        return np.stack([score, 1 - score], axis=1), gold

    dev_probs, dev_gold = draw(1000, 2000)            # a third events, as the dev split
    dump_probs, dump_gold = draw(1000, 19000)         # 5% events, as a real dump
    weights = background_weights(dev_gold, labels, "other", 0.95)
    assert weights[dev_gold == 1].sum() / weights.sum() == pytest.approx(0.95)
    plain = choose_thresholds(dev_probs, dev_gold, labels, "other", 0.9)["call"]["threshold"]
    at_mix = choose_thresholds(dev_probs, dev_gold, labels, "other", 0.9, weights)["call"]["threshold"]
    assert at_mix > plain

    def dump_precision(threshold):
        keep = (dump_probs.argmax(1) == 0) & (dump_probs[:, 0] >= threshold)
        return (dump_gold[keep] == 0).mean()

    assert dump_precision(plain) < 0.85             # dev's own mix overstates precision on the dump
    assert dump_precision(at_mix) >= 0.85
