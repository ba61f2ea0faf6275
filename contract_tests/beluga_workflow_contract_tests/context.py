"""What one rule test runs in: its event loop, its stores and its ids.

Each rule gets a fresh event loop (an :class:`asyncio.Runner` of its own), so
stores that bind connections to a loop never leak between tests. Every store
the rule opens through :meth:`ContractRun.open` is closed when it ends, and in
a shared namespace (``--beluga-store`` against a real backend) the ids it used
are deleted again.
"""

from __future__ import annotations

import asyncio
import inspect
import secrets
import traceback
from collections.abc import Awaitable, Callable, Collection, Coroutine, Iterable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import pytest

from beluga_workflow import Capability, WorkflowState, WorkflowStore
from beluga_workflow_contract_tests.journal import Journal
from beluga_workflow_contract_tests.rule import Rule
from beluga_workflow_contract_tests.server_checks import Outage
from beluga_workflow_contract_tests.server_contract import OutageFactory
from beluga_workflow_contract_tests.violations import (
    Broken,
    ContractViolation,
    SuiteError,
    clip,
)

__all__ = ["ContractRun", "NamespaceFactory", "StoreFactory", "StorePoison"]

T = TypeVar("T")

StoreFactory = Callable[[], Awaitable[WorkflowStore] | WorkflowStore]
"""Opens a new store on the test's backend namespace (async, or plain returning a store)."""

StorePoison = Callable[[WorkflowStore, str], Awaitable[None] | None]
"""Plants, where ``store`` keeps its states, a record for the id that the store cannot decode."""

NamespaceFactory = Callable[[str], Awaitable[WorkflowStore] | WorkflowStore]
"""Opens a new store on the same backend in the test's namespace extended by a suffix.

For a key prefix ``P`` and the suffix ``":state:b"``, the prefix ``P:state:b``;
a provider whose namespaces cannot hold the suffix raises ``ValueError`` (an
``InvalidArgumentError`` or pydantic's ``ValidationError`` is one). The
provider's fixture removes these namespaces after the test, as it does the
test's own.
"""

NEEDS_OUTAGE = (
    "provide the outage_factory fixture (an async callable (operation_timeout) returning a "
    "store on the test's namespace that reaches its server through an outage handle, such "
    "as an OutageProxy, started) so the suite can cut a watcher off and restore it; a store "
    "with no connection to lose has nothing to check here"
)

STORE_METHODS = ("save", "load", "list", "delete", "close")

NEEDS_POISON = (
    "provide the store_poison fixture (a callable (store, workflow_id) that writes a record "
    "the store cannot decode) so the suite can check that list() skips it"
)


class ContractRun:
    """The harness a rule body receives: open stores, make ids, know capabilities."""

    def __init__(
        self,
        *,
        factory: StoreFactory | None,
        capabilities: Collection[str],
        store_spec: Any = None,
        poison: StorePoison | None = None,
        namespace_factory: NamespaceFactory | None = None,
        outage_factory: OutageFactory | None = None,
        max_examples: int = 25,
        timeout: float = 120.0,
        shared_namespace: bool = False,
        setup_problem: str | None = None,
        note: Callable[[str], None] = lambda text: None,
    ) -> None:
        self.store_spec = store_spec
        """An ``open_store()`` argument for the same namespace, or ``None``."""
        self.namespace_factory = namespace_factory
        """Opens stores in other namespaces of the backend (see :data:`NamespaceFactory`)."""
        self.max_examples = max_examples
        """How many examples property-based rules generate."""
        self.shared_namespace = shared_namespace
        """True when the namespace may hold other data (ids then get a unique prefix)."""
        self._factory = factory
        self._outage_factory = outage_factory
        self._outages: list[Outage] = []
        self._poison = poison
        self._timeout = timeout
        self._note = note
        self._problems = [setup_problem] if setup_problem else []
        self.capabilities = self._known_capabilities(capabilities, self._problems)
        self._opened: list[Any] = []
        self._journal = Journal()
        self._watched = True
        self._ids: set[str] = set()
        self._prefix = _new_prefix()
        self._runner: asyncio.Runner | None = None

    # --- for rule bodies -----------------------------------------------------

    async def open(self) -> WorkflowStore:
        """A new store from the author's ``store_factory``; closed when the rule ends."""
        if self._factory is None:
            _misuse("the store_factory fixture is missing")
        made = self._factory()
        store = await made if inspect.isawaitable(made) else made
        missing = [name for name in STORE_METHODS if not callable(getattr(store, name, None))]
        if missing:
            _misuse(
                f"store_factory produced {clip(repr(store))}, which has no "
                f"{', '.join(missing)} method; it must return (or be an async function "
                "returning) a WorkflowStore"
            )
        self._watch(store)
        self._opened.append(store)
        return store

    async def poison(self, store: WorkflowStore, workflow_id: str) -> None:
        """Plant an unreadable record for ``workflow_id`` (the ``store_poison`` fixture).

        Skips the rule, saying what to provide, when the author gave no such fixture.
        """
        if self._poison is None:
            pytest.skip(NEEDS_POISON)
        self._ids.add(workflow_id)
        planted = self._poison(store, workflow_id)
        if inspect.isawaitable(planted):
            await planted

    async def open_namespace(self, suffix: str) -> WorkflowStore | None:
        """A new store in the test's namespace extended by ``suffix``; closed when the rule ends.

        ``None`` when the provider refuses the suffix (its namespaces cannot hold it).
        """
        if self.namespace_factory is None:
            _misuse("the namespace_factory fixture is missing")
        try:
            made = self.namespace_factory(suffix)
            store = await made if inspect.isawaitable(made) else made
        except ValueError:
            return None
        self._watch(store)
        self._opened.append(store)
        return store

    async def open_cut_off(self) -> tuple[WorkflowStore, Outage]:
        """A new store reaching its backend through an outage handle (``outage_factory``).

        Both are closed when the rule ends. Skips the rule, saying what to
        provide, when the author gave no such fixture.
        """
        if self._outage_factory is None:
            pytest.skip(NEEDS_OUTAGE)
        store, outage = await self._outage_factory(None)
        self._outages.append(outage)
        self._watch(store)
        self._opened.append(store)
        return store, outage

    def id(self, name: str = "wf") -> str:
        """A workflow id unique to this rule run (``name`` keeps messages readable)."""
        workflow_id = f"{self._prefix}{name}"
        self._ids.add(workflow_id)
        return workflow_id

    def exact_id(self, name: str) -> str:
        """``name`` itself as an id when the namespace is fresh; prefixed when shared."""
        workflow_id = f"{self._prefix}{name}" if self.shared_namespace else name
        self._ids.add(workflow_id)
        return workflow_id

    def new_prefix(self) -> None:
        """Start a new id space (property-based rules use one per example)."""
        self._prefix = _new_prefix()

    def mine(self, states: Iterable[WorkflowState]) -> list[WorkflowState]:
        """The states among ``states`` whose ids this rule created, in the given order."""
        return [state for state in states if state.workflow_id in self._ids]

    def has(self, capability: Capability) -> bool:
        """True if the provider declares ``capability``."""
        return capability in self.capabilities

    def call(self, operation: Coroutine[Any, Any, T]) -> T:
        """Run one coroutine on this rule's loop (for bodies that are not async)."""
        if self._runner is None:
            operation.close()
            raise RuntimeError("ContractRun.call is only available inside a sync rule body")
        return self._runner.run(self._timed(operation))

    # --- for the rule decorator ----------------------------------------------

    def execute(self, info: Rule, body: Callable[[ContractRun], Awaitable[None]]) -> None:
        """Run an async rule body in a fresh loop and report the outcome."""

        def action(runner: asyncio.Runner) -> None:
            runner.run(self._timed(body(self)))

        self._execute(info, action)

    def execute_sync(self, info: Rule, body: Callable[[ContractRun], None]) -> None:
        """Run a synchronous rule body that drives the loop through :meth:`call`."""
        self._execute(info, lambda runner: body(self))

    def _execute(self, info: Rule, action: Callable[[asyncio.Runner], None]) -> None:
        __tracebackhide__ = True
        if self._problems:
            _misuse("; ".join(self._problems))
        problem: BaseException | None = None
        with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
            self._runner = runner
            try:
                action(runner)
            except (Exception, pytest.fail.Exception, pytest.skip.Exception) as exc:
                problem = exc
            finally:
                self._runner = None
            cleanup = self._clean_up(runner, quiet=problem is not None)
        if info.capability is not None and info.capability not in self.capabilities:
            self._undeclared(info.capability, info, problem)
        if problem is None:
            problem = cleanup
        if problem is not None:
            self._report(info, problem)

    def _undeclared(
        self, capability: Capability, info: Rule, problem: BaseException | None
    ) -> NoReturn:
        reason = f"capability {str(capability)!r} is not declared by the store's provider"
        if problem is None:
            note = (
                f"{reason}, but the store passed rule {info.name}; declare "
                f"{str(capability)!r} if the store guarantees it"
            )
            self._note(note)
            pytest.skip(note)
        pytest.skip(reason)

    def _report(self, info: Rule, problem: BaseException) -> NoReturn:
        __tracebackhide__ = True
        head = f"rule {info.name}: {info.statement}"
        trail = self._journal.describe()
        trail = f"\n{trail}" if trail else ""
        if isinstance(problem, Broken):
            pytest.fail(f"{head}; {problem}{trail}", pytrace=False)
        if isinstance(problem, (pytest.fail.Exception, pytest.skip.Exception)):
            raise problem
        raised = f"{type(problem).__name__}: {clip(str(problem), 300)}"
        if self._watched and not self._journal.came_from_store(problem):
            raise SuiteError(
                f"{head}; the contract suite's own code raised {raised} at {_origin(problem)}, "
                f"outside any store operation: a defect of the suite (or of a value the store "
                f"returned that the suite did not check), not a verdict on the store{trail}"
            ) from problem
        raise ContractViolation(f"{head}; the store raised {raised}{trail}") from problem

    def _watch(self, store: Any) -> None:
        """Record the store's operations, for failure messages and to know whose error it is."""
        if not self._journal.watch(store):
            self._watched = False

    # --- internals -----------------------------------------------------------

    async def _timed(self, operation: Awaitable[T]) -> T:
        scope = asyncio.timeout(self._timeout)
        try:
            async with scope:
                return await operation
        except TimeoutError:
            if scope.expired():
                raise Broken(
                    f"did not finish within {self._timeout:g} s (a lost wake-up or a deadlock?)"
                ) from None
            raise

    def _clean_up(self, runner: asyncio.Runner, *, quiet: bool) -> BaseException | None:
        """Delete this run's ids from a shared namespace and close every store opened."""
        try:
            runner.run(self._timed(self._close_everything()))
        except Exception as exc:
            if quiet:
                return None
            return Broken(f"cleaning up after the rule failed: {type(exc).__name__}: {exc}")
        return None

    async def _close_everything(self) -> None:
        if self.shared_namespace and self._ids and self._factory is not None:
            store = await self.open()
            for workflow_id in sorted(self._ids):
                await store.delete(workflow_id)
        opened, self._opened = self._opened, []
        for store in opened:
            await store.close()
        outages, self._outages = self._outages, []
        for outage in outages:
            close = getattr(outage, "close", None)
            if callable(close):
                await close()

    @staticmethod
    def _known_capabilities(
        capabilities: Collection[str], problems: list[str]
    ) -> frozenset[Capability]:
        if isinstance(capabilities, str):
            problems.append(
                f"capabilities must be a set of names, not the string {capabilities!r}; "
                f"write frozenset({{{capabilities!r}}})"
            )
            return frozenset()
        known = {str(c) for c in Capability}
        unknown = sorted(str(c) for c in capabilities if str(c) not in known)
        if unknown:
            problems.append(
                f"unknown capability {', '.join(map(repr, unknown))}; "
                f"known capabilities: {', '.join(sorted(known))}"
            )
        return frozenset(Capability(str(c)) for c in capabilities if str(c) in known)


def _misuse(message: str) -> NoReturn:
    __tracebackhide__ = True
    pytest.fail(f"the contract suite is not set up correctly: {message}", pytrace=False)


def _new_prefix() -> str:
    return f"ct{secrets.token_hex(4)}-"


def _origin(error: BaseException) -> str:
    """``file:line in function`` where ``error`` was raised."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "an unknown place"
    last = frames[-1]
    return f"{Path(last.filename).name}:{last.lineno} in {last.name}"
