"""Write scored paragraphs, bad records and article summaries so that a killed run resumes exactly.

Every file is written under a temporary name (`OUT.partial`, or `OUT.parts/` for Parquet) and renamed to its
final name only when the run finishes, so a final name never holds half a run. After each chunk of articles
the files are fsynced and a progress file records how many input records were consumed and where each file
ended; resuming cuts every file back to that point (dropping a chunk half written when the run died) and skips
the consumed records: no duplicates, no losses.

Formats by the output's extension: `.jsonl` (nested `probs`), `.csv` and `.parquet` (one `prob_<label>`
column per label; Parquet is written one row group per chunk and streamed into the final file at the end).
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path

from .classifier import ScoredParagraph

OUTPUT_FORMATS = ("jsonl", "csv", "parquet")


def output_format(path: Path) -> str:
    ext = path.suffix.lower().lstrip(".")
    if ext in ("jsonl", "json", "ndjson"):
        return "jsonl"
    if ext in OUTPUT_FORMATS:
        return ext
    raise ValueError(f"{path}: output format must be .jsonl, .csv or .parquet")


def _fsync(handle) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _named(exc: OSError, path: Path) -> OSError:
    """A write error that names its file: a buffered write failing at flush (a full disk) names none."""
    if exc.filename is not None or exc.errno is None:
        return exc
    return type(exc)(exc.errno, exc.strerror, str(path))


class _ByteSink:
    """A JSONL or CSV file appended line by line; its state is its length in bytes."""

    def __init__(self, path: Path, columns: list[str] | None, state: int | None):
        self.path, self.columns = path, columns
        self.partial = path.with_name(path.name + ".partial")
        if state is None:
            self.handle = open(self.partial, "wb")
            if columns:
                self.handle.write(self._csv(columns))
        else:
            if not self.partial.exists():
                raise FileNotFoundError(f"{self.partial}: missing; cannot resume (pass --overwrite)")
            self.handle = open(self.partial, "r+b")
            self.handle.truncate(state)
            self.handle.seek(0, io.SEEK_END)

    @staticmethod
    def _csv(cells) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer).writerow(cells)
        return buffer.getvalue().encode("utf-8")

    def write(self, rows: list[dict]) -> None:
        try:
            for row in rows:
                if self.columns:
                    self.handle.write(self._csv([row[c] for c in self.columns]))
                else:
                    self.handle.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
        except OSError as exc:
            raise _named(exc, self.partial) from exc

    def commit(self) -> int:
        try:
            _fsync(self.handle)
        except OSError as exc:
            raise _named(exc, self.partial) from exc
        return self.handle.tell()

    def finish(self) -> None:
        self.handle.close()
        os.replace(self.partial, self.path)

    def abandon(self) -> None:
        try:
            self.handle.close()
        except OSError:
            # Whatever was buffered lies past the last commit and is cut on resume; the error that stopped
            # the run (often the same full disk) is the one to report.
            pass


class _ParquetSink:
    """A Parquet file built from one part file per committed chunk; its state is the number of parts."""

    def __init__(self, path: Path, columns: list[str], types: dict[str, str], state: int | None):
        import pyarrow as pa

        self.pa = pa
        self.path, self.columns = path, columns
        self.schema = pa.schema([(c, {"str": pa.string(), "int": pa.int32(), "float": pa.float32()}[types[c]])
                                 for c in columns])
        self.parts = path.with_name(path.name + ".parts")
        if state is None:
            shutil.rmtree(self.parts, ignore_errors=True)
            self.parts.mkdir(parents=True)
            self.count = 0
        else:
            self.count = state
            for extra in self.parts.glob("part-*.parquet"):
                if int(extra.stem.split("-")[1]) >= state:
                    extra.unlink()
        self.pending: list[dict] = []

    def write(self, rows: list[dict]) -> None:
        self.pending.extend(rows)

    def commit(self) -> int:
        import pyarrow.parquet as pq

        if self.pending:
            table = self.pa.Table.from_pylist(self.pending, schema=self.schema)
            tmp = self.parts / f".part-{self.count:06d}.tmp"
            pq.write_table(table, tmp)
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, self.parts / f"part-{self.count:06d}.parquet")
            self.count += 1
            self.pending = []
        return self.count

    def finish(self) -> None:
        import pyarrow.parquet as pq

        self.commit()
        partial = self.path.with_name(self.path.name + ".partial")
        # One part in memory at a time: the final file is streamed row group by row group.
        with pq.ParquetWriter(partial, self.schema) as writer:
            for i in range(self.count):
                writer.write_table(pq.read_table(self.parts / f"part-{i:06d}.parquet", schema=self.schema))
        os.replace(partial, self.path)
        shutil.rmtree(self.parts, ignore_errors=True)

    def abandon(self) -> None:
        self.pending = []


def row_columns(labels: list[str]) -> tuple[list[str], dict[str, str]]:
    columns = (["article_id", "paragraph", "kind", "text", "label", "score", "windows", "raw_label", "raw_score"]
               + [f"prob_{x}" for x in labels])
    types = {"article_id": "str", "paragraph": "int", "kind": "str", "text": "str", "label": "str",
             "score": "float", "windows": "int", "raw_label": "str", "raw_score": "float",
             **{f"prob_{x}": "float" for x in labels}}
    return columns, types


def summary_columns(events: list[str]) -> tuple[list[str], dict[str, str]]:
    columns = ["article_id", "paragraphs", "events"]
    types = {"article_id": "str", "paragraphs": "int", "events": "str"}
    for label in events:
        columns += [f"top_{label}_paragraph", f"top_{label}_score"]
        types.update({f"top_{label}_paragraph": "int", f"top_{label}_score": "float"})
    return columns, types


def flat_row(row: ScoredParagraph) -> dict:
    flat = {k: v for k, v in row.to_dict().items() if k != "probs"}
    flat.update({f"prob_{name}": p for name, p in row.probs.items()})
    return flat


def article_summaries(rows: list[ScoredParagraph], events: list[str]) -> list[dict]:
    """One summary per article (in input order): the events found and, for each, the paragraph that carries
    it with the highest score."""
    # An article is a run of rows that starts at paragraph 0, not an id: dumps repeat ids, and two articles
    # under one id are two summaries, as they are two sets of rows.
    groups: list[list[ScoredParagraph]] = []
    for row in rows:
        if not groups or row.paragraph == 0 or row.article_id != groups[-1][0].article_id:
            groups.append([])
        groups[-1].append(row)
    out = []
    for paragraphs in groups:
        article_id = paragraphs[0].article_id
        top = {}
        for label in events:
            hits = [p for p in paragraphs if p.label == label]
            if hits:
                best = max(hits, key=lambda p: p.score)
                top[label] = {"paragraph": best.paragraph, "score": best.score}
        out.append({"article_id": article_id, "paragraphs": len(paragraphs), "events": list(top), "top": top})
    return out


def flat_summary(summary: dict, events: list[str]) -> dict:
    flat = {"article_id": summary["article_id"], "paragraphs": summary["paragraphs"],
            "events": ";".join(summary["events"])}
    for label in events:
        hit = summary["top"].get(label)
        flat[f"top_{label}_paragraph"] = hit["paragraph"] if hit else None
        flat[f"top_{label}_score"] = hit["score"] if hit else None
    return flat


class ScoredWriter:
    def __init__(self, output: str | Path, labels: list[str], errors: str | Path | None = None,
                 summary: str | Path | None = None, resume: bool = True, events: list[str] | None = None):
        self.output = Path(output)
        self.errors = Path(errors) if errors else self.output.with_name(self.output.name + ".errors.jsonl")
        self.summary = Path(summary) if summary else None
        self.progress_path = self.output.with_name(self.output.name + ".progress.json")
        self.labels = labels
        self.events = events if events is not None else [x for x in labels if x != "other"]
        self.format = output_format(self.output)
        self.summary_format = output_format(self.summary) if self.summary else None
        self.records_done = self.rows_written = self.errors_written = self.summaries_written = 0
        state = self._read_progress() if resume else None
        if state is None and resume:
            for final in (self.output, self.summary):
                if final is not None and final.exists() and final.stat().st_size > 0:
                    raise FileExistsError(f"{final}: exists and has no progress file to resume from; "
                                          "pass --overwrite to replace it")
        self.output.parent.mkdir(parents=True, exist_ok=True)
        sinks = state["sinks"] if state else {}
        if state:
            self.records_done = state["records_done"]
            self.rows_written = state["rows_written"]
            self.errors_written = state["errors_written"]
            self.summaries_written = state.get("summaries_written", 0)
        self.sinks = {"output": self._sink(self.output, self.format, *row_columns(labels), sinks.get("output")),
                      "errors": _ByteSink(self.errors, None, sinks.get("errors"))}
        if self.summary:
            self.sinks["summary"] = self._sink(self.summary, self.summary_format, *summary_columns(self.events),
                                               sinks.get("summary"))
        self._commit()

    @staticmethod
    def _sink(path: Path, fmt: str, columns: list[str], types: dict[str, str], state):
        if fmt == "parquet":
            return _ParquetSink(path, columns, types, state)
        return _ByteSink(path, columns if fmt == "csv" else None, state)

    def _read_progress(self) -> dict | None:
        if not self.progress_path.exists():
            return None
        try:
            state = json.loads(self.progress_path.read_text(encoding="utf-8"))
            if not isinstance(state, dict) or not isinstance(state.get("sinks"), dict):
                raise ValueError("not a progress record")
        except ValueError as exc:
            raise ValueError(f"{self.progress_path}: unreadable progress file ({exc}); pass --overwrite") from exc
        wanted = {"labels": self.labels, "format": self.format, "summary": str(self.summary) if self.summary else None}
        if any(state.get(k) != v for k, v in wanted.items()):
            raise ValueError(f"{self.progress_path}: written for another model, format or summary file; "
                             "pass --overwrite")
        return state

    def write_rows(self, rows: list[ScoredParagraph]) -> None:
        self.sinks["output"].write([r.to_dict() if self.format == "jsonl" else flat_row(r) for r in rows])
        self.rows_written += len(rows)
        if self.summary:
            summaries = article_summaries(rows, self.events)
            self.sinks["summary"].write(summaries if self.summary_format == "jsonl"
                                        else [flat_summary(s, self.events) for s in summaries])
            self.summaries_written += len(summaries)

    def write_error(self, record) -> None:
        row = {"source": record.source, "line": record.line, "article_id": record.article_id, "error": record.error}
        self.sinks["errors"].write([row])
        self.errors_written += 1

    def commit(self, records: int) -> None:
        """Mark `records` more input records as fully written."""
        self.records_done += records
        self._commit()

    def _commit(self) -> None:
        state = {"records_done": self.records_done, "rows_written": self.rows_written,
                 "errors_written": self.errors_written, "summaries_written": self.summaries_written,
                 "sinks": {name: sink.commit() for name, sink in self.sinks.items()},
                 "labels": self.labels, "format": self.format,
                 "summary": str(self.summary) if self.summary else None}
        tmp = self.progress_path.with_name(self.progress_path.name + ".tmp")
        try:
            tmp.write_text(json.dumps(state), encoding="utf-8")
        except OSError as exc:
            raise _named(exc, tmp) from exc
        os.replace(tmp, self.progress_path)

    def close(self, finished: bool) -> None:
        """A finished run renames its files to their final names and drops the resume point; an unfinished one
        leaves both for the next run."""
        for sink in self.sinks.values():
            if finished:
                sink.finish()
            else:
                sink.abandon()
        if finished:
            self.progress_path.unlink(missing_ok=True)
