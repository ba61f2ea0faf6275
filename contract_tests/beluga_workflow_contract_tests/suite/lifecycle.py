"""close() is idempotent; a closed store refuses every operation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from beluga_workflow import StoreClosedError, WorkflowFilter, WorkflowStore
from beluga_workflow_contract_tests.context import ContractRun
from beluga_workflow_contract_tests.rule import rule
from beluga_workflow_contract_tests.samples import sample_state
from beluga_workflow_contract_tests.violations import check, expect_raises

__all__ = ["LifecycleRules"]


def _operations(store: WorkflowStore, workflow_id: str) -> dict[str, Callable[[], Awaitable[Any]]]:
    """Every operation the store offers, optional ones included."""
    state = sample_state(workflow_id)
    operations: dict[str, Callable[[], Awaitable[Any]]] = {
        "save()": lambda: store.save(state),
        "load()": lambda: store.load(workflow_id),
        "list()": lambda: store.list(),
        "list(filter)": lambda: store.list(WorkflowFilter(limit=1)),
        "delete()": lambda: store.delete(workflow_id),
    }
    append = getattr(store, "append", None)
    if callable(append):
        operations["append()"] = lambda: append(state, 1)
    compare_and_save = getattr(store, "compare_and_save", None)
    if callable(compare_and_save):
        operations["compare_and_save()"] = lambda: compare_and_save(state, 0)
    return operations


class LifecycleRules:
    """SPEC 4: close() is idempotent; operations after close() raise StoreClosedError."""

    @rule("lifecycle.close_idempotent", "close() may be called again and again without error")
    async def test_close_is_idempotent(self, run: ContractRun) -> None:
        used = await run.open()
        await used.save(sample_state(run.id("before-close")))
        for _ in range(3):
            await used.close()
        unused = await run.open()
        for _ in range(3):
            await unused.close()

    @rule("lifecycle.closed_raises", "every operation on a closed store raises StoreClosedError")
    async def test_operations_after_close_raise(self, run: ContractRun) -> None:
        used = await run.open()
        await used.save(sample_state(run.id("before-close")))
        await used.close()
        unused = await run.open()
        await unused.close()
        for label, store in (("a used store", used), ("a store closed before use", unused)):
            for name, operation in _operations(store, run.id("after-close")).items():
                await expect_raises(
                    StoreClosedError, operation(), f"{name} on {label} after close()"
                )

    @rule("lifecycle.async_with", "'async with store' yields the store and closes it on exit")
    async def test_async_with_closes(self, run: ContractRun) -> None:
        store = await run.open()
        async with store as entered:
            check(entered is store, f"'async with store as s' gave {entered!r}, not the store")
            await store.save(sample_state(run.id("inside")))
        await expect_raises(
            StoreClosedError, store.load(run.id("inside")), "load() after 'async with'"
        )
