"""How the command lines (`python -m inference`, `python -m training`) report what stops a run: one line on
stderr and a non-zero exit, the traceback only with `--debug`.

Expected failures are the user's to fix and get one line: bad configs, data and model folders (all
`ValueError`s), files and disks (`OSError`: missing, not writable, full), memory, and torch's own write errors,
which on a full disk surface as a `RuntimeError` from its zip writer. Anything else is a bug and keeps its
traceback. Ctrl-C (or a SIGINT) exits 130 with a note that rerunning the same command resumes.
"""
from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

INTERRUPTED = 130
FAILED = 2

# torch.save's zip writer reports a failed write ("unexpected pos ...", "file write failed") this way.
_TORCH_WRITE = re.compile(r"inline_container|PytorchStreamWriter|file write failed")
_NO_SPACE = "No space left on device"


def _free_bytes(where: Path | None) -> int | None:
    path = Path(where) if where is not None else None
    while path is not None and not path.exists():
        path = path.parent if path != path.parent else None
    try:
        return shutil.disk_usage(path).free if path is not None else None
    except OSError:
        return None


def _text(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def one_line(exc: BaseException, where: str | Path | None = None) -> str | None:
    """The one-line description of an expected failure, or None for one that is a bug."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else (
            f"{where}: {exc.strerror}" if where else exc.strerror)
    if isinstance(exc, (OSError, ValueError, ImportError)):
        return _text(exc)
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":  # torch.OutOfMemoryError
        return f"out of memory ({_text(exc)}); lower the batch size"
    if isinstance(exc, RuntimeError) and (_TORCH_WRITE.search(str(exc)) or _NO_SPACE in str(exc)):
        free = _free_bytes(where)
        if _NO_SPACE in str(exc) or (free is not None and free < 64 << 20):
            room = f" ({free >> 20} MiB free)" if free is not None else ""
            return f"{where or 'output'}: {_NO_SPACE}{room}"
        return f"{where or 'output'}: a file could not be written ({_text(exc)})"
    if _NO_SPACE in str(exc):  # e.g. safetensors' SafetensorError
        return f"{where or 'output'}: {_NO_SPACE}"
    return None


def report(exc: BaseException, debug: bool, where: str | Path | None = None, resume_hint: str = "") -> int:
    """Print what stopped the run and return the exit code; re-raise with `debug` or when it is a bug."""
    if isinstance(exc, KeyboardInterrupt):
        if debug:
            raise exc
        print(f"interrupted{'; ' + resume_hint if resume_hint else ''}", file=sys.stderr)
        return INTERRUPTED
    line = one_line(exc, where) if isinstance(exc, Exception) else None
    if debug or line is None:
        raise exc
    print(f"error: {line}", file=sys.stderr)
    return FAILED

