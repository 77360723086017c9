import json
import re
from pathlib import Path

import numpy as np
import pytest

from inference.classifier import EventClassifier
from inference.readers import read_labeled
from tests.conftest import write_jsonl
from training.data import with_context
from training.evaluate import calibration_summary, evaluate, main, worst_errors

# The first 30 lines of the test split are whole articles (the 31st starts a new one) with all five labels.
TOY_LINES = 30


@pytest.fixture(scope="module")
def toy_file(tmp_path_factory):
    lines = Path("data/labeled/test.jsonl").read_text(encoding="utf-8").splitlines()[:TOY_LINES]
    return write_jsonl(tmp_path_factory.mktemp("toy") / "toy.jsonl", lines)


def image_links(report: Path) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report.read_text(encoding="utf-8"))


def test_confusion_matrix_and_accuracy_are_those_of_the_classifiers_own_predictions(tiny_run, toy_file, tmp_path):
    out = tmp_path / "eval"
    result = evaluate(tiny_run / "model", toy_file, out, progress=False)
    clf = EventClassifier.from_pretrained(tiny_run / "model")
    examples = with_context(read_labeled(toy_file, clf.labels), clf.settings.context)
    predicted = clf.predict([e.text for e in examples], [e.context for e in examples])
    expected = [[0] * len(clf.labels) for _ in clf.labels]
    for example, label in zip(examples, predicted):
        expected[clf.labels.index(example.label)][clf.labels.index(label)] += 1
    assert result["confusion_matrix"]["matrix"] == expected
    assert result["accuracy"] == pytest.approx(np.mean([e.label == p for e, p in zip(examples, predicted)]))
    assert result["paragraphs"] == TOY_LINES
    on_disk = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert on_disk["confusion_matrix"]["matrix"] == expected and on_disk["macro_f1"] == result["macro_f1"]
    assert set(on_disk["average_precision"]) == set(clf.labels) - {clf.settings.background}
    assert sum(b["paragraphs"] for b in on_disk["calibration"]["bins"]) == TOY_LINES
    for name in ("confusion_matrix.png", "reliability.png", "pr_curves.png"):
        assert (out / name).stat().st_size > 1000, name
    predictions = [json.loads(line) for line in (out / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(p["text"], p["gold"], p["label"]) for p in predictions] == [
        (e.text, e.label, label) for e, label in zip(examples, predicted)]


def test_report_links_every_plot_and_lists_the_errors(tiny_run, toy_file, tmp_path):
    result = evaluate(tiny_run / "model", toy_file, tmp_path / "eval", progress=False)
    report = tmp_path / "eval" / "report.md"
    links = image_links(report)
    assert sorted(links) == ["confusion_matrix.png", "pr_curves.png", "reliability.png"]
    assert all((report.parent / link).is_file() for link in links)
    text = report.read_text(encoding="utf-8")
    wrong = TOY_LINES - round(result["accuracy"] * TOY_LINES)
    assert len(result["worst_errors"]) == min(wrong, 20)
    if wrong:
        assert "## Most confident errors" in text and result["worst_errors"][0]["gold"] in text
    assert f"{result['calibration']['ece']:.3f}" in text


def test_ece_and_reliability_bins_by_hand():
    # Confidences 0.95 (right), 0.95 (wrong), 0.62 (right), 0.52 (wrong), in three of fifteen bins.
    probs = np.array([[0.95, 0.05], [0.95, 0.05], [0.38, 0.62], [0.52, 0.48]])
    gold = np.array([0, 1, 1, 1])
    summary = calibration_summary(probs, gold)
    # 2/4 * |0.5 - 0.95| + 1/4 * |1 - 0.62| + 1/4 * |0 - 0.52|
    assert summary["ece"] == pytest.approx(0.5 * 0.45 + 0.25 * 0.38 + 0.25 * 0.52, abs=1e-4)
    assert [(b["paragraphs"], b["accuracy"]) for b in summary["bins"]] == [(1, 0.0), (1, 1.0), (2, 0.5)]
    assert [b["confidence"] for b in summary["bins"]] == pytest.approx([0.52, 0.62, 0.95])


def test_worst_errors_are_the_wrong_predictions_the_model_was_surest_of():
    labels = ["call", "other"]
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.99, 0.01], [0.4, 0.6]])
    gold = np.array([1, 0, 1, 0, 1])  # rows 0, 1 and 2 are wrong
    examples = [type("E", (), {"text": f"t{i}" * (150 if i == 0 else 1), "article_id": f"a{i}"})()
                for i in range(5)]
    errors = worst_errors(examples, [10, 11, 12, 13, 14], probs, probs.argmax(1), gold, labels)
    assert [e["line"] for e in errors] == [10, 11, 12]
    assert [(e["gold"], e["predicted"], e["score"]) for e in errors[:2]] == [("other", "call", 0.9),
                                                                             ("call", "other", 0.8)]
    assert len(errors[0]["text"]) <= 201 and errors[0]["text"].endswith("…")


def test_cli_with_baseline_writes_beside_the_model_and_prints_both(tiny_run, toy_file, capsys):
    assert main(["--model", str(tiny_run / "model"), "--data", str(toy_file), "--baseline", "configs/tiny.yaml",
                 "--quiet"]) == 0
    printed = capsys.readouterr().out
    out = tiny_run / "eval-toy"
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    base = metrics["baseline_tfidf_logreg"]
    assert base["train_paragraphs"] == 160  # train.max_train_samples of configs/tiny.yaml, as training's baseline
    assert sum(map(sum, base["confusion_matrix"]["matrix"])) == TOY_LINES
    assert f"TF-IDF baseline {base['macro_f1']:.3f}" in printed and "report.md" in printed
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "baseline macro-F1" in report and "baseline F1" in report


def test_a_label_the_model_does_not_know_names_file_and_line(tiny_run, tmp_path, capsys):
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"text": "Лидеры созвонились.", "label": "phone_call"},
                                               {"text": "Дождь в Кишиневе.", "label": "weather"}])
    assert main(["--model", str(tiny_run / "model"), "--data", str(bad), "--output-dir", str(tmp_path / "o"),
                 "--quiet"]) == 2
    # transformers' weight-loading bar shares stderr; the error itself is one line.
    [error] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert error.startswith(f"error: {bad}:2: label 'weather'")
    assert not (tmp_path / "o").exists()
