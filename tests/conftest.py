import json
import os
import sys
from pathlib import Path

import pytest

# The suite never touches the network: hub lookups fail fast instead of hanging.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TINY = ROOT / "configs" / "tiny.yaml"


@pytest.fixture(scope="session", autouse=True)
def _in_repo_root():
    # Configs name data/labeled/... relative to the project root, as the README runs them.
    previous = os.getcwd()
    os.chdir(ROOT)
    yield
    os.chdir(previous)


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory):
    """A base model bootstrapped by the real command at toy size."""
    from training.bootstrap import main

    out = tmp_path_factory.mktemp("base") / "tiny"
    assert main(["--config", str(TINY), "--output-dir", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def tiny_run(tiny_base, tmp_path_factory):
    """A classifier fine-tuned from the tiny base by `python -m training`'s entry point."""
    from training.train import main

    out = tmp_path_factory.mktemp("run")
    assert main(["--config", str(TINY), "--output-dir", str(out),
                 "--set", f"model.name_or_path={tiny_base}"]) == 0
    return out


def write_jsonl(path: Path, rows) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write((row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + "\n")
    return path


def small_split(source: str | Path, path: Path, per_label: int = 12) -> Path:
    """The first `per_label` rows of each label of a labeled file: dev and test for seconds-long runs."""
    rows = [json.loads(line) for line in open(source, encoding="utf-8") if line.strip()]
    labels = dict.fromkeys(r["label"] for r in rows)
    return write_jsonl(path, [r for label in labels for r in [x for x in rows if x["label"] == label][:per_label]])
