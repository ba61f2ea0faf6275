"""Each benchmark runs once at tiny size, so the benchmark code keeps working.

Nothing here asserts a speed: figures are only checked to exist. Servers that
are not running show up as skipped rows, which is also a valid outcome.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from beluga_workflow import Executor, WorkflowOptions
from beluga_workflow.providers.inmemory import InMemoryStore
from benchmarks.__main__ import SUITES, parse
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


HALVES = (("steps", "growth", "ops", "overhead"), ("workers", "latency", "queues"))
"""Every benchmark, in two groups of about equal length that run at the same time."""


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[dict[str, Any], Path]]:
    """Every benchmark once at ``--quick`` size on every backend, read by several tests.

    It is the slowest step of the suite, and mostly waits (on servers, worker
    processes and DBOS), so its two halves run at once, each in a process and
    report folder of its own. The tests of one benchmark on SQLite read their
    rows from it instead of running that benchmark again.
    """
    outputs = [tmp_path_factory.mktemp("quick-run") for _ in HALVES]
    with ThreadPoolExecutor(len(HALVES)) as pool:
        runs = [
            pool.submit(run_benchmarks, output, "--only", *half)
            for output, half in zip(outputs, HALVES, strict=True)
        ]
        return [(run.result(), output) for run, output in zip(runs, outputs, strict=True)]


def all_rows(runs: list[tuple[dict[str, Any], Path]]) -> list[dict[str, Any]]:
    return [row for data, _ in runs for row in data["rows"]]


def sqlite_rows(rows: list[dict[str, Any]], *sections: str) -> list[dict[str, Any]]:
    """The rows of ``sections`` measured on SQLite, in the report's order."""
    return [
        row
        for row in rows
        if row["section"].split(".")[0] in sections and row["case"].startswith("SQLite,")
    ]


def test_quick_run_produces_figures_for_every_benchmark(
    quick_run: list[tuple[dict[str, Any], Path]],
) -> None:
    assert parse([]).only == list(SUITES)  # a run without --only runs every benchmark
    # ``history`` and ``stored`` are the two parts of ``growth``: growth runs them.
    halves = sorted(name for half in HALVES for name in half)
    assert halves == sorted(set(SUITES) - {"history", "stored"})
    rows = all_rows(quick_run)
    measured = {row["section"].split(".")[0] for row in rows if has_figure(row)}
    assert measured == {"1-3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13"}
    failed = [row for row in rows if row["note"].startswith("failed")]
    assert failed == []
    for data, output in quick_run:
        assert "beluga-workflow" in data["machine"]
        markdown = (output / "benchmarks.md").read_text()
        assert "| case |" in markdown
        assert "## Targets" in markdown


def test_only_and_backends_choose_what_runs(tmp_path: Path) -> None:
    data = run_benchmarks(tmp_path, "--only", "ops", "overhead", "--backends", "inmemory")
    sections = {row["section"].split(".")[0] for row in data["rows"]}
    assert sections == {"6", "7"}
    assert all(
        row["case"].startswith("in-memory") for row in data["rows"] if row["section"][0] == "6"
    )


def test_only_history_runs_the_growth_with_history_alone(tmp_path: Path) -> None:
    data = run_benchmarks(tmp_path, "--only", "history", "--backends", "sqlite")
    rows = data["rows"]
    assert {row["section"].split(".")[0] for row in rows} == {"4"}
    assert [row["case"] for row in rows] == ["SQLite: per-step time, last 100 / first 100 steps"]
    assert rows[0]["ratio"]["median"] > 0


def test_latency_rows_give_p50_and_p99_against_the_raw_notification(
    quick_run: list[tuple[dict[str, Any], Path]],
) -> None:
    rows = sqlite_rows(all_rows(quick_run), "11")
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


def test_queue_benchmarks_run_on_sqlite(quick_run: list[tuple[dict[str, Any], Path]]) -> None:
    rows = sqlite_rows(all_rows(quick_run), "12", "13")
    sections = {row["section"].split(".")[0] for row in rows if has_figure(row)}
    assert sections == {"12", "13"}
    assert [row for row in rows if row["note"].startswith("failed")] == []


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
