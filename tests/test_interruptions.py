"""Interrupted runs: training stopped mid-epoch and rerun with the same command finishes as if it had never
stopped; scoring killed with SIGKILL (no cleanup at all) and rerun writes exactly the uninterrupted output; no
final file name ever holds half a run."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from inference import score_dump
from tests.conftest import ROOT, TINY, small_split, write_jsonl
from training.train import WeightedTrainer, main

LABELS = ["phone_call", "support_statement", "unrest_report", "trade_news", "other"]


@pytest.fixture(scope="module")
def run_args(tiny_base, tmp_path_factory):
    data = tmp_path_factory.mktemp("splits")
    dev = small_split("data/labeled/dev.jsonl", data / "dev.jsonl")
    test = small_split("data/labeled/test.jsonl", data / "test.jsonl")
    return ["--config", str(TINY), "--set", f"model.name_or_path={tiny_base}", "--set", f"data.dev={dev}",
            "--set", f"data.test={test}", "--set", "train.epochs=2", "--set", "train.max_train_samples=32"]


def final_metrics(run: Path) -> list[float]:
    state = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    return [state["dev"]["macro_f1"], state["test"]["macro_f1"], state["dev"]["accuracy"], state["test"]["accuracy"]]


def final_eval_loss(run: Path) -> float:
    last = max((run / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    history = json.loads((last / "trainer_state.json").read_text(encoding="utf-8"))["log_history"]
    return [h["eval_loss"] for h in history if "eval_loss" in h][-1]


def test_training_stopped_mid_epoch_resumes_to_the_same_model_and_metrics(run_args, tmp_path, monkeypatch, capsys,
                                                                         caplog):
    clean, stopped = tmp_path / "clean", tmp_path / "stopped"
    assert main(run_args + ["--output-dir", str(clean)]) == 0

    real_step = WeightedTrainer.training_step

    def dies_in_the_second_epoch(self, *args, **kwargs):
        if self.state.epoch is not None and self.state.epoch > 1.3:
            raise KeyboardInterrupt  # what Ctrl-C or SIGINT raises
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(WeightedTrainer, "training_step", dies_in_the_second_epoch)
    assert main(run_args + ["--output-dir", str(stopped)]) == 130
    assert "interrupted; run the same command again to resume" in capsys.readouterr().err
    assert not (stopped / "model").exists() and not (stopped / "metrics.json").exists()
    [checkpoint] = [p.name for p in (stopped / "checkpoints").glob("checkpoint-*")]  # the end of epoch 1

    monkeypatch.setattr(WeightedTrainer, "training_step", real_step)
    caplog.set_level("INFO")
    assert main(run_args + ["--output-dir", str(stopped)]) == 0
    assert f"resuming from {stopped / 'checkpoints' / checkpoint}" in caplog.text
    # Same seed, same batches, optimizer, scheduler and RNG restored from the checkpoint. What is left is CPU
    # float noise: two uninterrupted runs of this config already differ by ~4e-6 in some weights (kernel
    # choice), and the resumed run by ~7e-6, with equal eval losses; the bounds below are ten times that.
    a, b = load_file(clean / "model" / "model.safetensors"), load_file(stopped / "model" / "model.safetensors")
    assert a.keys() == b.keys()
    assert max(float(np.abs(a[k] - b[k]).max()) for k in a) < 1e-4
    assert final_eval_loss(stopped) == pytest.approx(final_eval_loss(clean), rel=1e-5)
    assert final_metrics(stopped) == pytest.approx(final_metrics(clean), abs=1e-6)
    probs = [[[row["probs"][x] for x in LABELS] for row in map(json.loads, open(run / "test_predictions.jsonl"))]
             for run in (clean, stopped)]
    np.testing.assert_allclose(probs[1], probs[0], atol=1e-4)


def test_resuming_with_another_config_is_refused(run_args, tmp_path, capsys):
    out = tmp_path / "run"
    (out / "checkpoints" / "checkpoint-4").mkdir(parents=True)
    (out / "checkpoints" / "checkpoint-4" / "trainer_state.json").write_text('{"global_step": 4}')
    (out / "checkpoints" / "checkpoint-4" / "model.safetensors").write_bytes(b"")
    from training.config import load_config
    from training.resume import prepare_resume

    overrides = [run_args[i + 1] for i, arg in enumerate(run_args) if arg == "--set"]
    prepare_resume(load_config(TINY, overrides), out / "checkpoints", overwrite=False)  # records the config
    assert main(run_args + ["--output-dir", str(out), "--set", "train.learning_rate=0.01"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines()[-1].startswith(f"error: {out / 'checkpoints'}: the checkpoints were trained with "
                                           "another config")
    err = err.splitlines()[-1]
    assert "train.learning_rate: 0.001 -> 0.01" in err and "--overwrite" in err and "\n" not in err


def test_a_checkpoint_cut_short_is_not_resumed_from(tmp_path):
    from training.config import load_config
    from training.resume import prepare_resume

    checkpoints = tmp_path / "checkpoints"
    for step, complete in ((5, True), (10, False)):
        folder = checkpoints / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_bytes(b"")
        (folder / "trainer_state.json").write_text('{"global_step": %d}' % step if complete else '{"global_st')
    config = load_config(TINY)
    assert prepare_resume(config, checkpoints, overwrite=False) == str(checkpoints / "checkpoint-5")
    assert not (checkpoints / "checkpoint-10").exists()  # removed, so the Trainer's rotation never sees it
    assert prepare_resume(config, checkpoints, overwrite=True) is None
    assert not list(checkpoints.glob("checkpoint-*"))


def score_command(model: Path, dump: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "inference", "--model", str(model), "--input", str(dump), "--output", str(out),
            "--article-summary", str(out.with_suffix(".articles.jsonl")), "--chunk-articles", "5", "--quiet",
            "--batch-size", "4"]


def _close(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a - b) <= 1e-5
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    return a == b


def assert_same_rows(path_a, path_b):
    rows_a = [json.loads(line) for line in path_a.read_text(encoding="utf-8").splitlines()]
    rows_b = [json.loads(line) for line in path_b.read_text(encoding="utf-8").splitlines()]
    assert len(rows_a) == len(rows_b), (path_a, len(rows_a), len(rows_b))
    for i, (a, b) in enumerate(zip(rows_a, rows_b)):
        assert _close(a, b), (path_a.name, i, a, b)


def test_scoring_killed_with_sigkill_resumes_to_the_same_files(tiny_run, tmp_path):
    dump = write_jsonl(tmp_path / "dump.jsonl", [
        {"id": f"a{i}", "title": f"Новость {i}", "text": f"Абзац статьи {i} о поставках газа.\nЕще {i}."}
        for i in range(200)] + ["{broken"] + [{"id": "dup", "title": "Один", "text": "Текст"}] * 2)
    model = tiny_run / "model"
    clean, killed = tmp_path / "clean.jsonl", tmp_path / "killed.jsonl"
    score_dump(model, dump, clean, article_summary=clean.with_suffix(".articles.jsonl"), chunk_articles=5,
               batch_size=4, progress=False, print_errors=False)

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(score_command(model, dump, killed), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    progress = tmp_path / "killed.jsonl.progress.json"
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if progress.exists() and json.loads(progress.read_text() or "{}").get("records_done", 0) >= 20:
            break
        time.sleep(0.02)
    # SIGKILL: no finally block, no flush; what is on disk is whatever the last fsync left.
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not killed.exists(), "the run finished before it could be killed; make the dump longer"
    assert (tmp_path / "killed.jsonl.partial").exists()

    subprocess.run(score_command(model, dump, killed), check=True, cwd=ROOT, env=env, capture_output=True)
    # Same rows in the same order; probabilities may differ in the last printed digit, because a resumed run
    # batches the remaining paragraphs differently (other padding widths, other float summation order).
    for suffix in ("", ".errors.jsonl"):
        assert_same_rows(tmp_path / f"killed.jsonl{suffix}", tmp_path / f"clean.jsonl{suffix}")
    assert_same_rows(killed.with_suffix(".articles.jsonl"), clean.with_suffix(".articles.jsonl"))
    assert not list(tmp_path.glob("killed.jsonl*.partial")) and not progress.exists()
