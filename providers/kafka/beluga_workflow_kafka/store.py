"""The Kafka store: records in a compacted topic, read through a materialized view.

Records (all records of one workflow go to one partition, chosen from its id,
so they are read back in the order they were written):

- ``m\\0<id>``: the meta record — status, creation time, version, history
  length and where the data is. It is written last: it is the commit point.
- ``d\\0<id>\\0<generation>\\0h<n>.<i>``: part ``i`` of the head (every field
  but the history) as of head number ``n``;
- ``d\\0<id>\\0<generation>\\0e<j>``: history fragment ``j`` (the events one
  write added).

Values are split at ``chunk_size`` so no record exceeds a broker's message
limit. A ``save`` writes a new generation and tombstones the old one; a
workflow step writes a new head part, one fragment and the meta record, then
tombstones the old head part: its cost does not grow with the history.
Compaction keeps the latest value of every key and drops tombstoned keys.

Every call runs under one bound, ``operation_timeout``. A call still
running after 0.2 s checks whether any bootstrap broker takes a TCP
connection, and gives up at once when every one refuses it (the client
itself would keep retrying until the bound).

Writes: a write is done when the broker acknowledges its records
(``acks=all``, idempotent where the broker allows); the store then applies
them to its own view at once, without waiting to read them back. Calls do
not wait for each other: writes of different workflows are in flight
together and share the producer's batches; writes of one workflow in one
store take turns (see :mod:`~beluga_workflow_kafka.per_workflow`).

Reads: the store consumes the whole topic from the beginning into a view
(see :mod:`~beluga_workflow_kafka.view`). ``load``, ``list`` and ``delete``
first catch it up to the partitions' end offsets, so whatever any instance
wrote before the call is seen; records this store wrote itself need no
waiting for. ``load`` and ``delete`` ask only for the end of the partition
their workflow's records go to, ``list`` for every partition. The ends come
from a request sent after the call began: calls that come while one is in
flight share the next one (see :mod:`~beluga_workflow_kafka.end_offsets`).
That request is an end-offsets request or a fetch at the end (whose answer
carries the high watermark), whichever answered faster lately: on Tansu the
first lists every batch of the partition, so its cost grows with what is
stored, while the second costs the same at any size (the broker's wait of
at least 1 ms). After a write, the consumer moves past this store's own
records when it has reached them, rather than fetching them back.
``save`` and ``append`` use the view as it is: this store's own writes
always included, other instances' as the consumer delivered them, taken in
at least every 50 ms. Kafka has no compare-and-set: ``append``'s check of
the stored history is no guard against a writer in another process (the
store declares no ``optimistic_concurrency``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.protocol.fetch import FetchRequest

from beluga_workflow.bounded import ANSWER, describe, set_stage
from beluga_workflow.errors import CorruptStateError
from beluga_workflow.listing import StateList
from beluga_workflow.models import WorkflowFilter, WorkflowState
from beluga_workflow.storekit.base import ServerStore
from beluga_workflow.storekit.checks import (
    require_append,
    require_filter,
    require_state,
    require_workflow_id,
)
from beluga_workflow.storekit.chunking import CommitRecord, history_text, split
from beluga_workflow.storekit.conflicts import history_conflict
from beluga_workflow.storekit.records import encode_head
from beluga_workflow_kafka.config import KafkaConfig
from beluga_workflow_kafka.end_offsets import Cheaper, Ends, SharedEnds
from beluga_workflow_kafka.per_workflow import PerWorkflowLocks
from beluga_workflow_kafka.view import MaterializedView

__all__ = ["KafkaStore", "create_store"]

logger = logging.getLogger(__name__)

_PROBE_EVERY = 0.2
"""Seconds a call runs before it checks whether any broker still takes connections."""
_TAKE_IN_EVERY = 0.05
"""Seconds between a write's look at what the consumer fetched, when no read looked.

Each look lets the consumer fetch again; looking on every write would have
the broker answer a fetch for every produce, halving what it can take.
"""
T = TypeVar("T")
_States = list[WorkflowState]
_Records = list[tuple[bytes, bytes | None]]


def create_store(config: KafkaConfig) -> KafkaStore:
    """Factory named by the plugin's ``StoreProvider`` record."""
    return KafkaStore(config)


def _meta_key(workflow_id: str) -> bytes:
    return b"m\0" + workflow_id.encode()


def _data_key(workflow_id: str, gen: str, part: str) -> bytes:
    return b"d\0" + workflow_id.encode() + b"\0" + gen.encode() + b"\0" + part.encode()


class KafkaStore(ServerStore[KafkaConfig]):
    """A :class:`~beluga_workflow.WorkflowStore` on a compacted Kafka topic.

    Also implements ``append``. ``list`` is ordered by ``created_at`` then
    id. There is no compare-and-set in Kafka, so optimistic concurrency is not
    offered; ``append`` refuses a history that this store's view shows moved
    on: its own writes at once, another instance's once consumed.
    """

    provider = "kafka"
    config_model = KafkaConfig
    library_loggers: ClassVar[tuple[str, ...]] = ("aiokafka",)

    def __init__(self, config: KafkaConfig | str | None = None, **options: Any) -> None:
        super().__init__(config, **options)
        self.idempotent = self.config.idempotent
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._offsets: AIOKafkaConsumer | None = None
        """Asks for end offsets on a connection of its own: the broker may hold the
        consumer's connection for a whole fetch wait before it answers there."""
        self._partitions: list[TopicPartition] = []
        self._asking = Cheaper(self._ask_ends, self._fetch_ends)
        self._ends = SharedEnds(self._asking)
        self._stored_up_to: dict[int, int] = {}
        """Per partition, an offset known to be stored: none after it is known to be missing."""
        self._view = MaterializedView()
        self._writing = PerWorkflowLocks()
        self._opening: asyncio.Lock | None = None
        self._next_take_in = 0.0
        self._probe: asyncio.Future[ConnectionError | None] | None = None
        self._ready = False
        """Whether the clients run and the view holds the whole topic."""

    # --- the store protocol ---------------------------------------------------

    async def save(self, state: WorkflowState) -> None:
        require_state(state)
        await self._call("save", lambda: self._write_whole(state), writes=state.workflow_id)

    async def load(self, workflow_id: str) -> WorkflowState | None:
        require_workflow_id(workflow_id)

        async def build() -> WorkflowState | None:
            return self._build(workflow_id)

        return await self._call("load", build, reads=workflow_id)

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        wanted = require_filter(filter)

        async def fetch() -> _States:
            states = StateList()
            for error in self._view.unreadable.values():  # of unknown status: always reported
                states.skip(error)
            status = None if wanted.status is None else wanted.status.value
            for workflow_id in self._view.order.first(status, wanted.limit):
                states.add(self._build, workflow_id)
            return states

        return await self._call("list", fetch, fresh=True)

    async def delete(self, workflow_id: str) -> None:
        require_workflow_id(workflow_id)

        async def delete() -> None:
            view = self._view
            meta = view.metas.get(workflow_id)
            if meta is not None:
                generations = [meta.gen]
            elif workflow_id in view.unreadable:  # which generation is live is unknown
                generations = [gen for wid, gen in view.data if wid == workflow_id]
            else:
                return
            records: _Records = [(_meta_key(workflow_id), None)]
            for gen in generations:
                records += self._tombstones(workflow_id, gen)
            await self._produce(workflow_id, records)

        await self._call("delete", delete, reads=workflow_id, writes=workflow_id)

    async def append(self, state: WorkflowState, new_events: int) -> None:
        kept = require_append(state, new_events)

        async def append() -> None:
            meta = self._view.metas.get(state.workflow_id)
            if meta is None:
                require_state(state)
                await self._write_whole(state)
                return
            if meta.n != kept:
                raise history_conflict(state.workflow_id, kept, meta.n)
            updated = meta.next_step(state)
            records = self._part_records(state, updated, first_event=kept)
            records.append((_meta_key(state.workflow_id), updated.encode()))
            records += [
                (_data_key(state.workflow_id, meta.gen, meta.head_part(i)), None)
                for i in range(meta.head_parts)
            ]
            await self._produce(state.workflow_id, records)

        await self._call("append", append, writes=state.workflow_id)

    async def release(self) -> None:
        self._ready = False
        self._ends.cancel()
        if self._probe is not None:
            self._probe.cancel()
        producer, self._producer = self._producer, None
        consumer, self._consumer = self._consumer, None
        offsets, self._offsets = self._offsets, None
        clients = (producer, consumer, offsets)
        stops = [asyncio.ensure_future(c.stop()) for c in clients if c is not None]
        if stops:
            # A dead broker must neither hang close() nor make it fail.
            done, pending = await asyncio.wait(stops, timeout=self.config.operation_timeout)
            for task in pending:
                task.cancel()
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    logger.debug("stopping a Kafka client failed: %s", task.exception())

    # --- writing --------------------------------------------------------------

    async def _write_whole(self, state: WorkflowState) -> None:
        previous = self._view.metas.get(state.workflow_id)
        meta = CommitRecord.first(state)
        records = self._part_records(state, meta, first_event=0)
        records.append((_meta_key(state.workflow_id), meta.encode()))
        if previous is not None:
            records += self._tombstones(state.workflow_id, previous.gen)
        await self._produce(state.workflow_id, records)

    def _part_records(
        self, state: WorkflowState, meta: CommitRecord, *, first_event: int
    ) -> _Records:
        """Records of the head and of the events from ``first_event`` on, counted in ``meta``."""
        size = self.config.chunk_size
        head = split(encode_head(state), size) or [b""]
        records: _Records = [
            (_data_key(state.workflow_id, meta.gen, meta.head_part(i)), chunk)
            for i, chunk in enumerate(head)
        ]
        meta.head_parts = len(head)
        for chunk in split(history_text(state, first_event), size):
            records.append(
                (_data_key(state.workflow_id, meta.gen, meta.fragment(meta.frags)), chunk)
            )
            meta.frags += 1
        return records

    def _tombstones(self, workflow_id: str, gen: str) -> _Records:
        parts = self._view.data.get((workflow_id, gen), {})
        return [(_data_key(workflow_id, gen, part), None) for part in parts]

    async def _produce(self, workflow_id: str, records: _Records) -> None:
        """Send ``records`` in order to the workflow's partition; once all are acked, apply them.

        The records are queued at once and go in the producer's next batch,
        with those of every other call in flight.
        """
        assert self._producer is not None
        partition = self._partition_of(workflow_id)
        futures = [
            await self._producer.send(self.config.topic, key=key, value=value, partition=partition)
            for key, value in records
        ]
        acked = await asyncio.gather(*futures)
        for (key, value), sent in zip(records, acked, strict=True):
            self._view.acknowledged(partition, sent.offset, key, value)
        self._stored(partition, acked[-1].offset + 1)
        await self._skip_own(self._partitions[partition])

    async def _skip_own(self, tp: TopicPartition) -> None:
        """Move the consumer past this store's own records where it has reached them.

        The view holds them already; fetching them back costs the broker a
        read per fetch (on Tansu a listing of every batch of the partition,
        and the consumer fetches again as soon as its last fetch returned).
        """
        assert self._consumer is not None
        start = await self._consumer.position(tp)
        end = self._view.skip_own(tp.partition, start)
        if end > start:
            self._consumer.seek(tp, end)

    def _partition_of(self, workflow_id: str) -> int:
        """The partition every record of ``workflow_id`` goes to."""
        return zlib.crc32(workflow_id.encode()) % len(self._partitions)

    # --- reading --------------------------------------------------------------

    def _build(self, workflow_id: str) -> WorkflowState | None:
        meta = self._view.metas.get(workflow_id)
        if meta is None:
            unreadable = self._view.unreadable.get(workflow_id)
            if unreadable is not None:
                raise unreadable
            return None
        parts = self._view.data.get((workflow_id, meta.gen), {})
        try:
            head = [parts[meta.head_part(i)] for i in range(meta.head_parts)]
            events = [parts[meta.fragment(j)] for j in range(meta.frags)]
        except KeyError as exc:
            raise CorruptStateError(workflow_id, f"record {exc} of its state is missing") from exc
        return meta.assemble(head, events)

    async def _catch_up(self, partitions: Sequence[TopicPartition] | None = None) -> None:
        """Read ``partitions`` (all by default) up to where they ended after this call began.

        The ends come from a request sent after the call began, shared with
        the calls that waited for the same request (see
        :mod:`~beluga_workflow_kafka.end_offsets`). Records this store wrote
        are in the view already: a partition whose unread records are all its
        own needs no waiting. Some Kafka-compatible brokers report a
        partition's end as one past the first offset of its last batch rather
        than past its last record. That is still enough: a fetch hands over
        whole batches, so reaching the reported end reads the whole last batch.
        """
        assert self._consumer is not None
        consumer = self._consumer
        wanted = self._partitions if partitions is None else partitions
        reported = await self._ends.ends(tp.partition for tp in wanted)
        for partition, end in reported.items():
            self._stored(partition, end)
        while True:
            self._drain(await consumer.getmany(*self._partitions, timeout_ms=0))
            behind = []
            for tp in wanted:
                start, end = await consumer.position(tp), reported[tp.partition]
                if start < end and not self._view.only_own_between(tp.partition, start, end):
                    behind.append(tp)
            if not behind:
                return
            self._drain(await consumer.getmany(*behind, timeout_ms=50))

    async def _ask_ends(self, partitions: frozenset[int]) -> Ends:
        """One end-offsets request for ``partitions``, on the connection kept for it."""
        assert self._offsets is not None
        asked = [TopicPartition(self.config.topic, p) for p in sorted(partitions)]
        found = await self._offsets.end_offsets(asked)
        return {tp.partition: offset for tp, offset in found.items()}

    async def _fetch_ends(self, partitions: frozenset[int]) -> Ends | None:
        """The ends as a fetch at the end of each partition reports them; None if it cannot tell.

        A fetch answers with the partition's high watermark, which every
        record acknowledged by all replicas is below: what an end-offsets
        request reports. It asks from an offset known to be stored, so the
        broker has nothing (or little) to send, waits at most 1 ms for more,
        and takes no offset for out of range. No leader known, or an error
        for a partition: None, and the end-offsets request answers instead.
        """
        assert self._offsets is not None
        client = self._offsets._client  # the same connection the end-offsets requests use
        by_leader: dict[int, list[tuple[int, int, int]]] = {}
        for partition in sorted(partitions):
            leader = client.cluster.leader_for_partition(self._partitions[partition])
            if leader is None or leader < 0:
                return None
            start = max(self._stored_up_to.get(partition, 0), self._view.read_up_to(partition))
            by_leader.setdefault(leader, []).append((partition, start, 1))
        topic = self.config.topic
        asked = [
            client.send(leader, FetchRequest(1, 0, 1, 0, [(topic, wanted)]))
            for leader, wanted in by_leader.items()
        ]
        ends: Ends = {}
        for response in await asyncio.gather(*asked):
            for answered_topic, answered in response.topics:
                for partition, error, high_watermark, *_ in answered:
                    if answered_topic != topic or error or high_watermark < 0:
                        return None
                    ends[partition] = high_watermark
        return ends if ends.keys() >= partitions else None

    def _stored(self, partition: int, offset: int) -> None:
        """Note that the records before ``offset`` of ``partition`` are stored."""
        if offset > self._stored_up_to.get(partition, 0):
            self._stored_up_to[partition] = offset

    def _drain(self, batches: dict[TopicPartition, Any]) -> None:
        """Apply records the consumer delivered."""
        self._next_take_in = time.monotonic() + _TAKE_IN_EVERY
        view = self._view
        for tp, messages in batches.items():
            for message in messages:
                view.consumed(tp.partition, message.offset, message.key, message.value)

    # --- connection -----------------------------------------------------------

    async def _open(self) -> None:
        if self._ready:
            return
        config = self.config
        common: dict[str, Any] = {
            "bootstrap_servers": config.bootstrap_servers,
            "client_id": config.client_id,
            "request_timeout_ms": int(config.operation_timeout * 1000),
            "security_protocol": config.security_protocol,
            "sasl_mechanism": config.sasl_mechanism or "PLAIN",
            "sasl_plain_username": config.sasl_plain_username,
            "sasl_plain_password": (
                config.sasl_plain_password.get_secret_value()
                if config.sasl_plain_password
                else None
            ),
        }
        await self._ensure_topic(common)
        producer = await self._start_producer(common)
        consumer = AIOKafkaConsumer(
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=5,
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=max(4 * config.chunk_size, 1024 * 1024),
            **common,
        )
        offsets = AIOKafkaConsumer(enable_auto_commit=False, **common)
        try:
            await consumer.start()
            await offsets.start()
            found = await producer.partitions_for(config.topic)
            self._partitions = [TopicPartition(config.topic, p) for p in sorted(found)]
            consumer.assign(self._partitions)
            await consumer.seek_to_beginning(*self._partitions)
            self._producer, self._consumer, self._offsets = producer, consumer, offsets
            await self._catch_up()  # writes check what is stored: read it all first
            self._ready = True
        except BaseException:
            self._producer = self._consumer = self._offsets = None
            stops = (client.stop() for client in (producer, consumer, offsets))
            await asyncio.gather(*stops, return_exceptions=True)
            raise

    async def _start_producer(self, common: dict[str, Any]) -> AIOKafkaProducer:
        limit = max(2 * self.config.chunk_size, 1024 * 1024)
        if self.idempotent:
            producer = AIOKafkaProducer(
                acks="all", enable_idempotence=True, max_request_size=limit, **common
            )
            try:
                await producer.start()
                return producer
            except KafkaError as exc:
                await producer.stop()
                logger.warning(
                    "broker at %s refused the idempotent producer (%s); using acks=all without "
                    "idempotence",
                    self.config.address,
                    exc,
                )
                self.idempotent = False
        producer = AIOKafkaProducer(acks="all", max_request_size=limit, **common)
        await producer.start()
        return producer

    async def _ensure_topic(self, common: dict[str, Any]) -> None:
        admin = AIOKafkaAdminClient(**common)
        await admin.start()
        try:
            topics = await admin.list_topics()
            if self.config.topic not in topics:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(
                        [
                            NewTopic(
                                self.config.topic,
                                num_partitions=self.config.partitions,
                                replication_factor=self.config.replication_factor,
                                topic_configs={"cleanup.policy": "compact"},
                            )
                        ]
                    )
        finally:
            await admin.close()

    async def _shared_probe(self) -> ConnectionError | None:
        """:meth:`_brokers_refuse`, asked once for all the calls that are slow at the same time.

        Many calls are in flight at once; each asking on its own would open
        a connection per call every 0.2 s, on a broker that is only busy.
        """
        probe = self._probe
        if probe is None:
            probe = self._probe = asyncio.ensure_future(self._brokers_refuse())
            probe.add_done_callback(lambda _: setattr(self, "_probe", None))
        return await asyncio.shield(probe)

    async def _brokers_refuse(self) -> ConnectionError | None:
        """Why no bootstrap broker takes a connection, or None when one does.

        The client keeps retrying a broker that is gone until its request
        times out; a slow call asks the brokers directly, so it can give up
        at once when all of them refuse. A connection not answered within
        0.2 s is no verdict: under many calls at once a broker that is only
        busy answers that late (the call's bound still holds).
        """
        error: OSError | None = None
        for server in self.config.bootstrap_servers.split(","):
            host, _, port = server.strip().rpartition(":")
            if not port.isdigit():
                return None  # not an address this check understands: let the client answer
            try:
                opening = asyncio.open_connection(host.strip("[]") or "127.0.0.1", int(port))
                _, writer = await asyncio.wait_for(opening, timeout=_PROBE_EVERY)
            except TimeoutError:
                return None  # a busy broker (or process) answers late: no verdict
            except OSError as exc:  # refused or unreachable
                error = exc
                continue
            writer.close()
            return None
        return ConnectionError(f"no broker takes a connection: {describe(error or 'refused')}")

    async def _call(
        self,
        operation: str,
        work: Callable[[], Awaitable[T]],
        *,
        fresh: bool = False,
        reads: str | None = None,
        writes: str | None = None,
    ) -> T:
        """Run ``work`` on an open store under the call's bound.

        ``fresh``: catch the view up to the topic's end first (otherwise it
        takes in only what the consumer has delivered); ``reads``: the same,
        for the one partition that holds this workflow. ``writes``: the
        workflow this call writes, whose other writes in this store wait.
        """
        self.check_open()
        if self._opening is None:
            self._opening = asyncio.Lock()
        opening = self._opening

        async def attempt() -> T:
            if not self._ready:
                set_stage("connecting to the brokers and reading the topic")
                async with opening:
                    await self._open()
            assert self._consumer is not None
            if fresh:
                set_stage("reading the topic up to its end")
                await self._catch_up()
            elif reads is not None:
                set_stage("reading the topic up to its end")
                await self._catch_up([self._partitions[self._partition_of(reads)]])
            elif time.monotonic() >= self._next_take_in:
                self._drain(await self._consumer.getmany(*self._partitions, timeout_ms=0))
            if writes is None:
                set_stage(ANSWER)
                return await work()
            set_stage("waiting for this store's previous write of the workflow")
            async with self._writing.hold(writes):
                set_stage(ANSWER)
                return await work()

        async def shielded() -> T:
            # A task of its own: the Kafka client may swallow or replace a
            # cancellation, and the bound must hold whatever it does.
            task = asyncio.ensure_future(attempt())
            try:
                while True:
                    done, _ = await asyncio.wait({task}, timeout=_PROBE_EVERY)
                    if done:
                        return task.result()
                    refused = await self._shared_probe()
                    if refused is not None:
                        task.cancel()
                        raise refused
            except asyncio.CancelledError:
                task.cancel()
                raise

        return await self.bounded(operation, shielded, outage=(OSError, KafkaError))
