import json

import pytest

from training.baseline import fit_predict
from training.metrics import plot_confusion, report, top_confusions

LABELS = ["phone_call", "other"]


def test_report_counts_and_scores():
    result = report([0, 0, 1, 1], [0, 1, 1, 1], LABELS)
    assert result["accuracy"] == 0.75
    assert result["per_label"]["phone_call"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3),
                                                 "support": 2}
    assert result["confusion_matrix"]["matrix"] == [[1, 1], [0, 2]]
    assert result["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    json.dumps(result)  # metrics.json must be able to hold it


def test_a_label_never_seen_still_gets_a_row():
    result = report([1, 1], [1, 1], LABELS)
    assert result["per_label"]["phone_call"]["support"] == 0
    assert result["confusion_matrix"]["matrix"] == [[0, 0], [0, 2]]


def test_top_confusions_are_off_diagonal_and_sorted():
    result = report([0, 0, 0, 1, 1], [1, 1, 0, 0, 1], LABELS)
    assert top_confusions(result) == [("phone_call", "other", 2), ("other", "phone_call", 1)]


def test_confusion_plot_is_written(tmp_path):
    plot_confusion(report([0, 1], [0, 1], LABELS), tmp_path / "cm.png", "t")
    assert (tmp_path / "cm.png").read_bytes()[:4] == b"\x89PNG"


def test_tfidf_baseline_learns_a_separable_toy_task():
    train = ["Лидеры созвонились и обсудили газ", "Президенты провели телефонный разговор",
             "Министры переговорили по телефону", "Урожай пшеницы вырос", "В театре прошла премьера",
             "Погода будет теплой"]
    labels = [0, 0, 0, 1, 1, 1]
    preds = fit_predict(train, labels, {"test": ["Премьеры созвонились", "Премьера в театре"]})
    assert preds["test"] == [0, 1]
