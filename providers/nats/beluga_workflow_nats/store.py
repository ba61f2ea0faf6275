"""The NATS JetStream KV store: a meta record per workflow, its history in chunks.

Buckets: ``<bucket>-meta`` holds one record per workflow: a small JSON line
(its id, status, creation time, version, history length and where its data
is) followed, when it fits in one message, by the head (every field but the
history). ``<bucket>-data`` holds the history as a series of fragments, one
per write, and the head in parts of at most one message when it is too big to
ride in the meta record. Writing the meta record is the commit point, so a
reader sees the old or the new state, never a mix, and data written by a
failed call is invisible.

KV keys allow only ``[-/_=.A-Za-z0-9]``: an id becomes ``i`` + its UTF-8 in
unpadded base64url (reversible, so ids never collide), or, when that would
make the key longer than 200 characters, ``h`` + its SHA-256 (the id itself is
kept in the meta record).

A workflow step creates one fragment with the new events under a key named by
its position (one never committed before), then writes the meta record with
the new head (compare-and-set on its revision): two round trips, no purge, and
a cost that does not grow with the history. The last meta record this store
wrote or read for a workflow is remembered, so a step need not read it first
(a signal's step right after its load, say); the compare-and-set catches a
stale one. ``compare_and_append`` is the same step
on a record found at the expected version and length, and the record it
writes has the next version: the compare-and-set on the revision makes the
check and the write one atomic step, so of racing writers at most one lands,
head-only writes included.

A load reads the meta record, then only the fragments this store has not
read or written before in that generation (:mod:`beluga_workflow_nats.fragments`):
reading a run back after a signal costs two round trips, however long its
history.

A whole write (``save``, ``compare_and_save``) of a workflow this store last
wrote or read, with the same status and creation time, keeps the index entry
that record noted and commits by compare-and-set on the remembered revision:
one round trip when the state fits in its meta record (see ``_rewrite``).

Data keys are created, never blindly overwritten: a chunk a meta record
points at is never changed while it does. A key already taken at a position
the step wants (left by a crashed writer, or by a racing one) is reclaimed only
after rewriting the meta record unchanged, which makes any other writer's
pending commit fail. The meta record also notes the highest data-stream
sequence it relies on; a reader treats a newer chunk as replaced and reads
again. Stale chunks are thus never read as live data; they are removed when a
``save`` replaces the generation, or by ``delete``.

Every call runs under one bound, ``operation_timeout``. The client
reconnects by itself every 0.2 s; a call made while it is cut off waits for
it, and gives up at once when an attempt to reconnect fails, as does a call
in flight when the connection drops.

Listing by status reads a status index, ``<bucket>-status``: one small key
``<status>.<key>`` (the id and creation time) per workflow and status it
has. A write that gives a workflow a status first creates its entry anew,
and notes the entry's revision (``ix``) in the meta record it commits; once
committed it removes the entry of the status it replaced, on condition that
the entry still has the revision that record noted (so an entry another
writer made since is never removed). An entry thus exists whenever a record
has its status; an extra one (a write that lost its compare-and-set) is
skipped, as every listed state's status is checked again. A list by status
with a limit reads the front page of that status (one key: its first entries
in list order, see :mod:`beluga_workflow_nats.front`) and loads states until
it has ``limit``; only when the page runs short does it read every entry of
that status, sort them by creation time and id, and rebuild the page. Records
of the earlier layout are indexed when the index bucket is created. Listing
everything reads every meta record by a scan of the meta stream.

``delete`` removes the meta record it read (compare-and-set on its revision),
then that record's index entry and the data of its generation only: a save
racing it keeps its own entry and data, so its state, if it lands after the
delete, is listed and whole.

``watch`` follows the meta stream from its end with an ordered consumer:
every commit (and every delete's purge) is a message on it, so a notice
cannot be lost between a write and its publication, and the consumer resumes
after the last message it saw when it detects a gap.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, TypeVar, cast

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import (
    APIError,
    BucketNotFoundError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
)
from nats.js.errors import NotFoundError as NatsNotFoundError
from nats.js.kv import KeyValue

from beluga_workflow.bounded import ANSWER, ConnectWatch, set_stage
from beluga_workflow.errors import ConcurrencyConflictError, CorruptStateError, StoreError
from beluga_workflow.listing import StateList
from beluga_workflow.models import HistoryEvent, WorkflowFilter, WorkflowState
from beluga_workflow.storekit.base import ServerStore
from beluga_workflow.storekit.checks import (
    require_append,
    require_filter,
    require_state,
    require_step,
    require_version_number,
    require_workflow_id,
)
from beluga_workflow.storekit.chunking import CommitRecord, history_text, split
from beluga_workflow.storekit.conflicts import history_conflict
from beluga_workflow.storekit.records import encode_head
from beluga_workflow_nats import front
from beluga_workflow_nats.changes import Inbox
from beluga_workflow_nats.config import NatsConfig
from beluga_workflow_nats.fragments import Fragments
from beluga_workflow_nats.front import FrontPages

__all__ = ["NatsStore", "create_store"]

T = TypeVar("T")
U = TypeVar("U")
_States = list[WorkflowState]
_MAX_PLAIN_KEY = 200
_READ_ATTEMPTS = 50
"""Tries of a read whose data a racing writer replaced meanwhile (a short random pause between)."""
_STEP_ATTEMPTS = 5
"""Tries of a conditional step whose record only had its revision moved by racing steps."""
_READ_BATCH = 64
"""Data keys read at once when loading a state."""
_KNOWN = 4096
"""Meta records remembered (per store) so that a step need not read its record first."""
_SCAN_BATCH = 1024
"""Index entries asked for at once when listing by status."""
_IDLE_CONSUMER = 30.0
"""Seconds after which the server removes a listing's consumer that its store left behind."""
_WRONG_LAST_SEQUENCE = 10071
"""The server's error code for a conditional write that found another revision."""
_SEQ_ROOM = 32
"""Bytes kept free in an inline meta record for the data sequence and index revision."""


def create_store(config: NatsConfig) -> NatsStore:
    """Factory named by the plugin's ``StoreProvider`` record."""
    return NatsStore(config)


def key_of(workflow_id: str) -> str:
    """The KV key of a workflow id: reversible base64url, or a hash for very long ids."""
    encoded = base64.urlsafe_b64encode(workflow_id.encode()).decode().rstrip("=")
    if len(encoded) < _MAX_PLAIN_KEY:
        return "i" + encoded
    return "h" + hashlib.sha256(workflow_id.encode()).hexdigest()


def id_of(key: str) -> str:
    """The workflow id a KV key names, or the key itself when it is a hash (or not a key)."""
    if key.startswith("i"):
        with contextlib.suppress(ValueError):
            encoded = key[1:]
            return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    return key


@dataclass
class Commit(CommitRecord):
    """A :class:`CommitRecord` plus ``seq``: the highest data-stream sequence it relies on.

    Every chunk the record points at was written before it was committed, so
    has a sequence of at most ``seq``; a chunk found with a higher one was
    written after the commit (its key removed by a later write, then taken
    again by a stale writer) and is not part of this state. ``seq`` 0 (a
    record of the earlier layout, or one with no data yet) is not checked.
    """

    seq: int = 0
    ix: int = 0
    """The revision of the status index entry this record relies on; 0: none noted."""

    @classmethod
    def new(cls, state: WorkflowState) -> Commit:
        return cls(**vars(CommitRecord.first(state)))

    @classmethod
    def read(cls, raw: bytes, where: str) -> tuple[Commit, bytes]:
        """The record in a stored meta value, and the head that follows it (or ``b""``)."""
        line, _, head = raw.partition(b"\n")
        return cast(Commit, cls.decode(line, where)), head

    def after(self, step: Commit) -> Commit:
        """This record moved on by a step to the state ``step`` describes: a new head."""
        return replace(
            self,
            status=step.status,
            created=step.created,
            version=step.version,
            n=step.n,
            head=self.head + 1,
            head_parts=0,
        )

    def value(self, head: bytes | None) -> bytes:
        """The meta value: the JSON line, then the head when it is kept inline."""
        return self.encode() if head is None else self.encode() + b"\n" + head


@dataclass(frozen=True)
class _Parts:
    """What a write stores, taken from the state when the call is made.

    The write goes on after awaits (connecting, reading the meta record), when
    the caller may have changed the state or moved on, so nothing is read from
    the state then but the events before ``kept``, for the rare whole write of
    a state found not stored: they are the stored ones (the caller says so),
    which nobody changes.
    """

    record: Commit
    """The state's status, creation time, version and length, in a new generation."""
    head: bytes
    kept: int
    tail: str
    """The events from ``kept`` on, as history text."""
    history: list[HistoryEvent]

    @classmethod
    def of(cls, state: WorkflowState, kept: int = 0) -> _Parts:
        head = encode_head(state).encode()
        return cls(Commit.new(state), head, kept, history_text(state, kept), state.history)

    def all_events(self) -> str:
        """The whole history text: the events before ``kept`` encoded now, then the tail."""
        earlier = ",".join(self.history[i].model_dump_json() for i in range(self.kept))
        return earlier + self.tail


_Known = tuple[Commit, int]
_Writes = list[tuple[str, bytes]]
"""Data keys and the chunks to write under them."""
_Commits = list[Commit]
_Found = list[tuple[str, str, int]]
"""Creation time, id and index entry revision of workflows to list, sortable."""
_Chunks = list[bytes]
_Seqs = list[int]
_Ids = list[str]


class NatsStore(ServerStore[NatsConfig]):
    """A :class:`~beluga_workflow.WorkflowStore` on NATS JetStream key-value buckets.

    Also implements ``append``, ``compare_and_save`` and ``compare_and_append``
    (each by compare-and-set on the meta record's revision). ``list`` is
    ordered by ``created_at`` then id.
    """

    provider = "nats"
    config_model = NatsConfig
    library_loggers: ClassVar[tuple[str, ...]] = ("nats",)

    def __init__(self, config: NatsConfig | str | None = None, **options: Any) -> None:
        super().__init__(config, **options)
        self._client: Client | None = None
        self._js: JetStreamContext | None = None
        self._meta: KeyValue | None = None
        self._data: KeyValue | None = None
        self._index: KeyValue | None = None
        self._front: FrontPages | None = None
        self._chunk = 256 * 1024
        self._open_lock: asyncio.Lock | None = None
        self._known: dict[str, _Known] = {}
        self._fragments = Fragments()
        self._watch = ConnectWatch()
        self._connected: asyncio.Event | None = None
        self._watchers: set[Inbox] = set()

    # --- the store protocol ---------------------------------------------------

    async def save(self, state: WorkflowState) -> None:
        require_state(state)
        parts = _Parts.of(state)
        await self._call("save", lambda: self._write_whole(parts, expected=None))

    async def load(self, workflow_id: str) -> WorkflowState | None:
        require_workflow_id(workflow_id)
        return await self._call("load", lambda: self._load(workflow_id))

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        wanted = require_filter(filter)

        async def fetch() -> _States:
            await self._buckets()
            states = StateList()
            if wanted.status is None:
                ordered = sorted((m.created, m.id) for m in await self._all_meta(states))
                await self._load_listed([i for _, i in ordered], wanted, states)
                return states
            status = wanted.status.value
            page = await self._front_pages().read(status)
            if page is not None and (page.bound is None or 0 < wanted.limit <= len(page.entries)):
                await self._load_listed(page.ordered(), wanted, states)
                if page.bound is None or len(states) >= wanted.limit:
                    return states
                states = StateList()  # the page ran short: read the whole index
            # Rebuilt when it cannot be used or ran short, not for more than it can hold.
            rebuild = page is None or 0 < wanted.limit <= front.CAPACITY
            await self._load_listed(await self._indexed(status, rebuild), wanted, states)
            return states

        return await self._call("list", fetch)

    async def delete(self, workflow_id: str) -> None:
        require_workflow_id(workflow_id)

        async def delete() -> None:
            self._known.pop(workflow_id, None)
            self._fragments.forget(workflow_id)
            meta_kv, _ = await self._buckets()
            key = key_of(workflow_id)
            for attempt in range(_STEP_ATTEMPTS):
                try:
                    found = await self._get_meta(workflow_id)
                except CorruptStateError:
                    await self._delete_unreadable(key)
                    return
                if found is None:
                    return
                stored, revision, _ = found
                # Only the record read is deleted, so only its entry and data are
                # removed: a racing save's are its own, and stay with its commit.
                try:
                    if attempt < _STEP_ATTEMPTS - 1:
                        await meta_kv.delete(key, last=revision)
                    else:  # racing writers kept winning: delete whatever is there
                        await meta_kv.purge(key)
                except APIError as refused:
                    if refused.err_code != _WRONG_LAST_SEQUENCE:
                        raise
                    continue  # written meanwhile: delete what is there now
                await self._unindex(key, stored, None)
                if stored.frags + stored.head_parts:
                    await self._purge(f"{key}.{stored.gen}.>")
                return

        await self._call("delete", delete)

    async def append(self, state: WorkflowState, new_events: int) -> None:
        kept = require_append(state, new_events)
        parts = _Parts.of(state, kept)
        workflow_id = state.workflow_id

        async def append() -> None:
            key = key_of(workflow_id)
            known = self._known.pop(workflow_id, None)
            # What this store last wrote is tried first; the compare-and-set
            # on its revision fails if anyone wrote since.
            if known is not None and known[0].n == kept and await self._step(key, *known, parts):
                return
            found = await self._get_meta(workflow_id)
            if found is None:
                require_state(state)
                await self._write_whole(parts, expected=0, conflict_on_exists=True, kept=kept)
                return
            stored, revision, _ = found
            if stored.n != kept:
                raise history_conflict(workflow_id, kept, stored.n)
            if not await self._step(key, stored, revision, parts):
                raise self._conflict(workflow_id, "another writer moved it on")

        await self._call("append", append)

    async def compare_and_save(self, state: WorkflowState, expected_version: int) -> int:
        require_version_number(expected_version)
        require_state(state)
        parts = _Parts.of(state.model_copy(update={"version": expected_version + 1}))
        await self._call(
            "compare_and_save", lambda: self._write_whole(parts, expected=expected_version)
        )
        return expected_version + 1

    async def compare_and_append(
        self, state: WorkflowState, new_events: int, expected_version: int
    ) -> int:
        kept, versioned = require_step(state, new_events, expected_version)
        expected = expected_version
        parts = _Parts.of(versioned, kept)
        workflow_id = state.workflow_id

        async def compare_and_append() -> None:
            key = key_of(workflow_id)
            known = self._known.pop(workflow_id, None)
            if (
                known is not None
                and (known[0].version, known[0].n) == (expected, kept)
                and await self._step(key, *known, parts)
            ):
                return
            for _ in range(_STEP_ATTEMPTS):
                found = await self._get_meta(workflow_id)
                if found is None:
                    if expected != 0:
                        raise self._conflict(workflow_id, f"nothing is stored, not {expected}")
                    require_state(versioned)
                    await self._write_whole(parts, expected=0, conflict_on_exists=True, kept=kept)
                    return
                stored, revision, _ = found
                if (stored.version, stored.n) != (expected, kept):
                    raise self._conflict(
                        workflow_id,
                        f"it is at version {stored.version} with {stored.n} stored events, "
                        f"not {expected} with {kept}",
                    )
                if await self._step(key, stored, revision, parts):
                    return
                # Only its revision moved (a racing step took a data key back
                # by rewriting it unchanged): the condition still holds.
            raise self._conflict(workflow_id, "racing writers kept rewriting it")

        await self._call("compare_and_append", compare_and_append)
        return expected + 1

    async def watch(self) -> AsyncIterator[str | None]:
        """Yield the id of each state written from now on (see ``SupportsWatch``).

        An ordered consumer on the meta stream, delivering only what is
        committed after it was created; ``None`` comes first, and again after
        the client reconnected (the consumer catches up by itself, but the
        caller is told to read again) or when this watcher fell behind. A
        delete of an id too long for a reversible key is reported as ``None``
        unless this watcher saw that id written before.
        """
        inbox = Inbox()
        self._watchers.add(inbox)
        try:
            subscription = await self._call("watch", lambda: self._follow_meta(inbox))
        except BaseException:
            self._watchers.discard(inbox)
            raise
        try:
            while True:
                more, notice = await inbox.get()
                if not more:
                    return
                yield notice
        finally:
            self._watchers.discard(inbox)
            await self._unfollow(subscription)

    async def release(self) -> None:
        for inbox in self._watchers:
            inbox.end()
        self._known.clear()
        self._fragments.clear()
        client, self._client = self._client, None
        self._js = self._meta = self._data = self._index = None
        self._front = None
        if client is not None and not client.is_closed:
            await client.close()

    # --- writing --------------------------------------------------------------

    async def _write_whole(
        self,
        parts: _Parts,
        *,
        expected: int | None,
        conflict_on_exists: bool = False,
        kept: int = 0,
    ) -> None:
        """Write a new generation of the state, then commit it in the meta record.

        ``expected`` is the version the stored state must have (0: none stored);
        ``None`` overwrites whatever is there.
        """
        meta_kv, data_kv = await self._buckets()
        workflow_id = parts.record.id
        known = self._known.pop(workflow_id, None)
        self._fragments.forget(workflow_id)
        key = key_of(workflow_id)
        if (
            known is not None
            and _entry_holds(known[0], parts.record, expected, conflict_on_exists)
            and await self._rewrite(key, *known, parts)
        ):
            return
        # The index entry is made anew, while the record is read: one an
        # unconditional save reused could be removed by a writer that replaced a
        # record relying on it. A write refused below leaves it as an extra one.
        found, ix = await _gather_two(self._get_meta(workflow_id), self._entry(parts.record))
        if expected is not None:
            current = 0 if found is None else found[0].version
            if found is not None and conflict_on_exists:
                raise self._conflict(workflow_id, f"it has stored events, not {kept}")
            if current != expected:
                raise self._conflict(workflow_id, f"it is at version {current}, not {expected}")
        meta = replace(parts.record, ix=ix)
        head, writes = self._plan(key, meta, parts.head, parts.all_events())
        # A new generation's keys are fresh (its name is random): plain puts.
        puts = _gather([data_kv.put(k, chunk) for k, chunk in writes])
        seqs, _ = await _gather_two(puts, self._admit(meta, ix))
        meta.seq = max(seqs, default=0)
        value = meta.value(head)
        try:
            if expected is None:
                revision = await meta_kv.put(key, value)
            elif found is None:
                revision = await meta_kv.create(key, value)
            else:
                revision = await meta_kv.update(key, value, last=found[1])
        except KeyWrongLastSequenceError as exc:
            await self._purge_keys(k for k, _ in writes)
            raise self._conflict(workflow_id, "another writer saved it first") from exc
        self._remember(workflow_id, meta, revision)
        self._fragments.keep(workflow_id, meta.gen, [chunk for _, chunk in writes[: meta.frags]])
        if found is None:
            return
        replaced = found[0]
        await self._unindex(key, replaced, meta.status)
        # A record pointing at no data (a head kept inline, no history) has no
        # generation to remove: one purge (a filter over the stream) saved.
        if replaced.gen != meta.gen and replaced.frags + replaced.head_parts:
            await self._purge(f"{key}.{replaced.gen}.>")

    async def _rewrite(self, key: str, stored: Commit, revision: int, parts: _Parts) -> bool:
        """Write a new generation over ``stored`` at ``revision``, keeping its index entry.

        For a whole write of a state this store last wrote or read, with the
        same status and creation time (see :func:`_entry_holds`): the entry
        ``stored`` noted says all the new record needs, so there is nothing to
        write before the data but the data itself, and for a state that fits in
        its meta record, the write is one round trip. The compare-and-set on
        ``revision`` makes reusing the entry safe: a writer that removes it
        does so only after committing over a record noting it, which this
        write then either replaced (so the entry stays true) or fails on.
        False, with nothing written that any record points at, when the record
        moved on.
        """
        meta_kv, data_kv = await self._buckets()
        meta = replace(parts.record, ix=stored.ix)
        head, writes = self._plan(key, meta, parts.head, parts.all_events())
        meta.seq = max(await _gather([data_kv.put(k, chunk) for k, chunk in writes]), default=0)
        try:
            new_revision = await meta_kv.update(key, meta.value(head), last=revision)
        except KeyWrongLastSequenceError:
            await self._purge_keys(k for k, _ in writes)
            return False
        self._remember(meta.id, meta, new_revision)
        self._fragments.keep(meta.id, meta.gen, [chunk for _, chunk in writes[: meta.frags]])
        if stored.gen != meta.gen and stored.frags + stored.head_parts:
            await self._purge(f"{key}.{stored.gen}.>")
        return True

    async def _step(self, key: str, stored: Commit, revision: int, parts: _Parts) -> bool:
        """Commit one step on top of ``stored`` at ``revision``; False if that record moved on.

        The step's chunks go to positions ``stored`` does not point at, and are
        created there; a position already taken is reclaimed only after the
        meta record was rewritten unchanged (:meth:`_reclaim`), so a chunk that
        a pending commit relies on is never replaced under it.
        """
        meta_kv, data_kv = await self._buckets()
        meta = stored.after(parts.record)
        head, writes = self._plan(key, meta, parts.head, parts.tail)
        if meta.status != stored.status or not stored.ix:
            results, meta.ix = await _gather_two(
                _create_all(data_kv, writes), self._entry_admitted(meta)
            )
        else:
            results = await _create_all(data_kv, writes)
        seqs = [seq for seq in results if isinstance(seq, int)]
        taken = [write for write, seq in zip(writes, results, strict=True) if seq is None]
        if taken:
            reclaimed = await self._reclaim(key, revision, taken)
            if reclaimed is None:
                return False
            revision, more = reclaimed
            seqs.extend(more)
        meta.seq = max([stored.seq, *seqs])
        try:
            new_revision = await meta_kv.update(key, meta.value(head), last=revision)
        except KeyWrongLastSequenceError:
            return False
        self._remember(meta.id, meta, new_revision)
        added = [chunk for _, chunk in writes[: meta.frags - stored.frags]]
        self._fragments.extend(meta.id, meta.gen, stored.frags, added)
        await self._unindex(key, stored, meta.status)
        if stored.head_parts:  # the old head was kept apart: no record points at it now
            prefix = f"{key}.{stored.gen}"
            await self._purge_keys(
                f"{prefix}.{stored.head_part(i)}" for i in range(stored.head_parts)
            )
        return True

    async def _reclaim(self, key: str, revision: int, taken: _Writes) -> tuple[int, _Seqs] | None:
        """Write ``taken`` over whatever holds those keys; the new revision and sequences.

        First the meta record is rewritten as it is (compare-and-set on
        ``revision``): whoever wrote those keys meant to commit on top of that
        revision, or an older one, and now cannot. None if the record moved on
        or another writer reclaimed a key first.
        """
        meta_kv, data_kv = await self._buckets()
        try:
            entry = await meta_kv.get(key)
        except KeyNotFoundError:
            return None
        if entry.revision != revision or entry.value is None:
            return None
        try:
            revision = await meta_kv.update(key, entry.value, last=revision)
        except KeyWrongLastSequenceError:
            return None
        seqs: _Seqs = []
        for data_key, chunk in taken:
            try:
                last = (await data_kv.get(data_key)).revision or 0
            except KeyNotFoundError as gone:  # a delete marker, or removed meanwhile
                last = gone.entry.revision if gone.entry is not None else 0
            try:
                seqs.append(await data_kv.update(data_key, chunk, last=last))
            except KeyWrongLastSequenceError:
                return None
        return revision, seqs

    def _plan(
        self, key: str, meta: Commit, head: bytes, events: str
    ) -> tuple[bytes | None, _Writes]:
        """The head to keep inline (None: it is in the writes) and the data keys to write.

        ``events`` is the history text the write adds. Counts the new
        fragments and the head parts in ``meta``.
        """
        prefix = f"{key}.{meta.gen}"
        writes: _Writes = []
        for chunk in split(events, self._chunk):
            writes.append((f"{prefix}.{meta.fragment(meta.frags)}", chunk))
            meta.frags += 1
        meta.head_parts = 0
        if len(meta.encode()) + _SEQ_ROOM + len(head) <= self._chunk:
            return head, writes
        parts = [head[i : i + self._chunk] for i in range(0, len(head), self._chunk)]
        meta.head_parts = len(parts)
        writes += [(f"{prefix}.{meta.head_part(i)}", part) for i, part in enumerate(parts)]
        return None, writes

    def _remember(self, workflow_id: str, meta: Commit, revision: int) -> None:
        known = self._known
        known.pop(workflow_id, None)
        if len(known) >= _KNOWN:
            known.pop(next(iter(known)))
        known[workflow_id] = (meta, revision)

    async def _purge_keys(self, keys: Iterable[str]) -> None:
        """Remove these data keys (exact subjects: no scan of the stream), best effort."""
        with contextlib.suppress(NatsError):
            await _gather([self._purge(k) for k in keys])

    async def _purge(self, subject_tail: str, bucket: str | None = None) -> None:
        """Remove the keys matching ``subject_tail`` (of data, by default) in one stream purge."""
        js = self._js
        if js is None:
            return
        bucket = bucket or f"{self.config.bucket}-data"
        await js.purge_stream(f"KV_{bucket}", subject=f"$KV.{bucket}.{subject_tail}")

    # --- the status index -----------------------------------------------------

    @property
    def _index_bucket(self) -> str:
        return f"{self.config.bucket}-status"

    async def _entry(self, meta: Commit) -> int:
        """Write the index entry of ``meta``'s status anew; its revision."""
        assert self._index is not None
        value = json.dumps({"id": meta.id, "created": meta.created}).encode()
        return await self._index.put(f"{meta.status}.{key_of(meta.id)}", value)

    async def _admit(self, meta: Commit, ix: int) -> None:
        """Put the workflow on its status's front page, if it falls before the page's bound."""
        await self._front_pages().admit(meta.status, meta.id, meta.created, ix)

    async def _entry_admitted(self, meta: Commit) -> int:
        """:meth:`_entry`, then :meth:`_admit` with the entry's revision; that revision."""
        ix = await self._entry(meta)
        await self._admit(meta, ix)
        return ix

    async def _unindex(self, key: str, replaced: Commit, status: str | None) -> None:
        """Remove the index and front page entries of the status ``replaced`` had.

        Called once a write giving ``status`` (None: a delete) committed; an
        entry goes only if it is still the one ``replaced`` noted. Best effort:
        an entry left behind is only an extra one, skipped by listing.
        """
        if replaced.status == status or not replaced.ix or self._index is None:
            return
        results = await asyncio.gather(
            self._index.delete(f"{replaced.status}.{key}", last=replaced.ix),
            self._front_pages().release(replaced.status, replaced.id, replaced.ix),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, NatsError | OSError):
                raise result

    async def _delete_unreadable(self, key: str) -> None:
        """Remove everything under ``key``: a record that cannot be read says nothing narrower."""
        meta_kv, _ = await self._buckets()
        await self._purge(f"*.{key}", bucket=self._index_bucket)
        await meta_kv.purge(key)
        await self._purge(f"{key}.>")

    def _front_pages(self) -> FrontPages:
        assert self._front is not None
        return self._front

    async def _indexed(self, status: str, rebuild: bool) -> _Ids:
        """The ids the index lists under ``status``, in list order; the front page rebuilt if asked.

        Only a status with more entries than a page holds gets a page: for
        fewer, reading the index is cheap, and writers then have no page to
        share. A rebuild marks the page before it reads the index again, so
        that writers meanwhile add themselves to it (see
        :mod:`beluga_workflow_nats.front`).
        """
        found = await self._index_entries(status)
        if rebuild and len(found) <= front.CAPACITY:
            await self._front_pages().drop(status)  # a page that ran short on a small status
        elif rebuild:
            pages = self._front_pages()
            token = await pages.begin_rebuild(status)
            if token is not None:
                found = await self._index_entries(status)
                entries = {workflow_id: (created, ix) for created, workflow_id, ix in found}
                await pages.finish_rebuild(status, token, entries)
        found.sort()
        return [workflow_id for _, workflow_id, _ in found]

    async def _index_entries(self, status: str) -> _Found:
        """Creation time, id and revision of every entry the index holds under ``status``."""
        found: _Found = []
        for value, ix in (await self._scan_index(f"{status}.>")).values():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                entry = json.loads(value)
                found.append((str(entry["created"]), str(entry["id"]), ix))
        return found

    async def _scan(self, bucket: str, subjects: str) -> dict[str, bytes]:
        """The live value of every key of ``bucket`` matching ``subjects`` (a subject filter).

        Each read asks for the next message at or after a sequence; the KV's
        own ``keys()`` (a watcher that stops when the server reports nothing
        pending) was seen to stop early on some servers and miss records.
        """
        js = self._js
        assert js is not None
        stream, prefix = f"KV_{bucket}", f"$KV.{bucket}."
        values: dict[str, bytes] = {}
        seq = 1
        while True:
            try:
                msg = await js.get_msg(stream, seq=seq, subject=f"{prefix}{subjects}", next=True)
            except NatsNotFoundError:
                return values  # no message after seq
            if msg.seq is None or msg.subject is None:
                raise StoreError(f"nats store: a message in {stream} has no sequence or subject")
            seq = msg.seq + 1
            key = msg.subject[len(prefix) :]
            # A key rewritten during the scan is seen again later: the later one counts.
            values.pop(key, None)
            operation = (msg.headers or {}).get("KV-Operation")
            if msg.data and operation not in ("DEL", "PURGE"):
                values[key] = msg.data

    async def _scan_index(self, subjects: str) -> dict[str, tuple[bytes, int]]:
        """The live entries of the index matching ``subjects`` and their revisions, in batches.

        An ephemeral consumer delivers the last message of each key; the count
        pending when it is made says how many to wait for, so a slow batch is
        never taken for the end.
        """
        js = self._js
        assert js is not None
        bucket = self._index_bucket
        stream, prefix = f"KV_{bucket}", f"$KV.{bucket}."
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
            ack_policy=AckPolicy.NONE,
            mem_storage=True,
            num_replicas=1,
            inactive_threshold=_IDLE_CONSUMER,
        )
        subscription = await js.pull_subscribe(f"{prefix}{subjects}", stream=stream, config=config)
        values: dict[str, tuple[bytes, int]] = {}
        name: str | None = None
        try:
            info = await subscription.consumer_info()
            name, pending = info.name, info.num_pending or 0
            while pending > 0:
                batch = await subscription.fetch(
                    batch=min(pending, _SCAN_BATCH), timeout=self.config.operation_timeout
                )
                for msg in batch:
                    pending -= 1
                    key = msg.subject[len(prefix) :]
                    values.pop(key, None)
                    operation = (msg.headers or {}).get("KV-Operation")
                    if msg.data and operation not in ("DEL", "PURGE"):
                        values[key] = (msg.data, msg.metadata.sequence.stream)
        finally:
            with contextlib.suppress(NatsError, OSError):
                await subscription.unsubscribe()
                if name:
                    await js.delete_consumer(stream, name)
        return values

    async def _index_all(self) -> None:
        """Index every record of the earlier layout (no index bucket yet), once."""
        assert self._index is not None
        for meta in await self._all_meta(StateList()):
            await self._entry(meta)

    def _conflict(self, workflow_id: str, why: str) -> ConcurrencyConflictError:
        return ConcurrencyConflictError(f"workflow {workflow_id!r} changed: {why}")

    # --- watching -------------------------------------------------------------

    async def _follow_meta(self, inbox: Inbox) -> JetStreamContext.PushSubscription:
        """Subscribe to the meta stream's new messages, each put in ``inbox`` as an id."""
        await self._buckets()
        js = self._js
        assert js is not None
        bucket = f"{self.config.bucket}-meta"
        prefix = f"$KV.{bucket}."
        hashed: dict[str, str] = {}

        async def on_message(msg: Msg) -> None:
            inbox.put(_written_id(msg.subject[len(prefix) :], msg.data, hashed))

        return await js.subscribe(
            f"{prefix}>",
            stream=f"KV_{bucket}",
            cb=on_message,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.NEW,
        )

    async def _unfollow(self, subscription: JetStreamContext.PushSubscription) -> None:
        """Unsubscribe, and delete the consumer when connected, so the server stops at once.

        Best effort: a consumer left behind (cut off, or the store closed) is
        removed by the server once nobody listens to it.
        """
        client, js = self._client, self._js
        with contextlib.suppress(NatsError, OSError):
            if client is not None and client.is_connected and js is not None:
                consumer = await subscription.consumer_info()
                await subscription.unsubscribe()
                if consumer.name:
                    await js.delete_consumer(consumer.stream_name, consumer.name)
            else:
                await subscription.unsubscribe()

    # --- reading --------------------------------------------------------------

    async def _load(self, workflow_id: str) -> WorkflowState | None:
        key = key_of(workflow_id)
        for attempt in range(_READ_ATTEMPTS):
            if attempt:  # racing writers: let them pass, and do not read in step with them
                await asyncio.sleep(random.uniform(0, min(0.05, 0.001 * 2**attempt)))
            found = await self._get_meta(workflow_id)
            if found is None:
                return None
            meta, revision, inline = found
            prefix = f"{key}.{meta.gen}"
            # Fragments read or written before are reused (see fragments.py).
            known = self._fragments.known(workflow_id, meta.gen, meta.frags)
            names = [meta.head_part(i) for i in range(meta.head_parts)]
            names += [meta.fragment(j) for j in range(len(known), meta.frags)]
            try:
                chunks = await self._get_data([f"{prefix}.{name}" for name in names], meta.seq)
            except KeyNotFoundError:
                continue  # a writer replaced what we were reading: read again
            split_at = meta.head_parts
            head = chunks[:split_at] if split_at else [inline]
            fragments = known + chunks[split_at:]
            self._fragments.keep(workflow_id, meta.gen, fragments)
            state = meta.assemble(head, fragments)
            self._remember(workflow_id, meta, revision)  # a step on what was read needs no read
            return state
        raise StoreError(f"nats store: {workflow_id!r} kept changing while it was read")

    async def _load_listed(self, ids: _Ids, wanted: WorkflowFilter, states: StateList) -> None:
        """Load ``ids`` in order into ``states``, those still matching ``wanted``, up to its limit.

        Loaded a batch at a time, as many as are still wanted (an entry may be extra).
        """
        while ids and not (wanted.limit and len(states) >= wanted.limit):
            size = wanted.limit - len(states) if wanted.limit else _READ_BATCH
            batch, ids = ids[:size], ids[size:]
            loaded = await asyncio.gather(
                *(self._load(workflow_id) for workflow_id in batch), return_exceptions=True
            )
            for state in loaded:
                if isinstance(state, CorruptStateError):
                    states.skip(state)
                elif isinstance(state, BaseException):
                    raise state
                elif state is not None and wanted.status in (None, state.status):
                    states.append(state)

    async def _get_meta(self, workflow_id: str) -> tuple[Commit, int, bytes] | None:
        meta_kv, _ = await self._buckets()
        try:
            entry = await meta_kv.get(key_of(workflow_id))
        except KeyNotFoundError:
            return None
        if entry.value is None or entry.revision is None:
            return None
        meta, head = Commit.read(entry.value, workflow_id)
        if meta.id != workflow_id:  # a hashed key shared by two ids: never silently mixed
            raise CorruptStateError(workflow_id, f"its key holds workflow {meta.id!r}")
        return meta, entry.revision, head

    async def _all_meta(self, listing: StateList) -> _Commits:
        """Every live meta record, by a scan of the meta stream (one read per record).

        An unreadable record is left out and reported in ``listing``.
        """
        await self._buckets()
        records: _Commits = []
        for key, value in (await self._scan(f"{self.config.bucket}-meta", ">")).items():
            try:
                records.append(Commit.read(value, id_of(key))[0])
            except CorruptStateError as unreadable:
                listing.skip(unreadable)
        return records

    async def _get_data(self, keys: Sequence[str], seq: int) -> _Chunks:
        """The values of ``keys``, a batch at a time; KeyNotFoundError if one was replaced."""
        data_kv = self._data_kv()
        values: _Chunks = []
        for start in range(0, len(keys), _READ_BATCH):
            batch = keys[start : start + _READ_BATCH]
            for entry in await _gather([data_kv.get(k) for k in batch]):
                if seq and (entry.revision or 0) > seq:
                    raise KeyNotFoundError(message="written after the record was committed")
                values.append(entry.value or b"")
        return values

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
                set_stage("connecting to the server")
                self._connected = asyncio.Event()
                client = await nats.connect(
                    self.config.server_url,
                    **self.config.credentials(),
                    connect_timeout=self.config.connect_timeout,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.2,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                )
                self._connected.set()
                self._client = client
                self._chunk = max(4096, min(256 * 1024, client.max_payload - 16 * 1024))
                js = client.jetstream(timeout=self.config.operation_timeout)
                self._js = js
                meta = await self._bucket(js, f"{self.config.bucket}-meta")
                data = await self._bucket(js, f"{self.config.bucket}-data")
                try:
                    index, fresh = await js.key_value(self._index_bucket), False
                except BucketNotFoundError:
                    index, fresh = await self._bucket(js, self._index_bucket), True
                # Set last: a caller that finds them set finds the index set too.
                self._index, self._front = index, FrontPages(index)
                self._meta, self._data = meta, data
                if fresh:
                    await self._index_all()
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

    async def _call(self, operation: str, work: Callable[[], Awaitable[T]]) -> T:
        self.check_open()

        async def attempt() -> T:
            if self._client is not None and self._connected is not None:
                if not self._connected.is_set():
                    set_stage("waiting for the client to reconnect")
                    await self._connected.wait()
                set_stage(ANSWER)
            return await work()

        return await self.bounded(
            operation,
            lambda: self._watch.race(attempt(), give_back=_nothing),
            outage=(OSError, NatsError),
        )

    # Connection errors reach the caller through the store's calls, never a log.

    async def _on_disconnected(self) -> None:
        if self._connected is not None:
            self._connected.clear()
        self._watch.failed(ConnectionError("the connection to the server was lost"))

    async def _on_reconnected(self) -> None:
        self._watch.succeeded()
        for inbox in self._watchers:
            inbox.put(None)  # notices may have been lost while away: read again
        if self._connected is not None:
            self._connected.set()

    async def _on_error(self, error: Exception) -> None:
        client = self._client
        if client is None or not client.is_connected:  # connecting, or reconnecting
            self._watch.failed(error)


def _entry_holds(
    stored: Commit, record: Commit, expected: int | None, conflict_on_exists: bool
) -> bool:
    """Whether a whole write of ``record`` over ``stored`` may keep the index entry it noted.

    It may when the entry says what the new record would make it say (the
    same status, under the same key, with the same creation time) and the
    write's own condition holds on ``stored``; a write that must find nothing
    stored goes the long way, to report the conflict.
    """
    if conflict_on_exists or not stored.ix:
        return False
    if expected is not None and stored.version != expected:
        return False
    return (stored.status, stored.created) == (record.status, record.created)


def _written_id(key: str, value: bytes, hashed: dict[str, str]) -> str | None:
    """The id a meta message is about, or None when it cannot be told (read again).

    A reversible key names its id; a hashed one is told by the record it
    holds, and remembered (at most ``_KNOWN``) for its delete, which holds none.
    """
    if key.startswith("i"):
        return id_of(key)
    if value:
        with contextlib.suppress(CorruptStateError):
            workflow_id = Commit.read(value, key)[0].id
            if len(hashed) >= _KNOWN:
                hashed.pop(next(iter(hashed)))
            hashed[key] = workflow_id
            return workflow_id
    return hashed.get(key)


async def _nothing(_: object) -> None:
    return None


async def _gather(calls: list[Awaitable[T]]) -> list[T]:
    """Await ``calls`` together; once all are done, raise the first error."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return cast(list[T], results)


async def _gather_two(first: Awaitable[T], second: Awaitable[U]) -> tuple[T, U]:
    """Await both together; once both are done, raise the first error."""
    one, two = await _gather([first, second])
    return cast(T, one), cast(U, two)


async def _create_all(data_kv: KeyValue, writes: _Writes) -> list[int | None]:
    """Create the keys together: each one's sequence, or None where the key was taken."""
    results = await asyncio.gather(
        *(data_kv.update(key, chunk, last=0) for key, chunk in writes), return_exceptions=True
    )
    created: list[int | None] = []
    for result in results:
        if isinstance(result, KeyWrongLastSequenceError):
            created.append(None)
        elif isinstance(result, BaseException):
            raise result
        else:
            created.append(result)
    return created
