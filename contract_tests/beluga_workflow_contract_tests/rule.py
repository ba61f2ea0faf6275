"""The ``@rule`` decorator: one named promise of the store contract per test.

A rule's body is an ``async def`` taking the :class:`~.context.ContractRun`.
The decorator returns a plain (synchronous) test function that runs the body
in a fresh event loop of its own, so the suite needs no asyncio pytest plugin
and an installed one (even in auto mode) never takes the test over.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from beluga_workflow import Capability
from beluga_workflow_contract_tests.names import RULE_ATTRIBUTE

if TYPE_CHECKING:
    from beluga_workflow_contract_tests.context import ContractRun

__all__ = ["RULE_ATTRIBUTE", "Rule", "rule", "sync_rule"]


AsyncBody = Callable[[Any, "ContractRun"], Awaitable[None]]
SyncBody = Callable[[Any, "ContractRun"], None]
TestFunction = Callable[[Any, "ContractRun"], None]


@dataclass(frozen=True)
class Rule:
    """A promise every store (or every store with ``capability``) keeps."""

    name: str
    statement: str
    capability: Capability | None = None


def rule(
    name: str, statement: str, *, capability: Capability | None = None
) -> Callable[[AsyncBody], TestFunction]:
    """Make ``async def body(self, run)`` the test of rule ``name``.

    ``statement`` is the promise in words; failure messages start with
    ``rule <name>: <statement>``. With ``capability``, the test checks an
    optional ability and is skipped, naming it, when the provider does not
    declare it.
    """
    info = Rule(name, statement, capability)

    def decorate(body: AsyncBody) -> TestFunction:
        def test(self: Any, contract_run: ContractRun) -> None:
            contract_run.execute(info, lambda run: body(self, run))

        _describe(test, body, info)
        return test

    return decorate


def sync_rule(
    name: str, statement: str, *, capability: Capability | None = None
) -> Callable[[SyncBody], TestFunction]:
    """Like :func:`rule` for a body that drives the loop itself through ``run.call``.

    For checks (such as a hypothesis state machine) whose driver is synchronous.
    """
    info = Rule(name, statement, capability)

    def decorate(body: SyncBody) -> TestFunction:
        def test(self: Any, contract_run: ContractRun) -> None:
            contract_run.execute_sync(info, lambda run: body(self, run))

        _describe(test, body, info)
        return test

    return decorate


def _describe(test: TestFunction, body: Callable[..., Any], info: Rule) -> None:
    # No functools.wraps: ``__wrapped__`` would let tools see the async body.
    test.__name__ = body.__name__
    test.__qualname__ = body.__qualname__
    test.__module__ = body.__module__
    test.__doc__ = f"rule {info.name}: {info.statement}"
    setattr(test, RULE_ATTRIBUTE, info)
