import json
import math
import os
import shutil
import subprocess
import sys

import pytest

from inference import EventClassifier


@pytest.mark.skipif(shutil.which("torchrun") is None and not os.path.exists(
    os.path.join(os.path.dirname(sys.executable), "torchrun")), reason="torchrun is installed with torch")
def test_two_process_torchrun_training_splits_the_batches_and_rank_zero_writes_a_loadable_folder(tiny_base,
                                                                                             tmp_path):
    out = tmp_path / "ddp"
    torchrun = shutil.which("torchrun") or os.path.join(os.path.dirname(sys.executable), "torchrun")
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    done = subprocess.run([torchrun, "--nproc_per_node", "2", "-m", "training", "--config", "configs/tiny.yaml",
                           "--output-dir", str(out), "--set", f"model.name_or_path={tiny_base}"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("test macro-F1") == 1  # only rank 0 reports and writes
    metrics = json.loads((out / "metrics.json").read_text())
    state = json.loads(next((out / "checkpoints").glob("checkpoint-*/trainer_state.json")).read_text())
    # Two ranks share each epoch: half the optimizer steps of a one-process run.
    assert state["global_step"] == math.ceil(metrics["windows"]["train"] / (2 * state["train_batch_size"]))
    clf = EventClassifier.from_pretrained(out / "model")
    assert clf.labels == metrics["labels"]
    assert len(clf.predict(["Президенты провели телефонный разговор."])) == 1
