import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]


def python_api_block() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Python API"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_python_api_block_runs(tiny_run, tmp_path):
    code = python_api_block()
    assert "EventClassifier.from_pretrained" in code and "score_dump(" in code
    code = code.replace("runs/default/model", str(tiny_run / "model")).replace("runs/default/", f"{tmp_path}/")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert pq.read_table(tmp_path / "sample_scored.parquet").num_rows > 12
    assert (tmp_path / "sample_articles.csv").read_text(encoding="utf-8").count("\n") == 13  # header + 12 articles
