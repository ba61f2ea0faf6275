"""``beluga-workflow schedule ...`` and ``worker --schedules``, run as real commands on SQLite."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from tests.cli.test_cli import NAPPING, _env, cli, start

STORE = ("--store", "sqlite:///s.db")


def test_create_list_pause_resume_delete(tmp_path: Path) -> None:
    made = cli(
        "schedule", "create", "nightly", "--workflow", "report", "--cron", "0 2 * * *",
        "--timezone", "Europe/Berlin", "--input", '{"full": true}', *STORE, cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "next tick" in made.stdout
    every = ("schedule", "create", "often", "--workflow", "ping", "--every", "30", *STORE)
    assert cli(*every, cwd=tmp_path).returncode == 0
    again = cli(*every, cwd=tmp_path)
    assert again.returncode != 0
    assert "exists" in again.stderr
    assert cli("schedule", "pause", "nightly", *STORE, cwd=tmp_path).returncode == 0
    listed = json.loads(cli("schedule", "list", "--json", *STORE, cwd=tmp_path).stdout)
    assert [(s["name"], s["paused"]) for s in listed] == [("nightly", True), ("often", False)]
    assert listed[0]["timezone"] == "Europe/Berlin"
    table = cli("schedule", "list", *STORE, cwd=tmp_path).stdout
    assert "paused" in table
    assert "every 30s" in table
    assert cli("schedule", "resume", "nightly", *STORE, cwd=tmp_path).returncode == 0
    assert cli("schedule", "delete", "often", *STORE, cwd=tmp_path).returncode == 0
    listed = json.loads(cli("schedule", "list", "--json", *STORE, cwd=tmp_path).stdout)
    assert [(s["name"], s["paused"]) for s in listed] == [("nightly", False)]
    runs = json.loads(cli("list", "--json", *STORE, cwd=tmp_path).stdout)
    assert runs == []  # the schedule book is not a workflow run
    missing = cli("schedule", "pause", "nope", *STORE, cwd=tmp_path)
    assert missing.returncode == 5


def test_bad_schedules_are_refused_and_store_nothing(tmp_path: Path) -> None:
    bad = cli(
        "schedule", "create", "x", "--workflow", "w", "--cron", "61 * * * *", *STORE, cwd=tmp_path
    )
    assert bad.returncode != 0
    assert "invalid cron" in bad.stderr
    both = cli(
        "schedule", "create", "x", "--workflow", "w", "--cron", "* * * * *", "--every", "5",
        *STORE, cwd=tmp_path,
    )  # fmt: skip
    assert both.returncode != 0
    listed = json.loads(cli("schedule", "list", "--json", *STORE, cwd=tmp_path).stdout)
    assert listed == []


def test_a_worker_with_schedules_starts_the_ticks(tmp_path: Path) -> None:
    name = "napping_app:napping_workflow"
    made = cli(
        "schedule", "create", "naps", "--workflow", name, "--every", "0.5", "--input", "0.01",
        *STORE, cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    worker = start(
        "worker", NAPPING, "--forever", "--schedules", "--poll", "0.1", *STORE,
        cwd=tmp_path, env=_env(NAP_MARKER=str(tmp_path / "nap")),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        done: list[dict[str, object]] = []
        while time.monotonic() < deadline and len(done) < 2:
            time.sleep(0.3)
            listed = cli("list", "--json", "--status", "completed", *STORE, cwd=tmp_path)
            done = json.loads(listed.stdout) if listed.returncode == 0 else []
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
    assert len(done) >= 2
    assert all(str(run["workflow_id"]).startswith("naps@") for run in done)
