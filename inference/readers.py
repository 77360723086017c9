"""Read the project's two kinds of input: unlabeled article dumps and labeled paragraph files.

Dumps (JSONL, CSV, Parquet or folders of .txt, each optionally .gz) are streamed: `iter_records` yields
`Article` or `BadRecord` in input order and never stops at a bad record, so every input record ends up scored
or reported; `iter_paragraphs` adds the splitter, and is what pretraining, benches and tests read dumps with.
They are plain streaming loops rather than `datasets.load_dataset` because that loader aborts a whole file at
its first malformed line.

Labeled files (JSONL of paragraphs with `text` and `label`) are small and must be right: `read_labeled`
stops at the first bad row with `FILE:LINE: problem`.

What a dump may throw at the readers, and what becomes of it (docs/hardening.md lists what was tried): a line
or row that is not UTF-8, not JSON, not an object, nested too deeply, without text or with too many cells is a
`BadRecord` of its own; a file that stops being readable part way (a truncated or corrupt `.gz`, an I/O error)
gives one `BadRecord` at the line where reading stopped, and the next file is read; lone surrogates (broken
emoji escaped in JSON) become U+FFFD, since they could be neither tokenized nor written out.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import re
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Union

from .splitter import Paragraph, split_article

FORMATS = ("jsonl", "csv", "parquet", "txt")
# A JSONL line or .txt article longer than this is refused rather than held in memory: the usual cause is a
# whole JSON array on one line, which would otherwise be read in full before anything is reported.
MAX_RECORD_BYTES = 64 << 20
# What a compressed or damaged file raises part way through (gzip.BadGzipFile is an OSError).
READ_ERRORS = (EOFError, OSError, zlib.error)
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class Article:
    id: str
    title: str
    text: str
    source: str
    line: int


@dataclass
class BadRecord:
    source: str
    line: int
    error: str
    article_id: str | None = None

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.error}"


Record = Union[Article, BadRecord]


@dataclass
class Fields:
    id: str = "id"
    title: str = "title"
    text: str = "text"


def detect_format(path: Path) -> str:
    if path.is_dir():
        return "txt"
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    ext = suffixes[-1].lstrip(".") if suffixes else ""
    if ext in ("jsonl", "json", "ndjson"):
        return "jsonl"
    if ext in ("csv", "tsv", "parquet", "txt"):
        return "csv" if ext == "tsv" else ext
    raise ValueError(f"{path}: cannot tell the format from the name; pass --format ({'/'.join(FORMATS)})")


def _known_format(path: Path) -> str | None:
    try:
        return detect_format(path)
    except ValueError:
        return None


def open_text(path: Path, encoding: str = "utf-8", errors: str = "strict") -> io.TextIOBase:
    if path.suffix.lower() == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding=encoding, errors=errors, newline="")
    return open(path, encoding=encoding, errors=errors, newline="")


def read_error(exc: BaseException) -> str:
    """What went wrong reading a file part way, in words."""
    if isinstance(exc, EOFError):
        return f"truncated compressed file ({exc})"
    if isinstance(exc, gzip.BadGzipFile):
        return f"not a gzip file ({exc})"
    if isinstance(exc, zlib.error):
        return f"corrupt compressed data ({exc})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _clean(value: str) -> str:
    return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value


def _article(row: dict, fields: Fields, source: str, line: int) -> Record:
    if not isinstance(row, dict):
        return BadRecord(source, line, f"expected a JSON object, got {type(row).__name__}")
    raw_id = row.get(fields.id)
    article_id = _clean(str(raw_id)) if raw_id not in (None, "") else f"{Path(source).name}:{line}"
    title, text = row.get(fields.title), row.get(fields.text)
    for name, value in ((fields.title, title), (fields.text, text)):
        if value is not None and not isinstance(value, str):
            return BadRecord(source, line, f"field {name!r} is {type(value).__name__}, not text", article_id)
    title, text = _clean((title or "").strip()), _clean((text or "").strip())
    if not title and not text:
        return BadRecord(source, line, f"no text: both {fields.title!r} and {fields.text!r} are empty or missing",
                         article_id)
    return Article(article_id, title, text, source, line)


def open_binary(path: Path):
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")


def _lines(handle, limit: int) -> Iterator[bytes | None]:
    """The lines of a binary file, None in place of one longer than `limit` bytes (skipped, never held whole)."""
    while True:
        raw = handle.readline(limit + 1)
        if not raw:
            return
        if len(raw) > limit and not raw.endswith(b"\n"):
            while (rest := handle.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
            yield None
        else:
            yield raw


def read_jsonl(path: Path, fields: Fields) -> Iterator[Record]:
    source = str(path)
    line_no = 0
    try:
        handle = open_binary(path)
    except OSError as exc:
        yield BadRecord(source, 0, f"cannot open: {read_error(exc)}")
        return
    # Lines are decoded one by one so that one line of bad bytes costs that line, not the rest of the file.
    with handle:
        try:
            for line_no, raw in enumerate(_lines(handle, MAX_RECORD_BYTES), 1):
                if raw is None:
                    yield BadRecord(source, line_no, f"line longer than {MAX_RECORD_BYTES} bytes; skipped (a JSON "
                                                     "array on one line rather than JSON Lines?)")
                    continue
                try:
                    line = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
                except UnicodeDecodeError as exc:
                    yield BadRecord(source, line_no, f"not UTF-8 ({exc.reason} at byte {exc.start})")
                    continue
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield BadRecord(source, line_no, f"not valid JSON ({exc.msg} at column {exc.colno})")
                    continue
                except RecursionError:
                    yield BadRecord(source, line_no, "JSON nested too deeply")
                    continue
                except ValueError as exc:  # e.g. an integer beyond Python's digit limit
                    yield BadRecord(source, line_no, f"not usable JSON ({exc})")
                    continue
                yield _article(row, fields, source, line_no)
        except READ_ERRORS as exc:
            yield BadRecord(source, line_no + 1, f"unreadable from this line on: {read_error(exc)}")


def read_csv(path: Path, fields: Fields) -> Iterator[Record]:
    source = str(path)
    csv.field_size_limit(sys.maxsize)
    delimiter = "\t" if ".tsv" in [s.lower() for s in path.suffixes] else ","
    try:
        # surrogateescape: a row with bad bytes decodes to lone surrogates and is reported by itself, instead of
        # a decode error ending the file there.
        handle = open_text(path, encoding="utf-8-sig", errors="surrogateescape")
    except OSError as exc:
        yield BadRecord(source, 0, f"cannot open: {read_error(exc)}")
        return
    line_no = 1
    with handle:
        try:
            reader = csv.DictReader(handle, delimiter=delimiter)
            header = reader.fieldnames or []
            if fields.text not in header and fields.title not in header:
                yield BadRecord(source, 1, f"header has neither {fields.title!r} nor {fields.text!r}: {header}")
                return
            while True:
                line_no = reader.line_num + 1
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    yield BadRecord(source, line_no, f"unreadable CSV row ({exc})")
                    continue
                if None in row:  # more cells than header columns
                    cells = len(header) + len(row[None])
                    yield BadRecord(source, line_no, f"row has {cells} cells, header has {len(header)}",
                                    _clean(row.get(fields.id) or "") or None)
                    continue
                if any(isinstance(v, str) and _SURROGATE.search(v) for v in row.values()):
                    yield BadRecord(source, line_no, "not UTF-8", _clean(row.get(fields.id) or "") or None)
                    continue
                yield _article(row, fields, source, line_no)
        except (*READ_ERRORS, csv.Error) as exc:
            yield BadRecord(source, line_no, f"unreadable from this line on: {read_error(exc)}")


def read_parquet(path: Path, fields: Fields, batch_size: int = 1024) -> Iterator[Record]:
    import pyarrow.parquet as pq

    source = str(path)
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        yield BadRecord(source, 0, f"not a readable Parquet file ({' '.join(str(exc).split())})")
        return
    names = parquet.schema_arrow.names
    if fields.text not in names and fields.title not in names:
        yield BadRecord(source, 0, f"columns have neither {fields.title!r} nor {fields.text!r}: {names}")
        return
    columns = [c for c in (fields.id, fields.title, fields.text) if c in names]
    row_no = 0
    try:
        for batch in parquet.iter_batches(batch_size=batch_size, columns=columns):
            for row in batch.to_pylist():
                row_no += 1  # "line" of a Parquet record is its 1-based row number
                yield _article(row, fields, source, row_no)
    except Exception as exc:  # a damaged row group: pyarrow raises OSError, ArrowInvalid and others
        yield BadRecord(source, row_no + 1, f"unreadable from this row on: {' '.join(str(exc).split())}")


def read_txt_folder(path: Path, fields: Fields) -> Iterator[Record]:
    """One article per .txt(.gz) file: first non-empty line is the title, the rest is the body."""
    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith((".txt", ".txt.gz")))
    for file in files:
        source = str(file)
        article_id = str(file.relative_to(path) if path.is_dir() else file.name)
        article_id = article_id[: -len(".gz")] if article_id.endswith(".gz") else article_id
        article_id = article_id[: -len(".txt")] if article_id.endswith(".txt") else article_id
        try:
            with open_text(file) as handle:
                content = handle.read(MAX_RECORD_BYTES + 1)
        except UnicodeDecodeError as exc:
            yield BadRecord(source, 1, f"not UTF-8 ({exc.reason})", article_id)
            continue
        except READ_ERRORS as exc:
            yield BadRecord(source, 1, f"unreadable: {read_error(exc)}", article_id)
            continue
        if len(content) > MAX_RECORD_BYTES:
            yield BadRecord(source, 1, f"longer than {MAX_RECORD_BYTES} characters; skipped", article_id)
            continue
        lines = content.splitlines()
        first = next((i for i, line in enumerate(lines) if line.strip()), None)
        if first is None:
            yield BadRecord(source, 1, "empty file", article_id)
            continue
        yield Article(article_id, lines[first].strip(), "\n".join(lines[first + 1:]).strip(), source, first + 1)


def dump_units(path: str | Path, fmt: str | None = None) -> list[tuple[Path, str]]:
    """The (file, format) units `iter_records` reads, in its order: one per dump file, and a folder of .txt
    articles as one unit. Engines that read units in parallel (Ray) get exactly the records of `iter_records`."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.is_dir() and fmt is None:
        # A folder of .txt articles, or a folder of dumps (JSONL, CSV, Parquet) each read by its own format.
        files = sorted(p for p in path.rglob("*") if p.is_file())
        formats = [(file, _known_format(file)) for file in files]
        if all(f in (None, "txt") for _, f in formats):
            return [(path, "txt")]
        return [(file, f) for file, f in formats if f is not None]
    if path.is_dir() and fmt != "txt":
        units = []
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            try:
                if detect_format(file) == fmt:
                    units.append((file, fmt))
            except ValueError:
                continue
        return units
    fmt = fmt or detect_format(path)
    if fmt not in _READERS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    return [(path, fmt)]


def iter_records(path: str | Path, fmt: str | None = None, fields: Fields | None = None) -> Iterator[Record]:
    """All records of a file or folder; a folder of dumps is read file by file in name order."""
    fields = fields or Fields()
    for unit, unit_fmt in dump_units(path, fmt):
        yield from _READERS[unit_fmt](unit, fields)


_READERS = {"jsonl": read_jsonl, "csv": read_csv, "parquet": read_parquet, "txt": read_txt_folder}


def iter_paragraphs(path: str | Path, fmt: str | None = None, fields: Fields | None = None,
                    skip_prefix: str | None = None) -> Iterator[tuple[Article, list[Paragraph]]]:
    """Each readable article of a dump with its paragraphs, as the scorer splits them.

    Bad records are skipped here: this iterator feeds pretraining, benches and samples, which want text, while
    scoring keeps every record through `iter_records`. Files whose name starts with `skip_prefix` are left out.
    """
    for record in iter_records(path, fmt, fields):
        if not isinstance(record, Article):
            continue
        if skip_prefix and Path(record.source).name.startswith(skip_prefix):
            continue
        paragraphs = split_article(record.title, record.text)
        if paragraphs:
            yield record, paragraphs


class LabeledDataError(ValueError):
    """A labeled file that cannot be used: the message is `FILE:LINE: problem`."""


@dataclass
class LabeledParagraph:
    text: str
    label: str
    article_id: str | None = None
    kind: str = "body"
    title: str | None = None
    context: str | None = None
    line: int = 0


def read_labeled(path: str | Path, labels: list[str] | None = None, text_field: str = "text",
                 label_field: str = "label", require_label: bool = True) -> list[LabeledParagraph]:
    """Every row of a labeled JSONL file (`text`, `label`; optional `article_id`, `kind`, `title`, `context`;
    other fields are ignored). The first bad row raises `LabeledDataError("FILE:LINE: problem")`.

    With `require_label=False` an empty or missing label is allowed (a file being labeled); a label that is
    present must still be one of `labels`.
    """
    path = Path(path)
    if not path.is_file():
        raise LabeledDataError(f"{path}: no such file")
    known = set(labels) if labels is not None else None
    rows: list[LabeledParagraph] = []
    with open_binary(path) as handle:
        for line_no, raw in enumerate(handle, 1):
            where = f"{path}:{line_no}"
            try:
                line = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise LabeledDataError(f"{where}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise LabeledDataError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from exc
            if not isinstance(row, dict):
                raise LabeledDataError(f"{where}: expected a JSON object, got {type(row).__name__}")
            text, label = row.get(text_field), row.get(label_field)
            if not isinstance(text, str) or not text.strip():
                raise LabeledDataError(f"{where}: empty or missing {text_field!r}")
            if label in (None, "") and not require_label:
                label = ""
            elif not isinstance(label, str) or (known is not None and label not in known):
                allowed = f"the labels {labels}" if labels is not None else "a label name"
                raise LabeledDataError(f"{where}: label {label!r} is not {allowed}")
            extra = {}
            for name in ("article_id", "kind", "title", "context"):
                value = row.get(name)
                if value is not None and not isinstance(value, (str, int)):
                    raise LabeledDataError(f"{where}: field {name!r} is {type(value).__name__}, not text")
                if value not in (None, ""):
                    extra[name] = str(value)
            rows.append(LabeledParagraph(text=text.strip(), label=label, line=line_no, **extra))
    if not rows:
        raise LabeledDataError(f"{path}: no rows")
    return rows
