"""Running :mod:`~beluga_workflow_contract_tests.child` in another OS process."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterable
from typing import Any

from beluga_workflow import WorkflowState
from beluga_workflow_contract_tests.violations import Broken, clip

__all__ = ["in_other_process"]

CHILD_TIMEOUT = 120.0


async def in_other_process(
    spec: Any,
    *,
    expect: Iterable[WorkflowState] = (),
    absent: Iterable[str] = (),
    save: Iterable[WorkflowState] = (),
    delete: Iterable[str] = (),
) -> list[str]:
    """Have a new interpreter open ``spec`` and act on it; return the problems it saw."""
    order = {
        "spec": _plain(spec),
        "expect": [state.model_dump_json() for state in expect],
        "absent": list(absent),
        "save": [state.model_dump_json() for state in save],
        "delete": list(delete),
    }
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(path for path in sys.path if path)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "beluga_workflow_contract_tests.child",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=environment,
    )
    try:
        out, err = await asyncio.wait_for(
            process.communicate(json.dumps(order).encode()), CHILD_TIMEOUT
        )
    except TimeoutError:
        process.kill()
        await process.wait()
        raise Broken(f"the other process did not finish within {CHILD_TIMEOUT:g} s") from None
    if process.returncode != 0:
        raise Broken(
            f"the other process failed (exit {process.returncode}): "
            f"{clip(err.decode(errors='replace').strip(), 600)}"
        )
    problems: list[str] = json.loads(out.decode().strip().splitlines()[-1])["problems"]
    return problems


def _plain(spec: Any) -> Any:
    if isinstance(spec, os.PathLike):
        return os.fspath(spec)
    try:
        json.dumps(spec)
    except TypeError as exc:
        raise TypeError(
            f"store_spec must be a str, a path or a JSON-serializable mapping, got {spec!r}"
        ) from exc
    return spec
