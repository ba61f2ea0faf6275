"""The durable executor: runs workflows, keeps their history in a store, resumes them after a crash.

A workflow is an ``async def workflow(ctx, input)`` function. Its progress is
recorded as history in the :class:`~beluga_workflow.store.WorkflowStore`
before the workflow moves on, so a new process can call :meth:`Executor.recover`
and resume every running workflow: recorded steps are replayed, not run again.
The executor talks to the store through the protocol only; every write is
conditional on the stored state it extends (see :mod:`beluga_workflow.writes`),
so signals and cancels stored by other processes are never overwritten.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

from beluga_workflow import pinning
from beluga_workflow.blocked import block_run
from beluga_workflow.children import Children, cancel_children, children_to_cancel
from beluga_workflow.config import open_store
from beluga_workflow.context import RESERVED_QUERIES, SignalInbox, WorkflowContext
from beluga_workflow.continuation import ContinueAsNew, store_successor, successor_of
from beluga_workflow.divergence import BLOCKED_KEY, HistoryDivergenceError
from beluga_workflow.errors import (
    BelugaWorkflowError,
    ConcurrencyConflictError,
    InvalidArgumentError,
    NonDeterminismError,
    PayloadSerializationError,
    UnknownQueryError,
    WorkflowAlreadyExistsError,
    WorkflowAlreadyRunningError,
    WorkflowError,
    WorkflowNotFoundError,
    WorkflowNotRegisteredError,
    WorkflowTimeoutError,
)
from beluga_workflow.events import latest_event
from beluga_workflow.handle import Outcome, WorkflowHandle, outcome_of
from beluga_workflow.history import DEFAULT_STORE_RETRY, Journal, format_error, new_event
from beluga_workflow.idpolicy import (
    PREVIOUS_RUN,
    PREVIOUS_RUN_ID,
    archive_id,
    archived_copy,
    decide_start,
)
from beluga_workflow.interceptors import Step, StepKind, step_of
from beluga_workflow.lifecycle import Lifecycle
from beluga_workflow.listing import unreadable_records
from beluga_workflow.models import (
    EventType,
    HistoryEvent,
    Lease,
    Signal,
    WorkflowFilter,
    WorkflowState,
    WorkflowStatus,
    utc_now,
)
from beluga_workflow.options import WorkflowOptions
from beluga_workflow.ownership import (
    DEFAULT_LEASE_SECONDS,
    LeaseTerms,
    default_worker_id,
    same_holder,
)
from beluga_workflow.payloads import check_json_value
from beluga_workflow.queues import placement as queue_placement
from beluga_workflow.queues.native import enqueue_run
from beluga_workflow.read_backs import ReadBacks
from beluga_workflow.repair import (
    forked_state,
    inherited_children,
    resumed_state,
    store_resumed,
)
from beluga_workflow.replay import Replayer
from beluga_workflow.retry import RetryPolicy
from beluga_workflow.run_listing import list_runs
from beluga_workflow.store import SupportsCompareAndSave, WorkflowStore
from beluga_workflow.system_records import is_system_record, require_run_id
from beluga_workflow.validation import require_name, require_workflow_id
from beluga_workflow.wakeups import ChangeFeed
from beluga_workflow.writes import (
    MESSAGE_EVENTS,
    Basis,
    ConditionalWriter,
    StoreAttempts,
    number_events,
    write_confirmed,
)

__all__ = ["Executor", "RecoveryReport", "WorkflowFunction"]

logger = logging.getLogger("beluga_workflow.executor")

WorkflowFunction = Callable[[WorkflowContext, Any], Awaitable[Any]]
"""``async def workflow(ctx: WorkflowContext, input) -> result``."""

_DEADLINE = "deadline"
"""``WorkflowState.metadata`` key: when a workflow with a timeout fails (ISO 8601, UTC)."""

_STORED_UPDATE_ATTEMPTS = 200
"""How often a message is written again after other writers moved the run on first.

Each such conflict means another writer made progress; a short random pause
after each keeps many senders of one run from colliding in step.
"""

_REFRESH_BATCH = 200
"""How many waiting runs are read back per poll interval, at most."""

_HINTED_PER_ROUND = 20
"""How many runs the store said changed a claim round reads before its listing, at most."""

_TERMINAL_EVENTS = {
    WorkflowStatus.COMPLETED: EventType.WORKFLOW_COMPLETED,
    WorkflowStatus.FAILED: EventType.WORKFLOW_FAILED,
    WorkflowStatus.CANCELED: EventType.WORKFLOW_CANCELED,
}


@dataclass
class RecoveryReport:
    """What :meth:`Executor.recover` did: the runs it resumed and those it could not.

    ``not_resumed`` maps each id left alone to why: a workflow name this
    executor does not know (``WorkflowNotRegisteredError``), or a stored record
    that cannot be read (``CorruptStateError``; ``load`` shows the error,
    ``delete`` removes the record).
    """

    resumed: list[WorkflowHandle] = field(default_factory=list)
    not_resumed: dict[str, BelugaWorkflowError] = field(default_factory=dict)


class Executor:
    """Runs workflow functions durably on a store.

    ``store`` is a store object, or anything :func:`~beluga_workflow.open_store`
    accepts (a name, a URL, a mapping, a TOML path); ``None`` means
    ``open_store()``: ``$BELUGA_WORKFLOW_STORE`` or else the in-memory store.
    A store the executor opened is closed by :meth:`close`; a store object
    passed in is left open. ``workflows`` are registered for :meth:`recover`.
    ``hooks`` are objects with lifecycle hook implementations (see
    :mod:`beluga_workflow.hookspecs`), called along with those of installed
    plugins unless ``load_plugins`` is false. ``store_retry`` says how often a
    failed store write is retried before the workflow stops (it stays
    ``running`` in the store, to be recovered). ``poll_interval`` is how often a
    handle to a workflow running elsewhere checks the store, and how long a
    run here may wait without writing before it checks the store for signals
    and cancels that other processes stored for it.

    On a store that can keep leases (``compare_and_append``), each run this
    executor runs is leased to it: ``worker_id`` names it (default
    ``$BELUGA_WORKFLOW_WORKER_ID``, else unique to the process) and
    ``lease_duration`` says how long a lease lasts unless renewed, which is how
    long another worker waits before taking over the runs of one that died.
    Every write renews the lease; a run that writes nothing renews it every
    third of ``lease_duration``. A worker restarted under the same id takes its
    runs back at once.
    """

    def __init__(
        self,
        store: WorkflowStore | str | os.PathLike[str] | Mapping[str, Any] | None = None,
        *,
        workflows: Iterable[WorkflowFunction] = (),
        hooks: Iterable[object] = (),
        load_plugins: bool = True,
        store_retry: RetryPolicy = DEFAULT_STORE_RETRY,
        poll_interval: float = 0.5,
        worker_id: str | None = None,
        lease_duration: float = DEFAULT_LEASE_SECONDS,
        build_id: str | None = None,
    ) -> None:
        self.build_id = pinning.default_build_id(build_id)
        """Names this executor's code (default ``$BELUGA_WORKFLOW_BUILD_ID``); pinned runs
        are resumed only by executors of the build that first ran them."""
        if store is None or isinstance(store, (str, os.PathLike, Mapping)):
            self._store: WorkflowStore = open_store(store)
            self._owns_store = True
        else:
            self._store = store
            self._owns_store = False
        plugin_manager = None
        if load_plugins:
            from beluga_workflow.plugins.registry import default_registry

            plugin_manager = default_registry().plugin_manager
        self._lifecycle = Lifecycle(hooks, plugin_manager=plugin_manager)
        self._store_retry = store_retry
        self._writer = ConditionalWriter(self._store)
        owner = worker_id or os.environ.get("BELUGA_WORKFLOW_WORKER_ID") or default_worker_id()
        terms = LeaseTerms(owner, lease_duration)
        self._terms = terms if self._writer.versioned else None
        self._poll_interval = poll_interval
        self._functions: dict[str, WorkflowFunction] = {}
        self._names: dict[WorkflowFunction, str] = {}
        self._runs: dict[str, _Run] = {}
        self._starting: set[str] = set()
        self._start_locks: dict[str, asyncio.Lock] = {}
        self._closed = False
        self._refresher: asyncio.Task[None] | None = None
        self._feed = ChangeFeed(self._store, self._changed)
        self._read_backs = ReadBacks()
        self._held_elsewhere: dict[str, datetime] = {}
        self._blocked: set[tuple[str, str]] = set()
        """Runs (id, run id) replay found diverged here: claim rounds leave them alone."""
        """Runs seen leased to other workers, and until when: their changes wake no claim."""
        self.claimable_hint = asyncio.Event()
        """Set when the store said something changed that a claim round may take."""
        self._hinted: dict[str, None] = {}
        """Ids the store said changed since the last claim round (in order, without repeats)."""
        for workflow in workflows:
            self.register(workflow)

    def __repr__(self) -> str:
        return f"Executor(store={self._store!r}, running={len(self._runs)}, closed={self._closed})"

    @property
    def worker_id(self) -> str | None:
        """The id this executor's leases carry; ``None`` on a store that cannot keep leases."""
        return None if self._terms is None else self._terms.owner

    @property
    def store(self) -> WorkflowStore:
        return self._store

    # --- registering and starting -----------------------------------------------------

    def knows(self, name: str) -> bool:
        """Whether a workflow is registered here under ``name``."""
        return name in self._functions

    def register(self, fn: WorkflowFunction, name: str | None = None) -> str:
        """Make ``fn`` known under ``name`` (default ``"module:qualname"``) and return the name.

        The name is stored with each run, so that a new process, having
        registered the same function, can resume it.
        """
        if not inspect.iscoroutinefunction(fn):
            raise InvalidArgumentError(
                f"a workflow must be an async function taking (ctx, input), got {fn!r}"
            )
        if name is None:
            name = f"{fn.__module__}:{fn.__qualname__}"
        require_name(name, "workflow name")
        known = self._functions.get(name)
        if known is not None and known is not fn:
            raise InvalidArgumentError(
                f"workflow name {name!r} is already registered for {known!r}"
            )
        self._functions[name] = fn
        self._names.setdefault(fn, name)
        return name

    async def execute(
        self, workflow: WorkflowFunction | str, options: WorkflowOptions | None = None
    ) -> WorkflowHandle:
        """Start a workflow and return its handle once its start is stored.

        ``workflow`` is a function (registered on first use) or a registered
        name. When the id already names a run, ``options.id_reuse`` decides
        (see :class:`~beluga_workflow.idpolicy.IdReusePolicy`): by default the
        handle of that run is returned and nothing runs again; a start with
        another workflow or input raises ``WorkflowIdConflictError``. A run
        replaced under another policy is first archived, never deleted.
        """
        self._check_open()
        options = options or WorkflowOptions()
        if not isinstance(options, WorkflowOptions):
            raise InvalidArgumentError(f"options must be WorkflowOptions, got {options!r}")
        if options.queue is not None:
            raise InvalidArgumentError(
                "a run on a queue starts when a worker serving the queue has room: "
                "use submit(), not execute()"
            )
        name, fn = self._resolve(workflow)
        workflow_id = require_workflow_id(options.id) if options.id else uuid.uuid4().hex
        check_json_value(options.input, "workflow input")
        lock = self._start_locks.setdefault(workflow_id, asyncio.Lock())
        async with lock:  # another start of this id here decides first
            self._starting.add(workflow_id)
            try:
                state, created = await self._start(workflow_id, name, options, here=True)
                if created:
                    run = _Run(self, fn, state, name)
                    self._adopt(run)
            finally:
                self._starting.discard(workflow_id)
        if not lock.locked() and self._start_locks.get(workflow_id) is lock:
            del self._start_locks[workflow_id]  # the store's condition still guards a late start
        if not created:
            return await self.get_handle(workflow_id)
        self._lifecycle.started(state, name)
        return run.handle()

    async def submit(self, workflow: str, options: WorkflowOptions | None = None) -> WorkflowHandle:
        """Store a new run of the workflow registered elsewhere as ``workflow``, for a worker.

        Nothing runs here: the run is stored unleased, and a worker that
        registered the name claims it. Returns a handle whose ``result()``
        waits for that worker (woken by the store's watch, else polling every
        ``poll_interval``); :class:`~beluga_workflow.client.Client` ``.start``
        calls this. An id that already names a run is handled as in
        :meth:`execute`.
        """
        self._check_open()
        options = options or WorkflowOptions()
        if not isinstance(options, WorkflowOptions):
            raise InvalidArgumentError(f"options must be WorkflowOptions, got {options!r}")
        name = require_name(workflow, "workflow name")
        queued = options.queue
        deduplicated = None if queued is None else queue_placement.deduplicated_id(queued)
        if deduplicated is not None and options.id:
            raise InvalidArgumentError("give a queued run an id or a dedup_key, not both")
        workflow_id = deduplicated or (
            require_workflow_id(options.id) if options.id else uuid.uuid4().hex
        )
        check_json_value(options.input, "workflow input")
        state, created = await self._start(workflow_id, name, options, here=False)
        if queued is not None:  # a store with queue_dispatch keeps an entry too (idempotent)
            await enqueue_run(self._store, state)
        if created:
            self._lifecycle.started(state, name)
            return self._stored_handle(state)  # what was just stored: no need to read it back
        return await self.get_handle(workflow_id)

    # --- repairing ------------------------------------------------------------------

    async def resume(self, workflow_id: str) -> WorkflowHandle:
        """Run a failed or canceled run again from its history (see :mod:`~beluga_workflow.repair`).

        The run keeps its id, ``run_id`` and history; it replays what was
        recorded, and the step that failed for good is tried once more. It runs
        here if its workflow is registered, else it is stored for a worker.
        Raises ``WorkflowAlreadyRunningError`` for a running run, ``WorkflowError``
        for a completed one, ``WorkflowNotFoundError`` for an unknown id.
        """
        self._check_open()
        require_workflow_id(workflow_id)
        if workflow_id in self._runs or workflow_id in self._starting:
            raise WorkflowAlreadyRunningError(f"workflow {workflow_id!r} is running here")
        self._starting.add(workflow_id)
        try:
            previous = await self._load(workflow_id)
            state = resumed_state(previous)
            fn = self._lease_here(state)
            await store_resumed(self._store, self._store_retry, state, previous)
            run = None if fn is None else _Run(self, fn, state, state.workflow_name or "")
            if run is not None:
                self._adopt(run)
        finally:
            self._starting.discard(workflow_id)
        return run.handle() if run is not None else await self.get_handle(workflow_id)

    async def fork(
        self, workflow_id: str, from_step: int, *, new_id: str | None = None
    ) -> WorkflowHandle:
        """Start a new run (``new_id``, default random) that keeps steps 1..``from_step`` of a run.

        The fork replays those steps from the copied history and runs every
        step after them again; the source run is not changed. Raises
        ``InvalidArgumentError`` for a step the run did not record and
        ``WorkflowAlreadyExistsError`` when ``new_id`` names a run.
        """
        self._check_open()
        require_workflow_id(workflow_id)
        target = require_run_id(require_workflow_id(new_id)) if new_id else uuid.uuid4().hex
        source = await self._load(workflow_id)
        state = forked_state(source, from_step, target)
        if await self._store.load(target) is not None or target in self._runs:
            raise WorkflowAlreadyExistsError(f"workflow {target!r} exists; fork to a new id")
        fn = self._lease_here(state)
        try:
            await self._store_new_run(state, None)
        except WorkflowAlreadyRunningError as exc:
            raise WorkflowAlreadyExistsError(f"workflow {target!r} was started meanwhile") from exc
        if fn is None:
            return await self.get_handle(target)
        run = _Run(self, fn, state, state.workflow_name or "")
        self._adopt(run)
        return run.handle()

    def _lease_here(self, state: WorkflowState) -> WorkflowFunction | None:
        """The function to run ``state`` here (leased to this executor), if it may run here.

        ``None``: the state is stored unleased, for a worker that registered it
        (and is of the build the run is pinned to, if it is pinned).
        """
        fn = self._functions.get(state.workflow_name or "")
        if fn is None or pinning.pin_refusal(state, self.build_id) is not None:
            return None  # stored for a worker that runs it (of the build it is pinned to)
        pinning.stamp(state, self.build_id)
        if self._terms is not None:
            state.lease = self._terms.claim(None, state.updated_at)
        return fn

    # --- resuming -------------------------------------------------------------------

    async def recover(self) -> RecoveryReport:
        """Resume every workflow stored as running that is not already running here.

        A run whose workflow name is not registered, and a record the store
        cannot read, are reported in the result (and logged) and left as they
        are; the others are resumed regardless. On a store that keeps leases,
        a run another worker holds a live lease on is never taken: it is
        reported (``WorkflowAlreadyRunningError``) and left to its worker.
        """
        return await self._claim(limit=None, quiet=False)

    async def claim(
        self, limit: int, *, running: Sequence[WorkflowState] | None = None
    ) -> RecoveryReport:
        """Like :meth:`recover`, but take at most ``limit`` runs, quietly (a worker's round).

        Runs the store just said changed are read and claimed first, so a new
        run starts before the round's listing of every running run is read.
        ``running`` is a listing of the running runs the caller just made, to
        claim from instead of listing again (every claim is conditional on the
        run's version, so a run that changed since is simply not taken).
        """
        self.claimable_hint.clear()
        self._check_open()
        report = RecoveryReport()
        await self._claim_hinted(report, limit)
        if len(report.resumed) < limit:
            listed = await self._claim(
                limit=limit - len(report.resumed),
                quiet=True,
                skip_blocked=True,
                running=running,
            )
            report.resumed.extend(listed.resumed)
            report.not_resumed.update(listed.not_resumed)
        return report

    async def _claim_hinted(self, report: RecoveryReport, limit: int) -> None:
        hinted, self._hinted = list(self._hinted)[:_HINTED_PER_ROUND], {}
        for workflow_id in hinted:
            if len(report.resumed) >= limit:
                return
            if workflow_id in self._runs or workflow_id in self._starting:
                continue
            if is_system_record(workflow_id):
                continue  # a queue board or the schedule book changed: not a run
            try:
                state = await self._store.load(workflow_id)
            except Exception:  # unreadable, or the store failed: the listing says so
                continue
            if state is None or state.status is not WorkflowStatus.RUNNING:
                continue
            if (workflow_id, state.run_id) in self._blocked:
                continue  # diverged here; a round's listing decides when to retry it
            fn = self._functions.get(state.workflow_name or "")
            if fn is None or await self._take_lease(state, utc_now()) is not None:
                continue  # not ours to run, or held by another worker
            run = _Run(self, fn, state, state.workflow_name or "")
            self._adopt(run)
            report.resumed.append(run.handle())

    @property
    def running(self) -> int:
        """How many runs this executor runs now."""
        return len(self._runs)

    def run_endings(self) -> list[asyncio.Future[Outcome]]:
        """Futures that complete when each run running here now ends (shielded: safe to drop)."""
        return [asyncio.shield(run.finished) for run in self._runs.values()]

    async def _claim(
        self,
        *,
        limit: int | None,
        quiet: bool,
        running: Sequence[WorkflowState] | None = None,
        skip_blocked: bool = False,
    ) -> RecoveryReport:
        """Take up to ``limit`` claimable runs, oldest first, and run them here."""
        self._check_open()
        report = RecoveryReport()
        if running is None:
            running = await list_runs(self._store, WorkflowFilter(status=WorkflowStatus.RUNNING))
        report.not_resumed.update(unreadable_records(running))
        now = utc_now()
        for state in running:
            if limit is not None and len(report.resumed) >= limit:
                break
            workflow_id = state.workflow_id
            if workflow_id in self._runs or workflow_id in self._starting:
                continue
            if state.status is not WorkflowStatus.RUNNING:
                continue  # a given listing may hold runs that ended since
            if skip_blocked and (workflow_id, state.run_id) in self._blocked:
                continue
            self._blocked.discard((workflow_id, state.run_id))
            fn = self._functions.get(state.workflow_name or "")
            if fn is None:
                error = WorkflowNotRegisteredError(
                    f"workflow {workflow_id!r} runs {state.workflow_name!r}, which this executor "
                    "does not know; register that function to resume it"
                )
                if not quiet:
                    logger.warning("not resuming: %s", error)
                report.not_resumed[workflow_id] = error
                continue
            refused = await self._take_lease(state, now)
            if refused is not None:
                report.not_resumed[workflow_id] = refused
                continue
            run = _Run(self, fn, state, state.workflow_name or "")
            self._adopt(run)
            report.resumed.append(run.handle())
        return report

    def is_registered(self, name: str) -> bool:
        """Whether a workflow is registered here under ``name``."""
        return name in self._functions

    async def claim_run(
        self, state: WorkflowState, *, over: Lease | None = None
    ) -> WorkflowHandle | None:
        """Claim the stored run ``state`` and run it here; ``None`` when it cannot be claimed.

        ``over`` is a live lease the caller may replace (a queue's placeholder,
        see :mod:`beluga_workflow.queues`); the claim is conditional on the
        stored run being ``state``'s version.
        """
        self._check_open()
        workflow_id = state.workflow_id
        fn = self._functions.get(state.workflow_name or "")
        if fn is None or workflow_id in self._runs or workflow_id in self._starting:
            return None
        if await self._take_lease(state, utc_now(), over=over) is not None:
            return None
        run = _Run(self, fn, state, state.workflow_name or "")
        self._adopt(run)
        return run.handle()

    async def _take_lease(
        self, state: WorkflowState, now: datetime, *, over: Lease | None = None
    ) -> BelugaWorkflowError | None:
        """Claim ``state`` for this worker; say why not when another worker holds it
        or the run is pinned to another build."""
        pinned_elsewhere = pinning.pin_refusal(state, self.build_id)
        if pinned_elsewhere is not None:
            return pinned_elsewhere
        pinning.stamp(state, self.build_id)  # written with the claim: one build pins it
        terms = self._terms
        if terms is None:
            return None  # a store without leases: one worker per store
        held = state.lease
        if not terms.claimable(state, now) and not same_holder(held, over):
            assert held is not None
            self._held_elsewhere[state.workflow_id] = held.expires_at
            queued = queue_placement.placement_of(state)
            if queued is not None and queue_placement.is_waiting(state):
                return WorkflowAlreadyRunningError(
                    f"workflow {state.workflow_id!r} waits on queue {queued.name!r}; a worker "
                    "serving that queue starts it when the queue's limits allow"
                )
            return WorkflowAlreadyRunningError(
                f"workflow {state.workflow_id!r} is run by worker {held.owner!r}, whose lease "
                f"lasts until {held.expires_at.isoformat()}; it is taken over if that worker "
                "stops renewing it"
            )
        basis = Basis.of(state)
        state.lease = terms.claim(held, now)
        state.updated_at = now
        try:
            await self._writer.write(state, basis)
        except Exception as exc:  # claimed by another worker first, or the store failed
            return WorkflowAlreadyRunningError(
                f"workflow {state.workflow_id!r} could not be claimed ({format_error(exc)})"
            )
        return None

    async def join(self) -> None:
        """Wait until no workflow runs in this executor (those started meanwhile included)."""
        while self._runs:
            await asyncio.wait([run.finished for run in list(self._runs.values())])

    # --- looking at and talking to workflows ------------------------------------------

    async def get_handle(self, workflow_id: str) -> WorkflowHandle:
        """A handle to a workflow, running here or only stored (its result is then polled)."""
        require_workflow_id(workflow_id)
        run = self._runs.get(workflow_id)
        if run is not None:
            return run.handle()
        return self._stored_handle(await self._load(workflow_id))

    def _stored_handle(self, state: WorkflowState) -> WorkflowHandle:
        """A handle to the stored run ``state`` (as just read or written), not running here."""
        workflow_id = state.workflow_id
        latest = state

        def status() -> WorkflowStatus:
            return latest.status

        async def outcome() -> Outcome:
            nonlocal latest
            while latest.status is WorkflowStatus.RUNNING:
                local = self._runs.get(workflow_id)
                if local is not None and local.state.run_id == latest.run_id:
                    return await local.outcome()
                # Listen before reading, so an ending between the read and the wait wakes it.
                changed = asyncio.ensure_future(self._feed.wait(workflow_id, self._poll_interval))
                try:
                    latest = await self._load(workflow_id)
                    if latest.status is WorkflowStatus.RUNNING:
                        await changed
                finally:
                    changed.cancel()
            return outcome_of(latest)

        return WorkflowHandle(workflow_id, state.run_id, status=status, outcome=outcome)

    async def wait_for_change(self, workflow_id: str, seconds: float) -> None:
        """Return when the store says ``workflow_id`` changed, or after ``seconds`` (a poll)."""
        await self._feed.wait(workflow_id, seconds)

    async def signal(self, workflow_id: str, signal: Signal) -> None:
        """Send ``signal`` to a running workflow; it is stored, then delivered once, in order.

        A workflow not running in this executor gets the signal written into
        its stored history, and receives it when it is resumed. Raises
        ``WorkflowNotFoundError``, or ``WorkflowError`` if it has finished.
        """
        require_workflow_id(workflow_id)
        if not isinstance(signal, Signal):
            raise InvalidArgumentError(f"signal must be a Signal, got {type(signal).__name__}")
        require_name(signal.name, "signal name")
        check_json_value(signal.payload, f"payload of signal {signal.name!r}")
        run = self._runs.get(workflow_id)
        if run is not None:
            try:
                await run.receive_signal(signal)
                return
            except WorkflowError:
                if not run.journal.closed:
                    raise
                # It ended meanwhile: the stored state says how.
        event = new_event(
            EventType.SIGNAL_RECEIVED, signal_name=signal.name, signal_payload=signal.payload
        )

        def add_signal(state: WorkflowState) -> None:
            _require_running(state, "signals are delivered only to running workflows")
            number_events(state.history, [event])

        step = Step(StepKind.SIGNAL, workflow_id, "", "", signal.name)
        state = await self._lifecycle.interceptors.run(
            step, lambda: self._update_stored(workflow_id, add_signal)
        )
        self._lifecycle.emit(
            "beluga_workflow_on_signal",
            workflow_id=workflow_id,
            run_id=state.run_id,
            signal_name=signal.name,
            payload=signal.payload,
        )

    async def query(self, workflow_id: str, query_type: str) -> Any:
        """Answer ``status``, ``result``, ``history``, or a query the workflow registered.

        Workflow-registered queries are answered only while it runs in this
        executor; the built-in three work for any stored workflow. Any other
        name, with no handler here, is answered by the latest durable event of
        that key the workflow published (``ctx.set_event``), from the store.
        """
        require_workflow_id(workflow_id)
        if not isinstance(query_type, str) or not query_type:
            raise InvalidArgumentError("query_type must be a non-empty str")
        run = self._runs.get(workflow_id)
        state = run.state if run is not None else await self._load(workflow_id)
        if query_type == "status":
            return state.status
        if query_type == "result":
            return state.result
        if query_type == "history":
            return [event.model_copy(deep=True) for event in state.history]
        handler = run.queries.get(query_type) if run is not None else None
        if handler is None:
            published, value = latest_event(state, query_type)
            if published:
                return value
            where = "registered by the workflow" if run is not None else "answerable"
            raise UnknownQueryError(
                f"workflow {workflow_id!r} has no query {query_type!r} {where} and published "
                f"no event {query_type!r}; built-in queries: {', '.join(sorted(RESERVED_QUERIES))}"
                + ("" if run is not None else " (it is not running in this executor)")
            )
        return handler()

    async def cancel(self, workflow_id: str) -> None:
        """Cancel a running workflow: its current activity is cancelled and it ends ``canceled``.

        Returns once the cancellation is stored. Canceling a finished workflow
        does nothing; an unknown id raises ``WorkflowNotFoundError``. Its
        children started with ``ParentClosePolicy.CANCEL`` are canceled too.
        """
        require_workflow_id(workflow_id)
        run = self._runs.get(workflow_id)
        if run is not None:
            run.stop("cancel")
            await run.outcome()
            return
        ended = new_event(EventType.WORKFLOW_CANCELED)

        def mark_canceled(state: WorkflowState) -> None:
            if state.status is WorkflowStatus.RUNNING:
                number_events(state.history, [ended])
                state.status = WorkflowStatus.CANCELED

        state = await self._update_stored(workflow_id, mark_canceled)
        if state.history and state.history[-1] == ended:
            self._lifecycle.emit(
                "beluga_workflow_on_workflow_cancel",
                workflow_id=workflow_id,
                run_id=state.run_id,
                workflow_name=state.workflow_name or "",
            )
            await self._cancel_children_of(state)

    # --- closing ----------------------------------------------------------------------

    async def close(self) -> None:
        """Stop the workflows running here without failing them; they stay ``running``.

        Activities in progress are cancelled. A later :meth:`recover` (in any
        process) resumes these workflows. Idempotent.
        """
        if self._closed:
            return
        self._closed = True
        runs = list(self._runs.values())
        for run in runs:
            run.stop("shutdown")
        if self._refresher is not None:
            self._refresher.cancel()
        await self._feed.close()
        if runs:
            await asyncio.gather(*(run.task for run in runs if run.task), return_exceptions=True)
            # Hand the runs back: another worker may claim them without waiting.
            await asyncio.gather(*(run.journal.release() for run in runs if run.stopped_early))
        if self._owns_store:
            await self._store.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- internals --------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise WorkflowError("this executor is closed")

    def _resolve(self, workflow: WorkflowFunction | str) -> tuple[str, WorkflowFunction]:
        if isinstance(workflow, str):
            fn = self._functions.get(workflow)
            if fn is None:
                known = ", ".join(sorted(self._functions)) or "none"
                raise WorkflowNotRegisteredError(
                    f"no workflow registered as {workflow!r}; registered: {known}"
                )
            return workflow, fn
        name = self._names.get(workflow)
        return (name, workflow) if name is not None else (self.register(workflow), workflow)

    async def _load(self, workflow_id: str) -> WorkflowState:
        state = await self._store.load(workflow_id)
        if state is None:
            raise WorkflowNotFoundError(f"no workflow {workflow_id!r} in the store")
        return state

    async def _start(
        self, workflow_id: str, name: str, options: WorkflowOptions, *, here: bool
    ) -> tuple[WorkflowState, bool]:
        """Store a new run as ``options.id_reuse`` allows, or find the run the id names.

        Returns the stored state and whether it is a new run (leased to this
        executor when ``here``). A start that loses a race with another start
        of the id reads what won and decides again, so one run results. An id
        made here (a random one) names nothing yet, so its first try does not
        read the store; the store's create-if-absent still guards it.
        """
        fresh = not options.id and (options.queue is None or options.queue.dedup_key is None)
        for attempt in range(_STORED_UPDATE_ATTEMPTS):
            fresh = fresh and attempt == 0
            previous = None if fresh else await self._store.load(workflow_id)
            decision = decide_start(options.id_reuse, previous, name, options.input)
            if decision == "existing":
                assert previous is not None
                return previous, False
            local = self._runs.get(workflow_id)
            if decision == "terminate" and local is not None:
                local.stop("cancel")
                await local.outcome()
                continue  # it is canceled now: archive and replace it
            state = _new_state(workflow_id, name, options)
            if options.queue is not None:
                queue_placement.place(state, options.queue)
            if previous is not None:
                await self._store.save(archived_copy(previous))
                state.metadata[PREVIOUS_RUN_ID] = previous.run_id
                state.metadata[PREVIOUS_RUN] = archive_id(workflow_id, previous.run_id)
            if here:
                pinning.stamp(state, self.build_id)
            if here and self._terms is not None:
                state.lease = self._terms.claim(None, state.created_at)
            try:
                await self._lifecycle.interceptors.start(
                    state,
                    functools.partial(self._store_new_run, state, previous),
                    name=name,
                )
            except WorkflowAlreadyRunningError:
                continue  # another start stored first: decide again on what it stored
            if decision == "terminate" and previous is not None:  # run elsewhere: end its children
                await self._cancel_children_of(previous)
            return state, True
        raise ConcurrencyConflictError(
            f"workflow {workflow_id!r} kept changing while being started; try again"
        )

    async def _store_new_run(self, state: WorkflowState, previous: WorkflowState | None) -> None:
        """Store a new run unless another start of the same id got there first.

        Compare-and-save (or, for a new id, an append that only creates)
        makes the start conditional; a start whose answer was lost is read
        back before it is tried again.
        """
        store = self._store
        attempts = StoreAttempts(
            self._store_retry, f"storing the start of workflow {state.workflow_id!r}"
        )
        while True:
            try:
                if isinstance(store, SupportsCompareAndSave):
                    expected = 0 if previous is None else previous.version
                    state.version = await store.compare_and_save(state, expected)
                elif previous is None:
                    await self._writer.write(state, Basis(state.run_id, 0, 0))
                else:  # nothing conditional can replace a finished run here
                    await store.save(state)
                return
            except ConcurrencyConflictError as exc:
                conflict: Exception | None = exc
            except Exception as exc:
                await attempts.failed(exc)
                conflict = None
            stored = await attempts.call(lambda: store.load(state.workflow_id))
            if stored is not None and stored.run_id == state.run_id:
                state.version = stored.version  # the start whose answer was lost had landed
                return
            if conflict is not None:
                raise WorkflowAlreadyRunningError(
                    f"workflow {state.workflow_id!r} was started elsewhere at the same time"
                ) from conflict

    async def _update_stored(
        self, workflow_id: str, change: Callable[[WorkflowState], None]
    ) -> WorkflowState:
        """Load, change and write back a workflow no process here runs, without lost updates.

        ``change`` adds events (a signal, a cancel) to a loaded copy; the write
        is conditional on that copy, so when another writer got there first the
        run is read again and changed anew. A write whose answer was lost is
        read back before it is tried again, so it is stored exactly once.
        """
        attempts = StoreAttempts(self._store_retry, f"updating workflow {workflow_id!r}")
        for conflicts in range(_STORED_UPDATE_ATTEMPTS):
            if conflicts:
                await asyncio.sleep(random.uniform(0, min(0.05, 0.001 * 2**conflicts)))
            state = await attempts.call(lambda: self._load(workflow_id))
            basis = Basis.of(state)
            change(state)
            added = state.history[basis.events :]
            if not added:
                return state
            assert all(event.type in MESSAGE_EVENTS for event in added)
            state.updated_at = utc_now()
            stored = await self._write_message(state, basis, added, attempts)
            if stored is not None:
                return stored
        raise ConcurrencyConflictError(
            f"workflow {workflow_id!r} kept changing while being updated; try again"
        )

    async def _write_message(
        self,
        state: WorkflowState,
        basis: Basis,
        added: list[HistoryEvent],
        attempts: StoreAttempts,
    ) -> WorkflowState | None:
        """Write ``state`` on ``basis``; ``None`` when the stored run moved on meanwhile."""
        outcome = await write_confirmed(
            self._writer,
            state,
            basis,
            added,
            attempts,
            moved_on=lambda stored: stored is None or Basis.of(stored) != basis,
            read_refusals=False,  # the caller reads the run again anyway
        )
        if not outcome.landed:
            return None
        return state if outcome.stored is None else outcome.stored

    async def _cancel_children_of(self, state: WorkflowState) -> None:
        """Cancel the children a stored run's history says it started with the cancel policy."""
        inherited = inherited_children(state)
        await cancel_children(self, children_to_cancel(state.history, inherited=inherited))

    async def _last_outcome(self, workflow_id: str) -> Outcome:
        """The outcome of the last run of a chain of runs that continued as new."""
        while True:
            run = self._runs.get(workflow_id)
            if run is not None:
                outcome = await asyncio.shield(run.finished)
                if run.successor is None:
                    return outcome
                continue
            if self._closed:
                return Outcome(WorkflowStatus.RUNNING, stopped=WorkflowError("the executor closed"))
            state = await self._load(workflow_id)
            if state.status.is_terminal:
                return outcome_of(state)
            await self._feed.wait(workflow_id, self._poll_interval)

    def _forget(self, run: _Run) -> None:
        if self._runs.get(run.state.workflow_id) is run:
            del self._runs[run.state.workflow_id]

    def _adopt(self, run: _Run) -> None:
        """Run ``run`` here, and keep refreshing the runs that wait."""
        self._runs[run.state.workflow_id] = run
        self._held_elsewhere.pop(run.state.workflow_id, None)
        run.start()
        self._feed.start()
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.get_running_loop().create_task(
                self._refresh_waiting_runs(), name="refresh waiting runs"
            )

    async def _refresh_waiting_runs(self) -> None:
        """Renew the leases of runs that wait, and let them see messages from elsewhere.

        A run that has written nothing for a third of the lease renews it (a
        write, which meets messages too); one that has written nothing for
        ``poll_interval`` is read back. At most ``_REFRESH_BATCH`` runs are read
        per interval, longest-waiting first, so the cost stays bounded however
        many runs wait.
        """
        interval = self._poll_interval
        renew_every = self._terms.renew_every if self._terms is not None else None
        tick = interval if renew_every is None else min(interval, renew_every / 2)
        while self._runs and not self._closed:
            await asyncio.sleep(tick)
            now = time.monotonic()
            due: list[_Run] = []
            waiting: list[_Run] = []
            for run in self._runs.values():
                journal = run.journal
                if journal.closed:
                    continue
                if renew_every is not None and now - journal.last_stored >= renew_every:
                    due.append(run)
                elif now - max(journal.last_stored, journal.last_read) >= interval:
                    waiting.append(run)
            await asyncio.gather(*(self._touch(run, renew=True) for run in due))
            waiting.sort(key=lambda run: max(run.journal.last_stored, run.journal.last_read))
            for run in waiting[:_REFRESH_BATCH]:
                await self._touch(run, renew=False)

    def _changed(self, workflow_id: str | None) -> None:
        """The store says ``workflow_id`` changed (``None``: anything may have)."""
        if workflow_id is None:
            for each in self._runs.values():
                each.journal.forget_own_notices()  # their notices may have been missed
                self._refresh_soon(each)
            self.claimable_hint.set()
            return
        run = self._runs.get(workflow_id)
        if run is not None:
            if not run.journal.expects_own_notice():
                self._refresh_soon(run)  # a signal or a cancel from elsewhere, most likely
            return
        until = self._held_elsewhere.get(workflow_id)
        if until is None or until <= utc_now():
            if len(self._hinted) < _HINTED_PER_ROUND:
                self._hinted[workflow_id] = None
            self.claimable_hint.set()  # a new run, or one whose lease may have run out

    def _refresh_soon(self, run: _Run) -> None:
        if not run.journal.closed:
            self._read_backs.request(run.state.workflow_id, lambda: self._touch(run, renew=False))

    async def wait_for_claimable(self, seconds: float) -> None:
        """Return when the store says a claim round may find a run, or after ``seconds``.

        The hint is cleared by :meth:`claim`, so a change noticed during a round
        makes the next wait return at once.
        """
        self._feed.start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.claimable_hint.wait(), seconds)

    async def _touch(self, run: _Run, *, renew: bool) -> None:
        try:
            await (run.journal.renew() if renew else run.journal.refresh())
        except Exception as exc:  # the store is down: the run's next write will say so
            logger.debug("could not refresh workflow %r: %s", run.state.workflow_id, exc)


class _Run:
    """One workflow run in this process: the workflow's task, its journal, replay and context."""

    def __init__(
        self, executor: Executor, fn: WorkflowFunction, state: WorkflowState, name: str
    ) -> None:
        self.state = state
        self.name = name
        self.journal = Journal(
            executor._writer,
            state,
            retry=executor._store_retry,
            on_halt=self._halted,
            on_messages=self._take_messages,
            lease_terms=executor._terms,
        )
        self.inbox = SignalInbox()
        self.queries: dict[str, Callable[[], Any]] = {}
        self.replayer = (
            Replayer(state.workflow_id, state.history, on_signal=self.inbox.deliver)
            if len(state.history) > 1
            else None
        )
        if self.replayer is not None and BLOCKED_KEY in state.metadata:
            # Replayed past its divergence: the next write drops the mark.
            self.replayer.when_finished(lambda: state.metadata.pop(BLOCKED_KEY, None))
        self.children = Children(
            executor, state.workflow_id, state.run_id, inherited=inherited_children(state)
        )
        self.context = WorkflowContext(
            journal=self.journal,
            replayer=self.replayer,
            lifecycle=executor._lifecycle,
            inbox=self.inbox,
            queries=self.queries,
            workflow_name=name,
            children=self.children,
        )
        self.task: asyncio.Task[None] | None = None
        self._executor = executor
        self._lifecycle = executor._lifecycle
        self._fn = fn
        self._workflow: asyncio.Task[Any] | None = None
        self._replay: asyncio.Task[None] | None = None
        self._stop: tuple[str, BaseException | None] | None = None
        self._finished: asyncio.Future[Outcome] | None = None
        self.successor: str | None = None
        """The run id of the run this one continued as (``ctx.continue_as_new``), if any."""

    @property
    def finished(self) -> asyncio.Future[Outcome]:
        assert self._finished is not None, "the run has not started"
        return self._finished

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._finished = loop.create_future()
        workflow_id = self.state.workflow_id
        step = step_of(self.state, StepKind.WORKFLOW, resumed=self.replayer is not None)
        self._workflow = loop.create_task(
            self._lifecycle.interceptors.run(
                step, lambda: _call_workflow(self._fn, self.context, self.state.input)
            ),
            name=f"workflow {workflow_id}",
        )
        if self.replayer is not None:
            self._replay = loop.create_task(self.replayer.run(), name=f"replay {workflow_id}")
        self.task = loop.create_task(self._supervise(), name=f"run {workflow_id}")
        deadline = _deadline_of(self.state)
        if deadline is not None and deadline <= utc_now():
            self.stop("timeout", self._timeout_error())  # before the workflow's first step

    def handle(self) -> WorkflowHandle:
        return WorkflowHandle(
            self.state.workflow_id,
            self.state.run_id,
            status=lambda: self.state.status,
            outcome=self.outcome,
        )

    async def outcome(self) -> Outcome:
        outcome = await asyncio.shield(self.finished)
        if self.successor is None:
            return outcome
        return await self._executor._last_outcome(self.state.workflow_id)

    @property
    def stopped_early(self) -> bool:
        """Whether this process stopped the run before it finished (it stays running)."""
        return self.state.status is WorkflowStatus.RUNNING and self.journal.halted is None

    def stop(self, reason: str, error: BaseException | None = None) -> None:
        """Stop the workflow for ``reason`` (cancel, shutdown, halt, timeout, diverged)."""
        if self._stop is None:
            self._stop = (reason, error)
        if reason == "shutdown":
            self.journal.closed = True  # a workflow that ignores the cancellation records nothing
        if self._workflow is not None and not self._workflow.done():
            self._workflow.cancel()

    async def receive_signal(self, signal: Signal) -> None:
        event = new_event(
            EventType.SIGNAL_RECEIVED, signal_name=signal.name, signal_payload=signal.payload
        )
        await self._lifecycle.interceptors.run(
            step_of(self.state, StepKind.SIGNAL, signal.name),
            lambda: self.journal.record([event], then=lambda: self._deliver(event)),
        )
        self._lifecycle.emit(
            "beluga_workflow_on_signal",
            workflow_id=self.state.workflow_id,
            run_id=self.state.run_id,
            signal_name=signal.name,
            payload=signal.payload,
        )

    def _deliver(self, event: HistoryEvent) -> None:
        replayer = self.replayer
        if replayer is not None and replayer.active:
            replayer.when_finished(lambda: self.inbox.deliver(event))
        else:
            self.inbox.deliver(event)

    def _halted(self, error: BaseException) -> None:
        # Operators need to see it: the run stays stored as it was, for a worker
        # that can write it (the one that took it over, or any once the store is back).
        logger.warning(
            "workflow %s stopped in worker %s: %s",
            self.state.workflow_id,
            self._executor.worker_id,
            error,
        )
        self.stop("halt", error)

    def _take_messages(self, events: Sequence[HistoryEvent], stored: WorkflowState) -> None:
        """Messages another process stored for this run: deliver signals, honour a cancel."""
        for event in events:
            if event.type is EventType.SIGNAL_RECEIVED:
                self._deliver(event)
            elif event.type is EventType.WORKFLOW_CANCELED:
                self.stop("canceled_elsewhere")

    async def _supervise(self) -> None:
        try:
            outcome = await self._drive()
        except asyncio.CancelledError:
            self.stop("shutdown")
            self._settle(Outcome(WorkflowStatus.RUNNING, stopped=self._stopped_error()))
            raise
        except Exception as exc:  # a defect in the engine: report it, keep the stored state
            logger.exception("workflow %r stopped by an internal error", self.state.workflow_id)
            self._settle(Outcome(WorkflowStatus.RUNNING, stopped=exc))
            return
        if outcome.status.is_terminal:
            await self.children.close()
        self._settle(outcome)

    def _settle(self, outcome: Outcome) -> None:
        self.journal.closed = True
        for task in (self._workflow, self._replay):
            if task is not None and not task.done():
                task.cancel()
        if not self.finished.done():
            self.finished.set_result(outcome)
        self._executor._forget(self)

    async def _drive(self) -> Outcome:
        workflow = self._workflow
        assert workflow is not None
        waiting: set[asyncio.Future[Any]] = {workflow}
        if self._replay is not None:
            waiting.add(self._replay)
        deadline = _deadline_of(self.state)
        while not workflow.done():
            timeout = None
            if deadline is not None:
                timeout = max(0.0, (deadline - utc_now()).total_seconds())
            done, _ = await asyncio.wait(waiting, timeout=timeout, return_when="FIRST_COMPLETED")
            if not done:
                self.stop("timeout", self._timeout_error())
                deadline = None
            replay = self._replay
            if replay is not None and replay in done:
                waiting.discard(replay)
                error = None if replay.cancelled() else replay.exception()
                if error is not None:
                    self.stop("diverged", error)
        return await self._conclude(workflow)

    async def _conclude(self, workflow: asyncio.Task[Any]) -> Outcome:
        error = None if workflow.cancelled() else workflow.exception()
        if self._stop is not None:
            reason, why = self._stop
            if reason in ("shutdown", "halt"):
                return Outcome(WorkflowStatus.RUNNING, stopped=self._stopped_error())
            if reason == "canceled_elsewhere":
                return self._ended_elsewhere()
            if reason == "cancel":
                return await self._finish(WorkflowStatus.CANCELED)
            if isinstance(why, NonDeterminismError):
                return await self._block(why)
            return await self._finish(WorkflowStatus.FAILED, error=why)
        if workflow.cancelled():
            return await self._finish(WorkflowStatus.CANCELED)
        if isinstance(error, HistoryDivergenceError):  # found by the workflow's own call
            return await self._block(error)
        if self.replayer is not None and self.replayer.active:
            unclaimed = self.replayer.unclaimed_calls()
            if unclaimed:
                return await self._block(self.replayer.divergence(unclaimed[0]))
        if isinstance(error, ContinueAsNew):
            return await self._continue(error.input)
        if error is not None:
            return await self._finish(WorkflowStatus.FAILED, error=error)
        result = workflow.result()
        try:
            check_json_value(result, "workflow result")
        except PayloadSerializationError as bad:
            return await self._finish(WorkflowStatus.FAILED, error=bad)
        return await self._finish(WorkflowStatus.COMPLETED, result=result)

    async def _finish(
        self, status: WorkflowStatus, *, result: Any = None, error: BaseException | None = None
    ) -> Outcome:
        text = None if error is None else format_error(error)
        event = new_event(_TERMINAL_EVENTS[status], result=result, error=text)
        try:
            await self.journal.record([event], final=True, status=status, result=result, error=text)
        except BelugaWorkflowError:
            if self._stop is not None and self._stop[0] == "canceled_elsewhere":
                return self._ended_elsewhere()
            return Outcome(WorkflowStatus.RUNNING, stopped=self._stopped_error())
        ids = {
            "workflow_id": self.state.workflow_id,
            "run_id": self.state.run_id,
            "workflow_name": self.name,
        }
        if status is WorkflowStatus.COMPLETED:
            self._lifecycle.emit("beluga_workflow_on_workflow_complete", result=result, **ids)
        elif status is WorkflowStatus.FAILED:
            self._lifecycle.emit("beluga_workflow_on_workflow_fail", error=text, **ids)
        else:
            self._lifecycle.emit("beluga_workflow_on_workflow_cancel", **ids)
        return Outcome(status, result=result, error=text, cause=error)

    async def _continue(self, input: Any) -> Outcome:
        """End this run and run its successor here (see :mod:`~beluga_workflow.continuation`)."""
        executor = self._executor
        successor = successor_of(self.state, input)
        if executor._terms is not None and successor.lease is not None:
            successor.lease = executor._terms.renewed(successor.lease, successor.created_at)
        self.journal.closed = True  # nothing more is recorded for this run
        try:
            stored = await store_successor(
                executor._store, executor._store_retry, self.state, successor
            )
        except BelugaWorkflowError as exc:
            return Outcome(WorkflowStatus.RUNNING, stopped=exc)
        if not stored:
            return Outcome(WorkflowStatus.CANCELED)  # canceled by another process first
        await self.children.close()
        self.successor = successor.run_id
        if not executor._closed:
            executor._adopt(_Run(executor, self._fn, successor, self.name))
        self._lifecycle.started(successor, self.name)
        return Outcome(WorkflowStatus.RUNNING)

    async def _block(self, error: NonDeterminismError) -> Outcome:
        """Leave a diverged run running and resumable (see :mod:`beluga_workflow.blocked`)."""
        self._executor._blocked.add((self.state.workflow_id, self.state.run_id))
        await block_run(self.journal, error, self._lifecycle, self.name)
        return Outcome(WorkflowStatus.RUNNING, stopped=error)

    def _ended_elsewhere(self) -> Outcome:
        """The run was canceled by another process; its stored state already says so."""
        self._lifecycle.emit(
            "beluga_workflow_on_workflow_cancel",
            workflow_id=self.state.workflow_id,
            run_id=self.state.run_id,
            workflow_name=self.name,
        )
        return outcome_of(self.state)

    def _timeout_error(self) -> WorkflowTimeoutError:
        limit = self.state.metadata.get("timeout")
        return WorkflowTimeoutError(
            f"workflow {self.state.workflow_id!r} did not finish within {limit}s"
        )

    def _stopped_error(self) -> BaseException:
        if self.journal.halted is not None:
            return self.journal.halted
        return WorkflowError(
            f"workflow {self.state.workflow_id!r} was stopped in this process before it "
            "finished; it stays running in the store and resumes on recover()"
        )


async def _call_workflow(fn: WorkflowFunction, context: WorkflowContext, input: Any) -> Any:
    return await fn(context, input)


def _new_state(workflow_id: str, name: str, options: WorkflowOptions) -> WorkflowState:
    now = utc_now()
    metadata: dict[str, Any] = {}
    if options.versioning is pinning.Versioning.PINNED:
        metadata[pinning.PINNED_KEY] = True
    if options.timeout is not None:
        metadata["timeout"] = options.timeout
        metadata[_DEADLINE] = (now + timedelta(seconds=options.timeout)).isoformat()
    started = HistoryEvent(
        id=1, type=EventType.WORKFLOW_STARTED, timestamp=now, input=options.input
    )
    return WorkflowState(
        workflow_id=workflow_id,
        run_id=uuid.uuid4().hex,
        status=WorkflowStatus.RUNNING,
        input=options.input,
        history=[started],
        created_at=now,
        updated_at=now,
        workflow_name=name,
        metadata=metadata,
    )


def _deadline_of(state: WorkflowState) -> datetime | None:
    value = state.metadata.get(_DEADLINE)
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _require_running(state: WorkflowState, why: str) -> None:
    if state.status is not WorkflowStatus.RUNNING:
        raise WorkflowError(f"workflow {state.workflow_id!r} is {state.status.value}; {why}")
