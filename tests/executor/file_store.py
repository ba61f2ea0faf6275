"""A tiny durable store for the executor's crash tests: one JSON file per workflow.

It implements only the base protocol (no ``append``), so it also exercises the
executor's fallback to a full ``save`` per step. Writes go to a temporary file
that replaces the old one, so a killed process leaves either the old or the
new state, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from beluga_workflow.codec import decode_state, encode_state
from beluga_workflow.models import WorkflowFilter, WorkflowState
from beluga_workflow.storekit import StoreBase, require_filter, require_workflow_id


class FileStore(StoreBase):
    provider = "file"

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        super().__init__()
        self._directory = Path(directory)
        self._directory.mkdir(parents=True, exist_ok=True)

    @property
    def where(self) -> str:
        return str(self._directory)

    def _path(self, workflow_id: str) -> Path:
        return self._directory / (hashlib.sha256(workflow_id.encode()).hexdigest() + ".json")

    async def save(self, state: WorkflowState) -> None:
        data = encode_state(state)
        self.check_open()
        path = self._path(state.workflow_id)
        partial = path.with_suffix(".tmp")
        partial.write_bytes(data)
        os.replace(partial, path)

    async def load(self, workflow_id: str) -> WorkflowState | None:
        require_workflow_id(workflow_id)
        self.check_open()
        path = self._path(workflow_id)
        if not path.exists():
            return None
        return decode_state(path.read_bytes(), workflow_id)

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        wanted = require_filter(filter)
        self.check_open()
        found: list[WorkflowState] = []
        for path in sorted(self._directory.glob("*.json")):
            data = path.read_bytes()
            state = decode_state(data, json.loads(data)["workflow_id"])
            if wanted.status is None or state.status == wanted.status:
                found.append(state)
            if wanted.limit and len(found) >= wanted.limit:
                break
        return found

    async def delete(self, workflow_id: str) -> None:
        require_workflow_id(workflow_id)
        self.check_open()
        self._path(workflow_id).unlink(missing_ok=True)
