"""``with_faults`` wraps a store with exactly its optional abilities, and fails them on demand."""

from __future__ import annotations

import asyncio

import pytest

from beluga_workflow import (
    StoreUnavailableError,
    SupportsAppend,
    SupportsCompareAndAppend,
    SupportsCompareAndSave,
    WorkflowState,
    WorkflowStore,
)
from beluga_workflow.providers.inmemory import InMemoryStore
from beluga_workflow_contract_tests.faults import with_faults

ABILITIES = {
    "append": SupportsAppend,
    "compare_and_save": SupportsCompareAndSave,
    "compare_and_append": SupportsCompareAndAppend,
}


CORE = ("save", "load", "list", "delete", "close")


def store_without(*hidden: str) -> WorkflowStore:
    """An in-memory store lacking the ``hidden`` optional methods (a class of its own)."""
    kept = [*CORE, *(name for name in ABILITIES if name not in hidden)]
    inner = InMemoryStore()
    cls = type("Partial", (), {name: staticmethod(getattr(inner, name)) for name in kept})
    store: WorkflowStore = cls()
    return store


@pytest.mark.parametrize(
    "hidden",
    [(), ("append",), ("compare_and_save", "compare_and_append"), tuple(ABILITIES)],
    ids=lambda hidden: "without " + (", ".join(hidden) or "nothing"),
)
def test_the_wrapper_has_exactly_the_abilities_of_the_store(hidden: tuple[str, ...]) -> None:
    faulty = with_faults(store_without(*hidden))

    for name, protocol in ABILITIES.items():
        assert isinstance(faulty, protocol) is (name not in hidden), name


def test_compare_and_append_fails_on_demand_before_and_after_the_write() -> None:
    async def scenario() -> None:
        inner = InMemoryStore()
        faulty = with_faults(inner)
        assert isinstance(faulty, SupportsCompareAndAppend)
        state = WorkflowState(workflow_id="w")
        faulty.fail_next("before", "after")
        with pytest.raises(StoreUnavailableError):
            await faulty.compare_and_append(state, 0, 0)
        assert await inner.load("w") is None
        with pytest.raises(StoreUnavailableError):
            await faulty.compare_and_append(state, 0, 0)
        stored = await inner.load("w")
        assert stored is not None
        assert stored.version == 1
        assert await faulty.compare_and_append(state, 0, 1) == 2
        assert faulty.faults == {"compare_and_append:before": 1, "compare_and_append:after": 1}

    asyncio.run(scenario())
