"""Each benchmark runs once at tiny size, so the benchmark code keeps working.

Nothing here asserts a speed: figures are only checked to exist. Servers that
are not running show up as skipped rows, which is also a valid outcome.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from beluga_workflow import Executor, WorkflowOptions
from beluga_workflow.providers.inmemory import InMemoryStore
from benchmarks.workers import WithoutLeases
from benchmarks.workflows import waits

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("dbos", reason="the benchmarks compare against DBOS: pip install dbos")


def run_benchmarks(output: Path, *options: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--output", str(output), *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    data: dict[str, Any] = json.loads((output / "benchmarks.json").read_text())
    return data


def has_figure(row: dict[str, Any]) -> bool:
    return bool(row["ours"] or row["ratio"])


def test_quick_run_produces_figures_for_every_benchmark(tmp_path: Path) -> None:
    data = run_benchmarks(tmp_path)
    measured = {row["section"].split(".")[0] for row in data["rows"] if has_figure(row)}
    assert measured == {"1-3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13"}
    failed = [row for row in data["rows"] if row["note"].startswith("failed")]
    assert failed == []
    assert "beluga-workflow" in data["machine"]
    markdown = (tmp_path / "benchmarks.md").read_text()
    assert "| case |" in markdown
    assert "## Targets" in markdown


def test_only_and_backends_choose_what_runs(tmp_path: Path) -> None:
    data = run_benchmarks(tmp_path, "--only", "ops", "overhead", "--backends", "inmemory")
    sections = {row["section"].split(".")[0] for row in data["rows"]}
    assert sections == {"6", "7"}
    assert all(
        row["case"].startswith("in-memory") for row in data["rows"] if row["section"][0] == "6"
    )


def test_latency_rows_give_p50_and_p99_against_the_raw_notification(tmp_path: Path) -> None:
    data = run_benchmarks(tmp_path, "--only", "latency", "--backends", "sqlite")
    rows = data["rows"]
    assert {row["section"].split(".")[0] for row in rows} == {"11"}
    assert [row["case"] for row in rows] == [
        f"SQLite, {what}, {share}"
        for what in (
            "signal to workflow",
            "start to first activity",
            "result() wake-up after the end",
        )
        for share in ("p50", "p99")
    ]
    for row in rows:
        assert row["ours"]["unit"] == "ms"
        assert row["baseline_name"] == "raw notification"
        assert row["ratio"]["median"] > 0
    assert rows[0]["target"] == "p50 ≤ 50 ms"


def test_queue_benchmarks_run_on_sqlite(tmp_path: Path) -> None:
    data = run_benchmarks(tmp_path, "--only", "queues", "--backends", "sqlite")
    sections = {row["section"].split(".")[0] for row in data["rows"] if has_figure(row)}
    assert sections == {"12", "13"}
    assert [row for row in data["rows"] if row["note"].startswith("failed")] == []


def test_stored_runs_only_the_growth_with_stored_workflows(tmp_path: Path) -> None:
    data = run_benchmarks(tmp_path, "--only", "stored", "--backends", "sqlite")
    rows = data["rows"]
    assert {row["section"].split(".")[0] for row in rows} == {"5"}
    assert [row["case"] for row in rows] == [
        "SQLite: list(status=running, limit=10)",
        "SQLite: load(id)",
    ]
    assert all("stored at" in row["note"] and row["ratio"]["median"] > 0 for row in rows)


async def test_leases_off_store_makes_the_engine_keep_no_leases() -> None:
    """The baseline of the lease-cost benchmark must really run without leases."""
    for store, leased in ((InMemoryStore(), True), (WithoutLeases(InMemoryStore()), False)):
        async with Executor(store=store, load_plugins=False) as executor:
            handle = await executor.execute(waits, WorkflowOptions(input=60))
            running = await store.load(handle.id)
            assert running is not None
            assert (running.lease is not None) is leased
            assert (executor.worker_id is not None) is leased
