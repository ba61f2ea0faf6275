"""Plain activity functions run on daemon threads that a stopping process does not wait for."""

from __future__ import annotations

import asyncio
import contextvars
import threading

from beluga_workflow.blocking import DaemonThreadPool, run_blocking

request = contextvars.ContextVar("request", default="none")


async def test_a_blocking_call_runs_on_a_daemon_thread_with_the_callers_context() -> None:
    request.set("r-1")

    def where(_: object) -> tuple[bool, str, str]:
        thread = threading.current_thread()
        return thread.daemon, thread.name, request.get()

    daemon, name, seen = await run_blocking(where, None)
    assert daemon
    assert name.startswith("beluga-activity-")
    assert seen == "r-1"


async def test_a_cancelled_wait_returns_at_once_and_the_pool_keeps_working() -> None:
    release = threading.Event()
    waiting = asyncio.ensure_future(run_blocking(lambda _: release.wait(30), None))
    await asyncio.sleep(0)
    waiting.cancel()
    done, _ = await asyncio.wait([waiting], timeout=1)
    assert done == {waiting}
    release.set()
    assert await run_blocking(lambda value: value * 2, 21) == 42


def test_the_pool_never_starts_more_threads_than_its_bound() -> None:
    pool = DaemonThreadPool(2, "bounded")
    release = threading.Event()
    futures = [pool.submit(lambda: release.wait(30)) for _ in range(5)]
    release.set()
    assert [f.result(timeout=5) for f in futures] == [True] * 5
    assert pool.threads == 2
