"""Pinned runs: only executors of the build that first ran them resume them."""

from __future__ import annotations

import asyncio

import pytest

from beluga_workflow import (
    Executor,
    InvalidArgumentError,
    Signal,
    Versioning,
    WorkflowContext,
    WorkflowOptions,
    WorkflowPinnedError,
    WorkflowStatus,
)
from beluga_workflow.pinning import BUILD_ID_ENV
from beluga_workflow.providers.inmemory import InMemoryStore

ran: list[str] = []


async def step(build: str) -> str:
    ran.append(build)
    return build


async def pinned_flow(ctx: WorkflowContext, build: str) -> str:
    await ctx.wait_for_signal("go")
    return await ctx.execute_activity(step, build)


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    ran.clear()
    monkeypatch.delenv(BUILD_ID_ENV, raising=False)


def _executor(store: InMemoryStore, build: str | None, worker: str) -> Executor:
    return Executor(
        store, workflows=[pinned_flow], build_id=build, worker_id=worker, lease_duration=0.2,
        load_plugins=False,
    )  # fmt: skip


async def _abandon(executor: Executor) -> None:
    """Leave the runs as a crashed worker would: stored running, leases left to run out."""
    for run in list(executor._runs.values()):
        run.stop("handed back")
    await asyncio.sleep(0.3)


async def test_a_pinned_run_records_its_build_and_only_that_build_resumes_it() -> None:
    store = InMemoryStore()
    first = _executor(store, "v1", "w1")
    await first.execute(
        pinned_flow, WorkflowOptions(id="p", input="v1", versioning=Versioning.PINNED)
    )
    stored = await store.load("p")
    assert stored is not None
    assert stored.metadata["pinned"] is True
    assert stored.metadata["build_id"] == "v1"

    newer = _executor(store, "v2", "w2")
    unversioned = _executor(store, None, "w3")
    await asyncio.sleep(0.3)  # w1's lease runs out: only the pin keeps the others off
    for other, here in ((newer, "build 'v2'"), (unversioned, "no build id")):
        report = await other.recover()
        assert report.resumed == []
        refusal = report.not_resumed["p"]
        assert isinstance(refusal, WorkflowPinnedError)
        assert "pinned to build 'v1'" in str(refusal)
        assert here in str(refusal)

    await first.close()
    same = _executor(store, "v1", "w4")
    (handle,) = (await same.recover()).resumed
    await same.signal("p", Signal(name="go"))
    assert await handle.result() == "v1"
    assert ran == ["v1"]
    for executor in (newer, unversioned, same):
        await executor.close()


async def test_an_unpinned_run_is_resumed_by_any_build() -> None:
    store = InMemoryStore()
    first = _executor(store, "v1", "w1")
    await first.execute(pinned_flow, WorkflowOptions(id="u", input="v2"))
    await first.close()
    newer = _executor(store, "v2", "w2")
    await asyncio.sleep(0.3)
    (handle,) = (await newer.recover()).resumed
    await newer.signal("u", Signal(name="go"))
    assert await handle.result() == "v2"
    stored = await store.load("u")
    assert stored is not None
    assert stored.metadata["build_id"] == "v1"  # the build that first ran it
    assert "pinned" not in stored.metadata
    await newer.close()


async def test_a_client_submitted_pinned_run_is_pinned_by_the_first_worker_to_claim_it() -> None:
    store = InMemoryStore()
    client = Executor(store, load_plugins=False)
    name = "tests.lifecycle.test_pinning:pinned_flow"
    worker = _executor(store, "v7", "w1")
    worker.register(pinned_flow, name)
    await client.submit(name, WorkflowOptions(id="c", input="v7", versioning="pinned"))
    stored = await store.load("c")
    assert stored is not None
    assert "build_id" not in stored.metadata
    (handle,) = (await worker.recover()).resumed
    stored = await store.load("c")
    assert stored is not None
    assert stored.metadata["build_id"] == "v7"
    await worker.signal("c", Signal(name="go"))
    assert await handle.result() == "v7"
    for executor in (client, worker):
        await executor.close()


async def test_a_fork_of_a_pinned_run_stays_on_its_build() -> None:
    store = InMemoryStore()
    first = _executor(store, "v1", "w1")
    await first.execute(pinned_flow, WorkflowOptions(id="p", versioning=Versioning.PINNED))
    newer = _executor(store, "v2", "w2")
    forked = await newer.fork("p", 0, new_id="p2")
    stored = await store.load("p2")
    assert stored is not None
    assert stored.metadata["pinned"] is True
    assert stored.metadata["build_id"] == "v1"
    assert forked.status is WorkflowStatus.RUNNING
    assert newer.running == 0  # left for v1
    for executor in (first, newer):
        await executor.close()


def test_the_build_id_comes_from_the_environment_and_must_not_be_blank(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(BUILD_ID_ENV, "from-env")
    assert Executor(InMemoryStore(), load_plugins=False).build_id == "from-env"
    assert Executor(InMemoryStore(), load_plugins=False, build_id="given").build_id == "given"
    with pytest.raises(InvalidArgumentError, match="build_id must be a non-empty string"):
        Executor(InMemoryStore(), load_plugins=False, build_id=" ")
    with pytest.raises(ValueError, match="versioning"):
        WorkflowOptions(versioning="sometimes")  # type: ignore[arg-type]


async def test_resume_by_another_build_leaves_a_pinned_run_for_its_own() -> None:
    store = InMemoryStore()
    first = _executor(store, "v1", "w1")
    options = WorkflowOptions(id="p", input="v1", versioning=Versioning.PINNED)
    await first.execute(pinned_flow, options)
    await first.cancel("p")
    await first.close()
    newer = _executor(store, "v2", "w2")
    resumed = await newer.resume("p")
    assert resumed.status is WorkflowStatus.RUNNING
    assert newer.running == 0  # stored running, for a v1 worker
    same = _executor(store, "v1", "w3")
    (handle,) = (await same.recover()).resumed
    await same.signal("p", Signal(name="go"))
    assert await handle.result() == "v1"
    for executor in (newer, same):
        await executor.close()
