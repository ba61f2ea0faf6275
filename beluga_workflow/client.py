"""A client: starts, signals, cancels, queries and awaits workflows that workers run.

A client needs only the store. It runs no workflow code, so a web
application, a script or the CLI can talk to runs that any worker process
owns: everything goes through the store, and the owner takes messages in as
the store's watch (or its polling fallback) tells it. A client waits the same
way: ``await handle.result()`` and :meth:`Client.wait_for_event` wake when
the store says the run changed, and poll every ``poll_interval`` on a store
that cannot say.

It is an :class:`~beluga_workflow.executor.Executor` that registers nothing,
so starting by name, signals and cancels take the same code path (and the
same conditional writes) as in a worker.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Self

from beluga_workflow.errors import InvalidArgumentError, WorkflowError, WorkflowNotFoundError
from beluga_workflow.events import latest_event
from beluga_workflow.executor import Executor
from beluga_workflow.handle import WorkflowHandle
from beluga_workflow.history import DEFAULT_STORE_RETRY
from beluga_workflow.models import Signal, WorkflowFilter, WorkflowState, WorkflowStatus
from beluga_workflow.options import WorkflowOptions
from beluga_workflow.retry import RetryPolicy
from beluga_workflow.run_listing import list_runs
from beluga_workflow.store import WorkflowStore
from beluga_workflow.validation import require_name, require_workflow_id

__all__ = ["Client"]


class Client:
    """Talks to workflow runs through ``store``, whichever process runs them.

    ``store`` is what :class:`~beluga_workflow.executor.Executor` accepts (a
    store object, a name, a URL, a mapping, a TOML path, or ``None`` for
    ``$BELUGA_WORKFLOW_STORE``); a store the client opened is closed by
    :meth:`close`. ``poll_interval`` bounds how long a wait goes without
    reading the store when no push arrives. ``hooks`` and ``load_plugins``
    are the executor's: start, signal and cancel hooks run here.
    """

    def __init__(
        self,
        store: WorkflowStore | str | os.PathLike[str] | Mapping[str, Any] | None = None,
        *,
        poll_interval: float = 0.5,
        store_retry: RetryPolicy = DEFAULT_STORE_RETRY,
        hooks: Iterable[object] = (),
        load_plugins: bool = True,
    ) -> None:
        if (
            isinstance(poll_interval, bool)
            or not isinstance(poll_interval, (int, float))
            or not poll_interval > 0
        ):
            raise InvalidArgumentError(
                f"poll_interval must be a positive number of seconds, got {poll_interval!r}"
            )
        self._poll_interval = float(poll_interval)
        self._executor = Executor(
            store,
            hooks=hooks,
            load_plugins=load_plugins,
            store_retry=store_retry,
            poll_interval=self._poll_interval,
        )

    def __repr__(self) -> str:
        return f"Client(store={self.store!r})"

    @property
    def store(self) -> WorkflowStore:
        return self._executor.store

    async def start(
        self,
        name: str,
        input: Any = None,
        *,
        id: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the run's stored deadline, not this call's
        options: WorkflowOptions | None = None,
    ) -> WorkflowHandle:
        """Store a new run of the workflow registered as ``name``; a worker runs it.

        Returns its handle once the start is stored. ``id`` (default: a new
        random id), ``input`` (a JSON value) and ``timeout`` (seconds, for the
        whole run) are as in :class:`~beluga_workflow.options.WorkflowOptions`;
        pass ``options`` instead of them to choose any other option. An id
        that already names a run follows ``options.id_reuse`` (by default its
        handle is returned; see :class:`~beluga_workflow.idpolicy.IdReusePolicy`).
        """
        if options is None:
            try:
                options = WorkflowOptions(id=id or "", input=input, timeout=timeout)
            except ValueError as exc:
                raise InvalidArgumentError(f"invalid workflow options: {exc}") from None
        elif not isinstance(options, WorkflowOptions):
            raise InvalidArgumentError(f"options must be WorkflowOptions, got {options!r}")
        elif input is not None or id is not None or timeout is not None:
            raise InvalidArgumentError("pass input, id and timeout inside options, not beside it")
        return await self._executor.submit(name, options)

    async def get_handle(self, workflow_id: str) -> WorkflowHandle:
        """A handle to a stored run; ``await handle.result()`` waits for whoever runs it.

        Raises ``WorkflowNotFoundError`` for an unknown id.
        """
        return await self._executor.get_handle(workflow_id)

    async def signal(self, workflow_id: str, name: str, payload: Any = None) -> None:
        """Send signal ``name`` with ``payload``: stored when this returns, delivered once.

        Raises ``WorkflowNotFoundError``, or ``WorkflowError`` when the run has
        finished.
        """
        require_name(name, "signal name")
        await self._executor.signal(workflow_id, Signal(name=name, payload=payload))

    async def cancel(self, workflow_id: str) -> None:
        """Cancel a running workflow; its owner stops its work (the running activity too).

        Returns once the cancellation is stored; canceling a finished run does nothing.
        """
        await self._executor.cancel(workflow_id)

    async def query(self, workflow_id: str, name: str) -> Any:
        """``status``, ``result``, ``history``, or the latest event ``name`` the run published."""
        return await self._executor.query(workflow_id, name)

    async def describe(self, workflow_id: str) -> WorkflowState:
        """The stored state of a run (status, result, history); raises ``WorkflowNotFoundError``."""
        require_workflow_id(workflow_id)
        state = await self.store.load(workflow_id)
        if state is None:
            raise WorkflowNotFoundError(f"no workflow {workflow_id!r} in the store")
        return state

    async def list_workflows(
        self, status: WorkflowStatus | None = None, *, limit: int = 0
    ) -> list[WorkflowState]:
        """Stored runs, with ``status`` if given, at most ``limit`` (0: all).

        The engine's own records (queue boards, the schedule book) are not runs
        and are left out; ``limit`` counts runs only.
        """
        try:
            wanted = WorkflowFilter(status=status, limit=limit)
        except ValueError as exc:
            raise InvalidArgumentError(f"invalid filter: {exc}") from None
        return await list_runs(self.store, wanted)

    async def get_event(self, workflow_id: str, key: str, default: Any = None) -> Any:
        """The latest value the run published under ``key``, or ``default`` if none yet."""
        require_name(key, "event key")
        published, value = latest_event(await self.describe(workflow_id), key)
        return value if published else default

    async def wait_for_event(
        self,
        workflow_id: str,
        key: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - also bounds the polling it falls back to
    ) -> Any:
        """Wait until the run has published ``key`` and return its latest value.

        Woken by the store's watch when it has one, else polling. Raises
        ``TimeoutError`` after ``timeout`` seconds, and ``WorkflowError`` when
        the run ends without having published it.
        """
        require_name(key, "event key")
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0
        ):
            raise InvalidArgumentError(f"timeout must be seconds >= 0, got {timeout!r}")
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            wait = self._poll_interval
            if deadline is not None:
                wait = min(wait, max(0.0, deadline - loop.time()))
            # Listen before reading, so a change between the read and the wait is not missed.
            changed = asyncio.ensure_future(self._executor.wait_for_change(workflow_id, wait))
            try:
                state = await self.describe(workflow_id)
                published, value = latest_event(state, key)
                if published:
                    return value
                if state.status.is_terminal:
                    raise WorkflowError(
                        f"workflow {workflow_id!r} is {state.status.value} and never "
                        f"published event {key!r}"
                    )
                if deadline is not None and loop.time() >= deadline:
                    raise TimeoutError(
                        f"workflow {workflow_id!r} published no event {key!r} within {timeout}s"
                    )
                await changed
            finally:
                changed.cancel()

    async def close(self) -> None:
        """Stop watching the store and close it if this client opened it. Idempotent."""
        await self._executor.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
