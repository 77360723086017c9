import csv
import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from inference.readers import Article, BadRecord, Fields, detect_format, iter_records
from tests.conftest import write_jsonl

ARTICLES = [
    {"id": "a1", "title": "Путин и Токаев созвонились",
     "text": "Лидеры обсудили поставки зерна.\nДоговорились о встрече."},
    {"id": "a2", "title": "Фермеры перекрыли трассу", "text": "Полиция задержала троих."},
]


def ids(records):
    return [r.id if isinstance(r, Article) else f"bad:{r.line}" for r in records]


def test_jsonl_and_gzipped_jsonl_read_the_same(tmp_path):
    plain = write_jsonl(tmp_path / "d.jsonl", ARTICLES)
    gz = tmp_path / "d.jsonl.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    assert ids(iter_records(plain)) == ids(iter_records(gz)) == ["a1", "a2"]
    first = next(iter_records(gz))
    assert first.title == ARTICLES[0]["title"] and first.text == ARTICLES[0]["text"] and first.line == 1


def test_bad_jsonl_lines_are_reported_with_file_and_line_and_reading_goes_on(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [
        ARTICLES[0], "{not json", "", '["a", "list"]', {"id": "e", "title": "", "text": ""},
        {"id": "n", "title": 5, "text": "x"}, ARTICLES[1],
    ])
    records = list(iter_records(path))
    assert ids(records) == ["a1", "bad:2", "bad:4", "bad:5", "bad:6", "a2"]
    messages = [str(r) for r in records if isinstance(r, BadRecord)]
    assert messages[0].startswith(f"{path}:2: not valid JSON")
    assert "expected a JSON object" in messages[1]
    assert "no text" in messages[2] and records[3].article_id == "e"
    assert "'title' is int" in messages[3]


def test_invalid_utf8_is_an_error_not_a_crash(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(json.dumps(ARTICLES[0], ensure_ascii=False).encode() + b"\n\xff\xfe bad\n")
    records = list(iter_records(path))
    assert isinstance(records[0], Article) and isinstance(records[1], BadRecord) and records[1].line == 2
    assert "not UTF-8" in records[1].error


def test_missing_id_falls_back_to_file_and_line(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"title": "Заголовок", "text": "Текст"}])
    assert next(iter_records(path)).id == "d.jsonl:1"


def test_csv_with_custom_columns_and_a_ragged_row(tmp_path):
    path = tmp_path / "d.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["doc", "headline", "body"])
        writer.writerow(["c1", "Заголовок", "Абзац один.\nАбзац два."])
        writer.writerow(["c2", "x", "y", "лишняя ячейка"])
        writer.writerow(["c3", "Заголовок 3", ""])
    records = list(iter_records(path, fields=Fields("doc", "headline", "body")))
    assert isinstance(records[0], Article) and records[0].text == "Абзац один.\nАбзац два."
    assert isinstance(records[1], BadRecord) and "cells" in records[1].error and records[1].line == 4
    assert records[2].id == "c3" and records[2].title == "Заголовок 3"


def test_csv_without_text_columns_is_one_clear_error(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    [record] = list(iter_records(path))
    assert isinstance(record, BadRecord) and "header has neither" in record.error


def test_parquet_rows(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist(ARTICLES), path, row_group_size=1)
    records = list(iter_records(path))
    assert ids(records) == ["a1", "a2"] and records[1].line == 2


def test_folder_of_txt_files(tmp_path):
    folder = tmp_path / "txt"
    (folder / "sub").mkdir(parents=True)
    (folder / "one.txt").write_text("\nЗаголовок один\nАбзац.\nЕще абзац.", encoding="utf-8")
    (folder / "sub" / "two.txt.gz").write_bytes(gzip.compress("Заголовок два\nТекст.".encode()))
    (folder / "empty.txt").write_text("  \n", encoding="utf-8")
    records = list(iter_records(folder))
    assert [r.id if isinstance(r, Article) else r.error for r in records] == ["empty file", "one", "sub/two"]
    assert records[1].title == "Заголовок один" and records[1].text == "Абзац.\nЕще абзац."


def test_folder_of_dumps_reads_each_file_by_its_own_format_in_name_order(tmp_path):
    folder = tmp_path / "dumps"
    folder.mkdir()
    write_jsonl(folder / "b.jsonl", ARTICLES[:1])
    pq.write_table(pa.Table.from_pylist(ARTICLES[1:]), folder / "a.parquet")
    (folder / "README.md").write_text("not a dump", encoding="utf-8")
    records = list(iter_records(folder))
    assert ids(records) == ["a2", "a1"]
    assert [r.source.rsplit("/", 1)[-1] for r in records] == ["a.parquet", "b.jsonl"]


def test_format_detection_and_errors(tmp_path):
    assert detect_format(tmp_path / "x.jsonl.gz") == "jsonl"
    assert detect_format(tmp_path / "x.parquet") == "parquet"
    with pytest.raises(ValueError, match="--format"):
        detect_format(tmp_path / "x.bin")
    with pytest.raises(FileNotFoundError):
        list(iter_records(tmp_path / "missing.jsonl"))


def test_a_file_that_is_not_gzip_or_is_corrupt_is_one_error_and_the_folder_goes_on(tmp_path):
    folder = tmp_path / "dumps"
    folder.mkdir()
    (folder / "a.jsonl.gz").write_bytes(b"plain text, not gzip\n")
    good = gzip.compress(write_jsonl(tmp_path / "x.jsonl", ARTICLES * 50).read_bytes())
    (folder / "b.jsonl.gz").write_bytes(good[:40] + bytes(200) + good[240:])  # damaged deflate data
    (folder / "c.csv.gz").write_bytes(gzip.compress(b"id,title,text\nc1,t,x\n" * 200)[:-30])
    write_jsonl(folder / "d.jsonl", ARTICLES)
    records = list(iter_records(folder))
    errors = [r for r in records if isinstance(r, BadRecord)]
    assert [(e.source.rsplit("/", 1)[-1], e.error.split(" (")[0]) for e in errors] == [
        ("a.jsonl.gz", "unreadable from this line on: not a gzip file"),
        ("b.jsonl.gz", "unreadable from this line on: corrupt compressed data"),
        ("c.csv.gz", "unreadable from this line on: truncated compressed file")]
    assert [r.id for r in records if r.source.endswith("d.jsonl")] == ["a1", "a2"]


def test_deep_nesting_huge_numbers_and_lone_surrogates_do_not_stop_the_file(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("[" * 100_000 + "]" * 100_000 + "\n" + '{"id": 1' + "0" * 5000 + ', "text": "x"}\n'
                    + '{"id": "s\\ud800", "title": "\\ud83d broken emoji", "text": "ok"}\n', encoding="utf-8")
    nested, huge, broken = iter_records(path)
    assert isinstance(nested, BadRecord) and "nested too deeply" in nested.error
    assert isinstance(huge, BadRecord) and huge.line == 2
    assert (broken.id, broken.title) == ("s\ufffd", "\ufffd broken emoji")


def test_a_line_beyond_the_size_limit_is_skipped_without_being_held(tmp_path, monkeypatch):
    monkeypatch.setattr("inference.readers.MAX_RECORD_BYTES", 1000)
    path = write_jsonl(tmp_path / "d.jsonl", [ARTICLES[0], {"id": "big", "text": "x" * 5000}, ARTICLES[1]])
    first, big, last = iter_records(path)
    assert isinstance(big, BadRecord) and big.line == 2 and "longer than 1000 bytes" in big.error
    assert (first.id, last.id, last.line) == ("a1", "a2", 3)


def test_a_damaged_parquet_row_group_is_an_error_not_a_crash(tmp_path):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.Table.from_pylist([{"id": f"p{i}", "text": "x" * 100} for i in range(5000)]), path,
                   row_group_size=500)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3] + data[-(len(data) // 3):])
    records = list(iter_records(path))
    assert isinstance(records[-1], BadRecord) and "unreadable" in records[-1].error


def test_an_unreadable_file_is_reported_and_the_next_is_read(tmp_path, monkeypatch):
    folder = tmp_path / "dumps"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", ARTICLES)
    write_jsonl(folder / "b.jsonl", ARTICLES[:1])
    real_open = open

    def open_denied(path, *args, **kwargs):  # chmod does not stop root, so the denial is simulated
        if str(path).endswith("a.jsonl"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", open_denied)
    denied, article = iter_records(folder)
    assert isinstance(denied, BadRecord) and denied.error == "cannot open: Permission denied"
    assert article.id == "a1" and article.source.endswith("b.jsonl")


def test_csv_with_a_byte_order_mark_keeps_its_first_column(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes("\ufeffid,title,text\nb1,Заголовок,Текст\n".encode("utf-8"))
    assert next(iter_records(path)).id == "b1"
