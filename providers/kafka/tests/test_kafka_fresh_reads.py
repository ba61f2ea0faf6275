"""Fresh reads see every write acknowledged before they began, and share end-offsets requests."""

from __future__ import annotations

import asyncio
import time

import pytest

from beluga_workflow import WorkflowState, WorkflowStatus
from beluga_workflow_kafka import KafkaStore
from beluga_workflow_kafka.end_offsets import Cheaper, Ends, SharedEnds


class _Broker:
    """Answers end-offsets requests when the test says so, and records when each was sent."""

    def __init__(self) -> None:
        self.end = 0
        self.requests: list[tuple[frozenset[int], asyncio.Future[None]]] = []

    async def ask(self, partitions: frozenset[int]) -> Ends:
        release = asyncio.get_running_loop().create_future()
        self.requests.append((partitions, release))
        end = self.end  # what the broker saw when the request reached it
        await release
        return dict.fromkeys(partitions, end)

    def answer(self, index: int) -> None:
        self.requests[index][1].set_result(None)


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_call_begun_while_a_request_is_in_flight_does_not_take_its_answer() -> None:
    broker = _Broker()
    shared = SharedEnds(broker.ask)
    first = asyncio.ensure_future(shared.ends([0]))
    await _settle()
    assert len(broker.requests) == 1
    broker.end = 7  # a write acknowledged after the first request was sent
    later = asyncio.ensure_future(shared.ends([0]))
    await _settle()
    broker.answer(0)
    assert await first == {0: 0}
    await _settle()
    assert not later.done()  # it waits for a request sent after it began
    assert len(broker.requests) == 2
    broker.answer(1)
    assert await later == {0: 7}


async def test_calls_that_began_before_a_request_was_sent_share_its_answer() -> None:
    broker = _Broker()
    shared = SharedEnds(broker.ask)
    first = asyncio.ensure_future(shared.ends([0]))
    await _settle()
    waiting = [asyncio.ensure_future(shared.ends([p])) for p in (0, 1, 2, 1)]
    await _settle()
    assert len(broker.requests) == 1  # the others wait for the next one
    broker.end = 5
    broker.answer(0)
    assert await first == {0: 0}
    await _settle()
    assert len(broker.requests) == 2
    assert broker.requests[1][0] == {0, 1, 2}  # one request for all of them
    broker.answer(1)
    assert [await w for w in waiting] == [{0: 5}, {1: 5}, {2: 5}, {1: 5}]
    assert shared.sent == 2


async def test_a_call_alone_sends_its_request_at_once() -> None:
    broker = _Broker()
    shared = SharedEnds(broker.ask)
    for end in (3, 4):
        broker.end = end
        call = asyncio.ensure_future(shared.ends([0]))
        await _settle()
        broker.answer(len(broker.requests) - 1)
        assert await call == {0: end}
    assert shared.sent == 2


async def test_a_request_every_caller_gave_up_is_cancelled_and_the_next_one_goes_out() -> None:
    broker = _Broker()
    shared = SharedEnds(broker.ask)
    first = asyncio.ensure_future(shared.ends([0]))
    await _settle()
    later = asyncio.ensure_future(shared.ends([0]))
    other = asyncio.ensure_future(shared.ends([1]))
    await _settle()
    broker.end = 9
    first.cancel()
    await _settle()
    assert len(broker.requests) == 2  # the first was cancelled; the next was sent at once
    assert broker.requests[0][1].cancelled()
    broker.answer(1)
    assert await later == {0: 9}
    assert await other == {1: 9}
    dropped = asyncio.ensure_future(shared.ends([0]))
    await _settle()
    queued = asyncio.ensure_future(shared.ends([2]))  # waits for the next request
    await _settle()
    queued.cancel()
    broker.answer(2)
    assert await dropped == {0: 9}
    await _settle()
    assert len(broker.requests) == 3  # the next request lost its only caller: never sent


async def test_an_error_reaches_every_call_that_waited_for_the_request() -> None:
    async def failing(partitions: frozenset[int]) -> Ends:
        await asyncio.sleep(0.01)
        raise ConnectionError("broker gone")

    shared = SharedEnds(failing)
    calls = [asyncio.ensure_future(shared.ends([0])) for _ in range(3)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert shared.sent == 2  # the first call's request, then one for the two that came after


class _Way:
    """A way to ask that takes ``seconds`` and answers ``end`` (None: cannot answer)."""

    def __init__(self, seconds: float, end: int | None) -> None:
        self.seconds, self.end, self.asked = seconds, end, 0

    async def __call__(self, partitions: frozenset[int]) -> Ends | None:
        self.asked += 1
        await asyncio.sleep(self.seconds)
        return None if self.end is None else dict.fromkeys(partitions, self.end)


async def test_the_faster_way_answers_and_the_other_is_checked_now_and_then() -> None:
    slow, fast = _Way(0.02, 1), _Way(0.0, 2)
    cheaper = Cheaper(slow, fast, every=4)  # type: ignore[arg-type]
    answers = [await cheaper(frozenset({0})) for _ in range(12)]
    # The first way answers until the second has been tried (the 4th request); then
    # the second, with the first checked on every 4th request.
    assert answers == [{0: 1}] * 3 + [{0: 2}] * 4 + [{0: 1}] + [{0: 2}] * 3 + [{0: 1}]
    assert cheaper.times[1] < cheaper.times[0]


async def test_when_the_second_way_cannot_answer_the_first_does() -> None:
    first, unable = _Way(0.0, 5), _Way(0.0, None)
    cheaper = Cheaper(first, unable, every=2)  # type: ignore[arg-type]
    assert [await cheaper(frozenset({0, 1})) for _ in range(4)] == [{0: 5, 1: 5}] * 4
    assert unable.asked == 2
    assert first.asked == 4
    assert cheaper.times[1] == float("inf")


def _url(broker: object, topic: str, **query: object) -> str:
    options = "&".join(f"{k}={v}" for k, v in query.items())
    return f"kafka://{broker.address}/{topic}" + (f"?{options}" if options else "")  # type: ignore[attr-defined]


async def test_a_write_by_another_instance_just_before_a_load_is_always_seen(
    broker: object, topic: str
) -> None:
    async with (
        KafkaStore(_url(broker, topic)) as writer,
        KafkaStore(_url(broker, topic)) as reader,
    ):
        await writer.save(WorkflowState(workflow_id="start"))
        assert await reader.load("start") is not None
        for n in range(40):
            state = WorkflowState(workflow_id=f"w{n % 4}", input={"n": n})
            await writer.save(state)
            loaded = await reader.load(state.workflow_id)
            assert loaded is not None
            assert loaded.input == {"n": n}


async def test_loads_at_the_same_time_see_writes_acknowledged_before_each_began(
    broker: object, topic: str
) -> None:
    """Many loads in flight share requests; each sees what was acknowledged before it began."""
    async with (
        KafkaStore(_url(broker, topic, partitions=3)) as writer,
        KafkaStore(_url(broker, topic)) as reader,
    ):
        await writer.save(WorkflowState(workflow_id="start"))
        assert await reader.load("start") is not None
        acknowledged: dict[str, int] = {}
        seen: list[tuple[str, int, int]] = []
        stop = time.monotonic() + 3.0

        async def write(workflow_id: str) -> None:
            n = 0
            while time.monotonic() < stop:
                n += 1
                await writer.save(WorkflowState(workflow_id=workflow_id, input={"n": n}))
                acknowledged[workflow_id] = n

        async def read(workflow_id: str) -> None:
            while time.monotonic() < stop:
                before = acknowledged.get(workflow_id, 0)
                loaded = await reader.load(workflow_id)
                got = 0 if loaded is None else int(loaded.input["n"])
                seen.append((workflow_id, before, got))

        ids = [f"w{i}" for i in range(6)]
        await asyncio.gather(*(write(i) for i in ids), *(read(i) for i in ids for _ in range(3)))
        assert len(seen) > 100
        assert all(got >= before for _, before, got in seen), [s for s in seen if s[2] < s[1]]
        assert reader._ends.sent < len(seen)  # requests were shared


async def test_a_load_asks_only_for_its_workflows_partition(broker: object, topic: str) -> None:
    async with KafkaStore(_url(broker, topic, partitions=4)) as store:
        await store.save(WorkflowState(workflow_id="a", status=WorkflowStatus.RUNNING))
        asked: list[frozenset[int]] = []
        ask = store._ends._ask

        async def recording(partitions: frozenset[int]) -> Ends:
            asked.append(partitions)
            return await ask(partitions)

        store._ends._ask = recording
        await store.load("a")
        await store.delete("a")
        await store.list()
        mine = store._partition_of("a")
        assert asked == [{mine}, {mine}, {0, 1, 2, 3}]


@pytest.mark.parametrize("partitions", [1, 3])
async def test_a_delete_by_another_instance_just_before_a_list_is_always_seen(
    broker: object, topic: str, partitions: int
) -> None:
    async with (
        KafkaStore(_url(broker, topic, partitions=partitions)) as writer,
        KafkaStore(_url(broker, topic)) as reader,
    ):
        for n in range(10):
            await writer.save(WorkflowState(workflow_id=f"w{n}"))
        assert len(await reader.list()) == 10
        for n in range(10):
            await writer.delete(f"w{n}")
            assert [s.workflow_id for s in await reader.list()] == [
                f"w{m}" for m in range(n + 1, 10)
            ]


async def test_a_fetch_at_the_end_reports_the_offset_after_the_last_record(
    broker: object, topic: str
) -> None:
    async with KafkaStore(_url(broker, topic, partitions=2)) as store:
        for n in range(6):
            await store.save(WorkflowState(workflow_id=f"w{n}", input={"n": n}))
        written = dict(store._stored_up_to)  # after the last acknowledged record, per partition
        assert await store._fetch_ends(frozenset({0, 1})) == written


async def test_loads_answered_by_a_fetch_at_the_end_see_another_instances_writes(
    broker: object, topic: str
) -> None:
    async with (
        KafkaStore(_url(broker, topic)) as writer,
        KafkaStore(_url(broker, topic)) as reader,
    ):
        await writer.save(WorkflowState(workflow_id="start"))
        assert await reader.load("start") is not None
        fetches = 0
        fetch = reader._fetch_ends

        async def counted(partitions: frozenset[int]) -> Ends | None:
            nonlocal fetches
            fetches += 1
            return await fetch(partitions)

        reader._asking._second = counted
        reader._asking._times[:] = [1.0, 0.0]  # as if the fetch were the faster way
        for n in range(40):
            state = WorkflowState(workflow_id=f"w{n % 4}", input={"n": n})
            await writer.save(state)
            loaded = await reader.load(state.workflow_id)
            assert loaded is not None
            assert loaded.input == {"n": n}
        assert fetches >= 35  # all but the end-offsets requests that check the other way


async def test_the_consumer_moves_past_this_stores_own_records_without_fetching_them(
    broker: object, topic: str
) -> None:
    async with (
        KafkaStore(_url(broker, topic)) as store,
        KafkaStore(_url(broker, topic)) as other,
    ):
        await store.save(WorkflowState(workflow_id="start"))
        assert store._consumer is not None
        tp = store._partitions[0]
        for n in range(5):
            await store.save(WorkflowState(workflow_id="mine", input={"n": n}))
            assert await store._consumer.position(tp) == store._stored_up_to[0]
        await other.save(WorkflowState(workflow_id="theirs"))  # the consumer must read this one
        await store.save(WorkflowState(workflow_id="mine", input={"n": 5}))
        assert await store._consumer.position(tp) < store._stored_up_to[0]
        theirs = await store.load("theirs")
        assert theirs is not None
        loaded = await store.load("mine")
        assert loaded is not None
        assert loaded.input == {"n": 5}
        assert sorted(s.workflow_id for s in await other.list()) == ["mine", "start", "theirs"]
