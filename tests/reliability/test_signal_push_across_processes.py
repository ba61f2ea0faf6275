"""Signals from this process reach a run in a worker process that never polls.

The worker (:mod:`tests.reliability.push_worker`) polls and renews its lease
once an hour, so the run it claims and each signal it takes came by the
store's push: its watch, or on SQLite the store's cheap change check. Each
signal is sent once the run has taken the one before (it then waits again,
having written its wait), and the bound on each wait only stops a broken run
from hanging the suite.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from beluga_workflow import Client
from tests.reliability.push_worker import PINGS
from tests.reliability.targets import KINDS, faulty_target

ROOT = Path(__file__).resolve().parents[2]
SIGNALS = 10
HANG = 30.0


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _lines(stdout: asyncio.StreamReader) -> AsyncIterator[str]:
    while line := await stdout.readline():
        yield line.decode().strip()


async def test_every_signal_reaches_a_run_in_a_worker_that_never_polls(
    kind: str, tmp_path: Path
) -> None:
    async with faulty_target(kind, tmp_path) as target:
        spec = target.client_spec  # straight to the server: no faults here
        worker = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "tests.reliability.push_worker", json.dumps(spec)),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert worker.stdout is not None
        lines = _lines(worker.stdout)
        try:
            assert await asyncio.wait_for(anext(lines), HANG) == "ready"
            async with Client(spec, load_plugins=False) as client:
                handle = await client.start(PINGS, SIGNALS)
                for n in range(SIGNALS):
                    await client.signal(handle.id, "ping", n)
                    assert await asyncio.wait_for(anext(lines), HANG) == f"took {n}"
                assert await asyncio.wait_for(handle.result(), HANG) == SIGNALS
        finally:
            worker.terminate()
            await worker.wait()
