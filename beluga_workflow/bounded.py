"""One time bound per store call, and the error that says what gave up.

A server-backed store runs each call (connecting, waiting for a pooled
connection and the exchange with the server, together) under one deadline,
``operation_timeout``, whatever its client library retries inside: an outage
then costs a caller at most that bound per call. The
:class:`~beluga_workflow.errors.StoreUnavailableError` raised says which
provider, where (secrets masked), which operation, the bound and why::

    postgres store at postgresql://app:***@db:5432/app: load gave up within 2s:
    connection refused

A call that is waiting for a connection need not sit out the whole bound when
the server refuses: a store reports each failed connection attempt of its
client to a :class:`ConnectWatch`, and :meth:`ConnectWatch.race` ends the wait
with that failure.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from beluga_workflow.errors import StoreError, StoreUnavailableError
from beluga_workflow.redaction import redact_text

__all__ = ["ANSWER", "ConnectWatch", "OperationBound", "describe", "set_stage"]

T = TypeVar("T")

ANSWER = "waiting for the server's answer"
"""The stage of a call unless the store says otherwise."""

_stage: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "beluga_workflow_store_stage", default=None
)


def set_stage(stage: str) -> None:
    """Note what the current bounded call is doing (``"waiting for a pooled connection"``).

    Client-library hooks may call it too: the call's context is theirs. Outside
    a bounded call it does nothing.
    """
    current = _stage.get()
    if current is not None:
        current[0] = stage


def describe(error: BaseException | str) -> str:
    """One line saying why, secrets masked: the first line of the message, or the type."""
    if isinstance(error, str):
        text = error
    else:
        text = str(error).strip() or type(error).__name__
        cause = error.__cause__ or error.__context__
        if isinstance(error, TimeoutError) and not str(error).strip() and cause is not None:
            text = describe(cause)
    return redact_text(text.strip().splitlines()[0] if text.strip() else text)


class OperationBound:
    """The time bound of every call of one store, and how its failures read.

    ``provider`` and ``address`` (already masked) open every message;
    ``timeout`` is the store's ``operation_timeout``.
    """

    def __init__(self, provider: str, address: str, timeout: float) -> None:
        self.provider = provider
        self.address = address
        self.timeout = timeout

    def unavailable(self, operation: str, why: BaseException | str) -> StoreUnavailableError:
        """The error for ``operation`` failing because of ``why``."""
        return StoreUnavailableError(
            f"{self.provider} store at {self.address}: {operation} gave up within "
            f"{self.timeout:g}s: {describe(why)}"
        )

    async def run(
        self,
        operation: str,
        work: Callable[[], Awaitable[T]],
        *,
        outage: tuple[type[BaseException], ...] = (),
    ) -> T:
        """Await ``work()`` within the bound.

        Running out of time, or an exception of one of the ``outage`` types
        (the client's connection errors), becomes ``StoreUnavailableError``
        naming ``operation``; a :class:`StoreError` raised inside (a conflict,
        corrupt data, a lost connection already reported) passes unchanged.
        """
        stage = [ANSWER]
        token = _stage.set(stage)
        scope = asyncio.timeout(self.timeout)
        try:
            async with scope:
                return await work()
        except StoreError:
            raise
        except TimeoutError as exc:
            if scope.expired():
                raise self.unavailable(operation, f"still {stage[0]}") from exc
            raise self.unavailable(operation, exc) from exc
        except outage as exc:
            raise self.unavailable(operation, exc) from exc
        finally:
            _stage.reset(token)


class ConnectWatch:
    """Failed connection attempts of one client, for the calls waiting on a connection.

    The store calls :meth:`failed` from its client's connect path (or error
    callback) and :meth:`succeeded` when a connection opens; a call waiting
    for a connection awaits :meth:`race`, which ends with the next failure.
    """

    def __init__(self) -> None:
        self.last_error: BaseException | None = None
        self._waiters: set[asyncio.Future[BaseException]] = set()

    @property
    def failing(self) -> bool:
        """True when the latest connection attempt failed."""
        return self.last_error is not None

    def failed(self, error: BaseException) -> None:
        """A connection attempt failed: wake every waiting call with ``error``."""
        self.last_error = error
        waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(error)

    def succeeded(self) -> None:
        """A connection opened: the server answers again."""
        self.last_error = None

    async def race(self, waiting: Awaitable[T], *, give_back: Callable[[T], Awaitable[None]]) -> T:
        """``await waiting``, unless a connection attempt fails first: then raise that failure.

        ``give_back`` returns a result that arrived too late (a connection
        handed over just as the failure came) to where it came from.
        """
        loop = asyncio.get_running_loop()
        failure: asyncio.Future[BaseException] = loop.create_future()
        self._waiters.add(failure)
        task = asyncio.ensure_future(waiting)
        pending: set[asyncio.Future[Any]] = {task, failure}
        try:
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                return task.result()
            task.cancel()
            await asyncio.wait({task})
            if not task.cancelled() and task.exception() is None:
                await give_back(task.result())
            raise ConnectionError(describe(failure.result())) from failure.result()
        finally:
            self._waiters.discard(failure)
            if not task.done():
                task.cancel()
