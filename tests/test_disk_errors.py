"""Disk and resource errors end a run with one `error: ...` line and exit code 2, the traceback only with
`--debug`, and leave what a rerun needs to resume. Tests run as root, where chmod does not stop writes, so an
unwritable folder is one under a regular file, and a full disk is a write that fails with ENOSPC (docs/hardening.md
records the same runs on a real full and a read-only tmpfs)."""
import errno
import os
from collections import namedtuple

import pytest
import torch

from inference import cli
from tests.conftest import TINY, small_split, write_jsonl
from training import train as training
from training.config import ConfigError
from training.resume import is_complete

DUMP = [{"id": f"a{i}", "title": f"Новость {i}", "text": f"Абзац {i}.\nЕще абзац {i}."} for i in range(12)]


def error_line(err: str) -> str:
    """The run's one error line; the rest of stderr is progress bars and library logging."""
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.startswith("error:")]
    assert "Traceback" not in err and len(lines) == 1, err[-2000:]
    return lines[0]


def test_scoring_into_a_folder_that_cannot_be_created_is_one_line(tiny_run, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    dump = write_jsonl(tmp_path / "dump.jsonl", DUMP)
    code = cli.main(["--model", str(tiny_run / "model"), "--input", str(dump), "--output",
                     str(blocker / "out" / "o.jsonl"), "--quiet"])
    assert code == 2
    assert error_line(capsys.readouterr().err) == f"error: {blocker / 'out'}: Not a directory"


def test_a_full_disk_while_scoring_is_one_line_and_the_rerun_resumes(tiny_run, tmp_path, monkeypatch, capsys):
    dump = write_jsonl(tmp_path / "dump.jsonl", DUMP)
    args = ["--model", str(tiny_run / "model"), "--input", str(dump), "--chunk-articles", "3", "--quiet"]
    assert cli.main(args + ["--output", str(tmp_path / "clean.jsonl")]) == 0

    import inference.output

    real_fsync, calls = inference.output._fsync, {"n": 0, "room": 6}

    def fills_up(handle):
        calls["n"] += 1
        if calls["n"] > calls["room"]:  # room for the writer's start (2 files) and two chunks
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(handle)

    monkeypatch.setattr(inference.output, "_fsync", fills_up)
    out = tmp_path / "o.jsonl"
    assert cli.main(args + ["--output", str(out)]) == 2
    line = error_line(capsys.readouterr().err)
    assert line.startswith("error: ") and line.endswith(": No space left on device") and ".partial" in line
    assert not out.exists()  # never half a run under the final name
    calls.update(n=0, room=0)
    with pytest.raises(OSError, match="No space left"):  # --debug: the exception itself, with its traceback
        cli.main(args + ["--output", str(out), "--debug"])

    monkeypatch.setattr(inference.output, "_fsync", real_fsync)
    assert cli.main(args + ["--output", str(out)]) == 0
    assert out.read_bytes() == (tmp_path / "clean.jsonl").read_bytes()


@pytest.fixture(scope="module")
def quick_run(tiny_base, tmp_path_factory):
    data = tmp_path_factory.mktemp("splits")
    return ["--config", str(TINY), "--set", f"model.name_or_path={tiny_base}",
            "--set", f"data.dev={small_split('data/labeled/dev.jsonl', data / 'dev.jsonl', 6)}",
            "--set", f"data.test={small_split('data/labeled/test.jsonl', data / 'test.jsonl', 6)}",
            "--set", "train.max_train_samples=32"]


def test_training_into_a_folder_that_cannot_be_created_is_one_line(quick_run, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert training.main(quick_run + ["--output-dir", str(blocker / "run")]) == 2
    assert error_line(capsys.readouterr().err) == f"error: {blocker / 'run'}: Not a directory"


def test_a_full_disk_while_checkpointing_is_one_line_and_leaves_no_checkpoint_to_resume(quick_run, tmp_path,
                                                                                         monkeypatch, capsys):
    def full_disk_save(*args, **kwargs):
        # What torch's zip writer raised on a full tmpfs (docs/hardening.md), not an OSError.
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 2840000 vs 2839888")

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(torch, "save", full_disk_save)
    monkeypatch.setattr("inference.errors.shutil.disk_usage", lambda path: usage(9 << 20, 9 << 20, 0))
    out = tmp_path / "run"
    assert training.main(quick_run + ["--output-dir", str(out)]) == 2
    assert error_line(capsys.readouterr().err) == f"error: {out}: No space left on device (0 MiB free)"
    [checkpoint] = (out / "checkpoints").glob("checkpoint-*")
    assert not is_complete(checkpoint)  # cut before trainer_state.json: a rerun starts afresh instead

    # With room left, the same write failure is reported as what it is, not as a full disk.
    monkeypatch.setattr("inference.errors.shutil.disk_usage", lambda path: usage(1 << 40, 0, 1 << 40))
    assert training.main(quick_run + ["--output-dir", str(out)]) == 2
    assert error_line(capsys.readouterr().err).startswith(f"error: {out}: a file could not be written (")


def test_training_errors_show_a_traceback_only_with_debug(quick_run, tmp_path, capsys):
    args = quick_run + ["--output-dir", str(tmp_path / "run"), "--set", "data.train=missing.jsonl"]
    assert training.main(args) == 2
    assert error_line(capsys.readouterr().err) == "error: missing.jsonl: train split not found"
    with pytest.raises(ValueError, match="train split not found"):
        training.main(args + ["--debug"])
    with pytest.raises(ConfigError, match="train.epochs: must be positive"):
        training.main(quick_run + ["--output-dir", str(tmp_path / "run"), "--set", "train.epochs=0", "--debug"])
