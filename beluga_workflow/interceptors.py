"""Step interceptors: how a plugin wraps a workflow's steps (for tracing, metrics, logs).

Lifecycle hooks (:mod:`beluga_workflow.hookspecs`) see that something happened;
an interceptor is *around* it: it is entered before a step runs and exited
after it, in the same task, so a tracing plugin can make its span current for
everything the step does (an activity started inside a workflow's span is its
child). Plugins offer interceptors through the
``beluga_workflow_step_interceptors`` hook.

An interceptor is a callable taking a :class:`Step` and returning a context
manager (plain or async). Interceptors wrap but never decide: the step runs
whatever an interceptor does, its outcome is the step's own, an interceptor
that raises is logged and left out, and one that swallows the step's exception
does not stop it from propagating.

Headers travel with a run. While a run is started (:attr:`StepKind.START`) an
interceptor may write string headers into :attr:`Step.headers`; they are
stored with the run (``WorkflowState.metadata["headers"]``) and every later
step of that run, in whichever process runs it and after any crash or
takeover, sees them. A tracing plugin keeps its trace context there.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

import pluggy

from beluga_workflow.models import WorkflowState

__all__ = [
    "HEADERS_KEY",
    "Interceptors",
    "Step",
    "StepInterceptor",
    "StepKind",
    "headers_of",
]

logger = logging.getLogger("beluga_workflow.interceptors")

T = TypeVar("T")

HEADERS_KEY = "headers"
"""``WorkflowState.metadata`` key holding the headers interceptors wrote when the run started."""

HOOK_NAME = "beluga_workflow_step_interceptors"


class StepKind(StrEnum):
    """What an interceptor is wrapping."""

    START = "start"
    """Storing a new run (in the process that starts it); headers may be written."""
    WORKFLOW = "workflow"
    """The workflow function running in this process, from its start or its resumption."""
    ACTIVITY = "activity"
    """One activity attempt (live only; a replayed attempt does not run again)."""
    TIMER = "timer"
    """A durable ``ctx.sleep``, until it fires."""
    SIGNAL = "signal"
    """Sending a signal to a run, until it is stored (in the sending process)."""


@dataclass(frozen=True)
class Step:
    """One step an interceptor wraps: what it is and which run it belongs to.

    ``name`` is the activity's, signal's or workflow's name; ``attempt``
    counts activity attempts from 1; ``resumed`` says a workflow step continues
    a run started earlier (recovery or takeover). ``headers`` are the run's
    stored headers, writable only for :attr:`StepKind.START`.
    """

    kind: StepKind
    workflow_id: str
    run_id: str
    workflow_name: str
    name: str
    headers: Mapping[str, str] = field(default_factory=dict)
    attempt: int | None = None
    resumed: bool = False
    seconds: float | None = None
    """How long a timer waits."""


StepInterceptor = Callable[
    [Step], AbstractContextManager[object] | AbstractAsyncContextManager[object]
]
"""``interceptor(step)`` returns a context manager entered around the step."""


def headers_of(state: WorkflowState) -> dict[str, str]:
    """The headers stored with a run (empty when no interceptor wrote any)."""
    stored = state.metadata.get(HEADERS_KEY)
    if not isinstance(stored, dict):
        return {}
    return {str(key): str(value) for key, value in stored.items()}


def step_of(state: WorkflowState, kind: StepKind, name: str | None = None, **more: Any) -> Step:
    """A :class:`Step` of ``kind`` for the run ``state`` describes."""
    workflow_name = state.workflow_name or ""
    return Step(
        kind=kind,
        workflow_id=state.workflow_id,
        run_id=state.run_id,
        workflow_name=workflow_name,
        name=workflow_name if name is None else name,
        headers=headers_of(state),
        **more,
    )


class Interceptors:
    """The step interceptors one executor applies, outermost first."""

    def __init__(self, interceptors: Iterable[StepInterceptor] = ()) -> None:
        self._interceptors = list(interceptors)

    @classmethod
    def collect(cls, managers: Iterable[pluggy.PluginManager]) -> Interceptors:
        """Ask every plugin of ``managers`` for its interceptors, in registration order.

        Installed plugins come first (outermost), then the executor's own hook objects.
        """
        found: list[StepInterceptor] = []
        for manager in managers:
            caller = getattr(manager.hook, HOOK_NAME, None)
            if caller is None:
                continue
            for impl in caller.get_hookimpls():  # registration order
                try:
                    offered = impl.function()
                    found.extend(offered or ())
                except Exception:
                    logger.exception("%s of %s raised; it is left out", HOOK_NAME, impl.plugin_name)
        return cls(found)

    def __bool__(self) -> bool:
        return bool(self._interceptors)

    async def run(self, step: Step, proceed: Callable[[], Awaitable[T]]) -> T:
        """Run ``proceed()`` inside every interceptor's context; return or raise its outcome."""
        if not self._interceptors:
            return await proceed()
        entered: list[AbstractContextManager[object] | AbstractAsyncContextManager[object]] = []
        for interceptor in self._interceptors:
            try:
                manager = interceptor(step)
                if isinstance(manager, AbstractAsyncContextManager):
                    await manager.__aenter__()
                else:
                    manager.__enter__()
            except Exception:
                logger.exception("interceptor %r raised entering a %s step", interceptor, step.kind)
                continue
            entered.append(manager)
        try:
            result = await proceed()
        except BaseException as error:
            await _exit_all(entered, error)
            raise
        await _exit_all(entered, None)
        return result

    async def start(
        self, state: WorkflowState, proceed: Callable[[], Awaitable[T]], *, name: str
    ) -> T:
        """Store a new run with ``proceed()``, first keeping the headers interceptors write."""
        if not self._interceptors:
            return await proceed()
        headers: dict[str, str] = {}
        step = Step(
            kind=StepKind.START,
            workflow_id=state.workflow_id,
            run_id=state.run_id,
            workflow_name=name,
            name=name,
            headers=headers,
        )

        async def store() -> T:
            if headers:
                state.metadata[HEADERS_KEY] = {str(k): str(v) for k, v in headers.items()}
            return await proceed()

        return await self.run(step, store)


async def _exit_all(
    entered: list[AbstractContextManager[object] | AbstractAsyncContextManager[object]],
    error: BaseException | None,
) -> None:
    kind = None if error is None else type(error)
    traceback = None if error is None else error.__traceback__
    for manager in reversed(entered):
        try:
            if isinstance(manager, AbstractAsyncContextManager):
                await manager.__aexit__(kind, error, traceback)
            else:
                manager.__exit__(kind, error, traceback)
        except Exception:
            logger.exception("interceptor context %r raised on exit", manager)
