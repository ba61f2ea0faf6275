"""One JSON encoding of states for every store that keeps bytes or text.

Sharing the encoding keeps types faithful across providers (``1`` stays an
int, ``1.0`` a float, timestamps keep their microseconds) and turns unreadable
records into :class:`~beluga_workflow.errors.CorruptStateError` naming the id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import ValidationError

from beluga_workflow.errors import CorruptStateError
from beluga_workflow.models import HistoryEvent, WorkflowState
from beluga_workflow.validation import require_state

__all__ = [
    "decode_event",
    "decode_state",
    "decode_state_parts",
    "encode_event",
    "encode_head",
    "encode_state",
    "stored_text",
]

_EMPTY_OBJECT = re.compile(r"\{ *\}")
"""A head with no fields, told apart without copying a large head (as a replace would)."""


def encode_state(state: WorkflowState) -> bytes:
    """Validate ``state`` and return its JSON encoding (UTF-8 bytes)."""
    require_state(state)
    return state.model_dump_json().encode()


def decode_state(data: bytes | str, workflow_id: str) -> WorkflowState:
    """Decode a stored record; ``workflow_id`` (or the record's key) names it if unreadable."""
    try:
        return WorkflowState.model_validate_json(data)
    except ValidationError as exc:
        raise CorruptStateError(workflow_id, _summary(exc)) from exc


def encode_head(state: WorkflowState) -> str:
    """JSON of every field but the history, for stores that keep events apart."""
    return state.model_dump_json(exclude={"history"})


def decode_state_parts(head: str, events: Iterable[str], workflow_id: str) -> WorkflowState:
    """Decode a state kept as a head (see :func:`encode_head`) plus one JSON text per event.

    The parts are joined into one document and decoded once, which is faster
    than decoding each event on its own. A record that holds another
    workflow's state is refused, naming ``workflow_id``.
    """
    head = head.rstrip()
    if not head.endswith("}") or _EMPTY_OBJECT.fullmatch(head):
        return decode_state(head, workflow_id)  # reports what is wrong with it
    state = decode_state(f'{head[:-1]},"history":[{",".join(events)}]}}', workflow_id)
    if state.workflow_id != workflow_id:
        raise CorruptStateError(
            workflow_id, f"the record holds the state of workflow {state.workflow_id!r}"
        )
    return state


def stored_text(data: bytes, workflow_id: str) -> str:
    """Stored bytes as text; bytes that are not UTF-8 make the record unreadable, by name."""
    try:
        return data.decode()
    except UnicodeDecodeError as exc:
        raise CorruptStateError(workflow_id, f"a stored part is not UTF-8 ({exc})") from exc


def encode_event(event: HistoryEvent) -> bytes:
    """JSON encoding of one history event (payloads must already be checked)."""
    return event.model_dump_json().encode()


def decode_event(data: bytes | str, workflow_id: str) -> HistoryEvent:
    """Decode one stored history event of ``workflow_id``."""
    try:
        return HistoryEvent.model_validate_json(data)
    except ValidationError as exc:
        raise CorruptStateError(workflow_id, _summary(exc)) from exc


def _summary(exc: ValidationError) -> str:
    first = exc.errors()[0]
    location = ".".join(str(part) for part in first["loc"]) or "record"
    more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
    return f"{location}: {first['msg']}{more}"
