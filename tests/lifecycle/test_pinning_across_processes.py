"""A pinned run stays on the build that first ran it across a SIGKILL and a deploy of new code.

Real worker processes (the CLI's ``worker --forever --build-id``) on one SQLite
file: a v1 worker dies mid-run, a v2 worker takes over the unpinned run but
leaves the pinned one, and a v1 worker that comes back finishes it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from beluga_workflow import Client, WorkflowOptions, WorkflowStatus
from beluga_workflow.pinning import Versioning
from tests.cli.test_cli import _env, start, wait_for_line

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = "tests.lifecycle.pinned_app:two_steps"


def _worker(store: str, build: str, log: Path) -> subprocess.Popen[str]:
    env = _env(BELUGA_WORKFLOW_BUILD_ID=build, PINNING_LOG=str(log))
    return start(
        "worker", "tests.lifecycle.pinned_app", "--forever", "--poll", "0.1", "--lease", "1",
        "--store", store, cwd=ROOT, env=env,
    )  # fmt: skip


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "beluga_workflow.cli", *args],
        capture_output=True, text=True, cwd=ROOT, env=_env(), timeout=60, check=False,
    )  # fmt: skip


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _start_runs(store: str) -> None:
    async with Client(store) as client:
        pinned = WorkflowOptions(id="p1", versioning=Versioning.PINNED)
        await client.start(WORKFLOW, options=pinned)
        await client.start(WORKFLOW, id="u1")


async def _signal(store: str, *ids: str) -> None:
    async with Client(store) as client:
        for workflow_id in ids:
            await client.signal(workflow_id, "go", None)


async def _describe(
    store: str, workflow_id: str
) -> tuple[WorkflowStatus, object, dict[str, object]]:
    async with Client(store) as client:
        state = await client.describe(workflow_id)
        return state.status, state.result, dict(state.metadata)


def _wait_for_status(store: str, workflow_id: str, status: WorkflowStatus) -> object:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now, result, _ = asyncio.run(_describe(store, workflow_id))
        if now is status:
            return result
        time.sleep(0.1)
    raise AssertionError(f"{workflow_id} never became {status.value}")


def test_a_pinned_run_waits_for_its_build_while_an_unpinned_one_moves_to_new_code(
    tmp_path: Path,
) -> None:
    store, log = f"sqlite:///{tmp_path / 'runs.db'}", tmp_path / "steps.log"
    old = _worker(store, "v1", log)
    new = back = None
    try:
        asyncio.run(_start_runs(store))
        wait_for_line(log, "v1 first p1")
        wait_for_line(log, "v1 first u1")
        old.kill()  # SIGKILL: its leases run out after a second
        old.wait()

        new = _worker(store, "v2", log)
        asyncio.run(_signal(store, "p1", "u1"))
        assert _wait_for_status(store, "u1", WorkflowStatus.COMPLETED) == ["v1", "v2"]
        time.sleep(1.5)  # u1's takeover shows p1's lease ran out too; more rounds pass
        status, _, metadata = asyncio.run(_describe(store, "p1"))
        assert status is WorkflowStatus.RUNNING
        assert metadata["pinned"] is True
        assert metadata["build_id"] == "v1"
        assert "second p1" not in log.read_text()  # the v2 worker never ran it

        back = _worker(store, "v1", log)
        assert _wait_for_status(store, "p1", WorkflowStatus.COMPLETED) == ["v1", "v1"]
        steps = Counter(log.read_text().splitlines())
        assert steps == {"v1 first p1": 1, "v1 first u1": 1, "v2 second u1": 1, "v1 second p1": 1}

        assert "build:    v1 (pinned)" in _cli("show", "p1", "--store", store).stdout
        listed = json.loads(_cli("list", "--store", store, "--json").stdout)
        builds = {row["workflow_id"]: (row["build_id"], row["pinned"]) for row in listed}
        assert builds == {"p1": ("v1", True), "u1": ("v1", False)}
    finally:
        for process in (old, new, back):
            if process is not None:
                _stop(process)
