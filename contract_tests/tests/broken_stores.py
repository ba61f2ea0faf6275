"""Stores that each break exactly one rule of the contract, to prove the suite catches it.

Each wraps the correct :class:`InMemoryStore` and changes one behaviour.
``breaks`` names the rules that may report it first (the suite stops at its
first failure; a defect such as truncated microseconds is already visible in
the basic round trip, before the timestamp rule runs).
"""

from __future__ import annotations

import asyncio
import math
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta, timezone
from typing import Any, ClassVar

from beluga_workflow import (
    Capability,
    PayloadSerializationError,
    StoreClosedError,
    StoreError,
    WorkflowFilter,
    WorkflowState,
    WorkflowStore,
)
from beluga_workflow.listing import StateList, unreadable_records
from beluga_workflow.providers.inmemory import InMemoryStore
from beluga_workflow.queues.table import InMemoryQueueTable
from beluga_workflow.validation import (
    require_append,
    require_filter,
    require_state,
    require_workflow_id,
)
from beluga_workflow_contract_tests.poison import poison_in_memory

DEFAULT_CAPABILITIES = frozenset(
    {
        Capability.APPEND_HISTORY,
        Capability.OPTIMISTIC_CONCURRENCY,
        Capability.COMPARE_AND_APPEND,
        Capability.WATCH,
        Capability.QUEUE_DISPATCH,
    }
)


class ContractStore(InMemoryQueueTable, InMemoryStore):
    """A correct store, and the base of the broken ones."""

    breaks: ClassVar[tuple[str, ...]] = ()
    capabilities: ClassVar[frozenset[str]] = DEFAULT_CAPABILITIES

    @classmethod
    def factory(cls) -> Callable[[], Awaitable[WorkflowStore]]:
        """Opens a new store per call; each is its own (non-durable) namespace."""

        async def open_one() -> WorkflowStore:
            return cls()

        return open_one

    @staticmethod
    def poison(store: WorkflowStore, workflow_id: str) -> None:
        """Plants an entry that cannot be read (the suite's ``store_poison``)."""
        poison_in_memory(store, workflow_id)

    @classmethod
    def namespace_factory(cls) -> Callable[[str], Awaitable[WorkflowStore]]:
        """Opens a store in another namespace: a store of its own, like any new one."""

        async def open_in(suffix: str) -> WorkflowStore:
            return cls()

        return open_in

    @classmethod
    def outage_factory(cls, store_factory: Any) -> Any:
        """The suite's ``outage_factory``: none, a store of its own has no connection to cut."""
        return None


class SharedBackendStore(ContractStore):
    """A correct *durable* store: every store from one factory shares one dict.

    A write tells the watchers of every store on the dict, as a backend would.
    """

    capabilities = DEFAULT_CAPABILITIES | {Capability.DURABLE}
    _peers: list[SharedBackendStore]

    @classmethod
    def factory(cls) -> Callable[[], Awaitable[WorkflowStore]]:
        backend: dict[str, WorkflowState] = {}
        peers: list[SharedBackendStore] = []

        async def open_one() -> WorkflowStore:
            return cls._on(backend, peers)

        return open_one

    @classmethod
    def namespace_factory(cls) -> Callable[[str], Awaitable[WorkflowStore]]:
        """One dict per namespace, shared by the stores opened in it."""
        backends: dict[str, tuple[dict[str, WorkflowState], list[SharedBackendStore]]] = {}

        async def open_in(suffix: str) -> WorkflowStore:
            return cls._on(*backends.setdefault(suffix, ({}, [])))

        return open_in

    @classmethod
    def _on(
        cls, backend: dict[str, WorkflowState], peers: list[SharedBackendStore]
    ) -> SharedBackendStore:
        store = cls()
        store._states = backend
        store._peers = peers
        peers.append(store)
        return store

    _cut = False
    """True while the store's "connection" is cut: notices of other stores' writes are lost."""

    @classmethod
    def outage_factory(cls, store_factory: Any) -> Any:
        """Opens a store on the backend whose connection a :class:`Link` cuts and restores."""

        async def open_cut_off(operation_timeout: float | None) -> tuple[WorkflowStore, Link]:
            store = await store_factory()
            return store, Link(store)

        return open_cut_off

    def _changed(self, workflow_id: str) -> None:
        for peer in self._peers:
            peer._receive(workflow_id)

    def _receive(self, workflow_id: str) -> None:
        if not self._cut:
            self._watchers.notify(workflow_id)

    def _lost(self) -> None:
        """The connection was cut (a store may not notice at once; this one does nothing)."""

    def _restored(self) -> None:
        """The connection is back: say that notices may have been missed."""
        self._cut = False
        self._watchers.notify(None)


class Link:
    """The outage handle of a :class:`SharedBackendStore`: cuts its notices, then restores them."""

    def __init__(self, store: SharedBackendStore) -> None:
        self.store = store

    async def stop(self) -> None:
        self.store._cut = True
        self.store._lost()

    async def start(self) -> None:
        if self.store._cut:
            self.store._restored()


class SortedListStore(ContractStore):
    """Correct, and lists in the ordered_list order without declaring it."""

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        wanted = require_filter(filter)
        states = await super().list(WorkflowFilter(status=wanted.status))
        states.sort(key=lambda s: (s.created_at, s.workflow_id))
        return states[: wanted.limit] if wanted.limit else states


# --- helpers -----------------------------------------------------------------


def map_values(value: Any, change: Callable[[Any], Any]) -> Any:
    """``value`` with ``change`` applied to every leaf of the JSON tree."""
    if isinstance(value, list):
        return [map_values(item, change) for item in value]
    if isinstance(value, dict):
        return {key: map_values(item, change) for key, item in value.items()}
    return change(value)


def map_payloads(state: WorkflowState, change: Callable[[Any], Any]) -> WorkflowState:
    """A copy of ``state`` with ``change`` applied to every payload leaf."""
    copy = state.model_copy(deep=True)
    copy.input = map_values(copy.input, change)
    copy.result = map_values(copy.result, change)
    copy.metadata = map_values(copy.metadata, change)
    for event in copy.history:
        event.input = map_values(event.input, change)
        event.result = map_values(event.result, change)
        event.signal_payload = map_values(event.signal_payload, change)
    return copy


def map_times(state: WorkflowState, change: Callable[[Any], Any]) -> WorkflowState:
    """A copy of ``state`` with ``change`` applied to every timestamp."""
    copy = state.model_copy(deep=True)
    copy.created_at = change(copy.created_at)
    copy.updated_at = change(copy.updated_at)
    for event in copy.history:
        event.timestamp = change(event.timestamp)
        if event.fire_at is not None:
            event.fire_at = change(event.fire_at)
    return copy


# --- isolation ---------------------------------------------------------------


class ReturnsStoredObject(ContractStore):
    breaks = ("isolation.after_load",)

    async def load(self, workflow_id: str) -> WorkflowState | None:
        await super().load(workflow_id)
        return self._states.get(workflow_id)


class KeepsCallersObject(ContractStore):
    breaks = ("isolation.after_save",)

    async def save(self, state: WorkflowState) -> None:
        require_state(state)
        self.check_open()
        self._states[state.workflow_id] = state


class ListSharesObjects(ContractStore):
    breaks = ("isolation.after_list",)

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        listed = await super().list(filter)
        listed[:] = [self._states[s.workflow_id] for s in listed]
        return listed


# --- list ----------------------------------------------------------------------


class IgnoresLimit(ContractStore):
    breaks = ("list.limit",)

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        wanted = require_filter(filter)
        return await super().list(WorkflowFilter(status=wanted.status))


class LimitOffByOne(ContractStore):
    breaks = ("list.limit",)

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        wanted = require_filter(filter)
        limit = wanted.limit + 1 if wanted.limit else 0
        return await super().list(WorkflowFilter(status=wanted.status, limit=limit))


class StatusIgnoredWithLimit(ContractStore):
    breaks = ("list.status_and_limit",)

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        wanted = require_filter(filter)
        if wanted.limit:
            return await super().list(WorkflowFilter(limit=wanted.limit))
        return await super().list(wanted)


class IgnoresStatus(ContractStore):
    breaks = ("list.status",)

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        wanted = require_filter(filter)
        return await super().list(WorkflowFilter(limit=wanted.limit))


class LimitZeroMeansNone(ContractStore):
    breaks = ("list.all", "list.limit_zero")

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        if filter is not None and filter.limit == 0:
            return []
        return await super().list(filter)


class HugeLimitOverflows(ContractStore):
    """Hands the limit to a backend as a 64-bit integer, as SQLite's driver does."""

    breaks = ("input.huge_limit",)

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        if filter is not None and filter.limit > 2**63 - 1:
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        return await super().list(filter)


class AcceptsNegativeLimit(ContractStore):
    breaks = ("input.negative_limit",)

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        if filter is not None and filter.limit < 0:
            filter = WorkflowFilter(status=filter.status)
        return await super().list(filter)


class ListDuplicates(ContractStore):
    breaks = ("list.all",)

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        listed = await super().list(filter)
        return listed + listed[:1]


class ListStopsAtUnreadable(ContractStore):
    """Lets one record it cannot decode fail the whole listing."""

    breaks = ("list.skips_unreadable",)

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        listed = await super().list(filter)
        for error in unreadable_records(listed).values():
            raise error
        return listed


class ListHidesUnreadable(ContractStore):
    """Skips a record it cannot decode without telling anyone."""

    breaks = ("list.skips_unreadable",)

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        return list(await super().list(filter))


class ListDropsHistory(ContractStore):
    breaks = ("list.fidelity",)

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        return [s.model_copy(update={"history": []}) for s in await super().list(filter)]


# --- load, save and delete -------------------------------------------------------


class LoadMissingRaises(ContractStore):
    breaks = ("load.missing",)

    async def load(self, workflow_id: str) -> WorkflowState | None:
        loaded = await super().load(workflow_id)
        if loaded is None:
            raise KeyError(workflow_id)
        return loaded


class KeepsLongerHistory(ContractStore):
    breaks = ("save.overwrite", "save.overwrite_history")

    async def save(self, state: WorkflowState) -> None:
        old = self._states.get(state.workflow_id)
        if old is not None and len(old.history) > len(state.history):
            state = state.model_copy(update={"history": old.history})
        await super().save(state)


class MergesOnOverwrite(ContractStore):
    breaks = ("save.overwrite",)

    async def save(self, state: WorkflowState) -> None:
        old = self._states.get(state.workflow_id)
        if old is not None:
            kept = {
                name: getattr(old, name)
                for name in ("result", "error")
                if getattr(state, name) is None
            }
            state = state.model_copy(update=kept)
        await super().save(state)


class DeleteMissingRaises(ContractStore):
    breaks = ("delete.missing_noop",)

    async def delete(self, workflow_id: str) -> None:
        if workflow_id not in self._states:
            raise KeyError(workflow_id)
        await super().delete(workflow_id)


class DeleteRemovesNeighbour(ContractStore):
    breaks = ("delete.only_its_id",)

    async def delete(self, workflow_id: str) -> None:
        order = list(self._states)
        if workflow_id in order and order.index(workflow_id) + 1 < len(order):
            self._states.pop(order[order.index(workflow_id) + 1])
        await super().delete(workflow_id)


class AcceptsEmptyIdOnLoad(ContractStore):
    breaks = ("input.empty_id",)

    async def load(self, workflow_id: str) -> WorkflowState | None:
        if workflow_id == "":
            return None
        return await super().load(workflow_id)


class AcceptsNulIds(ContractStore):
    """Looks ids with NUL up like any other, as most backends could."""

    breaks = ("input.nul_id",)

    async def load(self, workflow_id: str) -> WorkflowState | None:
        if isinstance(workflow_id, str) and "\x00" in workflow_id:
            return None
        return await super().load(workflow_id)


class NulIdIsAStoreError(ContractStore):
    """Refuses NUL in ids only when its backend does, with a StoreError (PostgreSQL text)."""

    breaks = ("input.nul_id",)

    async def save(self, state: WorkflowState) -> None:
        if isinstance(state.workflow_id, str) and "\x00" in state.workflow_id:
            raise StoreError("invalid byte sequence for encoding UTF8: 0x00")
        await super().save(state)


class SurrogateIdsFailToEncode(ContractStore):
    """Encodes the id to UTF-8 for its key before checking it."""

    breaks = ("input.unencodable_id",)

    async def load(self, workflow_id: str) -> WorkflowState | None:
        if isinstance(workflow_id, str):
            workflow_id.encode()
        return await super().load(workflow_id)


class AcceptsNonStringIds(ContractStore):
    breaks = ("input.non_str_id",)

    async def delete(self, workflow_id: str) -> None:
        if not isinstance(workflow_id, str):
            return
        await super().delete(workflow_id)


class RejectedSaveLosesPrevious(ContractStore):
    breaks = ("input.unserializable_payload", "input.rejected_save_keeps_previous")

    async def save(self, state: WorkflowState) -> None:
        workflow_id = getattr(state, "workflow_id", None)
        if isinstance(workflow_id, str):
            self._states.pop(workflow_id, None)
        await super().save(state)


class WritesNanAsNull(ContractStore):
    breaks = ("input.non_finite_float",)

    async def save(self, state: WorkflowState) -> None:
        def null_if_not_finite(value: Any) -> Any:
            return None if isinstance(value, float) and not math.isfinite(value) else value

        await super().save(map_payloads(state, null_if_not_finite))


class AcceptsTooDeepPayloads(ContractStore):
    """Keeps payloads nested past the limit, which a JSON store could not read back."""

    breaks = ("input.too_deep_payload",)

    async def save(self, state: WorkflowState) -> None:
        await _save_despite(self, state, "levels deep")


class AcceptsUnencodableText(ContractStore):
    """Keeps text with lone surrogates, which no UTF-8 encoding can write."""

    breaks = ("input.unencodable_text",)

    async def save(self, state: WorkflowState) -> None:
        await _save_despite(self, state, "lone surrogate")


async def _save_despite(store: ContractStore, state: WorkflowState, problem: str) -> None:
    """Save ``state`` even when the payload check refuses it for ``problem``."""
    try:
        require_state(state)
    except PayloadSerializationError as exc:
        if problem not in str(exc):
            raise
    store.check_open()
    store._states[state.workflow_id] = state.model_copy(deep=True)


# --- fidelity ----------------------------------------------------------------------


def cut_below(value: Any, levels: int) -> Any:
    """``value`` with None in place of any list or object nested deeper than ``levels``."""
    if isinstance(value, (list, dict)) and levels == 0:
        return None
    if isinstance(value, list):
        return [cut_below(item, levels - 1) for item in value]
    if isinstance(value, dict):
        return {key: cut_below(item, levels - 1) for key, item in value.items()}
    return value


class CutsDeepPayloads(ContractStore):
    """Like a serializer with a depth limit of its own that writes null beyond it."""

    breaks = ("fidelity.deepest_payload",)

    async def save(self, state: WorkflowState) -> None:
        require_state(state)
        copy = state.model_copy(deep=True)
        copy.input, copy.result = cut_below(copy.input, 140), cut_below(copy.result, 140)
        for event in copy.history:
            event.input, event.result = cut_below(event.input, 140), cut_below(event.result, 140)
            event.signal_payload = cut_below(event.signal_payload, 140)
        await super().save(copy)


class TruncatesMicroseconds(ContractStore):
    breaks = ("save.roundtrip", "fidelity.timestamps")

    async def save(self, state: WorkflowState) -> None:
        require_state(state)
        await super().save(
            map_times(state, lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))
        )


class MakesTimestampsNaive(ContractStore):
    breaks = ("save.roundtrip", "fidelity.timestamps")

    async def load(self, workflow_id: str) -> WorkflowState | None:
        loaded = await super().load(workflow_id)
        return None if loaded is None else map_times(loaded, lambda t: t.replace(tzinfo=None))


class ReturnsLocalTime(ContractStore):
    breaks = ("save.roundtrip", "fidelity.timestamps")

    async def load(self, workflow_id: str) -> WorkflowState | None:
        loaded = await super().load(workflow_id)
        zone = timezone(timedelta(hours=2))
        return None if loaded is None else map_times(loaded, lambda t: t.astimezone(zone))


class DropsAstralCharacters(ContractStore):
    """Like a MySQL utf8 (3-byte) column: characters outside the BMP are lost."""

    breaks = ("fidelity.unicode",)

    async def save(self, state: WorkflowState) -> None:
        require_state(state)

        def bmp_only(value: Any) -> Any:
            return (
                "".join(c for c in value if ord(c) <= 0xFFFF) if isinstance(value, str) else value
            )

        await super().save(map_payloads(state, bmp_only))


class NormalizesUnicode(ContractStore):
    breaks = ("fidelity.unicode",)

    async def save(self, state: WorkflowState) -> None:
        require_state(state)

        def nfc(value: Any) -> Any:
            return unicodedata.normalize("NFC", value) if isinstance(value, str) else value

        await super().save(map_payloads(state, nfc))


class IntsBecomeFloats(ContractStore):
    breaks = ("save.roundtrip", "fidelity.types")

    async def save(self, state: WorkflowState) -> None:
        require_state(state)

        def to_float(value: Any) -> Any:
            return float(value) if type(value) is int else value

        await super().save(map_payloads(state, to_float))


class BigIntsBecomeFloats(ContractStore):
    """Like a JSON library that reads every number as a double."""

    breaks = ("fidelity.numbers",)

    async def save(self, state: WorkflowState) -> None:
        require_state(state)

        def to_float(value: Any) -> Any:
            return float(value) if type(value) is int and abs(value) > 2**53 else value

        await super().save(map_payloads(state, to_float))


class LosesNegativeZero(ContractStore):
    breaks = ("fidelity.numbers",)

    async def save(self, state: WorkflowState) -> None:
        require_state(state)
        await super().save(
            map_payloads(state, lambda v: 0.0 if v == 0.0 and type(v) is float else v)
        )


class SortsHistoryById(ContractStore):
    breaks = ("fidelity.numbers", "fidelity.event_order")

    async def save(self, state: WorkflowState) -> None:
        require_state(state)
        await super().save(
            state.model_copy(update={"history": sorted(state.history, key=lambda e: e.id)})
        )


class TruncatesLargeStrings(ContractStore):
    breaks = ("fidelity.large_payload",)

    async def save(self, state: WorkflowState) -> None:
        require_state(state)
        await super().save(map_payloads(state, lambda v: v[: 2**20] if isinstance(v, str) else v))


class CapsHistory(ContractStore):
    breaks = ("fidelity.long_history",)

    async def save(self, state: WorkflowState) -> None:
        await super().save(state.model_copy(update={"history": state.history[-1000:]}))


# --- ids ---------------------------------------------------------------------------


class EncodedKeyStore(ContractStore):
    """Keys the dict by an encoding of the id; subclasses pick a lossy one."""

    def key(self, workflow_id: str) -> str:
        return workflow_id

    async def save(self, state: WorkflowState) -> None:
        require_state(state)
        self.check_open()
        self._states[self.key(state.workflow_id)] = state.model_copy(deep=True)

    async def load(self, workflow_id: str) -> WorkflowState | None:
        require_workflow_id(workflow_id)
        self.check_open()
        stored = self._states.get(self.key(workflow_id))
        return None if stored is None else stored.model_copy(deep=True)

    async def delete(self, workflow_id: str) -> None:
        require_workflow_id(workflow_id)
        self.check_open()
        self._states.pop(self.key(workflow_id), None)


class SlashBecomesUnderscore(EncodedKeyStore):
    breaks = ("ids.no_collisions",)

    def key(self, workflow_id: str) -> str:
        return workflow_id.replace("/", "_")


class StripsIds(EncodedKeyStore):
    breaks = ("ids.no_collisions",)

    def key(self, workflow_id: str) -> str:
        return workflow_id.strip() or workflow_id


class CaseInsensitiveIds(EncodedKeyStore):
    breaks = ("load.missing", "delete.only_its_id", "ids.no_collisions")

    def key(self, workflow_id: str) -> str:
        return workflow_id.lower()


class TruncatesLongIds(EncodedKeyStore):
    breaks = ("ids.no_collisions",)

    def key(self, workflow_id: str) -> str:
        return workflow_id[:255]


# --- namespaces --------------------------------------------------------------------


class JoinsNamespaceAndId(ContractStore):
    """Keys one backend by ``namespace:state:id``, so namespaces that nest share keys."""

    breaks = ("namespaces.isolated",)
    capabilities = frozenset()  # its inherited append and compare_and_save ignore the key

    backend: ClassVar[dict[str, WorkflowState]] = {}
    """The backend of the latest test: its namespace and the ones nested in it."""

    def __init__(self, namespace: str = "ns") -> None:
        super().__init__()
        self.namespace = namespace
        self._states = self.backend

    @classmethod
    def factory(cls) -> Callable[[], Awaitable[WorkflowStore]]:
        cls.backend = {}

        async def open_one() -> WorkflowStore:
            return cls()

        return open_one

    @classmethod
    def namespace_factory(cls) -> Callable[[str], Awaitable[WorkflowStore]]:
        async def open_in(suffix: str) -> WorkflowStore:
            return cls(f"ns{suffix}")

        return open_in

    @staticmethod
    def poison(store: WorkflowStore, workflow_id: str) -> None:
        """Plants the unreadable entry under the store's key for the id."""
        assert isinstance(store, JoinsNamespaceAndId)
        scratch = InMemoryStore()
        poison_in_memory(scratch, workflow_id)
        store._states[store.key(workflow_id)] = scratch._states[workflow_id]

    def key(self, workflow_id: str) -> str:
        return f"{self.namespace}:state:{workflow_id}"

    async def save(self, state: WorkflowState) -> None:
        require_state(state)
        self.check_open()
        self._states[self.key(state.workflow_id)] = state.model_copy(deep=True)

    async def load(self, workflow_id: str) -> WorkflowState | None:
        require_workflow_id(workflow_id)
        self.check_open()
        stored = self._states.get(self.key(workflow_id))
        return None if stored is None else stored.model_copy(deep=True)

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        wanted = require_filter(filter)
        self.check_open()
        start = self.key("")
        found = StateList()
        for key, state in self._states.items():
            if key.startswith(start) and wanted.status in (None, state.status):
                found.add(_renamed, state, key[len(start) :])
                if wanted.limit and len(found) >= wanted.limit:
                    break
        return found

    async def delete(self, workflow_id: str) -> None:
        require_workflow_id(workflow_id)
        self.check_open()
        self._states.pop(self.key(workflow_id), None)


def _renamed(state: WorkflowState, workflow_id: str) -> WorkflowState:
    return state.model_copy(update={"workflow_id": workflow_id}, deep=True)


# --- concurrency -------------------------------------------------------------------


class LosesConcurrentUpdates(ContractStore):
    """Rewrites the whole table on every save, reading it before an await."""

    breaks = ("concurrency.saves",)

    async def save(self, state: WorkflowState) -> None:
        require_state(state)
        self.check_open()
        table = dict(self._states)
        await asyncio.sleep(0)
        table[state.workflow_id] = state.model_copy(deep=True)
        self._states = table


class TornWrites(ContractStore):
    """Writes the scalar fields and the history in two steps."""

    breaks = ("concurrency.same_id",)

    async def save(self, state: WorkflowState) -> None:
        require_state(state)
        self.check_open()
        old = self._states.get(state.workflow_id)
        history = old.history if old is not None else []
        self._states[state.workflow_id] = state.model_copy(update={"history": history}, deep=True)
        await asyncio.sleep(0)
        self._states[state.workflow_id] = state.model_copy(deep=True)


# --- lifecycle ---------------------------------------------------------------------


class CloseNotIdempotent(ContractStore):
    breaks = ("lifecycle.close_idempotent",)

    async def close(self) -> None:
        if self._closed:
            raise StoreClosedError("already closed")
        await super().close()


class UsableAfterClose(ContractStore):
    breaks = ("lifecycle.closed_raises",)

    def check_open(self) -> None:
        pass


class AsyncWithLeavesOpen(ContractStore):
    breaks = ("lifecycle.async_with",)

    async def __aexit__(self, *exc_info: object) -> None:
        pass


# --- capabilities ------------------------------------------------------------------


class ForgetfulDurable(ContractStore):
    """Declares durable, but a new store starts empty."""

    breaks = ("durable.reopen",)
    capabilities = DEFAULT_CAPABILITIES | {Capability.DURABLE}


class ListOrderedByCreatedAtOnly(ContractStore):
    breaks = ("ordered_list.order",)
    capabilities = DEFAULT_CAPABILITIES | {Capability.ORDERED_LIST}

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        states = await super().list(filter)
        states.sort(key=lambda s: s.created_at)
        return states


class ListOrderedCaseInsensitively(ContractStore):
    """Orders ids like a locale collation would."""

    breaks = ("ordered_list.order",)
    capabilities = DEFAULT_CAPABILITIES | {Capability.ORDERED_LIST}

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        wanted = require_filter(filter)
        states = await super().list(WorkflowFilter(status=wanted.status))
        states.sort(key=lambda s: (s.created_at, s.workflow_id.lower()))
        return states[: wanted.limit] if wanted.limit else states


class CompareAndSaveNeverConflicts(ContractStore):
    breaks = ("optimistic_concurrency.conflict",)

    async def compare_and_save(self, state: WorkflowState, expected_version: int) -> int:
        require_state(state)
        stored = self._states.get(state.workflow_id)
        return await super().compare_and_save(state, 0 if stored is None else stored.version)


class RacyCompareAndSave(ContractStore):
    """Checks the version, yields, then writes: two writers can both win."""

    breaks = ("optimistic_concurrency.race",)

    async def compare_and_save(self, state: WorkflowState, expected_version: int) -> int:
        require_state(state)
        self.check_open()
        stored = self._states.get(state.workflow_id)
        if (0 if stored is None else stored.version) != expected_version:
            return await super().compare_and_save(state, expected_version)
        await asyncio.sleep(0)
        self._states[state.workflow_id] = state.model_copy(
            update={"version": expected_version + 1}, deep=True
        )
        return expected_version + 1


class AppendKeepsOldFields(ContractStore):
    """append adds the events but leaves status, result and the rest as they were."""

    breaks = ("append_history.equals_save",)

    async def append(self, state: WorkflowState, new_events: int) -> None:
        stored = self._states.get(state.workflow_id)
        if stored is None:
            await super().append(state, new_events)
            return
        history = [*stored.history, *state.history[len(state.history) - new_events :]]
        await super().save(stored.model_copy(update={"history": history}))


class AppendDuplicatesOnDivergence(ContractStore):
    """Trusts the caller's view of the history and appends blindly."""

    breaks = ("append_history.divergent_view",)

    async def append(self, state: WorkflowState, new_events: int) -> None:
        stored = self._states.get(state.workflow_id)
        if stored is None:
            await super().append(state, new_events)
            return
        require_state(state)
        new = state.history[len(state.history) - new_events :] if new_events else []
        merged = [*stored.history, *new]
        await super().save(state.model_copy(update={"history": merged}))


class AppendOverwritesOnDivergence(ContractStore):
    """Writes the caller's whole state when the stored history moved on, losing those events."""

    breaks = ("append_history.divergent_view",)

    async def append(self, state: WorkflowState, new_events: int) -> None:
        await super().save(state)


class CompareAndAppendIgnoresVersion(ContractStore):
    """Checks the history's length only, as append does, whatever version the caller read."""

    breaks = ("compare_and_append.stale_version",)

    async def compare_and_append(
        self, state: WorkflowState, new_events: int, expected_version: int
    ) -> int:
        stored = self._states.get(state.workflow_id)
        current = 0 if stored is None else stored.version
        return await super().compare_and_append(state, new_events, current)


class CompareAndAppendIgnoresLength(ContractStore):
    """Checks the version only, and writes the caller's whole state over the stored history."""

    breaks = ("compare_and_append.stale_length",)

    async def compare_and_append(
        self, state: WorkflowState, new_events: int, expected_version: int
    ) -> int:
        require_append(state, new_events)
        return await super().compare_and_save(state, expected_version)


class CompareAndAppendKeepsGivenVersion(ContractStore):
    """Stores the version the state carries, as append does, instead of expected + 1."""

    breaks = ("compare_and_append.equals_save",)

    async def compare_and_append(
        self, state: WorkflowState, new_events: int, expected_version: int
    ) -> int:
        version = await super().compare_and_append(state, new_events, expected_version)
        self._states[state.workflow_id].version = state.version
        return version


class CompareAndAppendSkipsUnchangedHead(ContractStore):
    """Answers a head-only write that changes nothing without writing: the version stays."""

    breaks = ("compare_and_append.bumps_version_on_head_only_write",)

    async def compare_and_append(
        self, state: WorkflowState, new_events: int, expected_version: int
    ) -> int:
        stored = self._states.get(state.workflow_id)
        if (
            new_events == 0
            and stored is not None
            and stored.version == expected_version
            and stored.model_copy(update={"version": state.version}) == state
        ):
            return expected_version + 1
        return await super().compare_and_append(state, new_events, expected_version)


class RacyCompareAndAppend(ContractStore):
    """Checks the version and the length, yields, then writes: two writers can both win."""

    breaks = ("compare_and_append.one_winner",)

    async def compare_and_append(
        self, state: WorkflowState, new_events: int, expected_version: int
    ) -> int:
        kept = require_append(state, new_events)
        self.check_open()
        stored = self._states.get(state.workflow_id)
        current = 0 if stored is None else stored.version
        if current != expected_version or (stored is not None and len(stored.history) != kept):
            return await super().compare_and_append(state, new_events, expected_version)
        await asyncio.sleep(0)
        self._states[state.workflow_id] = state.model_copy(
            update={"version": expected_version + 1}, deep=True
        )
        return expected_version + 1


class CompareAndAppendTakesBoolVersion(ContractStore):
    """Takes True for version 1 (a bool is an int to Python)."""

    breaks = ("compare_and_append.bad_input",)

    async def compare_and_append(
        self, state: WorkflowState, new_events: int, expected_version: int
    ) -> int:
        if isinstance(expected_version, bool):
            expected_version = int(expected_version)
        return await super().compare_and_append(state, new_events, expected_version)


class CompareAndAppendCreatesUnchecked(ContractStore):
    """Creating a state, checks only the new events, so a NaN in an older one is stored."""

    breaks = ("compare_and_append.bad_input",)

    async def compare_and_append(
        self, state: WorkflowState, new_events: int, expected_version: int
    ) -> int:
        if expected_version == 0 and state.workflow_id not in self._states:
            require_append(state, new_events)
            self._states[state.workflow_id] = state.model_copy(update={"version": 1}, deep=True)
            return 1
        return await super().compare_and_append(state, new_events, expected_version)


class WatchStartsWithMarker(ContractStore):
    """Says the subscription is live with an empty id instead of None."""

    breaks = ("watch.first_is_resync",)

    async def watch(self) -> AsyncIterator[str | None]:
        watcher = super().watch()
        await anext(watcher)
        yield ""
        async for item in watcher:
            yield item


class WatchMissesDeletes(SharedBackendStore):
    """Tells watchers of every write but a delete."""

    breaks = ("watch.sees_every_write",)

    async def delete(self, workflow_id: str) -> None:
        require_workflow_id(workflow_id)
        with self._lock:
            self.check_open()
            self._states.pop(workflow_id, None)


class WatchMissesOtherStores(SharedBackendStore):
    """Tells only the watchers of the store that wrote, not those of other stores on the backend."""

    breaks = ("watch.sees_every_write",)

    def _changed(self, workflow_id: str) -> None:
        self._watchers.notify(workflow_id)


class WatchTellsOneWatcher(ContractStore):
    """Tells only the watcher that subscribed first."""

    breaks = ("watch.many_watchers",)

    async def watch(self) -> AsyncIterator[str | None]:
        first = not getattr(self, "_watched", False)
        self._watched = True
        async for item in super().watch():
            if first or item is None:
                yield item


class WatchOutlivesClose(ContractStore):
    """Keeps its watchers waiting after close()."""

    breaks = ("watch.ends_on_close",)

    async def watch(self) -> AsyncIterator[str | None]:
        async for item in super().watch():
            yield item
        await asyncio.Event().wait()


# --- list during writes, status index, event order, reads after delete ------------------


class ListIteratesLiveState(ContractStore):
    """Walks its live dict and yields between entries, so concurrent writes break the walk."""

    breaks = ("list.during_writes",)

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        wanted = require_filter(filter)
        self.check_open()
        found = StateList()
        for stored in self._states.values():
            await asyncio.sleep(0)
            if wanted.status is None or stored.status == wanted.status:
                found.add(lambda s: s.model_copy(deep=True), stored)
        return found[: wanted.limit] if wanted.limit else found


class StatusListReadsKeysThenStates(ContractStore):
    """By status, snapshots the matching ids, then reads each across an await, unchecked."""

    breaks = ("list.status_during_writes",)

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        wanted = require_filter(filter)
        if wanted.status is None:
            return await super().list(filter)
        self.check_open()
        matching = [i for i, s in self._states.items() if s.status == wanted.status]
        found = StateList()
        for workflow_id in matching:
            await asyncio.sleep(0)
            stored = self._states.get(workflow_id)
            if stored is not None:
                found.add(lambda s: s.model_copy(deep=True), stored)
        return found[: wanted.limit] if wanted.limit else found


class StatusIndexStore(ContractStore):
    """Lists by status from an index of ids per status that its writes keep."""

    def __init__(self) -> None:
        super().__init__()
        self._index: dict[str, set[str]] = {}

    def _index_as(self, workflow_id: str, status: str) -> None:
        for members in self._index.values():
            members.discard(workflow_id)
        self._index.setdefault(status, set()).add(workflow_id)

    async def save(self, state: WorkflowState) -> None:
        await super().save(state)
        self._index_as(state.workflow_id, state.status)

    async def append(self, state: WorkflowState, new_events: int) -> None:
        await super().append(state, new_events)
        self._index_as(state.workflow_id, state.status)

    async def compare_and_save(self, state: WorkflowState, expected_version: int) -> int:
        version = await super().compare_and_save(state, expected_version)
        self._index_as(state.workflow_id, state.status)
        return version

    async def compare_and_append(
        self, state: WorkflowState, new_events: int, expected_version: int
    ) -> int:
        version = await super().compare_and_append(state, new_events, expected_version)
        self._index_as(state.workflow_id, state.status)
        return version

    async def delete(self, workflow_id: str) -> None:
        await super().delete(workflow_id)
        for members in self._index.values():
            members.discard(workflow_id)

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        wanted = require_filter(filter)
        if wanted.status is None:
            return await super().list(filter)
        self.check_open()
        members = self._index.get(wanted.status, set())
        found = StateList()
        for workflow_id, stored in self._states.items():
            if workflow_id in members:
                found.add(lambda s: s.model_copy(deep=True), stored)
        return found[: wanted.limit] if wanted.limit else found


class StatusIndexedOnFirstSave(StatusIndexStore):
    """Files an id under a status when it is first saved, and never moves it."""

    breaks = ("list.status_after_overwrite",)

    def _index_as(self, workflow_id: str, status: str) -> None:
        if not any(workflow_id in members for members in self._index.values()):
            super()._index_as(workflow_id, status)


class CompareAndSaveKeepsStatusIndex(StatusIndexStore):
    breaks = ("optimistic_concurrency.status_after_overwrite",)

    async def compare_and_save(self, state: WorkflowState, expected_version: int) -> int:
        return await ContractStore.compare_and_save(self, state, expected_version)


class AppendKeepsStatusIndex(StatusIndexStore):
    breaks = ("append_history.status_after_append",)

    async def append(self, state: WorkflowState, new_events: int) -> None:
        await ContractStore.append(self, state, new_events)


class CompareAndAppendKeepsStatusIndex(StatusIndexStore):
    breaks = ("compare_and_append.status_after_append",)

    async def compare_and_append(
        self, state: WorkflowState, new_events: int, expected_version: int
    ) -> int:
        return await ContractStore.compare_and_append(self, state, new_events, expected_version)


class SortsHistoryByTimestamp(ContractStore):
    """Hands history back sorted by timestamp (stable, so equal timestamps keep their order)."""

    breaks = ("fidelity.event_order_by_position",)

    async def load(self, workflow_id: str) -> WorkflowState | None:
        state = await super().load(workflow_id)
        if state is not None:
            state.history.sort(key=lambda event: event.timestamp)
        return state


class CachingStore(ContractStore):
    """Keeps read answers and drops them on every write (the broken ones forget delete)."""

    def __init__(self) -> None:
        super().__init__()
        self._cache: dict[object, Any] = {}

    def _forget(self) -> None:
        self._cache.clear()

    async def save(self, state: WorkflowState) -> None:
        await super().save(state)
        self._forget()

    async def append(self, state: WorkflowState, new_events: int) -> None:
        await super().append(state, new_events)
        self._forget()

    async def compare_and_save(self, state: WorkflowState, expected_version: int) -> int:
        version = await super().compare_and_save(state, expected_version)
        self._forget()
        return version

    async def compare_and_append(
        self, state: WorkflowState, new_events: int, expected_version: int
    ) -> int:
        version = await super().compare_and_append(state, new_events, expected_version)
        self._forget()
        return version


class LoadCacheSurvivesDelete(CachingStore):
    """Caches what load returned and does not drop it on delete."""

    breaks = ("delete.removes",)

    async def load(self, workflow_id: str) -> WorkflowState | None:
        self.check_open()
        cached = self._cache.get(workflow_id)
        if cached is not None:
            return cached.model_copy(deep=True)  # type: ignore[no-any-return]
        state = await super().load(workflow_id)
        if state is not None:
            self._cache[workflow_id] = state.model_copy(deep=True)
        return state


class LimitedListCacheSurvivesDelete(CachingStore):
    """Caches list answers with a limit and does not drop them on delete."""

    breaks = ("delete.removes",)

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        wanted = require_filter(filter)
        self.check_open()
        if not wanted.limit:
            return await super().list(filter)
        key = (wanted.status, wanted.limit)
        if key not in self._cache:
            self._cache[key] = await super().list(filter)
        return [s.model_copy(deep=True) for s in self._cache[key]]


def _all_subclasses(cls: type[ContractStore]) -> list[type[ContractStore]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_all_subclasses(sub)]
    return found


BROKEN_STORES: list[type[ContractStore]] = [c for c in _all_subclasses(ContractStore) if c.breaks]
"""Every broken store defined above."""

CORRECT_STORES: list[type[ContractStore]] = [ContractStore, SharedBackendStore]
