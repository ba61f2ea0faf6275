"""Where a workflow makes each call: its branch, and the call's number in that branch.

Replay matches a call with the recorded call at the same position, so a
position must not depend on timing. A workflow's branches are its asyncio
tasks (``asyncio.gather`` makes one per awaitable): within one branch calls
are made one after another, so their numbers are fixed by the code. A branch
is named by its parent branch and its rank among the branches the parent
started (the order in which they made their first call), which gather fixes
too. How fast activities, stores or plain awaits are changes which branch
runs first, never the positions.

A position reads ``"<branch>#<n>"``: ``".0#3"`` is the third call of the
workflow's own task, ``".0.1#2"`` the second call of the second branch it
started, and so on.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import weakref

__all__ = ["CallPositions"]

_BRANCH: contextvars.ContextVar[tuple[int, str] | None] = contextvars.ContextVar(
    "beluga_workflow_branch", default=None
)
"""The branch the current task's calls belong to: (owner, path); tasks inherit it."""

_owners = itertools.count(1)


class _Branch:
    __slots__ = ("calls", "path")

    def __init__(self, path: str) -> None:
        self.path = path
        self.calls = 0


class CallPositions:
    """Gives the calls of one run their positions."""

    def __init__(self) -> None:
        self._owner = next(_owners)  # unlike id(), never reused by a later run
        self._branches: weakref.WeakKeyDictionary[asyncio.Task[object], _Branch] = (
            weakref.WeakKeyDictionary()
        )
        self._started: dict[str, int] = {}

    def next(self) -> str:
        """The position the current branch's next call gets (nothing is used up)."""
        branch = self._branch()
        return f"{branch.path}#{branch.calls + 1}"

    def take(self) -> str:
        """Use up and return the current branch's next position."""
        branch = self._branch()
        branch.calls += 1
        return f"{branch.path}#{branch.calls}"

    def _branch(self) -> _Branch:
        task = asyncio.current_task()
        assert task is not None, "workflow calls are made from a task"
        branch = self._branches.get(task)
        if branch is None:
            inherited = _BRANCH.get()
            parent = inherited[1] if inherited is not None and inherited[0] == self._owner else ""
            path = f"{parent}.{self._rank(parent)}"
            branch = self._branches[task] = _Branch(path)
            _BRANCH.set((self._owner, path))  # in this task's context: its new tasks inherit it
        return branch

    def _rank(self, parent: str) -> int:
        rank = self._started.get(parent, 0)
        self._started[parent] = rank + 1
        return rank
