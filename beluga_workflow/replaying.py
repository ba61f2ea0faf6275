"""Checking workflow code against stored histories before it is deployed.

:class:`HistoryReplayer` runs each history's workflow function again against
its recorded events, as a resumed run would, but on a private in-memory copy:
nothing is written to the real store, and the replay stops as soon as every
recorded event has been handed over, before a single call runs for real. So
no activity runs, no timer waits and no hook is called. What it reports for
each run is whether the code still makes the calls its history recorded, and
if not, the event where it parts (a
:class:`~beluga_workflow.divergence.HistoryDivergenceError`).

Use it from the command line (``beluga-workflow replay MODULE --store URL``),
on golden history files in a project's tests
(:func:`beluga_workflow.testing.assert_replays`), or directly::

    replayer = HistoryReplayer([order_workflow])
    for result in await replayer.replay_store(store):
        assert result.ok, result.problem
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from beluga_workflow.errors import InvalidArgumentError, NonDeterminismError
from beluga_workflow.executor import Executor, WorkflowFunction
from beluga_workflow.models import WorkflowFilter, WorkflowState, WorkflowStatus
from beluga_workflow.run_listing import list_runs
from beluga_workflow.store import WorkflowStore

__all__ = ["HistoryReplayer", "ReplayResult", "load_history", "save_history"]


@dataclass(frozen=True)
class ReplayResult:
    """How one stored run replayed against the current code.

    ``divergence`` is set when the code no longer matches the history;
    ``problem`` describes any reason the replay is not clean (a divergence,
    an unregistered workflow, the code raising while it replays).
    """

    workflow_id: str
    run_id: str
    workflow_name: str | None
    divergence: NonDeterminismError | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def summary(self) -> dict[str, Any]:
        """A JSON shape for reports (the CLI's ``--json``)."""
        event_id = getattr(self.divergence, "event_id", None)
        return {
            "workflow_id": self.workflow_id,
            "run_id": self.run_id,
            "workflow_name": self.workflow_name,
            "ok": self.ok,
            "event_id": event_id,
            "problem": self.problem,
        }


class HistoryReplayer:
    """Replays stored histories against ``workflows`` without running anything for real.

    ``workflows`` are functions, registered under their default names
    (``"module:qualname"``), or a mapping of stored workflow names to
    functions (for workflows registered under a name of their own).
    """

    def __init__(
        self,
        workflows: Iterable[WorkflowFunction] | Mapping[str, WorkflowFunction],
        *,
        timeout: float = 60.0,
    ) -> None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise InvalidArgumentError(f"timeout must be a positive number, got {timeout!r}")
        self._timeout = float(timeout)
        if isinstance(workflows, Mapping):
            self._named = dict(workflows)
        else:
            self._named = {f"{fn.__module__}:{fn.__qualname__}": fn for fn in workflows}
        for name, fn in self._named.items():
            if not asyncio.iscoroutinefunction(fn):
                raise InvalidArgumentError(f"workflow {name!r} is not an async function: {fn!r}")

    async def replay(self, state: WorkflowState) -> ReplayResult:
        """Replay one run's history; report how it went."""
        if not isinstance(state, WorkflowState):
            raise InvalidArgumentError(f"expected a WorkflowState, got {type(state).__name__}")
        result = ReplayResult(state.workflow_id, state.run_id, state.workflow_name)
        fn = self._named.get(state.workflow_name or "")
        if fn is None:
            known = ", ".join(sorted(self._named)) or "none"
            return _with(result, problem=f"workflow {state.workflow_name!r} is not given ({known})")
        copy = _replayable(state)
        # Imported here so that importing the package loads no store module.
        from beluga_workflow.providers.inmemory import InMemoryStore

        store = InMemoryStore()
        await store.save(copy)
        executor = Executor(store, load_plugins=False)
        executor.register(fn, name=copy.workflow_name)
        try:
            report = await executor.recover()
            if not report.resumed:
                problem = next(iter(report.not_resumed.values()), None)
                return _with(result, problem=f"could not be resumed: {problem}")
            run = executor._runs[copy.workflow_id]
            if run.replayer is None:
                return result  # nothing recorded yet: nothing to check
            run.replayer.when_finished(lambda: run.stop("shutdown"))
            try:
                outcome = await asyncio.wait_for(run.outcome(), self._timeout)
            except TimeoutError:
                return _with(
                    result,
                    problem=f"replay did not finish within {self._timeout}s: the code waits "
                    "for something its history does not have",
                )
        finally:
            await executor.close()
        stopped = outcome.stopped
        if isinstance(stopped, NonDeterminismError):
            return _with(result, divergence=stopped, problem=str(stopped))
        if outcome.status is WorkflowStatus.FAILED and state.status is not WorkflowStatus.FAILED:
            return _with(result, problem=f"the workflow failed while replaying: {outcome.error}")
        return result

    async def replay_all(self, states: Iterable[WorkflowState]) -> list[ReplayResult]:
        """Replay each run in turn."""
        return [await self.replay(state) for state in states]

    async def replay_store(
        self, store: WorkflowStore, ids: Sequence[str] | None = None
    ) -> list[ReplayResult]:
        """Replay the runs of ``store`` (``ids``, or every run of a workflow given here)."""
        if ids:
            states = []
            for workflow_id in ids:
                state = await store.load(workflow_id)
                if state is None:
                    raise InvalidArgumentError(f"no workflow {workflow_id!r} in the store")
                states.append(state)
        else:
            listed = await list_runs(store, WorkflowFilter())
            states = [s for s in listed if (s.workflow_name or "") in self._named]
        return await self.replay_all(states)

    async def replay_file(self, path: str | Path) -> ReplayResult:
        """Replay a history file written by :func:`save_history`."""
        return await self.replay(load_history(path))


def save_history(state: WorkflowState, path: str | Path) -> None:
    """Write a run (state and history) as a JSON history file, e.g. a golden file for tests."""
    data = json.loads(state.model_dump_json())
    data["lease"] = None
    Path(path).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def load_history(path: str | Path) -> WorkflowState:
    """Read a history file written by :func:`save_history` (or a stored state as JSON)."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        return WorkflowState.model_validate_json(text)
    except ValueError as exc:
        raise InvalidArgumentError(f"{path} is not a workflow history file: {exc}") from exc


def _replayable(state: WorkflowState) -> WorkflowState:
    """A copy to resume: running, unleased, with no deadline to enforce."""
    copy = state.model_copy(deep=True)
    copy.status = WorkflowStatus.RUNNING
    copy.result = None
    copy.error = None
    copy.lease = None
    copy.version = 0
    copy.metadata = {k: v for k, v in copy.metadata.items() if k not in ("deadline", "timeout")}
    if copy.workflow_name is None:
        copy.workflow_name = ""
    return copy


def _with(result: ReplayResult, **changes: Any) -> ReplayResult:
    return ReplayResult(
        result.workflow_id,
        result.run_id,
        result.workflow_name,
        changes.get("divergence", result.divergence),
        changes.get("problem", result.problem),
    )
