"""Latency across processes: how soon a worker sees a signal or a new run, a client a result.

This process is the client (a :class:`~beluga_workflow.Client`); one worker
process (:mod:`benchmarks.worker_process`) runs the workflows, which print a
mark with the system's monotonic clock (shared by every process of a machine)
when each thing happens:

* signal to workflow: from just before ``client.signal`` to the workflow
  taking the signal, with the run live and waiting;
* start to first activity: from just before ``client.start`` to the first
  activity of the new run beginning in the idle worker;
* ``result()`` wake-up: from the workflow returning in the worker (its last
  write still to come) to ``await handle.result()`` returning in the client.

p50 and p99 of each, against the backend's own notification round trip in
the same run (:mod:`benchmarks.notify`). Lower is better.
"""

from __future__ import annotations

import asyncio
import random
import time

from beluga_workflow import Client
from benchmarks.backends import Backend
from benchmarks.harness import Figure, Report, Row, failure
from benchmarks.notify import notify_round_trips
from benchmarks.workers import WorkerProcess, worker_processes
from benchmarks.workflows import echo_signals, ends_on_signal, first_activity, registered_name

__all__ = ["run_latency"]

SECTION = "11. Latency across processes: signal, start and result wake-ups"
STORES = ("sqlite", "postgres", "redis", "nats")
PUSHED = {"postgres", "redis", "nats"}
SIGNAL_TARGET = {"sqlite": 0.050}
"""p50 targets in seconds; 5 ms where the store pushes."""
START_TARGET = 0.010
MARK_TIMEOUT = 30.0
SIGNALS_PER_RUN = 20
"""Signals one run takes before the next run starts: a run's history grows with each."""
CLIENT_POLL = 0.5
"""The client's default: a wake-up faster than this was pushed."""


class Marks:
    """The marks a worker process prints, by (what, sample), as they arrive."""

    def __init__(self, worker: WorkerProcess) -> None:
        self._seen: dict[tuple[str, int], asyncio.Future[float]] = {}
        assert worker.process.stdout is not None
        self._stream = worker.process.stdout
        self._task = asyncio.ensure_future(self._read())

    def _future(self, key: tuple[str, int]) -> asyncio.Future[float]:
        return self._seen.setdefault(key, asyncio.get_running_loop().create_future())

    async def _read(self) -> None:
        while line := await self._stream.readline():
            parts = line.decode().split()
            if len(parts) == 3:
                future = self._future((parts[0], int(parts[1])))
                if not future.done():
                    future.set_result(float(parts[2]))

    async def at(self, what: str, n: int) -> float:
        """When the worker marked ``what`` for sample ``n`` (waiting for the mark)."""
        return await asyncio.wait_for(asyncio.shield(self._future((what, n))), MARK_TIMEOUT)

    def close(self) -> None:
        self._task.cancel()


async def _pause() -> None:
    await asyncio.sleep(random.uniform(0.005, 0.015))


async def signal_latencies(client: Client, marks: Marks, samples: int) -> list[float]:
    """Runs of :data:`SIGNALS_PER_RUN` signals each, so every sample sees a short history."""
    seconds: list[float] = []
    n = -3  # three to warm up, not counted
    while n < samples:
        count = min(SIGNALS_PER_RUN, samples - n)
        handle = await client.start(registered_name(echo_signals), count)
        for _ in range(count):
            await _pause()
            began = time.monotonic()
            await client.signal(handle.id, "ping", n)
            seen = await marks.at("signal", n)
            if n >= 0:
                seconds.append(seen - began)
            n += 1
        await asyncio.wait_for(handle.result(), MARK_TIMEOUT)
    return seconds


async def start_latencies(client: Client, marks: Marks, samples: int) -> list[float]:
    seconds = []
    for n in range(-3, samples):
        await asyncio.sleep(random.uniform(0.05, 0.08))  # the worker is idle, between rounds
        began = time.monotonic()
        handle = await client.start(registered_name(first_activity), n)
        started = await marks.at("activity", n)
        await asyncio.wait_for(handle.result(), MARK_TIMEOUT)
        if n >= 0:
            seconds.append(started - began)
    return seconds


async def result_latencies(client: Client, marks: Marks, samples: int) -> list[float]:
    seconds = []
    for n in range(-3, samples):
        handle = await client.start(registered_name(ends_on_signal), n)
        await marks.at("waiting", n)
        waiting = asyncio.ensure_future(handle.result())
        await _pause()  # the client is waiting before the run ends
        await client.signal(handle.id, "finish")
        await asyncio.wait_for(waiting, MARK_TIMEOUT)
        woken = time.monotonic()
        if n >= 0:
            seconds.append(woken - await marks.at("end", n))
    return seconds


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _ms(value: float, values: list[float]) -> Figure:
    return Figure(value * 1000, min(values) * 1000, max(values) * 1000, "ms")


def _rows(
    backend: Backend,
    what: str,
    ours: list[float],
    raw: list[float],
    target: float | None,
    size: str,
) -> list[Row]:
    rows = []
    for name, share in (("p50", 0.5), ("p99", 0.99)):
        mine, theirs = _percentile(ours, share), _percentile(raw, share)
        judged = target is not None and name == "p50"
        rows.append(
            Row(
                SECTION,
                f"{backend.label}, {what}, {name}",
                _ms(mine, ours),
                _ms(theirs, raw),
                "raw notification",
                Figure(mine / theirs, mine / theirs, mine / theirs, "x"),
                f"p50 ≤ {target * 1000:g} ms" if judged and target is not None else "",
                (mine <= target) if judged and target is not None else None,
                f"{size}; ms, lower is better; figure is {name} (min-max)",
            )
        )
    return rows


async def _latency(report: Report, backend: Backend, quick: bool) -> None:
    samples = 5 if quick else 200
    starts = 5 if quick else 100
    spec = backend.spec()
    signal_target = SIGNAL_TARGET.get(backend.name, 0.005)
    start_target = START_TARGET if backend.name in PUSHED else None
    async with (
        Client(spec, load_plugins=False, poll_interval=CLIENT_POLL) as client,
        worker_processes(spec, ["bench-latency"], lease=10.0, concurrency=10) as (worker,),
    ):
        marks = Marks(worker)
        try:
            # The worker has run a workflow before any clock starts: it is up and watching.
            warm = await client.start(registered_name(first_activity), -100)
            await asyncio.wait_for(warm.result(), MARK_TIMEOUT)
            measured: list[tuple[str, list[float], float | None, int]] = [
                (
                    "signal to workflow",
                    await signal_latencies(client, marks, samples),
                    signal_target,
                    samples,
                ),
                (
                    "start to first activity",
                    await start_latencies(client, marks, starts),
                    start_target,
                    starts,
                ),
                (
                    "result() wake-up after the end",
                    await result_latencies(client, marks, starts),
                    None,
                    starts,
                ),
            ]
        finally:
            marks.close()
    raw = await notify_round_trips(backend, samples)
    for what, seconds, target, count in measured:
        size = f"{count} samples, raw: {len(raw)}"
        for row in _rows(backend, what, seconds, raw, target, size):
            report.add(row)


async def run_latency(report: Report, backends: dict[str, Backend], quick: bool) -> None:
    for name in STORES:
        backend = backends.get(name)
        if backend is None:
            continue
        if not backend.available:
            report.add(Row(SECTION, backend.label, None, None, "", None, note="skipped: no server"))
            continue
        try:
            await _latency(report, backend, quick)
        except Exception as exc:
            report.add(failure(SECTION, backend.label, exc))
        finally:
            await backend.cleanup()
