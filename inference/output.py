"""Write scored paragraphs and bad records, with a progress file so a crashed run resumes exactly.

The progress file records, after each flushed chunk, how many input records were consumed and how long
the output and error files were. Resuming truncates both files back to those lengths (dropping a chunk
that was half written when the run died) and skips the consumed records: no duplicates, no losses.
"""
from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path


def _fsync(handle) -> None:
    handle.flush()
    os.fsync(handle.fileno())


class ScoredWriter:
    def __init__(self, output: str | Path, labels: list[str], errors: str | Path | None = None,
                 resume: bool = True, fmt: str | None = None):
        self.output = Path(output)
        self.errors = Path(errors) if errors else self.output.with_name(self.output.name + ".errors.jsonl")
        self.progress_path = self.output.with_name(self.output.name + ".progress.json")
        self.labels = labels
        self.format = fmt or ("csv" if self.output.suffix.lower() == ".csv" else "jsonl")
        self.records_done = 0
        self.rows_written = 0
        self.errors_written = 0
        state = self._read_progress() if resume else None
        if state is None and resume and self.output.exists() and self.output.stat().st_size > 0:
            raise FileExistsError(f"{self.output}: exists and has no progress file to resume from; "
                                  "pass --overwrite to replace it")
        self.output.parent.mkdir(parents=True, exist_ok=True)
        if state:
            self.records_done = state["records_done"]
            self.rows_written = state["rows_written"]
            self.errors_written = state["errors_written"]
            self._out = open(self.output, "r+b")
            self._out.truncate(state["output_bytes"])
            self._out.seek(0, io.SEEK_END)
            self._err = open(self.errors, "a+b")
            self._err.truncate(state["errors_bytes"])
            self._err.seek(0, io.SEEK_END)
        else:
            self._out = open(self.output, "wb")
            self._err = open(self.errors, "wb")
            if self.format == "csv":
                self._out.write(self._csv_line(["article_id", "paragraph", "kind", "text", "label", "score"]
                                               + [f"prob_{name}" for name in labels]))
            self._commit()

    def _read_progress(self) -> dict | None:
        if not self.progress_path.exists():
            return None
        state = json.loads(self.progress_path.read_text(encoding="utf-8"))
        if state.get("labels") != self.labels or state.get("format") != self.format:
            raise ValueError(f"{self.progress_path}: written for another model or format; pass --overwrite")
        return state

    @staticmethod
    def _csv_line(cells) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer).writerow(cells)
        return buffer.getvalue().encode("utf-8")

    def write_rows(self, rows: list[dict]) -> None:
        for row in rows:
            if self.format == "csv":
                cells = [row["article_id"], row["paragraph"], row["kind"], row["text"], row["label"],
                         f"{row['score']:.6f}"] + [f"{row['probs'][name]:.6f}" for name in self.labels]
                self._out.write(self._csv_line(cells))
            else:
                self._out.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
        self.rows_written += len(rows)

    def write_error(self, record) -> None:
        row = {"source": record.source, "line": record.line, "article_id": record.article_id, "error": record.error}
        self._err.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
        self.errors_written += 1

    def commit(self, records: int) -> None:
        """Mark `records` more input records as fully written."""
        self.records_done += records
        self._commit()

    def _commit(self) -> None:
        _fsync(self._out)
        _fsync(self._err)
        state = {"records_done": self.records_done, "rows_written": self.rows_written,
                 "errors_written": self.errors_written, "output_bytes": self._out.tell(),
                 "errors_bytes": self._err.tell(), "labels": self.labels, "format": self.format}
        tmp = self.progress_path.with_name(self.progress_path.name + ".tmp")
        tmp.write_text(json.dumps(state), encoding="utf-8")
        os.replace(tmp, self.progress_path)

    def close(self, finished: bool) -> None:
        self._out.close()
        self._err.close()
        if finished:
            # A finished run leaves a summary instead of a resume point.
            self.progress_path.unlink(missing_ok=True)
