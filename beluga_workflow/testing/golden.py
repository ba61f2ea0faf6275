"""Golden history files: recorded runs checked into a project, replayed against its current code."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from pathlib import Path

from beluga_workflow.errors import InvalidArgumentError
from beluga_workflow.executor import WorkflowFunction
from beluga_workflow.replaying import HistoryReplayer, ReplayResult

__all__ = ["assert_replays"]


def assert_replays(
    paths: Iterable[str | Path],
    workflows: Iterable[WorkflowFunction] | Mapping[str, WorkflowFunction],
) -> list[ReplayResult]:
    """Replay each history file; raise ``AssertionError`` naming every run and event that diverge.

    ``paths`` are files (or directories, whose ``*.json`` files are all
    taken). Call it from a plain (not async) test; it runs its own event loop.
    """
    files: list[Path] = []
    for path in map(Path, paths):
        if not path.exists():
            raise InvalidArgumentError(f"no history file or directory {str(path)!r}")
        files.extend(sorted(path.glob("*.json")) if path.is_dir() else [path])
    if not files:
        raise InvalidArgumentError("no history files to replay")
    replayer = HistoryReplayer(workflows)

    async def replay_each() -> list[ReplayResult]:
        return [await replayer.replay_file(file) for file in files]

    results = asyncio.run(replay_each())
    problems = [
        f"{file.name}: run {result.workflow_id!r}: {result.problem}"
        for file, result in zip(files, results, strict=True)
        if not result.ok
    ]
    if problems:
        raise AssertionError("histories that no longer replay:\n" + "\n".join(problems))
    return results
