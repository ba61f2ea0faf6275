"""Every Python example in the README and docs/ runs as written.

A fenced block tagged ``python`` is executed in a fresh interpreter from the
repository root; blocks tagged ``python no-run`` are shown but not run (for
fragments that need a server or a third-party package). Blocks that start
with ``# file:`` are files of a larger example, exercised by that example's own
test (see contract_tests/tests/test_provider_guide.py).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]


def _examples() -> list[pytest.param]:  # type: ignore[valid-type]
    params = []
    for document in DOCUMENTS:
        if not document.exists():
            continue
        for index, match in enumerate(FENCE.finditer(document.read_text(encoding="utf-8"))):
            code = match.group(1)
            if code.startswith("# file:"):
                continue
            name = f"{document.relative_to(ROOT)}#{index + 1}"
            params.append(pytest.param(code, id=name))
    return params


@pytest.mark.parametrize("code", _examples())
def test_example_runs(code: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    expected = re.findall(r"^# prints: (.*)$", code, re.MULTILINE)
    for line in expected:
        assert line in completed.stdout.splitlines(), (line, completed.stdout)
