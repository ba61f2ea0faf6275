"""The Redis store: each write is one Lua script, so it is atomic and one round trip.

Keys start with the store's key space ``K``: the prefix with ``%`` written
``%25`` and ``:`` written ``%3A`` (a prefix without either is its own key
space). ``K`` holds no ``:``, so the first ``:`` of a key ends it, and the id
is the key's tail: any string is a valid id, two ids never share a key, and
neither do two prefixes, however they nest (prefix ``a`` with id
``b:state:c`` and prefix ``a:state:b`` with id ``c`` are different keys).

- ``K:state:<id>``: hash with ``head`` (every field but the history, as JSON),
  ``status``, ``score``, ``version`` and ``n`` (history length);
- ``K:events:<id>``: list of history events (JSON), appended by a step;
- ``K:status:<status>``: sorted set of ids, scored by ``created_at`` in
  microseconds, so listing by status reads only that status's ids, already
  ordered (ties broken by id, byte order);
- ``K:all``: the same for every state;
- ``K:staged``: a state's hash written by a write's own transaction just
  before its script, which renames or deletes it (see below).

Every script that changes a state also publishes its id on the pub/sub
channel ``K:changes``, inside the script, so the notice is atomic with the
write; :meth:`RedisStore.watch` subscribes to it.

A value passing into or out of a script costs the server about 1.5 ns a byte
(150 µs for 100 KB, against 3 µs for a ``SET`` of it), so large heads stay
out of the scripts: a write stages a head over ``_STAGE_FROM`` characters
(``MULTI``, ``HSET K:staged``, the script, ``EXEC``); ``load`` is one
``MULTI``/``EXEC`` of ``HMGET`` and ``LRANGE``; ``list`` reads heads larger
together than ``_INLINE_LIST_BYTES`` in a transaction checked against the
index. Commands go out packed by :func:`_pack` on a pooled connection
(:func:`_exchange`): the client's per-command machinery cost more than the
server's work for a small state.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, NoScriptError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from beluga_workflow.bounded import ANSWER, set_stage
from beluga_workflow.errors import CorruptStateError, ProviderConfigError, StoreError
from beluga_workflow.listing import StateList
from beluga_workflow.models import WorkflowFilter, WorkflowState
from beluga_workflow.queues.definition import Queue
from beluga_workflow.queues.entries import (
    QueueClaim,
    QueueEntry,
    require_claim,
    require_entries,
    require_queue_name,
)
from beluga_workflow.redaction import redact_text
from beluga_workflow.storekit.base import ServerStore
from beluga_workflow.storekit.checks import (
    require_filter,
    require_state,
    require_step,
    require_workflow_id,
)
from beluga_workflow.storekit.conflicts import step_conflict
from beluga_workflow.storekit.frames import AppendFrame, CompareAndSaveFrame
from beluga_workflow.storekit.records import StateRecord, decode_state_parts, stored_text
from beluga_workflow_redis import queues
from beluga_workflow_redis.config import RedisConfig

__all__ = ["RedisStore", "create_store"]

T = TypeVar("T")
_Ids = list[str]
_Entries = list[QueueEntry]
_Pool = TypeVar("_Pool", bound=aioredis.ConnectionPool)
_States = list[WorkflowState]
_Command = tuple[str | int, ...]
_OUTAGE = (RedisConnectionError, RedisTimeoutError, OSError)
_WATCH_IDLE = 5.0
"""Seconds a watcher waits for a notice before it checks its connection with a PING."""
_GOODBYE = 1.0
"""Seconds a watcher that is closed waits for the server to confirm it unsubscribed."""
_RESUBSCRIBE_FIRST, _RESUBSCRIBE_MOST = 0.05, 2.0
"""The wait before a watcher subscribes again after losing its connection, doubling."""

# ARGV: key space, id, head, status, score, version, n, mode, expected version,
# kept, staged, events... The mode says what must hold for the write to happen:
# "save": nothing; "absent": nothing is stored; "cas": the stored version (0:
# nothing stored) is the expected one; "append": the stored history has `kept`
# events, and the given ones are pushed after them; "cas_append": both of
# "cas" and "append"; "cas_whole": as "cas_append", but the given events are
# the whole history. Returns 1 when written, 0 when refused, and 2 when an
# "append" or "cas_append" finds nothing stored: the caller sends the whole
# state then (a step sends only its new events, so the script cannot save it).
# `staged` is '' or the key of a hash the same transaction wrote just before,
# holding the state's five fields (see ``_Stage``): it becomes the state's
# hash when written and is deleted otherwise, and ARGV[3] is not read.
_WRITE = """
local p, id = ARGV[1], ARGV[2]
local skey, ekey = p .. ':state:' .. id, p .. ':events:' .. id
local mode, expected, kept = ARGV[8], tonumber(ARGV[9]), tonumber(ARGV[10])
local staged = ARGV[11]
local function refuse(answer)
  if staged ~= '' then redis.call('DEL', staged) end
  return answer
end
local exists = redis.call('EXISTS', skey) == 1
local extends = mode == 'append' or mode == 'cas_append'
if mode == 'absent' and exists then return refuse(0) end
if mode == 'cas' or mode == 'cas_append' or mode == 'cas_whole' then
  local current = 0
  if exists then current = tonumber(redis.call('HGET', skey, 'version')) end
  if current ~= expected then return refuse(0) end
end
if extends or mode == 'cas_whole' then
  if exists and tonumber(redis.call('HGET', skey, 'n')) ~= kept then return refuse(0) end
  if extends and not exists then return refuse(2) end
end
local old = redis.call('HGET', skey, 'status')
if old then redis.call('ZREM', p .. ':status:' .. old, id) end
if staged ~= '' then
  redis.call('RENAME', staged, skey)
else
  redis.call('HSET', skey, 'head', ARGV[3], 'status', ARGV[4], 'score', ARGV[5],
             'version', ARGV[6], 'n', ARGV[7])
end
redis.call('ZADD', p .. ':status:' .. ARGV[4], ARGV[5], id)
redis.call('ZADD', p .. ':all', ARGV[5], id)
if not extends then redis.call('DEL', ekey) end
local i = 12
while i <= #ARGV do
  local j = math.min(i + 999, #ARGV)
  redis.call('RPUSH', ekey, unpack(ARGV, i, j))
  i = j + 1
end
redis.call('PUBLISH', p .. ':changes', id)
return 1
"""
_WRITTEN, _NOTHING_STORED = 1, 2

# ARGV: key space, index (``all`` or ``status:<status>``), limit (0: all), the
# status the states must have ('' for any), the most head bytes to hand back
# (-1: no most).
# Returns 0 then id, head and events of each listed state still stored,
# flattened: one round trip, read atomically. A value passing through a script
# costs the server about 1.5 ns a byte each way, so heads larger together than
# the most make it return 1 then the ids the index held, and nothing read: the
# caller reads them in a transaction instead (see ``RedisStore.list``).
_LIST = """
local p, limit, status, most = ARGV[1], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local ids = redis.call('ZRANGE', p .. ':' .. ARGV[2], 0, limit - 1)
local size = 0
for _, id in ipairs(ids) do
  if most < 0 then break end
  size = size + redis.call('HSTRLEN', p .. ':state:' .. id, 'head')
  if size > most then
    table.insert(ids, 1, 1)
    return ids
  end
end
local out = {0}
for _, id in ipairs(ids) do
  local found = redis.call('HMGET', p .. ':state:' .. id, 'head', 'n', 'status')
  if found[1] and (status == '' or found[3] == status) then
    out[#out + 1] = id
    out[#out + 1] = found[1]
    out[#out + 1] = redis.call('LRANGE', p .. ':events:' .. id, 0, tonumber(found[2]) - 1)
  end
end
return out
"""
_INLINE = 0

# ARGV: key space, index, limit, status ('' for any), then ids. Returns the ids
# the index holds now (as ``_LIST`` reads them), then for each id given its
# events, or nil when it is not stored or has another status: all of a listed
# state but its head, which the same transaction reads by ``HGET`` after it.
_LIST_PARTS = """
local p, limit, status = ARGV[1], tonumber(ARGV[3]), ARGV[4]
local out = {redis.call('ZRANGE', p .. ':' .. ARGV[2], 0, limit - 1)}
for i = 5, #ARGV do
  local skey = p .. ':state:' .. ARGV[i]
  local events = false
  if redis.call('HEXISTS', skey, 'head') == 1 then
    local found = redis.call('HMGET', skey, 'n', 'status')
    if status == '' or found[2] == status then
      events = redis.call('LRANGE', p .. ':events:' .. ARGV[i], 0, tonumber(found[1]) - 1)
    end
  end
  out[#out + 1] = events
end
return out
"""
_INLINE_LIST_BYTES = 64 * 1024
"""The most head bytes a ``list`` script hands back itself (see ``_LIST``)."""
_LIST_ROUNDS = 3
"""Transactions a ``list`` tries before its script reads everything (see ``RedisStore.list``)."""
_OWN_CHUNK = 6000
"""A value longer than this (bytes) is sent as a chunk of its own (see ``_pack``)."""
_STAGE_FROM = 16 * 1024
"""A head longer than this (characters) is staged, not passed through the write script."""

_DELETE = """
local p, id = ARGV[1], ARGV[2]
local skey = p .. ':state:' .. id
local old = redis.call('HGET', skey, 'status')
if old then redis.call('ZREM', p .. ':status:' .. old, id) end
redis.call('ZREM', p .. ':all', id)
local removed = redis.call('DEL', skey, p .. ':events:' .. id)
if removed > 0 then redis.call('PUBLISH', p .. ':changes', id) end
return removed
"""


def create_store(config: RedisConfig) -> RedisStore:
    """Factory named by the plugin's ``StoreProvider`` record."""
    return RedisStore(config)


class RedisStore(AppendFrame, CompareAndSaveFrame, ServerStore[RedisConfig]):
    """A :class:`~beluga_workflow.WorkflowStore` on a Redis server.

    Also implements ``append`` (RPUSH of the new events), ``compare_and_save``
    and ``compare_and_append`` (the append's script checking the version too),
    and ``queue_dispatch`` (sorted sets and a claim script, see
    :mod:`beluga_workflow_redis.queues`).
    ``list`` is ordered by ``created_at`` then id. Durability across a server
    crash is whatever the server's persistence (AOF/RDB) settings give.
    """

    provider = "redis"
    config_model = RedisConfig
    library_loggers: ClassVar[tuple[str, ...]] = ("redis",)

    def __init__(self, config: RedisConfig | str | None = None, **options: Any) -> None:
        super().__init__(config, **options)
        self._space = key_space(self.config.prefix)
        self._client: aioredis.Redis | None = None
        self._closing = asyncio.Event()

    # --- the store protocol ---------------------------------------------------

    async def save(self, state: WorkflowState) -> None:
        require_state(state)
        await self._write("save", _Record.of(state), "save")

    async def load(self, workflow_id: str) -> WorkflowState | None:
        """Read the head and the events in one transaction (``MULTI``/``EXEC``): atomic, one trip.

        Not a script: the head would pass through it, which for a large head
        costs more than the whole exchange (see ``_LIST``).
        """
        require_workflow_id(workflow_id)
        reads = (
            ("HMGET", self._key(f"state:{workflow_id}"), "head", "n"),
            ("LRANGE", self._key(f"events:{workflow_id}"), 0, -1),
        )

        async def load(client: aioredis.Redis) -> WorkflowState | None:
            (head, length), events = _checked(await _transaction(client, reads))
            return None if head is None else _stored(workflow_id, head, length, events)

        return await self._call("load", load)

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        """One script when the listed heads are small; else a transaction after it.

        The script hands back the ids alone when their heads are larger
        together than ``_INLINE_LIST_BYTES``; one transaction then runs
        ``_LIST_PARTS`` for those ids (the index again, and all but the heads)
        and an ``HGET`` of each head. It is the snapshot when the index still
        held the same ids; if not, it is tried with the new ones, and after
        ``_LIST_ROUNDS`` the script reads everything itself.
        """
        wanted = require_filter(filter)
        status = "" if wanted.status is None else wanted.status.value
        index = f"status:{status}" if status else "all"
        args = [self._space, index, str(wanted.limit or 0), status]

        async def fetch(client: aioredis.Redis) -> _States:
            found: Any = await _script(client, _LIST, [*args, str(_INLINE_LIST_BYTES)])
            if found[0] == _INLINE:
                return _inline_list(found)
            ids = found[1:]
            for _ in range(_LIST_ROUNDS):
                names = [bytes(id).decode() for id in ids]
                heads: list[_Command] = [("HGET", self._key(f"state:{n}"), "head") for n in names]
                answer = _checked(await _scripted(client, _LIST_PARTS, [*args, *names], (), heads))
                (now, *events), heads_read = answer[0], answer[1:]
                if now == ids:
                    return _read_list(names, heads_read, events)
                ids = now
            return _inline_list(await _script(client, _LIST, [*args, "-1"]))

        return await self._call("list", fetch)

    async def delete(self, workflow_id: str) -> None:
        require_workflow_id(workflow_id)

        async def delete(client: aioredis.Redis) -> None:
            await _script(client, _DELETE, (self._space, workflow_id))

        await self._call("delete", delete)

    async def append_if_length(self, state: WorkflowState, kept: int) -> bool:
        record = _Record.of(state, kept)
        written = await self._write("append", record, "append")
        if written == _NOTHING_STORED:
            require_state(state)
            written = await self._write("append", record, "absent", whole=True)
        return written == _WRITTEN

    async def save_if_version(self, state: WorkflowState, expected: int) -> bool:
        record = _Record.of(state)
        return await self._write("compare_and_save", record, "cas", expected) == _WRITTEN

    async def compare_and_append(
        self, state: WorkflowState, new_events: int, expected_version: int
    ) -> int:
        kept, versioned = require_step(state, new_events, expected_version)
        expected = expected_version
        record = _Record.of(versioned, kept)
        # One script checks the version and the length and pushes the new
        # events; only a state not stored yet takes a second one, with them all.
        mode = "cas_whole" if kept == 0 else "cas_append"
        written = await self._write("compare_and_append", record, mode, expected)
        if written == _NOTHING_STORED:
            require_state(versioned)
            written = await self._write(
                "compare_and_append", record, "cas_whole", expected, whole=True
            )
        if written != _WRITTEN:
            raise step_conflict(state.workflow_id, expected, kept)
        return expected + 1

    # --- queue_dispatch ---------------------------------------------------------

    async def enqueue(self, entries: Sequence[QueueEntry]) -> _Ids:
        checked = require_entries(entries)
        if not checked:
            self.check_open()
            return []
        return await self._call(
            "enqueue", lambda client: queues.enqueue(client, self._space, checked)
        )

    async def claim_queued(self, queue: Queue, holder: str, count: int, now: float) -> QueueClaim:
        queue, holder, count, now = require_claim(queue, holder, count, now)
        if count == 0:
            self.check_open()
            return QueueClaim([])
        return await self._call(
            "claim_queued",
            lambda client: queues.claim(client, self._space, queue, holder, count, now),
        )

    async def release_queued(self, entries: Sequence[QueueEntry]) -> int:
        checked = require_entries(entries)
        if not checked:
            self.check_open()
            return 0
        return await self._call(
            "release_queued", lambda client: queues.release(client, self._space, checked)
        )

    async def queued(self, queue: str) -> _Entries:
        name = require_queue_name(queue)
        return await self._call("queued", lambda client: queues.queued(client, self._space, name))

    async def watch(self) -> AsyncIterator[str | None]:
        """Yield the id of each state written from now on (see ``SupportsWatch``).

        Subscribes to ``K:changes`` on a connection of its own, so watchers
        never take pooled connections from the writes. ``None`` comes each
        time the subscription is (again) live: first, and after the
        connection was lost (the server also drops a subscriber that falls
        too far behind) and a new one subscribed, retried with a backoff of
        at most 2 s. Notices published while it was away are not replayed.
        A server that refuses it (a wrong password, say) raises ``StoreError``.
        """
        self.check_open()
        failures = 0
        with contextlib.suppress(_Closing):
            while True:
                try:
                    async with contextlib.aclosing(self._subscribed()) as notices:
                        async for notice in notices:
                            failures = 0 if notice is None else failures
                            yield notice
                except (RedisError, OSError) as exc:
                    if not isinstance(exc, _OUTAGE) or isinstance(exc, AuthenticationError):
                        raise StoreError(
                            f"redis store {self.config.address} refused the watch: "
                            f"{redact_text(str(exc))}"
                        ) from None
                    failures += 1
                pause = min(_RESUBSCRIBE_MOST, _RESUBSCRIBE_FIRST * 2 ** (failures - 1))
                await self._unless_closing(asyncio.sleep(pause))

    async def release(self) -> None:
        self._closing.set()
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    # --- internals ------------------------------------------------------------

    def _key(self, suffix: str) -> str:
        return f"{self._space}:{suffix}"

    async def _subscribed(self) -> AsyncGenerator[str | None, None]:
        """One subscription to ``K:changes``: ``None`` once live, then the ids; raises when lost.

        Leaving it while live unsubscribes first (and waits for the server to
        confirm, briefly), so the server stops sending before the connection goes.
        """
        client = self._watch_client()
        pubsub = client.pubsub()
        live = False
        try:
            await self._unless_closing(pubsub.subscribe(self._key("changes")))
            while True:
                message = await self._unless_closing(pubsub.get_message(timeout=_WATCH_IDLE))
                if message is None:
                    continue
                if message["type"] == "subscribe":
                    live = True
                    yield None
                elif message["type"] == "message":
                    yield bytes(message["data"]).decode()
        except _OUTAGE:
            live = False
            raise
        finally:
            if live:
                await _unsubscribe(pubsub)
            await _release(pubsub, client)

    def _watch_client(self) -> aioredis.Redis:
        """A client with one connection for a watcher, which never retries by itself.

        A silent reconnect would hide that notices were missed: the watcher
        reconnects itself and says so with ``None``.
        """
        pool = self._pool(
            aioredis.ConnectionPool,
            max_connections=1,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=_WATCH_IDLE,
        )
        return aioredis.Redis(connection_pool=pool)

    def _pool(self, kind: type[_Pool], **options: Any) -> _Pool:
        """A connection pool of ``kind`` for the configured server; bad settings are named."""
        try:
            return kind.from_url(
                self.config.url,
                socket_connect_timeout=self.config.connect_timeout,
                socket_timeout=self.config.operation_timeout,
                **options,
            )
        except (TypeError, ValueError) as exc:
            raise ProviderConfigError(
                f"invalid configuration for store provider 'redis' ({self.config.address}): "
                f"{redact_text(str(exc))}"
            ) from None

    async def _unless_closing(self, work: Awaitable[T]) -> T:
        """Await ``work``, or raise ``_Closing`` (cancelling it) as soon as the store closes."""
        task = asyncio.ensure_future(work)
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            await asyncio.wait((task, closing), return_when=asyncio.FIRST_COMPLETED)
        finally:
            closing.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if task.cancelled():
            raise _Closing
        return task.result()

    async def _write(
        self,
        operation: str,
        record: _Record,
        mode: str,
        expected: int = 0,
        *,
        whole: bool = False,
    ) -> int:
        """Run the write script in ``mode`` (see ``_WRITE``); what it returned.

        A head of more than ``_STAGE_FROM`` characters is not passed through
        the script: the same transaction writes it to ``K:staged`` (with the
        other fields) just before, and the script renames that hash.
        """
        fields, staged = record.fields, ""
        stage: _Command = ()
        if len(record.record.head) > _STAGE_FROM:
            staged = self._key("staged")
            stage = _stage(staged, fields)
            fields = (fields[0], "", *fields[2:])
        args = [self._space, *fields, mode, str(expected), str(record.kept), staged]
        args += record.all_events() if whole else record.tail

        async def write(client: aioredis.Redis) -> int:
            if stage:
                return int(_checked(await _scripted(client, _WRITE, args, (stage,)))[1])
            return int(await _script(client, _WRITE, args))

        return await self._call(operation, write)

    async def _call(self, operation: str, work: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
        self.check_open()
        if self._client is None:
            pool = self._pool(
                _WaitingPool,
                max_connections=self.config.max_connections,
                timeout=None,  # the call's own bound ends the wait
            )
            self._client = aioredis.Redis(connection_pool=pool)
        client = self._client
        return await self.bounded(
            operation, lambda: work(client), outage=_OUTAGE, failures=(RedisError,)
        )


_SHA = {
    script: hashlib.sha1(script.encode()).hexdigest()
    for script in (_WRITE, _LIST, _LIST_PARTS, _DELETE)
}


async def _exchange(client: aioredis.Redis, commands: Sequence[_Command]) -> list[Any]:
    """Send ``commands`` at once on one pooled connection and read every reply: one round trip.

    An error reply comes back as the exception, in its place, so that every
    reply is read before the connection goes back to the pool. A lost
    connection is retried as the client retries a command: closed, then
    tried again by the client's retry policy. The reads set no timer of
    their own: the call's bound (``operation_timeout``, as the socket
    timeout) ends them, and a timer per reply costs as much as reading it.
    """
    packed = _pack(commands)
    pool = client.connection_pool
    connection = await pool.get_connection()  # type: ignore[no-untyped-call]
    try:

        async def attempt() -> list[Any]:
            await connection.send_packed_command(packed)
            replies: list[Any] = []
            for _ in commands:
                try:
                    replies.append(await connection.read_response(timeout=math.inf))
                except ResponseError as error:
                    replies.append(error)
            return replies

        async def fail(error: Exception) -> None:
            await connection.disconnect()

        retry: Any = connection.retry
        replies: list[Any] = await retry.call_with_retry(attempt, fail)
        return replies
    finally:
        await pool.release(connection)


def _pack(commands: Sequence[_Command]) -> list[bytes]:
    """``commands`` in the protocol the server reads (RESP), text as UTF-8.

    The client's own packing costs more than the exchange itself for a
    transaction's thirty-odd arguments. A long value is a chunk of its own,
    sent as it is rather than copied into a larger one.
    """
    chunks: list[bytes] = []
    pieces: list[bytes] = []
    for command in commands:
        pieces.append(b"*%d\r\n" % len(command))
        for arg in command:
            data = arg.encode() if isinstance(arg, str) else b"%d" % arg
            pieces.append(b"$%d\r\n" % len(data))
            if len(data) > _OWN_CHUNK:
                chunks += (b"".join(pieces), data)
                pieces = [b"\r\n"]
            else:
                pieces += (data, b"\r\n")
    chunks.append(b"".join(pieces))
    return chunks


async def _transaction(client: aioredis.Redis, commands: Sequence[_Command]) -> list[Any]:
    """The replies of ``commands`` run as one ``MULTI``/``EXEC`` transaction, errors in place.

    A command the server refused to queue aborts it all: its error is raised.
    """
    replies = await _exchange(client, [("MULTI",), *commands, ("EXEC",)])
    answer = replies[-1]
    if isinstance(answer, list):
        return answer
    refused = [reply for reply in replies[:-1] if isinstance(reply, Exception)]
    raise refused[0] if refused else _unexpected(answer)


def _unexpected(answer: Any) -> ResponseError:
    if isinstance(answer, ResponseError):
        return answer
    return ResponseError(f"the transaction answered {answer!r}")


def _checked(replies: list[Any]) -> list[Any]:
    """``replies``, unless one is an error: that is raised."""
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies


async def _script(client: aioredis.Redis, script: str, args: Sequence[str]) -> Any:
    """Run a script of this module by its hash; its text goes only to a server lacking it."""
    (reply,) = await _exchange(client, [("EVALSHA", _SHA[script], 0, *args)])
    if isinstance(reply, NoScriptError):
        (reply,) = await _exchange(client, [("EVAL", script, 0, *args)])
    return _checked([reply])[0]


async def _scripted(
    client: aioredis.Redis,
    script: str,
    args: Sequence[str],
    before: Sequence[_Command] = (),
    after: Sequence[_Command] = (),
) -> list[Any]:
    """The replies of ``before``, the script and ``after``, run as one transaction.

    The script goes by its hash; a server lacking it did not run it, and
    gets the whole transaction again with the script's text.
    """
    runs: tuple[_Command, ...] = (("EVALSHA", _SHA[script], 0, *args), ("EVAL", script, 0, *args))
    for run in runs:
        answer = await _transaction(client, [*before, run, *after])
        if not isinstance(answer[len(before)], NoScriptError):
            break
    return answer


def _stage(key: str, fields: tuple[str, ...]) -> tuple[str, ...]:
    """The ``HSET`` writing a state's five fields to ``key`` (``fields`` as in ``_Record``)."""
    _, head, status, score, version, length = fields
    return (
        "HSET",
        key,
        "head",
        head,
        "status",
        status,
        "score",
        score,
        "version",
        version,
        "n",
        length,
    )


class _Closing(Exception):
    """The store closed while a watcher waited: the watch ends."""


async def _unsubscribe(pubsub: PubSub) -> None:
    """Unsubscribe and wait (at most ``_GOODBYE`` s) for the server to confirm it."""
    with contextlib.suppress(RedisError, OSError, TimeoutError):
        async with asyncio.timeout(_GOODBYE):
            await pubsub.unsubscribe()
            while True:
                message = await pubsub.get_message(timeout=_GOODBYE)
                if message is not None and message["type"] == "unsubscribe":
                    return


async def _release(pubsub: PubSub, client: aioredis.Redis) -> None:
    """Drop a watcher's subscription and connection; a dead one needs no goodbye."""
    with contextlib.suppress(RedisError, OSError):
        await pubsub.aclose()  # type: ignore[no-untyped-call]
    with contextlib.suppress(RedisError, OSError):
        await client.aclose()


def key_space(prefix: str) -> str:
    """The prefix as it starts every key: without ``:``, so prefixes that nest never meet."""
    return prefix.replace("%", "%25").replace(":", "%3A")


class _WaitingPool(aioredis.BlockingConnectionPool):
    """Calls beyond ``max_connections`` wait for a connection to come back.

    It notes the stage, so a call that runs out of time waiting says the
    pool was exhausted rather than that the server is gone, and it hands out
    no connection the server closed while it sat idle.
    """

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        set_stage(
            f"waiting for one of the {self.max_connections} pooled connections "
            "(all in use: the pool is exhausted)"
        )
        connection = await super().get_connection(*args, **kwargs)  # type: ignore[no-untyped-call]
        set_stage(ANSWER)
        return connection

    def get_available_connection(self) -> Any:
        set_stage("connecting to the server")
        return super().get_available_connection()  # type: ignore[no-untyped-call]

    async def ensure_connection(self, connection: Any) -> None:
        """Reconnect a pooled connection whose socket the server closed while it was idle.

        The client's own check reads from the connection, which does not see
        a reset one: the first command after a server restart would fail.
        """
        writer = getattr(connection, "_writer", None)
        if writer is not None and writer.transport.is_closing():
            await connection.disconnect()
        await super().ensure_connection(connection)


@dataclass(frozen=True)
class _Record:
    """What the write script stores for a state, taken from it when the call is made.

    The script runs later (after waiting for a pooled connection, say), when
    the caller may have changed the state or moved on (see ``StateRecord``).
    """

    fields: tuple[str, ...]
    """id, head, status, score, version and history length: ``ARGV[2]`` to ``ARGV[7]``."""
    record: StateRecord

    @property
    def kept(self) -> int:
        return self.record.kept

    @property
    def tail(self) -> list[str]:
        """The events from ``kept`` on, as JSON."""
        return self.record.events

    @classmethod
    def of(cls, state: WorkflowState, kept: int = 0) -> _Record:
        record = StateRecord.of(state, kept)
        fields = (
            record.workflow_id,
            record.head,
            record.status,
            str(record.created_microseconds),
            str(record.version),
            str(record.history_len),
        )
        return cls(fields, record)

    def all_events(self) -> list[str]:
        return self.record.all_events()


def _decode(workflow_id: str, head: bytes, events: list[bytes]) -> WorkflowState:
    texts = [stored_text(event, workflow_id) for event in events]
    return decode_state_parts(stored_text(head, workflow_id), texts, workflow_id)


def _stored(workflow_id: str, head: bytes, length: Any, events: list[bytes]) -> WorkflowState:
    """The state from its head and its first ``length`` (the hash's ``n``) events."""
    try:
        kept = int(length)
    except (TypeError, ValueError):
        raise CorruptStateError(
            workflow_id, f"the stored history length is {length!r}, not a number"
        ) from None
    return _decode(workflow_id, head, events[:kept])


def _inline_list(found: list[Any]) -> _States:
    """The states of a ``_LIST`` answer holding them: the mark, then id, head and events each."""
    states = StateList()
    for position in range(1, len(found), 3):
        workflow_id = bytes(found[position]).decode()
        states.add(_decode, workflow_id, found[position + 1], found[position + 2])
    return states


def _read_list(names: list[str], heads: list[Any], events: list[Any]) -> _States:
    """The states of ``names`` still stored (with the status asked), from their reads.

    ``heads`` holds each one's ``HGET`` of its head, ``events`` its events as
    ``_LIST_PARTS`` answered (nil: not stored, or another status).
    """
    states = StateList()
    for workflow_id, head, listed in zip(names, heads, events, strict=True):
        if head is not None and listed is not None:
            states.add(_decode, workflow_id, head, listed)
    return states
