"""Store operations per provider against the raw client doing the same single write or read."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from beluga_workflow import WorkflowFilter, WorkflowState, WorkflowStatus, WorkflowStore
from benchmarks.backends import Backend
from benchmarks.harness import Report, Row, failure, measure
from benchmarks.raw import LIST_ROWS, RawOps, open_ops

__all__ = ["run_store_ops"]

SIZES = {"small": 10, "100 KB": 100_000}
SECTION = "6. Store operations (operations per second)"
RUNNING = WorkflowFilter(status=WorkflowStatus.RUNNING, limit=10)
TIME_BOX = 0.5


async def _rate(operation: Callable[[], Awaitable[Any]], count: int) -> float:
    """Calls per second over ``count`` calls, or fewer once ``TIME_BOX`` seconds have passed."""
    started = time.perf_counter()
    done = 0
    while done < count:
        await operation()
        done += 1
        if time.perf_counter() - started > TIME_BOX and done >= 5:
            break
    return done / (time.perf_counter() - started)


async def _fill(store: WorkflowStore, size: int) -> WorkflowState:
    """``LIST_ROWS`` workflows, a third running; returns the one the benchmark rewrites."""
    statuses = (WorkflowStatus.COMPLETED, WorkflowStatus.COMPLETED, WorkflowStatus.RUNNING)
    states = [
        WorkflowState(
            workflow_id=f"op-{i:05d}-{uuid.uuid4().hex[:6]}",
            status=statuses[i % 3],
            input={"blob": "x" * size},
        )
        for i in range(LIST_ROWS)
    ]
    for start in range(0, len(states), 50):
        await asyncio.gather(*(store.save(s) for s in states[start : start + 50]))
    return states[0]


async def _one_size(
    report: Report, backend: Backend, label: str, size: int, count: int, repeats: int
) -> None:
    store = backend.open()
    raw: RawOps | None = None
    try:
        state = await _fill(store, size)
        raw = await open_ops(backend, size)
        ours_ops: dict[str, Callable[[], Awaitable[Any]]] = {
            "save": lambda: store.save(state),
            "load": lambda: store.load(state.workflow_id),
            "list(running, limit=10)": lambda: store.list(RUNNING),
        }
        raw_ops = {
            "save": raw.save if raw else None,
            "load": raw.load if raw else None,
            "list(running, limit=10)": raw.list if raw else None,
        }
        for op, ours_op in ours_ops.items():
            raw_op = raw_ops[op]

            async def ours(ours_op: Callable[[], Awaitable[Any]] = ours_op) -> float:
                return await _rate(ours_op, count)

            async def baseline(raw_op: Callable[[], Awaitable[Any]] | None = raw_op) -> float:
                assert raw_op is not None
                return await _rate(raw_op, count)

            mine, theirs, ratio = await measure(
                ours, baseline if raw_op is not None else None, repeats, "ops/s"
            )
            note = ""
            if raw_op is None and backend.name != "inmemory":
                note = "no single raw call does the same"
            report.add(
                Row(
                    SECTION,
                    f"{backend.label} {op}, {label} state",
                    mine,
                    theirs,
                    f"raw {backend.name} client",
                    ratio,
                    note=note,
                )
            )
    finally:
        if raw is not None:
            await raw.close()
        await store.close()


async def run_store_ops(report: Report, backends: dict[str, Backend], quick: bool) -> None:
    count, repeats = (10, 1) if quick else (200, 3)
    for backend in backends.values():
        if not backend.available:
            report.add(Row(SECTION, backend.label, None, None, "", None, note="skipped: no server"))
            continue
        try:
            for label, size in SIZES.items():
                await _one_size(report, backend, label, size, count, repeats)
        except Exception as exc:
            report.add(failure(SECTION, backend.label, exc))
        finally:
            await backend.cleanup()
