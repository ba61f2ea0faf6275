"""Many workers on one store: what leases cost, how fast a dead worker's runs move, how it scales.

Three measurements, each in namespaces of its own that are removed after:

* one worker's durable steps per second with leases on, against the same
  store wrapped so that it lacks ``compare_and_append`` (the engine then
  writes with ``append`` and keeps no leases), pair by pair;
* the time from SIGKILL of the worker process that holds a waiting run to the
  moment the stored run's lease names a second worker process;
* the aggregate steps per second of runs submitted by a client and run by 1,
  2 and 4 worker processes, and the ratio to one worker.

Worker processes run :mod:`benchmarks.worker_process`; only those started
here are stopped or killed, by their own process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol, Self, runtime_checkable

from beluga_workflow import (
    Executor,
    WorkflowFilter,
    WorkflowOptions,
    WorkflowState,
    WorkflowStore,
)
from beluga_workflow.store import SupportsAppend, SupportsCompareAndSave
from benchmarks.backends import Backend
from benchmarks.harness import Report, Row, failure, figure, measure
from benchmarks.steps import ours_rate
from benchmarks.workflows import registered_name, sequential_steps, waits

__all__ = ["WithoutLeases", "run_workers"]

ROOT = Path(__file__).resolve().parent.parent
SECTION_COST = "8. Leases: one worker's steps per second, leases on against off"
SECTION_TAKEOVER = "9. Takeover after SIGKILL of the worker that holds a run"
SECTION_SCALING = "10. Aggregate steps per second with 1, 2 and 4 worker processes"
LEASE_STORES = ("sqlite", "postgres", "redis", "nats")
SCALING_STORES = ("sqlite", "postgres")
WORKER_COUNTS = (1, 2, 4)
CONCURRENCY = 50
"""Runs each worker process holds at once in the scaling benchmark."""
WORKER_POLL = 0.1
CLIENT_POLL = 0.02
SECONDS_PER_FIGURE = 1.0
"""About how long one side of a lease-cost pair runs: short pairs, many, so a busy
neighbour on the machine touches both sides of a pair alike."""
TARGET_COST = 0.9
NO_COLLAPSE = 0.9
TAKEOVER_SLACK = 1.0
"""The takeover target: the lease length and at most this many seconds more."""
STARTUP_TIMEOUT = 60.0
CLAIM_TIMEOUT = 30.0


@runtime_checkable
class _AppendingStore(WorkflowStore, SupportsAppend, SupportsCompareAndSave, Protocol):
    """A store with ``append`` and ``compare_and_save``: every durable store here has both."""


class WithoutLeases:
    """``store`` without ``compare_and_append``, so the engine writes with ``append``, unleased.

    It delegates everything else to the store, so the two sides of the
    comparison differ only in the write the engine picks: what leases cost.
    """

    def __init__(self, store: WorkflowStore) -> None:
        if not isinstance(store, _AppendingStore):
            raise TypeError(f"{store!r} lacks append or compare_and_save")
        self._store = store

    def __repr__(self) -> str:
        return f"WithoutLeases({self._store!r})"

    async def save(self, state: WorkflowState) -> None:
        await self._store.save(state)

    async def load(self, workflow_id: str) -> WorkflowState | None:
        return await self._store.load(workflow_id)

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        return await self._store.list(filter)

    async def delete(self, workflow_id: str) -> None:
        await self._store.delete(workflow_id)

    async def close(self) -> None:
        await self._store.close()

    async def append(self, state: WorkflowState, new_events: int) -> None:
        await self._store.append(state, new_events)

    async def compare_and_save(self, state: WorkflowState, expected_version: int) -> int:
        return await self._store.compare_and_save(state, expected_version)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


@dataclass
class WorkerProcess:
    """One worker process this benchmark started; its stderr goes to a file, read on failure."""

    worker_id: str
    process: asyncio.subprocess.Process
    errors: IO[bytes]

    @classmethod
    async def start(
        cls, spec: dict[str, Any], worker_id: str, *, lease: float, concurrency: int
    ) -> WorkerProcess:
        errors = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop(), after the process)
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "benchmarks.worker_process", json.dumps(spec)),
            *("--worker-id", worker_id, "--lease", str(lease), "--poll", str(WORKER_POLL)),
            *("--concurrency", str(concurrency)),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
        )
        worker = cls(worker_id, process, errors)
        assert process.stdout is not None
        try:
            ready = await asyncio.wait_for(process.stdout.readline(), STARTUP_TIMEOUT)
        except TimeoutError:
            ready = b""
        if ready.strip() != b"ready":
            await worker.stop()
            raise RuntimeError(f"worker {worker_id} did not start: {worker.stderr()}")
        return worker

    def kill(self) -> None:
        """SIGKILL: a crash, leaving the worker's leases to run out."""
        self.process.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        """SIGTERM (the worker hands its runs back), SIGKILL if it has not ended in 15 s."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except TimeoutError:
                self.kill()
        await self.process.wait()
        self.errors.close()

    def stderr(self) -> str:
        self.errors.seek(0)
        return self.errors.read().decode(errors="replace")[-2000:]


@contextlib.asynccontextmanager
async def worker_processes(
    spec: dict[str, Any], worker_ids: Sequence[str], *, lease: float, concurrency: int = 10
) -> AsyncIterator[list[WorkerProcess]]:
    """Worker processes on ``spec``, started together and ready; stopped on the way out."""
    started = await asyncio.gather(
        *(
            WorkerProcess.start(spec, worker_id, lease=lease, concurrency=concurrency)
            for worker_id in worker_ids
        ),
        return_exceptions=True,
    )
    workers = [w for w in started if isinstance(w, WorkerProcess)]
    try:
        for outcome in started:
            if isinstance(outcome, BaseException):
                raise outcome
        yield workers
    finally:
        await asyncio.gather(*(worker.stop() for worker in workers))


async def wait_for_owner(store: WorkflowStore, workflow_id: str, owner: str) -> None:
    """Return once the stored run's lease names ``owner``; read every 10 ms."""
    deadline = time.perf_counter() + CLAIM_TIMEOUT
    while True:
        state = await store.load(workflow_id)
        if state is not None and state.lease is not None and state.lease.owner == owner:
            return
        if time.perf_counter() > deadline:
            lease = None if state is None else state.lease
            raise TimeoutError(f"{workflow_id!r} not held by {owner!r} in time: {lease}")
        await asyncio.sleep(0.01)


async def takeover_seconds(backend: Backend, lease: float, rng: random.Random) -> float:
    """Seconds from SIGKILL of the worker holding a waiting run until a second one holds it.

    The kill falls at a random point between two renewals of the lease, as a
    crash would; the second worker starts after the kill.
    """
    spec = backend.spec()
    async with (
        Executor(spec, load_plugins=False, poll_interval=CLIENT_POLL) as client,
        worker_processes(spec, ["bench-first"], lease=lease) as (first,),
    ):
        handle = await client.submit(registered_name(waits), WorkflowOptions(input=3600))
        await wait_for_owner(client.store, handle.id, first.worker_id)
        await asyncio.sleep(rng.uniform(0, lease / 3))
        first.kill()
        killed = time.perf_counter()
        async with worker_processes(spec, ["bench-second"], lease=lease) as (second,):
            await wait_for_owner(client.store, handle.id, second.worker_id)
            return time.perf_counter() - killed


async def aggregate_rate(backend: Backend, workers: int, runs: int, steps: int) -> float:
    """Steps/s of ``runs`` submitted runs of ``steps`` steps, run by ``workers`` processes.

    The clock runs from the first submission, once every worker is ready, to
    the last result read back by the client.
    """
    spec = backend.spec()
    ids = [f"bench-{n}" for n in range(workers)]
    async with (
        Executor(spec, load_plugins=False, poll_interval=CLIENT_POLL) as client,
        worker_processes(spec, ids, lease=10.0, concurrency=CONCURRENCY),
    ):
        name = registered_name(sequential_steps)
        started = time.perf_counter()
        handles = await asyncio.gather(
            *(client.submit(name, WorkflowOptions(input=steps)) for _ in range(runs))
        )
        for handle in handles:
            await handle.result()
        return runs * steps / (time.perf_counter() - started)


async def _lease_cost(report: Report, backend: Backend, quick: bool) -> None:
    workflows, steps, repeats = (2, 20, 1) if quick else (20, 100, 11)
    if not quick:  # a slow store runs fewer workflows, so a figure takes about a second
        rate = await ours_rate(backend.open, 1, 50)
        workflows = max(1, min(workflows, int(rate * SECONDS_PER_FIGURE / steps)))

    async def leases_on() -> float:
        return await ours_rate(backend.open, workflows, steps)

    async def leases_off() -> float:
        return await ours_rate(lambda: WithoutLeases(backend.open()), workflows, steps)

    ours, theirs, ratio = await measure(leases_on, leases_off, repeats, "steps/s")
    assert ratio is not None
    report.add(
        Row(
            SECTION_COST,
            f"{backend.label}, leases on against off, one workflow at a time",
            ours,
            theirs,
            "leases off (append)",
            ratio,
            f"≥ {TARGET_COST}x",
            ratio.median >= TARGET_COST,
            f"{workflows} x {steps} steps",
        )
    )


async def _takeover(report: Report, backend: Backend, quick: bool) -> None:
    lease, repeats = (1.0, 1) if quick else (2.0, 5)
    rng = random.Random(13)
    seconds = [await takeover_seconds(backend, lease, rng) for _ in range(repeats)]
    taken = figure(seconds, "s")
    ratio = figure([s / lease for s in seconds], "x")
    limit = (lease + TAKEOVER_SLACK) / lease
    report.add(
        Row(
            SECTION_TAKEOVER,
            f"{backend.label}, takeover with a {lease:g} s lease",
            taken,
            None,
            "",
            ratio,
            f"≤ {limit:g}x (lease + {TAKEOVER_SLACK:g} s), slowest",
            ratio.high <= limit,
            f"{repeats} kills; lower is better; ratio is takeover time / lease",
        )
    )


async def _scaling(report: Report, backend: Backend, quick: bool) -> None:
    runs, steps, repeats = (20, 5, 1) if quick else (200, 20, 3)
    rates: dict[int, list[float]] = {count: [] for count in WORKER_COUNTS}
    for _ in range(repeats):  # 1, 2 and 4 workers in turn, so each round sees the same machine
        for count in WORKER_COUNTS:
            rates[count].append(await aggregate_rate(backend, count, runs, steps))
    size = f"{runs} runs x {steps} steps, {CONCURRENCY} at once per worker"
    single = rates[WORKER_COUNTS[0]]
    report.add(
        Row(
            SECTION_SCALING,
            f"{backend.label}, 1 worker process",
            figure(single, "steps/s"),
            None,
            "",
            None,
            note=size,
        )
    )
    for count in WORKER_COUNTS[1:]:
        ratio = figure([a / b for a, b in zip(rates[count], single, strict=True)], "x")
        report.add(
            Row(
                SECTION_SCALING,
                f"{backend.label}, {count} worker processes against 1",
                figure(rates[count], "steps/s"),
                figure(single, "steps/s"),
                "1 worker process",
                ratio,
                f"≥ {NO_COLLAPSE}x (no collapse)",
                ratio.median >= NO_COLLAPSE,
                size,
            )
        )


async def run_workers(report: Report, backends: dict[str, Backend], quick: bool) -> None:
    parts = (
        (SECTION_COST, _lease_cost, LEASE_STORES),
        (SECTION_TAKEOVER, _takeover, LEASE_STORES),
        (SECTION_SCALING, _scaling, SCALING_STORES),
    )
    for section, part, names in parts:
        for name in names:
            backend = backends.get(name)
            if backend is None:
                continue
            if not backend.available:
                report.add(
                    Row(section, backend.label, None, None, "", None, note="skipped: no server")
                )
                continue
            try:
                await part(report, backend, quick)
            except Exception as exc:
                report.add(failure(section, backend.label, exc))
            finally:
                await backend.cleanup()
