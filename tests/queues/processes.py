"""Worker processes of :mod:`tests.queues.queue_app`, started, killed and stopped by a test."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


class QueueWorkers:
    """Worker processes on one store serving ``queues``; their activities log to ``log``."""

    def __init__(
        self,
        spec: dict[str, Any],
        log: Path,
        queues: list[dict[str, Any]] = (),  # type: ignore[assignment]
        *,
        schedules: bool = False,
    ) -> None:
        self.spec = spec
        self.log = log
        self.queues = list(queues)
        self.schedules = schedules
        self.live: dict[str, asyncio.subprocess.Process] = {}
        self.gate = log.with_name(log.name + ".go")
        """Workers wait for this file before they serve: :meth:`open_gate` creates it."""
        self._count = 0

    async def start(self) -> str:
        self._count += 1
        worker_id = f"w{self._count}"
        args = [json.dumps(self.spec), worker_id, str(self.log), json.dumps(self.queues)]
        if self.schedules:
            args.append("--schedules")
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.queues.queue_app",
            *args,
            cwd=ROOT,
            env={**os.environ, "QUEUE_TEST_GATE": str(self.gate)},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert process.stdout is not None
        self.live[worker_id] = process
        ready = await asyncio.wait_for(process.stdout.readline(), 60)
        assert ready.strip() == b"ready"
        return worker_id

    def open_gate(self) -> None:
        """Let every worker started so far (and any started later) begin serving."""
        self.gate.touch()

    async def kill(self, worker_id: str) -> None:
        """SIGKILL one worker, by its process id."""
        process = self.live.pop(worker_id)
        process.kill()
        await process.wait()

    async def stop_all(self) -> None:
        for process in self.live.values():
            process.send_signal(signal.SIGTERM)
        for process in self.live.values():
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()
        self.live.clear()


def read_log(log: Path) -> list[tuple[str, str, float, str]]:
    """``(event, workflow id, time, worker id)`` for each line the activities wrote."""
    if not log.exists():
        return []
    entries = []
    for line in log.read_text(encoding="utf-8").splitlines():
        event, workflow_id, at, worker, _ = line.split()
        entries.append((event, workflow_id, float(at), worker))
    return entries


def max_overlap(entries: list[tuple[str, str, float, str]], prefix: str) -> int:
    """The most runs whose ids start with ``prefix`` that were in their activity at once."""
    running = peak = 0
    chosen = [e for e in entries if e[1].startswith(prefix)]
    for event, _, _, _ in sorted(chosen, key=lambda e: (e[2], e[0] == "start")):
        running += 1 if event == "start" else -1
        peak = max(peak, running)
    return peak


def run_ids(log: Path) -> dict[str, set[str]]:
    """The run ids whose activity ran, by workflow id."""
    found: dict[str, set[str]] = {}
    if log.exists():
        for line in log.read_text(encoding="utf-8").splitlines():
            _, workflow_id, _, _, run_id = line.split()
            found.setdefault(workflow_id, set()).add(run_id)
    return found
