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
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any, Self, TypeVar

import nats
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from beluga_workflow.codec import decode_state_parts, encode_head
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
_Chunks = list[bytes]
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


@dataclass
class _Meta:
    """The commit record of one workflow."""

    id: str
    status: str
    created: str
    version: int
    n: int
    gen: str
    head: int
    head_parts: int
    frags: int

    def encode(self) -> bytes:
        return json.dumps(asdict(self)).encode()


_MetaList = list[_Meta]


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
            meta, revision = found
            if meta.n != kept:
                raise self._conflict(
                    state.workflow_id, f"it has {meta.n} stored events, not {kept}"
                )
            key = key_of(state.workflow_id)
            history = state.history
            events = ",".join(history[i].model_dump_json() for i in range(kept, len(history)))
            if events and kept:
                events = "," + events
            old_head = meta.head
            meta.head += 1
            meta.head_parts = await self._put_chunks(
                f"{key}.{meta.gen}.h{meta.head}", encode_head(state)
            )
            for part in self._split(events):
                await self._data_kv().put(f"{key}.{meta.gen}.e{meta.frags}", part)
                meta.frags += 1
            meta.status = state.status.value
            meta.created = _created(state)
            meta.version = state.version
            meta.n = len(history)
            meta_kv, _ = await self._buckets()
            try:
                await meta_kv.update(key, meta.encode(), last=revision)
            except KeyWrongLastSequenceError as exc:
                raise self._conflict(state.workflow_id, "another writer moved it on") from exc
            await self._purge(f"{key}.{meta.gen}.h{old_head}.>")

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
        gen = uuid.uuid4().hex[:12]
        head_parts = await self._put_chunks(f"{key}.{gen}.h0", encode_head(state))
        events = ",".join(event.model_dump_json() for event in state.history)
        frags = 0
        for part in self._split(events):
            await self._data_kv().put(f"{key}.{gen}.e{frags}", part)
            frags += 1
        meta = _Meta(
            id=state.workflow_id,
            status=state.status.value,
            created=_created(state),
            version=state.version,
            n=len(state.history),
            gen=gen,
            head=0,
            head_parts=head_parts,
            frags=frags,
        )
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
            try:
                head = "".join(
                    [
                        await self._get_data(f"{key}.{meta.gen}.h{meta.head}.{i}")
                        for i in range(meta.head_parts)
                    ]
                )
                events = [await self._get_data(f"{key}.{meta.gen}.e{j}") for j in range(meta.frags)]
            except KeyNotFoundError:
                continue  # a writer replaced the generation we were reading: read again
            return decode_state_parts(head, ["".join(events)] if events else [], workflow_id)
        raise StoreError(f"nats store: {workflow_id!r} kept changing while it was read")

    async def _get_meta(self, workflow_id: str) -> tuple[_Meta, int] | None:
        meta_kv, _ = await self._buckets()
        try:
            entry = await meta_kv.get(key_of(workflow_id))
        except KeyNotFoundError:
            return None
        if entry.value is None or entry.revision is None:
            return None
        meta = _decode_meta(entry.value, workflow_id)
        if meta.id != workflow_id:  # a hashed key shared by two ids: never silently mixed
            raise CorruptStateError(workflow_id, f"its key holds workflow {meta.id!r}")
        return meta, entry.revision

    async def _all_meta(self) -> _MetaList:
        meta_kv, _ = await self._buckets()
        try:
            keys = await meta_kv.keys()
        except nats.js.errors.NoKeysError:
            return []
        metas: _MetaList = []
        for key in keys:
            try:
                entry = await meta_kv.get(key)
            except KeyNotFoundError:
                continue  # deleted since it was listed
            if entry.value:
                metas.append(_decode_meta(entry.value, key))
        return metas

    async def _get_data(self, key: str) -> str:
        entry = await self._data_kv().get(key)
        return (entry.value or b"").decode()

    async def _put_chunks(self, prefix: str, text: str) -> int:
        parts = self._split(text) or [b""]
        for index, part in enumerate(parts):
            await self._data_kv().put(f"{prefix}.{index}", part)
        return len(parts)

    def _split(self, text: str) -> _Chunks:
        data = text.encode()
        return [data[i : i + self._chunk] for i in range(0, len(data), self._chunk)]

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


def _created(state: WorkflowState) -> str:
    return state.created_at.isoformat(timespec="microseconds")


def _decode_meta(raw: bytes, where: str) -> _Meta:
    try:
        return _Meta(**json.loads(raw))
    except (ValueError, TypeError) as exc:
        raise CorruptStateError(where, f"unreadable meta record: {exc}") from exc


async def _quiet(error: Exception) -> None:
    """Connection errors surface through the store's calls; no log noise here."""


async def _quiet_event() -> None:
    return None
