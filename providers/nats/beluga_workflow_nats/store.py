"""The NATS JetStream KV store: a small meta record per workflow, the state in chunks.

Buckets: ``<bucket>-meta`` holds one small JSON record per workflow (its id,
status, creation time, version, history length and where its data is);
``<bucket>-data`` holds the state: the head (every field but the history) in
parts of at most one message each, and the history as a series of fragments,
one per write. Writing the meta record is the commit point, so a reader sees
the old or the new state, never a mix, and data written by a failed call is
invisible.

KV keys allow only ``[-/_=.A-Za-z0-9]``: an id becomes ``i`` + its UTF-8 in
unpadded base64url (reversible, so ids never collide), or, when that would
make the key longer than 200 characters, ``h`` + its SHA-256 (the id itself is
kept in the meta record).

A workflow step writes the new head part, one fragment with the new events,
and the meta record (compare-and-set on its revision): its cost does not grow
with the history. Listing reads every meta record (the KV has no secondary
index) and loads only the states that match.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self, TypeVar

import nats
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from beluga_workflow.chunked import CommitRecord, history_text, split
from beluga_workflow.codec import encode_head
from beluga_workflow.errors import (
    ConcurrencyConflictError,
    CorruptStateError,
    InvalidArgumentError,
    StoreClosedError,
    StoreError,
    StoreUnavailableError,
)
from beluga_workflow.models import WorkflowFilter, WorkflowState
from beluga_workflow.validation import (
    require_append,
    require_filter,
    require_state,
    require_workflow_id,
)
from beluga_workflow_nats.config import NatsConfig

__all__ = ["NatsStore", "create_store"]

T = TypeVar("T")
_States = list[WorkflowState]
_MAX_PLAIN_KEY = 200
_READ_ATTEMPTS = 5


def create_store(config: NatsConfig) -> NatsStore:
    """Factory named by the plugin's ``StoreProvider`` record."""
    return NatsStore(config)


def key_of(workflow_id: str) -> str:
    """The KV key of a workflow id: reversible base64url, or a hash for very long ids."""
    encoded = base64.urlsafe_b64encode(workflow_id.encode()).decode().rstrip("=")
    if len(encoded) < _MAX_PLAIN_KEY:
        return "i" + encoded
    return "h" + hashlib.sha256(workflow_id.encode()).hexdigest()


_Records = list[CommitRecord]


class NatsStore:
    """A :class:`~beluga_workflow.WorkflowStore` on NATS JetStream key-value buckets.

    Also implements ``append`` and ``compare_and_save`` (on the meta record's
    revision). ``list`` is ordered by ``created_at`` then id.
    """

    def __init__(self, config: NatsConfig | str | None = None, **options: Any) -> None:
        if config is None or isinstance(config, str):
            settings = dict(options)
            if config is not None:
                settings["url"] = config
            config = NatsConfig(**settings)
        elif options:
            raise InvalidArgumentError("give NatsStore a config, or a URL with options")
        self.config = config
        self._client: Client | None = None
        self._js: JetStreamContext | None = None
        self._meta: KeyValue | None = None
        self._data: KeyValue | None = None
        self._chunk = 256 * 1024
        self._open_lock: asyncio.Lock | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"NatsStore(url={self.config.address!r}, bucket={self.config.bucket!r})"

    # --- the store protocol ---------------------------------------------------

    async def save(self, state: WorkflowState) -> None:
        require_state(state)
        await self._call(lambda: self._write_whole(state, expected=None))

    async def load(self, workflow_id: str) -> WorkflowState | None:
        require_workflow_id(workflow_id)
        return await self._call(lambda: self._load(workflow_id))

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        wanted = require_filter(filter)

        async def fetch() -> _States:
            metas = await self._all_meta()
            if wanted.status is not None:
                metas = [m for m in metas if m.status == wanted.status.value]
            metas.sort(key=lambda m: (m.created, m.id))
            states: _States = []
            for meta in metas:
                state = await self._load(meta.id)
                if state is not None and (wanted.status is None or state.status == wanted.status):
                    states.append(state)
                    if wanted.limit and len(states) >= wanted.limit:
                        break
            return states

        return await self._call(fetch)

    async def delete(self, workflow_id: str) -> None:
        require_workflow_id(workflow_id)

        async def delete() -> None:
            meta_kv, _ = await self._buckets()
            key = key_of(workflow_id)
            await meta_kv.purge(key)
            await self._purge(f"{key}.>")

        await self._call(delete)

    async def append(self, state: WorkflowState, new_events: int) -> None:
        kept = require_append(state, new_events)

        async def append() -> None:
            found = await self._get_meta(state.workflow_id)
            if found is None:
                require_state(state)
                await self._write_whole(state, expected=0, conflict_on_exists=True, kept=kept)
                return
            stored, revision = found
            if stored.n != kept:
                raise self._conflict(
                    state.workflow_id, f"it has {stored.n} stored events, not {kept}"
                )
            key = key_of(state.workflow_id)
            meta = stored.next_step(state)
            await self._put_parts(key, meta, state, first_event=kept)
            meta_kv, _ = await self._buckets()
            try:
                await meta_kv.update(key, meta.encode(), last=revision)
            except KeyWrongLastSequenceError as exc:
                raise self._conflict(state.workflow_id, "another writer moved it on") from exc
            await self._purge(f"{key}.{meta.gen}.h{stored.head}.>")

        await self._call(append)

    async def compare_and_save(self, state: WorkflowState, expected_version: int) -> int:
        if isinstance(expected_version, bool) or not isinstance(expected_version, int):
            raise InvalidArgumentError(f"expected_version must be an int, got {expected_version!r}")
        require_state(state)
        stored = state.model_copy(update={"version": expected_version + 1})
        await self._call(lambda: self._write_whole(stored, expected=expected_version))
        return expected_version + 1

    async def close(self) -> None:
        self._closed = True
        client, self._client = self._client, None
        self._js = self._meta = self._data = None
        if client is not None and not client.is_closed:
            await client.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- reading and writing --------------------------------------------------

    async def _write_whole(
        self,
        state: WorkflowState,
        *,
        expected: int | None,
        conflict_on_exists: bool = False,
        kept: int = 0,
    ) -> None:
        """Write a new generation of the state, then commit it in the meta record.

        ``expected`` is the version the stored state must have (0: none stored);
        ``None`` overwrites whatever is there.
        """
        meta_kv, _ = await self._buckets()
        key = key_of(state.workflow_id)
        found = await self._get_meta(state.workflow_id)
        if expected is not None:
            current = 0 if found is None else found[0].version
            if found is not None and conflict_on_exists:
                raise self._conflict(state.workflow_id, f"it has stored events, not {kept}")
            if current != expected:
                raise self._conflict(
                    state.workflow_id, f"it is at version {current}, not {expected}"
                )
        meta = CommitRecord.first(state)
        gen = meta.gen
        await self._put_parts(key, meta, state, first_event=0)
        try:
            if expected is None:
                await meta_kv.put(key, meta.encode())
            elif found is None:
                await meta_kv.create(key, meta.encode())
            else:
                await meta_kv.update(key, meta.encode(), last=found[1])
        except KeyWrongLastSequenceError as exc:
            await self._purge(f"{key}.{gen}.>")
            raise self._conflict(state.workflow_id, "another writer saved it first") from exc
        if found is not None and found[0].gen != gen:
            await self._purge(f"{key}.{found[0].gen}.>")

    async def _load(self, workflow_id: str) -> WorkflowState | None:
        key = key_of(workflow_id)
        for _ in range(_READ_ATTEMPTS):
            found = await self._get_meta(workflow_id)
            if found is None:
                return None
            meta = found[0]
            prefix = f"{key}.{meta.gen}"
            try:
                head = [
                    await self._get_data(f"{prefix}.{meta.head_part(i)}")
                    for i in range(meta.head_parts)
                ]
                events = [
                    await self._get_data(f"{prefix}.{meta.fragment(j)}") for j in range(meta.frags)
                ]
            except KeyNotFoundError:
                continue  # a writer replaced the generation we were reading: read again
            return meta.assemble(head, events)
        raise StoreError(f"nats store: {workflow_id!r} kept changing while it was read")

    async def _get_meta(self, workflow_id: str) -> tuple[CommitRecord, int] | None:
        meta_kv, _ = await self._buckets()
        try:
            entry = await meta_kv.get(key_of(workflow_id))
        except KeyNotFoundError:
            return None
        if entry.value is None or entry.revision is None:
            return None
        meta = CommitRecord.decode(entry.value, workflow_id)
        if meta.id != workflow_id:  # a hashed key shared by two ids: never silently mixed
            raise CorruptStateError(workflow_id, f"its key holds workflow {meta.id!r}")
        return meta, entry.revision

    async def _all_meta(self) -> _Records:
        meta_kv, _ = await self._buckets()
        try:
            keys = await meta_kv.keys()
        except nats.js.errors.NoKeysError:
            return []
        metas: _Records = []
        for key in keys:
            try:
                entry = await meta_kv.get(key)
            except KeyNotFoundError:
                continue  # deleted since it was listed
            if entry.value:
                metas.append(CommitRecord.decode(entry.value, key))
        return metas

    async def _get_data(self, key: str) -> bytes:
        entry = await self._data_kv().get(key)
        return entry.value or b""

    async def _put_parts(
        self, key: str, meta: CommitRecord, state: WorkflowState, *, first_event: int
    ) -> None:
        """Write the head and the events from ``first_event`` on; count them in ``meta``."""
        prefix = f"{key}.{meta.gen}"
        head = split(encode_head(state), self._chunk) or [b""]
        for index, chunk in enumerate(head):
            await self._data_kv().put(f"{prefix}.{meta.head_part(index)}", chunk)
        meta.head_parts = len(head)
        for chunk in split(history_text(state, first_event), self._chunk):
            await self._data_kv().put(f"{prefix}.{meta.fragment(meta.frags)}", chunk)
            meta.frags += 1

    async def _purge(self, subject_tail: str) -> None:
        """Remove data keys matching ``subject_tail`` in one stream purge."""
        js = self._js
        if js is None:
            return
        bucket = f"{self.config.bucket}-data"
        await js.purge_stream(f"KV_{bucket}", subject=f"$KV.{bucket}.{subject_tail}")

    def _conflict(self, workflow_id: str, why: str) -> ConcurrencyConflictError:
        return ConcurrencyConflictError(f"workflow {workflow_id!r} changed: {why}")

    # --- connection -----------------------------------------------------------

    def _data_kv(self) -> KeyValue:
        assert self._data is not None
        return self._data

    async def _buckets(self) -> tuple[KeyValue, KeyValue]:
        if self._meta is not None and self._data is not None:
            return self._meta, self._data
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if self._meta is None or self._data is None:
                client = await nats.connect(
                    self.config.url,
                    connect_timeout=self.config.connect_timeout,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.2,
                    error_cb=_quiet,
                    disconnected_cb=_quiet_event,
                    reconnected_cb=_quiet_event,
                )
                self._client = client
                self._chunk = max(4096, min(256 * 1024, client.max_payload - 16 * 1024))
                js = client.jetstream(timeout=self.config.operation_timeout)
                self._js = js
                self._meta = await self._bucket(js, f"{self.config.bucket}-meta")
                self._data = await self._bucket(js, f"{self.config.bucket}-data")
        return self._meta, self._data

    async def _bucket(self, js: JetStreamContext, name: str) -> KeyValue:
        try:
            return await js.key_value(name)
        except BucketNotFoundError:
            return await js.create_key_value(
                bucket=name,
                history=1,
                storage=self.config.storage,
                replicas=self.config.replicas,
            )

    async def _call(self, work: Callable[[], Awaitable[T]]) -> T:
        if self._closed:
            raise StoreClosedError(f"nats store {self.config.address} is closed")
        try:
            async with asyncio.timeout(self.config.operation_timeout):
                return await work()
        except (TimeoutError, OSError, NatsError) as exc:
            if isinstance(exc, (ConcurrencyConflictError, StoreError)):
                raise
            if self._closed:
                raise StoreClosedError(f"nats store {self.config.address} is closed") from exc
            text = str(exc).strip() or type(exc).__name__
            raise StoreUnavailableError(
                f"nats store at {self.config.address} is unavailable "
                f"(gave up within {self.config.operation_timeout:g}s): {text.splitlines()[0]}"
            ) from exc


async def _quiet(error: Exception) -> None:
    """Connection errors surface through the store's calls; no log noise here."""


async def _quiet_event() -> None:
    return None
