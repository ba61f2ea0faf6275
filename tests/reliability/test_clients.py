"""Clients in other processes start, signal, cancel and await workflows that a worker runs.

A worker process runs the workflows; the CLI, or small client programs, in
processes of their own send the messages; this process submits the runs and
awaits their results. Nothing is restarted in between.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from beluga_workflow import (
    Client,
    EventType,
    WorkflowCanceledError,
    WorkflowStatus,
)
from tests.reliability.targets import KINDS, faulty_target
from tests.reliability.test_many_workers import PATIENT, Workers

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.reliability.client_app"


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def store_url(spec: dict[str, Any]) -> str:
    """The ``--store`` URL of a store spec, its options as query keys."""
    if spec["provider"] == "sqlite":
        return f"sqlite:///{spec['path']}"
    options = {k: v for k, v in spec.items() if k not in ("provider", "url")}
    return f"{spec['url']}?{urlencode(options)}"


async def run_client(*args: str) -> str:
    """Run a client process to its end; return what it printed."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def _wait_for_line(path: Path, line: str) -> None:
    def has_line() -> bool:
        return path.exists() and line in path.read_text(encoding="utf-8").splitlines()

    for _ in range(500):
        if await asyncio.to_thread(has_line):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{line!r} never appeared")


async def test_clients_in_other_processes_signal_cancel_and_await_runs_of_a_worker(
    kind: str, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.log"
    async with faulty_target(kind, tmp_path) as target:
        spec = target.client_spec
        url = store_url(spec)
        workers = Workers(spec, tmp_path / "side-effects.log")
        await workers.start()
        try:
            async with Client(spec, load_plugins=False, store_retry=PATIENT) as client:
                approval = await client.start(f"{APP}:approval", id="a")
                long = await client.start(f"{APP}:long_wait", str(notes), id="l")
                await _wait_for_line(notes, "started l")

                cli = ["-m", "beluga_workflow.cli"]
                await run_client(*cli, "signal", "a", "approve", '{"by": "ana"}', "--store", url)
                await run_client(*cli, "cancel", "l", "--store", url)

                assert await asyncio.wait_for(approval.result(), 30) == {"by": "ana"}
                with pytest.raises(WorkflowCanceledError):
                    await asyncio.wait_for(long.result(), 30)
                await _wait_for_line(notes, "cancelled l")  # the running activity was stopped
                approved = await client.store.load("a")
                canceled = await client.store.load("l")
        finally:
            await workers.stop_all()
    assert approved is not None
    assert [e.signal_payload for e in approved.history if e.type is EventType.SIGNAL_RECEIVED] == [
        {"by": "ana"}
    ]
    assert canceled is not None
    assert canceled.status is WorkflowStatus.CANCELED
    assert canceled.history[-1].type is EventType.WORKFLOW_CANCELED


async def test_signals_from_four_client_processes_racing_the_owner_all_arrive_once(
    kind: str, tmp_path: Path
) -> None:
    count, senders = 100, 4
    async with faulty_target(kind, tmp_path) as target:
        spec = target.client_spec
        workers = Workers(spec, tmp_path / "side-effects.log")
        await workers.start()
        try:
            async with Client(spec, load_plugins=False, store_retry=PATIENT) as client:
                handle = await client.start(f"{APP}:collector", count, id="c")
                share = count // senders
                await asyncio.gather(
                    *(
                        run_client(
                            "-m",
                            "tests.reliability.signal_sender",
                            json.dumps(spec),
                            "c",
                            str(first),
                            str(share),
                        )
                        for first in range(0, count, share)
                    )
                )
                items = await asyncio.wait_for(handle.result(), 60)
                stored = await client.store.load("c")
        finally:
            await workers.stop_all()
    assert sorted(items) == list(range(count))
    for first in range(0, count, count // senders):  # each sender's signals in its order
        mine = [item for item in items if first <= item < first + count // senders]
        assert mine == sorted(mine)
    assert stored is not None
    assert stored.status is WorkflowStatus.COMPLETED
    received = [e.signal_payload for e in stored.history if e.type is EventType.SIGNAL_RECEIVED]
    assert sorted(received) == list(range(count))


async def test_a_client_reads_and_awaits_the_events_a_worker_process_publishes(
    kind: str, tmp_path: Path
) -> None:
    async with faulty_target(kind, tmp_path) as target:
        spec = target.client_spec
        workers = Workers(spec, tmp_path / "side-effects.log")
        await workers.start()
        try:
            async with Client(spec, load_plugins=False, store_retry=PATIENT) as client:
                handle = await client.start(f"{APP}:publisher", id="e")
                assert await client.wait_for_event("e", "stage", timeout=30) == "waiting"
                assert await client.query("e", "stage") == "waiting"
                await run_client(
                    "-m",
                    "beluga_workflow.cli",
                    "signal",
                    "e",
                    "approve",
                    '"ana"',
                    "--store",
                    store_url(spec),
                )
                assert await asyncio.wait_for(handle.result(), 30) == "ana"
                assert await client.get_event("e", "stage") == "approved by ana"
                stored = await client.describe("e")
        finally:
            await workers.stop_all()
    published = [e.result for e in stored.history if e.type is EventType.EVENT_PUBLISHED]
    assert published == ["waiting", "approved by ana"]
