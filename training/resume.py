"""Which checkpoint a rerun of `python -m training` continues from, and whether it may.

A run records the config its checkpoints depend on (`training_fingerprint`) in OUTPUT_DIR/checkpoints/
run_config.json when it starts afresh. A rerun resumes from the newest *complete* checkpoint (the Trainer
writes trainer_state.json last, so a checkpoint killed or starved of disk mid-save has none, or a cut one) and
only if its config matches the recorded one; `--overwrite` deletes the old checkpoints and starts afresh.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path

from .config import Config, ConfigError, check_same_training, training_fingerprint

log = logging.getLogger("training")
RUN_CONFIG = "run_config.json"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def checkpoint_dirs(checkpoints: Path) -> list[Path]:
    """The Trainer's checkpoint-N folders, oldest step first."""
    if not checkpoints.is_dir():
        return []
    found = [p for p in checkpoints.iterdir() if p.is_dir() and _CHECKPOINT.match(p.name)]
    return sorted(found, key=lambda p: int(_CHECKPOINT.match(p.name)[1]))


def is_complete(checkpoint: Path) -> bool:
    try:
        state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(state, dict) and "global_step" in state and any(checkpoint.glob("*.safetensors"))


def _main_process() -> bool:
    # Under torchrun every rank calls this; only rank 0 may delete or write, or ranks race on the same files.
    return int(os.environ.get("RANK", "0")) == 0


def _record(checkpoints: Path, config: Config) -> None:
    if not _main_process():
        return
    checkpoints.mkdir(parents=True, exist_ok=True)
    tmp = checkpoints / (RUN_CONFIG + ".tmp")
    tmp.write_text(json.dumps({"config": training_fingerprint(config)}, ensure_ascii=False, indent=2),
                   encoding="utf-8")
    tmp.replace(checkpoints / RUN_CONFIG)


def prepare_resume(config: Config, checkpoints: Path, overwrite: bool) -> str | None:
    """The checkpoint to pass to `Trainer.train(resume_from_checkpoint=...)`, None to start afresh. Raises a
    ConfigError when the checkpoints were trained under another config."""
    found = checkpoint_dirs(checkpoints)
    if overwrite:
        for old in found if _main_process() else []:
            shutil.rmtree(old)
        if found:
            log.info("--overwrite: removed %d old checkpoint(s) in %s", len(found), checkpoints)
        _record(checkpoints, config)
        return None
    complete = [p for p in found if is_complete(p)]
    last = complete[-1] if complete else None
    record = checkpoints / RUN_CONFIG
    if record.is_file():
        try:
            saved = json.loads(record.read_text(encoding="utf-8"))["config"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{record}: unreadable ({exc}); pass --overwrite to start afresh") from exc
        if last is not None:
            check_same_training(saved, training_fingerprint(config), str(checkpoints))
    elif last is not None:
        # Checkpoints from before run_config.json existed: nothing to compare them with.
        log.warning("%s has no %s; resuming without checking the config", checkpoints, RUN_CONFIG)
    for partial in found:
        if last is None or int(_CHECKPOINT.match(partial.name)[1]) > int(_CHECKPOINT.match(last.name)[1]):
            if _main_process():
                log.warning("removing incomplete checkpoint %s (the run stopped while saving it)", partial)
                shutil.rmtree(partial)
    if last is None or not record.is_file():
        _record(checkpoints, config)
    return str(last) if last is not None else None
