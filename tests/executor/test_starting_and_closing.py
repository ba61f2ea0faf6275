"""Starting workflows (ids, names, input checks) and closing an executor without failing them."""

from __future__ import annotations

from typing import Any

import pytest

from beluga_workflow.context import WorkflowContext
from beluga_workflow.errors import (
    InvalidArgumentError,
    PayloadSerializationError,
    WorkflowAlreadyRunningError,
    WorkflowError,
    WorkflowFailedError,
    WorkflowNotRegisteredError,
)
from beluga_workflow.executor import Executor
from beluga_workflow.idpolicy import IdReusePolicy
from beluga_workflow.models import WorkflowStatus
from beluga_workflow.options import WorkflowOptions
from beluga_workflow.providers.inmemory import InMemoryStore
from tests.executor.conftest import Checkpoint


async def echo(ctx: WorkflowContext, input: Any) -> Any:
    return input


async def test_an_id_that_is_running_cannot_be_started_again(
    executor: Executor, store: InMemoryStore
) -> None:
    hold = Checkpoint()

    async def waiting(ctx: WorkflowContext, input: Any) -> None:
        await ctx.execute_activity(hold.activity, None)

    await executor.execute(waiting, WorkflowOptions(id="busy"))
    reject = WorkflowOptions(id="busy", id_reuse=IdReusePolicy.REJECT_DUPLICATE)
    with pytest.raises(WorkflowAlreadyRunningError, match="busy"):
        await executor.execute(waiting, reject)
    await hold.reached.wait()

    async with Executor(store, load_plugins=False) as other:  # another process, same store
        with pytest.raises(WorkflowAlreadyRunningError, match="running"):
            await other.execute(waiting, reject)
    hold.released.set()


async def test_the_id_of_a_failed_workflow_may_start_a_new_run_and_the_old_one_is_archived(
    executor: Executor, store: InMemoryStore
) -> None:
    async def fails(ctx: WorkflowContext, input: Any) -> Any:
        raise ValueError(input)

    first = await executor.execute(fails, WorkflowOptions(id="again", input=1))
    with pytest.raises(WorkflowFailedError):
        await first.result()
    options = WorkflowOptions(id="again", input=2, id_reuse=IdReusePolicy.ALLOW_AFTER_FAILURE)
    second = await executor.execute(echo, options)
    assert await second.result() == 2

    assert second.run_id != first.run_id
    state = await store.load("again")
    assert state is not None
    assert state.run_id == second.run_id
    assert state.result == 2
    assert len(state.history) == 2  # the new run's history only
    archived = await store.load(state.metadata["previous_run"])
    assert archived is not None
    assert archived.run_id == first.run_id
    assert archived.status is WorkflowStatus.FAILED


async def test_an_empty_id_gets_a_generated_one(executor: Executor) -> None:
    handle = await executor.execute(echo, WorkflowOptions(input="x"))
    assert handle.id
    other = await executor.execute(echo, WorkflowOptions(input="x"))
    assert other.id != handle.id


async def test_bad_input_and_bad_workflows_are_refused_before_anything_is_stored(
    executor: Executor, store: InMemoryStore
) -> None:
    with pytest.raises(PayloadSerializationError, match="workflow input"):
        await executor.execute(echo, WorkflowOptions(id="bad", input={"when": object()}))
    assert await store.load("bad") is None

    def not_async(ctx: Any, input: Any) -> None: ...

    with pytest.raises(InvalidArgumentError, match="async function"):
        await executor.execute(not_async, WorkflowOptions(id="sync"))  # type: ignore[arg-type]
    with pytest.raises(WorkflowNotRegisteredError, match="no workflow registered as"):
        await executor.execute("no.such:workflow", WorkflowOptions(id="named"))
    assert await store.list() == []


async def test_a_non_json_result_fails_the_workflow(
    executor: Executor, store: InMemoryStore
) -> None:
    async def returns_a_set(ctx: WorkflowContext, input: Any) -> set[int]:
        return {1}

    handle = await executor.execute(returns_a_set, WorkflowOptions(id="set"))
    with pytest.raises(WorkflowError, match="PayloadSerializationError: workflow result"):
        await handle.result()
    state = await store.load("set")
    assert state is not None
    assert state.status is WorkflowStatus.FAILED
    assert state.result is None


async def test_workflows_start_by_registered_name_and_names_must_be_unique(
    executor: Executor,
) -> None:
    assert executor.register(echo) == f"{__name__}:echo"
    executor.register(echo, name="echo")
    handle = await executor.execute("echo", WorkflowOptions(input=[1, "two"]))
    assert await handle.result() == [1, "two"]

    async def impostor(ctx: WorkflowContext, input: Any) -> None: ...

    with pytest.raises(InvalidArgumentError, match="already registered"):
        executor.register(impostor, name="echo")


async def test_close_stops_workflows_without_failing_them(store: InMemoryStore) -> None:
    hold = Checkpoint()

    async def waiting(ctx: WorkflowContext, input: Any) -> None:
        await ctx.execute_activity(hold.activity, None)

    executor = Executor(store, load_plugins=False)
    handle = await executor.execute(waiting, WorkflowOptions(id="open"))
    await hold.reached.wait()
    await executor.close()
    await executor.close()  # idempotent

    with pytest.raises(WorkflowError, match="resumes on recover"):
        await handle.result()
    state = await store.load("open")
    assert state is not None
    assert state.status is WorkflowStatus.RUNNING
    with pytest.raises(WorkflowError, match="closed"):
        await executor.execute(echo)
    assert await store.list() != []  # a store passed in is left open


async def test_an_executor_given_a_store_name_opens_and_closes_it() -> None:
    executor = Executor("inmemory", load_plugins=False)
    assert await (await executor.execute(echo, WorkflowOptions(input=5))).result() == 5
    await executor.close()
    with pytest.raises(Exception, match="closed"):
        await executor.store.list()


async def test_a_workflow_that_swallows_the_shutdown_records_nothing_more(
    store: InMemoryStore,
) -> None:
    hold = Checkpoint()
    cleanups: list[str] = []

    async def cleanup(_: Any) -> None:
        cleanups.append("ran")

    async def stubborn(ctx: WorkflowContext, input: Any) -> None:
        try:
            await ctx.execute_activity(hold.activity, None)
        except BaseException:
            await ctx.execute_activity(cleanup, None)

    executor = Executor(store, load_plugins=False)
    await executor.execute(stubborn, WorkflowOptions(id="stubborn"))
    await hold.reached.wait()
    stored_before = await store.load("stubborn")
    await executor.close()

    assert cleanups == []
    stored_after = await store.load("stubborn")
    assert stored_before is not None
    assert stored_after is not None
    assert stored_after.history == stored_before.history
    assert stored_after.lease is None  # handed back, for another worker to resume at once
