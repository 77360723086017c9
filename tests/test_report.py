import re
from pathlib import Path

import pytest

from training.metrics import report
from training.report import write_report

LABELS = ["phone_call", "other"]


def image_links(path: Path) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", path.read_text(encoding="utf-8"))


def table_rows(text: str, header_start: str) -> list[list[str]]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(re.split(r"(?<!\\)\|", line.strip())[1:-1])
    return rows


def test_training_leaves_a_report_with_both_splits_the_baseline_and_working_image_links(tiny_run):
    path = tiny_run / "report.md"
    text = path.read_text(encoding="utf-8")
    assert sorted(image_links(path)) == ["confusion_matrix.png", "training_curve.png"]
    assert all((path.parent / link).is_file() for link in image_links(path))
    headline = table_rows(text, "|  | accuracy")
    assert [row[0].strip() for row in headline[2:]] == ["test", "dev"]
    assert len(headline[0]) == 5  # model and baseline side by side
    assert "temperature" in text and "## Per label (test)" in text


def test_tables_stay_tables_and_missing_plots_are_left_out(tmp_path):
    model = report([0, 0, 1, 1], [0, 1, 1, 1], LABELS)
    model["average_precision"] = {"phone_call": 0.75}
    base = report([0, 0, 1, 1], [1, 1, 1, 1], LABELS)
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "cm.png").write_bytes(b"png")
    errors = [{"text": "Лидеры | созвонились\nвчера " + "очень " * 80, "gold": "other", "predicted": "phone_call",
               "score": 0.91}]
    path = write_report(tmp_path / "out" / "report.md", "toy | run", {"toy": model, "calibration": {
        "ece": 0.1234, "thresholds": {"phone_call": {"threshold": 0.6, "reached": True}}}},
        {"confusion": tmp_path / "plots" / "cm.png", "missing": tmp_path / "nope.png"}, {"toy": base}, errors)
    text = path.read_text(encoding="utf-8")
    assert image_links(path) == ["../plots/cm.png"] and (path.parent / "../plots/cm.png").is_file()
    assert "missing" not in text
    per_label = table_rows(text, "| label | precision")
    assert all(len(row) == 7 for row in per_label)  # P, R, F1, support, AP, baseline F1
    assert per_label[2][0].strip() == "`phone_call`" and per_label[2][5].strip() == "0.750"
    assert per_label[2][6].strip() == "0.000"  # the baseline never says phone_call
    [error] = table_rows(text, "| # | text")[2:]
    assert len(error) == 5 and "Лидеры \\| созвонились вчера" in error[1] and error[1].strip().endswith("…")
    assert "| ece | 0.123 |" in text and "| `phone_call` | 0.600 | yes |" in text


def test_a_report_needs_at_least_one_metrics_block(tmp_path):
    with pytest.raises(ValueError, match="no report"):
        write_report(tmp_path / "r.md", "empty", {"calibration": {"ece": 0.1}}, {})
