"""Properties of the dump readers on hostile input: whatever the bytes, reading never fails, every non-blank
line or row gives exactly one record (an article or a reported bad record), in order, and what comes out can
be tokenized and written as UTF-8. The last property runs the whole scorer on such dumps: every record ends
up in the output or in the errors file, duplicate ids included."""
import csv
import gzip
import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from inference import EventClassifier, score_dump
from inference.readers import Article, BadRecord, iter_records

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ANY_TEXT = st.text(st.characters(), max_size=60)  # surrogates and control characters included
IDS = st.one_of(st.none(), st.sampled_from(["a", "b", "a1"]), st.integers(-3, 3), ANY_TEXT)


def article_line():
    fields = st.fixed_dictionaries({}, optional={"id": IDS, "title": st.one_of(ANY_TEXT, st.integers(), st.none()),
                                                 "text": st.one_of(ANY_TEXT, st.lists(st.integers()), st.none())})
    # ensure_ascii: lone surrogates travel as \ud800 escapes, as broken emoji do in real dumps.
    return fields.map(lambda row: json.dumps(row).encode())


LINE = st.one_of(
    article_line(),
    st.binary(max_size=40),                                               # arbitrary bytes, invalid UTF-8
    st.sampled_from([b"[1, 2]", b"null", b"\"text\"", b"42", b"{", b"[" * 5000 + b"]" * 5000,
                     b'{"id": 1' + b"0" * 5000 + b', "text": "x"}', b"\xef\xbb\xbf{\"text\": \"bom\"}"]),
).map(lambda raw: raw.replace(b"\n", b" "))


def expected_count(lines):
    """Records the reader owes: one per line that is not blank text."""
    count = 0
    for i, raw in enumerate(lines):
        try:
            blank = not raw.decode("utf-8-sig" if i == 0 else "utf-8").strip()
        except UnicodeDecodeError:
            blank = False
        count += not blank
    return count


def check_records(records, lines):
    assert len(records) == expected_count(lines)
    assert [r.line for r in records] == sorted(r.line for r in records)
    for record in records:
        if isinstance(record, Article):
            assert record.title or record.text
            for value in (record.id, record.title, record.text):
                value.encode("utf-8")  # no lone surrogates: tokenizers and writers need valid UTF-8
        else:
            assert isinstance(record, BadRecord) and record.error and record.source


@SETTINGS
@given(lines=st.lists(LINE, max_size=12), gz=st.booleans())
def test_any_jsonl_gives_one_record_per_non_blank_line(lines, gz):
    with tempfile.TemporaryDirectory() as tmp:
        data = b"\n".join(lines) + b"\n"
        path = Path(tmp) / ("d.jsonl.gz" if gz else "d.jsonl")
        path.write_bytes(gzip.compress(data) if gz else data)
        check_records(list(iter_records(path)), lines)


@SETTINGS
@given(rows=st.lists(st.lists(st.text(st.characters(exclude_categories=["Cs"]), max_size=30), min_size=1,
                              max_size=5), max_size=10))
def test_csv_rows_with_missing_or_extra_cells_each_give_one_record(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "title", "text"])
    writer.writerows(rows)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.csv"
        path.write_bytes(buffer.getvalue().encode("utf-8"))
        records = list(iter_records(path))
    assert len(records) == len(rows)
    for row, record in zip(rows, records):
        cells = row + [""] * (3 - len(row))
        if len(row) > 3:
            assert isinstance(record, BadRecord) and "cells" in record.error
        elif cells[1].strip() or cells[2].strip():
            assert isinstance(record, Article) and record.title == cells[1].strip()
            assert record.id == (cells[0] if cells[0] else f"d.csv:{record.line}")
        else:
            assert isinstance(record, BadRecord) and "no text" in record.error


@SETTINGS
@given(n=st.integers(1, 12), bad=st.sets(st.integers(0, 11)))
def test_bad_bytes_in_a_csv_row_cost_that_row_only(n, bad):
    rows = [f"c{i},Заголовок {i},Текст {i}".encode() for i in range(n)]
    rows = [row + b"\xff\xfe" if i in bad else row for i, row in enumerate(rows)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.csv"
        path.write_bytes(b"id,title,text\n" + b"\n".join(rows) + b"\n")
        records = list(iter_records(path))
    assert [isinstance(r, BadRecord) for r in records] == [i in bad for i in range(n)]
    assert all("not UTF-8" in r.error for r in records if isinstance(r, BadRecord))


def good_dump(n):
    return b"".join(json.dumps({"id": f"a{i}", "title": f"Заголовок {i}", "text": f"Текст {i} " * 20}).encode()
                    + b"\n" for i in range(n))


@SETTINGS
@given(n=st.integers(1, 300), cut=st.floats(0, 1, exclude_max=True))
def test_a_truncated_gzip_gives_its_readable_records_then_one_error_and_the_next_file_is_read(n, cut):
    full = gzip.compress(good_dump(n))
    size = int(len(full) * cut)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "a.jsonl.gz").write_bytes(full[:size])
        (folder / "b.jsonl").write_bytes(good_dump(2))
        records = list(iter_records(folder))
    first = [r for r in records if r.source.endswith("a.jsonl.gz")]
    articles = [r for r in first if isinstance(r, Article)]
    assert [a.id for a in articles] == [f"a{i}" for i in range(len(articles))]  # a prefix, nothing invented
    if size:  # an empty file is simply empty; any other cut loses the end-of-stream marker
        assert isinstance(first[-1], BadRecord) and "unreadable from this line on" in first[-1].error
        assert first[-1].line == len(articles) + 1 and len(first) == len(articles) + 1
    assert [r.id for r in records if r.source.endswith("b.jsonl")] == ["a0", "a1"]


@pytest.fixture(scope="module")
def classifier(tiny_run):
    return EventClassifier.from_pretrained(tiny_run / "model", batch_size=64)


DUMP_LINE = st.one_of(
    st.fixed_dictionaries({"id": st.sampled_from(["x", "y", "z", ""]),
                           "title": st.sampled_from(["", "Заголовок", "Лидеры созвонились", "\x00", "\ud83d"]),
                           "text": st.one_of(ANY_TEXT, st.sampled_from(["Просмотров: 5", "Абзац.\n- Новость 1 245",
                                                                        "\u200b", ""]))}
                          ).map(lambda row: json.dumps(row).encode()),
    st.binary(max_size=20).map(lambda raw: raw.replace(b"\n", b" ")),
    st.sampled_from([b"[]", b"{broken"]),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(DUMP_LINE, min_size=1, max_size=10), chunk=st.integers(1, 4),
       ext=st.sampled_from(["jsonl", "csv"]))
def test_every_record_of_any_dump_ends_up_in_the_output_or_the_errors_file(classifier, lines, chunk, ext):
    assume(expected_count(lines))
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "dump.jsonl"
        dump.write_bytes(b"\n".join(lines) + b"\n")
        summary = score_dump(classifier, dump, Path(tmp) / f"out.{ext}", article_summary=Path(tmp) / "articles.jsonl",
                             chunk_articles=chunk, progress=False, print_errors=False)
        errors = [json.loads(line) for line in (Path(tmp) / f"out.{ext}.errors.jsonl").open(encoding="utf-8")]
        articles = [json.loads(line) for line in (Path(tmp) / "articles.jsonl").open(encoding="utf-8")]
        if ext == "jsonl":
            rows = [json.loads(line) for line in (Path(tmp) / "out.jsonl").open(encoding="utf-8")]
        else:
            rows = list(csv.DictReader((Path(tmp) / "out.csv").open(encoding="utf-8", newline="")))
        records = list(iter_records(dump))
    assert summary["records"] == len(records) == expected_count(lines)
    # Each record is either one article's run of rows (one summary each, duplicate ids kept apart) or an error.
    starts = [r for r in rows if int(r["paragraph"]) == 0]
    assert len(starts) == len(articles) and len(articles) + len(errors) == len(records)
    scored_ids = [a["article_id"] for a in articles]
    listed = [e["line"] for e in errors]
    assert [r.id for r in records if isinstance(r, Article) and r.line not in listed] == scored_ids
