"""Partitions' end offsets for fresh reads: one request answers every call that waited for it.

A fresh read needs the end of its partitions as of some moment after the
read began; the answer to any request sent after that moment will do. So at
most one request is in flight at a time: a call that comes while one is in
flight does not take that one's answer (it was sent before the call began,
and may miss a write acknowledged in between), it joins the next request,
which goes out as soon as the one in flight is answered, for the partitions
of every call that joined it. Calls one after another each send their own
request at once; many at the same time send about one request per round
trip between them instead of one each.

A request whose every caller gave up (cancelled, e.g. by its call's bound) is
cancelled too, or, not sent yet, dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable

__all__ = ["Cheaper", "Ends", "SharedEnds"]

Ends = dict[int, int]
"""Per partition number, the offset after its last record."""


class _Request:
    """One request to the broker and the calls waiting for its answer."""

    def __init__(self) -> None:
        self.partitions: set[int] = set()
        self.answer: asyncio.Future[Ends] = asyncio.get_running_loop().create_future()
        # Retrieve an error nobody waits for any more, so asyncio does not log it.
        self.answer.add_done_callback(lambda f: f.cancelled() or f.exception())
        self.waiting = 0
        self.task: asyncio.Task[Ends] | None = None
        """Set once it is sent."""


class SharedEnds:
    """Ends of partitions, asked with ``ask``, shared as described in the module docstring."""

    def __init__(self, ask: Callable[[frozenset[int]], Awaitable[Ends]]) -> None:
        self._ask = ask
        self._in_flight: _Request | None = None
        self._next: _Request | None = None
        self.sent = 0
        """How many requests went out (for tests and diagnostics)."""

    async def ends(self, partitions: Iterable[int]) -> Ends:
        """The end of each of ``partitions``, from a request sent after this call began."""
        wanted = set(partitions)
        if self._in_flight is None:
            return await self._alone(frozenset(wanted))
        request = self._next or _Request()
        request.partitions |= wanted
        self._next = request
        request.waiting += 1
        try:
            answer = await asyncio.shield(request.answer)
        except asyncio.CancelledError:
            request.waiting -= 1
            if not request.waiting:
                self._abandon(request)
            raise
        request.waiting -= 1
        return {partition: answer[partition] for partition in wanted}

    async def _alone(self, partitions: frozenset[int]) -> Ends:
        """Nothing in flight: this call's own request, awaited without a task of its own.

        Calls that come meanwhile wait for the next request, sent when this
        one is answered (or given up).
        """
        request = _Request()
        request.partitions |= partitions
        request.waiting = 1
        self._in_flight = request
        self.sent += 1
        try:
            return await self._ask(partitions)
        finally:
            request.answer.cancel()  # nobody else waits for it
            self._finished(request)

    def cancel(self) -> None:
        """Give up the request in flight and the one waiting to be sent (the store closes)."""
        for request in (self._next, self._in_flight):
            if request is not None:
                self._abandon(request)

    def _send(self, request: _Request) -> None:
        self._in_flight = request
        self.sent += 1
        request.task = asyncio.ensure_future(self._ask(frozenset(request.partitions)))
        request.task.add_done_callback(lambda task: self._answered(request, task))

    def _answered(self, request: _Request, task: asyncio.Task[Ends]) -> None:
        if not request.answer.done():
            if task.cancelled():
                request.answer.cancel()
            elif (error := task.exception()) is not None:
                request.answer.set_exception(error)
            else:
                request.answer.set_result(task.result())
        self._finished(request)

    def _finished(self, request: _Request) -> None:
        if self._in_flight is request:
            self._in_flight = None
            waiting, self._next = self._next, None
            if waiting is not None:
                self._send(waiting)

    def _abandon(self, request: _Request) -> None:
        if request is self._next:
            self._next = None
            request.answer.cancel()
        elif request.task is not None:
            request.task.cancel()  # its callback sends the next request, if any
        # A request awaited by its only call is given up with that call.


class Cheaper:
    """Of two ways to ask for the ends, the one that answered faster lately.

    Both answer the same question (any answer to a request sent after the
    call began will do); brokers differ in what each costs. On Tansu's
    in-memory storage an end-offsets request lists every batch of the
    partition, while a fetch at the end costs the same whatever the
    partition holds: the broker's wait of at least 1 ms. Each way's time is
    averaged over its recent requests; one request in ``every`` goes the
    other way, so a change in either is noticed. The first way is the one
    relied on: when the second cannot answer (None), the first answers the
    call, and the second is tried again only when its turn to be checked
    comes.
    """

    def __init__(
        self,
        first: Callable[[frozenset[int]], Awaitable[Ends]],
        second: Callable[[frozenset[int]], Awaitable[Ends | None]],
        every: int = 16,
    ) -> None:
        self._first, self._second = first, second
        self._times = [0.0, _UNKNOWN]
        self._every = every
        self._asked = 0

    @property
    def times(self) -> tuple[float, float]:
        """Each way's recent average, in seconds (inf: not answered yet, or could not)."""
        return self._times[0], self._times[1]

    async def __call__(self, partitions: frozenset[int]) -> Ends:
        self._asked += 1
        second = self._times[1] < self._times[0]
        if self._asked % self._every == 0:
            second = not second
        if second:
            started = time.perf_counter()
            answer = await self._second(partitions)
            if answer is not None:
                self._took(1, time.perf_counter() - started)
                return answer
            self._times[1] = _UNKNOWN
        started = time.perf_counter()
        ends = await self._first(partitions)
        self._took(0, time.perf_counter() - started)
        return ends

    def _took(self, way: int, seconds: float) -> None:
        last = self._times[way]
        self._times[way] = seconds if last in (0.0, _UNKNOWN) else 0.8 * last + 0.2 * seconds


_UNKNOWN = float("inf")
