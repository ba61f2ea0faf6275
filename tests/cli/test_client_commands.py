"""`start`, `query`, `signal`, `cancel` and `list` talk to the runs of a `worker --forever`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.cli.test_cli import _env, start, wait_for_line

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.reliability.client_app"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "beluga_workflow.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
        check=False,
    )


def eventually_answers(store: str, workflow_id: str, name: str, expected: object) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        asked = cli("query", workflow_id, name, "--store", store)
        if asked.returncode == 0 and json.loads(asked.stdout) == expected:
            return
        time.sleep(0.1)
    raise AssertionError(f"query {name} never answered {expected!r}: {asked.stderr}")


def test_cli_clients_start_query_signal_and_cancel_runs_of_a_worker_process(
    tmp_path: Path,
) -> None:
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    worker = start(
        "worker", APP, "--forever", "--poll", "0.05", "--store", store, cwd=ROOT, env=_env()
    )
    try:
        started = cli("start", f"{APP}:publisher", "--id", "e1", "--store", store, "--json")
        assert started.returncode == 0, started.stderr
        assert json.loads(started.stdout)["status"] == "running"
        eventually_answers(store, "e1", "stage", "waiting")
        waiting = start(
            "start", f"{APP}:approval", "--id", "a1", "--wait", "--store", store,
            cwd=ROOT, env=_env(),
        )  # fmt: skip
        assert cli("signal", "e1", "approve", '"ana"', "--store", store).returncode == 0
        eventually_answers(store, "e1", "stage", "approved by ana")
        eventually_answers(store, "a1", "status", "running")
        assert cli("signal", "a1", "approve", '{"by": "bo"}', "--store", store).returncode == 0
        out, err = waiting.communicate(timeout=60)
        assert waiting.returncode == 0, err
        assert out.strip() == 'Result: {"by": "bo"}'

        notes = tmp_path / "notes.log"
        long = cli(
            "start", f"{APP}:long_wait", "--id", "l1", "--input", json.dumps(str(notes)),
            "--store", store,
        )  # fmt: skip
        assert long.returncode == 0, long.stderr
        wait_for_line(notes, "started l1")
        assert cli("cancel", "l1", "--store", store).returncode == 0
        wait_for_line(notes, "cancelled l1")  # the running activity was stopped
        eventually_answers(store, "l1", "status", "canceled")
        history = json.loads(cli("query", "e1", "history", "--store", store).stdout)
        assert [e["event_key"] for e in history if e["type"] == "event_published"] == [
            "stage",
            "stage",
        ]
        shown = cli("show", "e1", "--store", store)
        assert shown.returncode == 0, shown.stderr
        assert any(
            "event_published" in line and "stage" in line for line in shown.stdout.splitlines()
        )
        listed = json.loads(cli("list", "--store", store, "--json").stdout)
        assert sorted(s["workflow_id"] for s in listed) == ["a1", "e1", "l1"]
        unknown = cli("query", "e1", "nothing", "--store", store)
        assert unknown.returncode == 1
        assert "published no event 'nothing'" in unknown.stderr
        missing = cli("start", "", "--store", store)
        assert missing.returncode == 2
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=60)
