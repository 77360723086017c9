import numpy as np

from inference.scorer import Scorer


def test_probabilities_come_back_in_input_order_whatever_the_batching(tiny_run):
    texts = ["Короткий", "Очень длинный абзац о переговорах министров и поставках газа в Европу " * 3,
             "Средний абзац о погоде", "Фермеры перекрыли трассу"]
    one_by_one = Scorer(str(tiny_run / "model"), batch_size=1).predict_proba(texts)
    batched = Scorer(str(tiny_run / "model"), batch_size=3).predict_proba(texts)
    assert one_by_one.shape == (4, 5)
    np.testing.assert_allclose(one_by_one, batched, atol=1e-5)
    np.testing.assert_allclose(batched.sum(axis=1), 1.0, atol=1e-5)


def test_labels_come_from_the_model_config(tiny_run):
    assert Scorer(str(tiny_run / "model")).labels == ["phone_call", "support_statement", "unrest_report",
                                                      "trade_news", "other"]


def test_empty_input(tiny_run):
    assert Scorer(str(tiny_run / "model")).predict_proba([]).shape == (0, 5)
