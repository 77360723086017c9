"""A one-page Markdown report of a model's metrics, readable on GitHub: what training leaves as
OUTPUT_DIR/report.md and what `python -m training.evaluate` writes beside its plots.

    from training.report import write_report
    write_report("runs/default/report.md", "runs/default", {"test": test_report, "dev": dev_report},
                 {"confusion matrix": "runs/default/confusion_matrix.png"}, baseline=None, worst_errors=None)
"""
from __future__ import annotations

import os
from pathlib import Path

from .metrics import top_confusions

# The report is a page, not a dump: the errors table stops here.
MAX_ERRORS = 20
TEXT_CHARS = 200


def _number(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _cell(text, limit: int | None = None) -> str:
    """Text that stays inside one Markdown table cell."""
    text = " ".join(str(text).split())
    if limit is not None and len(text) > limit:
        text = text[:limit].rstrip() + "…"
    return text.replace("\\", "\\\\").replace("|", "\\|")


def _table(header: list[str], rows: list[list[str]], numeric_from: int = 1) -> list[str]:
    align = ["---" if i < numeric_from else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _is_report(value) -> bool:
    return isinstance(value, dict) and "per_label" in value and "macro_f1" in value


def _headline(sections: dict[str, dict], baseline: dict | None) -> list[str]:
    header = ["", "accuracy", "macro-F1"]
    if baseline:
        header += ["baseline accuracy", "baseline macro-F1"]
    rows = []
    for name, rep in sections.items():
        row = [_cell(name), _number(rep["accuracy"]), _number(rep["macro_f1"])]
        if baseline:
            base = baseline.get(name)
            row += [_number(base["accuracy"]), _number(base["macro_f1"])] if base else ["–", "–"]
        rows.append(row)
    return _table(header, rows)


def _per_label(name: str, rep: dict, base: dict | None) -> list[str]:
    average_precision = rep.get("average_precision") or {}
    header = ["label", "precision", "recall", "F1", "support"]
    if average_precision:
        header.append("average precision")
    if base:
        header.append("baseline F1")
    rows = []
    for label, scores in rep["per_label"].items():
        row = [f"`{label}`", _number(scores["precision"]), _number(scores["recall"]), _number(scores["f1"]),
               _number(scores["support"])]
        if average_precision:
            row.append(_number(average_precision.get(label)))
        if base:
            row.append(_number(base["per_label"].get(label, {}).get("f1")))
        rows.append(row)
    lines = [f"## Per label ({_cell(name)})", ""] + _table(header, rows)
    confusions = top_confusions(rep)
    if confusions:
        pairs = ", ".join(f"`{true}` → `{pred}` ({count})" for true, pred, count in confusions)
        lines += ["", f"Most frequent confusions (true → predicted): {pairs}."]
    return lines


def _calibration(calibration: dict) -> list[str]:
    scalars = [[_cell(k), _number(v)] for k, v in calibration.items() if not isinstance(v, (dict, list))]
    lines = ["## Calibration", ""]
    if scalars:
        lines += _table(["", "value"], scalars) + [""]
    # Nested parts are tables of their own: per-label thresholds (a dict of dicts), reliability bins (rows).
    for key, value in calibration.items():
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            columns = list(next(iter(value.values())))
            rows = [[f"`{label}`"] + [_number(v.get(c)) for c in columns] for label, v in value.items()]
            lines += [f"{_cell(key)}:", ""] + _table(["label"] + columns, rows) + [""]
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            columns = list(value[0])
            rows = [[_number(v.get(c)) for c in columns] for v in value]
            lines += [f"{_cell(key)}:", ""] + _table(columns, rows, numeric_from=0) + [""]
    return lines[:-1] if lines[-1] == "" else lines


def _plots(plots: dict[str, str], folder: Path) -> list[str]:
    lines = []
    for caption, file in plots.items():
        file = Path(file)
        if not file.is_file():  # a plot that could not be drawn must not leave a broken link
            continue
        link = Path(os.path.relpath(file.resolve(), folder.resolve())).as_posix()
        lines += [f"### {_cell(caption)}", "", f"![{_cell(caption)}]({link})", ""]
    return ["## Plots", ""] + lines[:-1] if lines else []


def _errors(worst: list[dict]) -> list[str]:
    rows = [[str(i), _cell(e.get("text", ""), TEXT_CHARS), f"`{e.get('gold')}`", f"`{e.get('predicted')}`",
             _number(e.get("score"))] for i, e in enumerate(worst[:MAX_ERRORS], 1)]
    return (["## Most confident errors", "", "The wrong predictions the model was surest of: label bugs and blind "
             "spots show up here first.", ""] + _table(["#", "text", "gold", "predicted", "score"], rows, 4))


def write_report(path: str | Path, title: str, metrics: dict, plots: dict[str, str | Path],
                 baseline: dict | None = None, worst_errors: list[dict] | None = None) -> Path:
    """Write a one-page Markdown report to `path` and return the path.

    `metrics` maps a split name ("test", "dev", or a data file's name) to a `training.metrics.report()` dict,
    the first being the headline whose per-label table is shown; a report may carry `average_precision`
    ({label: AP}). The key `calibration`, when present, holds numbers (ECE, temperature), per-label dicts
    (thresholds) and lists of rows (reliability bins), each shown as a table. `plots` maps a caption to a PNG;
    links are relative to the report's folder, and a missing file is left out. `baseline` maps the same split
    names to the TF-IDF baseline's reports; `worst_errors` are rows with `text`, `gold`, `predicted`, `score`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sections = {name: rep for name, rep in metrics.items() if _is_report(rep)}
    if not sections:
        raise ValueError("write_report: metrics hold no report (a dict with accuracy, macro_f1 and per_label)")
    lines = [f"# {_cell(title)}", ""] + _headline(sections, baseline)
    first = next(iter(sections))
    base = (baseline or {}).get(first)
    lines += [""] + _per_label(first, sections[first], base if _is_report(base) else None)
    if metrics.get("calibration"):
        lines += [""] + _calibration(metrics["calibration"])
    plot_lines = _plots(plots, path.parent)
    if plot_lines:
        lines += [""] + plot_lines
    if worst_errors:
        lines += [""] + _errors(worst_errors)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
