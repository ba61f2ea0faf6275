"""One trace from the process that starts a run, through a worker killed mid-activity, to the
worker that takes it over: real processes, the plugin loaded through its entry point."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

APP = Path(__file__).with_name("traced_app.py")
TIMEOUT = 30.0


def _run(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "BELUGA_WORKFLOW_PLUGINS": "otel,sqlite"}
    return subprocess.Popen(
        [sys.executable, str(APP), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _finish(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err
    return out


def _wait_for(path: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not path.exists():
        if process.poll() is not None:
            pytest.fail(f"the worker exited early: {process.communicate()[1]}")
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.02)


@pytest.mark.slow
def test_one_trace_survives_a_crash_and_a_takeover(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    spans = tmp_path / "spans.jsonl"

    _finish(_run("start", db, str(spans)))
    first = _run("work", db, str(spans), "worker-a")
    _wait_for(Path(db + ".entered"), first)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=TIMEOUT)
    Path(db + ".entered").unlink()

    second = _run("work", db, str(spans), "worker-b")
    _wait_for(Path(db + ".entered"), second)  # taken over once worker-a's lease ran out
    Path(db + ".release").touch()
    _finish(_run("signal", db, str(spans)))
    assert json.loads(_finish(second)) == [1, "released", "now"]

    lines = [json.loads(line) for line in spans.read_text(encoding="utf-8").splitlines()]
    metrics = [line["metrics"] for line in lines if "metrics" in line]
    recorded = [line for line in lines if "metrics" not in line]
    by_process: dict[str, list[dict[str, Any]]] = {}
    for span in recorded:
        by_process.setdefault(span["process"], []).append(span)

    (start,) = by_process["start"]
    assert start["name"] == "StartWorkflow:traced"
    trace_id = start["trace_id"]

    # worker-a finished both attempts of the flaky activity before it was killed.
    killed = by_process["workworker-a"]
    assert [s["name"] for s in killed] == ["RunActivity:flaky", "RunActivity:flaky"]
    assert [s["status"] for s in killed] == ["ERROR", "UNSET"]
    assert {s["trace_id"] for s in killed} == {trace_id}

    # worker-b resumed the run as a child of the start span and ran what was left.
    taken = by_process["workworker-b"]
    names = [s["name"] for s in taken]
    assert names == ["RunActivity:hold", "Timer:sleep", "RunWorkflow:traced"]
    assert {s["trace_id"] for s in taken} == {trace_id}
    run = taken[-1]
    assert run["parent_id"] == start["span_id"]
    assert run["attributes"]["beluga_workflow.resumed"] is True
    assert run["attributes"]["beluga_workflow.workflow_id"] == "traced-1"
    assert all(s["parent_id"] == run["span_id"] for s in taken[:-1])
    # The replayed flaky attempts did not run again, so they made no span in worker-b.
    assert by_process["signal"][0]["name"] == "SignalWorkflow:go"
    assert metrics == [
        {
            "beluga_workflow.runs.completed": 1,
            "beluga_workflow.step.duration": 3,
        }
    ]
