"""Argument checks every store applies before touching its backend.

Stores call these first so that bad input gets the same documented
:class:`~beluga_workflow.errors.InvalidArgumentError` from every provider, and
nothing is changed by a call that is refused.
"""

from __future__ import annotations

from typing import Any

from beluga_workflow.errors import InvalidArgumentError
from beluga_workflow.models import MAX_LIMIT, WorkflowFilter, WorkflowState, WorkflowStatus
from beluga_workflow.payloads import check_json_value, is_utf8_encodable

__all__ = [
    "require_append",
    "require_expected_version",
    "require_filter",
    "require_name",
    "require_state",
    "require_workflow_id",
]


def require_workflow_id(workflow_id: Any) -> str:
    """Return ``workflow_id`` if it is a valid id; raise otherwise.

    An id is any non-empty ``str`` except two kinds of character that some
    backend cannot keep, refused by every store alike so that an id valid in
    one store is valid in all: NUL (``"\\x00"``: PostgreSQL text cannot hold
    it) and lone surrogates (``"\\ud800"``: not encodable as UTF-8).
    """
    if not isinstance(workflow_id, str):
        raise InvalidArgumentError(
            f"workflow_id must be a str, got {type(workflow_id).__name__} ({workflow_id!r})"
        )
    if not workflow_id:
        raise InvalidArgumentError("workflow_id must not be empty")
    if "\x00" in workflow_id:
        raise InvalidArgumentError(
            f"workflow_id must not contain NUL ('\\x00'), got {_short(workflow_id)}"
        )
    if not is_utf8_encodable(workflow_id):
        raise InvalidArgumentError(
            "workflow_id must be encodable as UTF-8, got "
            f"{_short(workflow_id)}, which holds a lone surrogate"
        )
    return workflow_id


def require_name(name: Any, what: str) -> str:
    """Return ``name`` (of an activity, signal or workflow) if history can store it.

    That is a non-empty ``str`` UTF-8 can encode; checked where the name is
    given, so that a bad one is refused by the call instead of failing the
    store write that records it.
    """
    if not isinstance(name, str) or not name:
        raise InvalidArgumentError(f"{what} must be a non-empty str, got {_short(name)}")
    if not is_utf8_encodable(name):
        raise InvalidArgumentError(
            f"{what} must be encodable as UTF-8, got {_short(name)}, which holds a lone surrogate"
        )
    return name


def require_filter(filter: Any) -> WorkflowFilter:
    """Return a usable filter: ``None`` means everything; bad limits are refused."""
    if filter is None:
        return WorkflowFilter()
    if not isinstance(filter, WorkflowFilter):
        raise InvalidArgumentError(
            f"filter must be a WorkflowFilter or None, got {type(filter).__name__}"
        )
    limit = filter.limit
    if not isinstance(limit, int) or isinstance(limit, bool) or not 0 <= limit <= MAX_LIMIT:
        raise InvalidArgumentError(
            f"filter.limit must be an int from 0 (no limit) to {MAX_LIMIT} (2**63 - 1), "
            f"got {_short(limit)}"
        )
    if filter.status is not None and not isinstance(filter.status, WorkflowStatus):
        raise InvalidArgumentError(f"filter.status must be a WorkflowStatus, got {filter.status!r}")
    return filter


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def require_state(state: Any) -> WorkflowState:
    """Check a state before it is saved: its id and every payload it carries."""
    return _require(state, first_event=0)


def require_append(state: Any, new_events: Any) -> int:
    """Check what ``append(state, new_events)`` writes; return how many events are kept.

    Only the head and the new events are checked: the others were checked when
    they were stored, and checking them again would make each workflow step
    cost more as the history grows.
    """
    if isinstance(new_events, bool) or not isinstance(new_events, int):
        raise InvalidArgumentError(f"new_events must be an int, got {new_events!r}")
    if isinstance(state, WorkflowState) and not 0 <= new_events <= len(state.history):
        raise InvalidArgumentError(
            f"new_events must be between 0 and {len(state.history)}, got {new_events}"
        )
    kept = len(state.history) - new_events if isinstance(state, WorkflowState) else 0
    _require(state, first_event=kept)
    return kept


def require_expected_version(expected_version: Any) -> int:
    """Return ``expected_version`` if it can name a stored version: an ``int`` from 0.

    Versions start at 0 (nothing stored), so a negative one is a mistake of
    the caller, not a conflict; ``True`` is refused although it is an ``int``.
    """
    if (
        isinstance(expected_version, bool)
        or not isinstance(expected_version, int)
        or expected_version < 0
    ):
        raise InvalidArgumentError(
            f"expected_version must be an int from 0, got {_short(expected_version)}"
        )
    return expected_version


def _require(state: Any, *, first_event: int) -> WorkflowState:
    if not isinstance(state, WorkflowState):
        raise InvalidArgumentError(f"state must be a WorkflowState, got {type(state).__name__}")
    require_workflow_id(state.workflow_id)
    check_json_value(state.input, "state.input")
    check_json_value(state.result, "state.result")
    check_json_value(state.metadata, "state.metadata")
    _require_texts(state, _STATE_TEXTS, "state")
    for index in range(first_event, len(state.history)):
        event = state.history[index]
        where = f"state.history[{index}]"
        check_json_value(event.input, f"{where}.input")
        check_json_value(event.result, f"{where}.result")
        check_json_value(event.signal_payload, f"{where}.signal_payload")
        _require_texts(event, _EVENT_TEXTS, where)
    return state


_STATE_TEXTS = ("run_id", "error", "workflow_name")
_EVENT_TEXTS = ("activity_name", "error", "signal_name", "event_key")


def _require_texts(model: Any, names: tuple[str, ...], where: str) -> None:
    """Text fields must be encodable as UTF-8 too, or no store could write the record."""
    for name in names:
        value = getattr(model, name)
        if isinstance(value, str) and not is_utf8_encodable(value):
            raise InvalidArgumentError(
                f"{where}.{name} is {_short(value)}, which holds a lone surrogate and "
                "cannot be encoded as UTF-8"
            )
