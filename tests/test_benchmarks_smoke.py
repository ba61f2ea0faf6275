"""Each benchmark runs once at tiny size, so the benchmark code keeps working.

Nothing here asserts a speed: figures are only checked to exist.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("dbos", reason="the benchmarks compare against DBOS: pip install dbos")


def test_quick_benchmark_run_writes_a_report(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--output", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads((tmp_path / "benchmarks.json").read_text())
    sections = {row["section"].split(".")[0] for row in data["rows"]}
    assert {"1-3", "4", "5", "6", "7"} <= sections
    assert any(row["ratio"] for row in data["rows"])
    assert "| case |" in (tmp_path / "benchmarks.md").read_text()
