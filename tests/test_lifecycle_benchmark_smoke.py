"""The lifecycle benchmark runs once at tiny size, so its code keeps working (no speed asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_quick_lifecycle_benchmark_reports_every_case(tmp_path: Path) -> None:
    output = tmp_path / "lifecycle.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.lifecycle", "--quick", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(output.read_text())["rows"]
    measured = [row for row in rows if row["ours"] is not None]
    assert len(measured) == 6  # three cases on two stores
    assert any("writes" in row["note"] for row in rows)
