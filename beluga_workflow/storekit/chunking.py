"""A state kept as chunks plus one small commit record, for stores that need it.

Some backends (NATS key-value, Kafka topics) limit the size of one value and
cannot change several keys atomically. A store for them writes a state as
parts — the head (every field but the history) in chunks, and the history as
fragments, one per write — and then commits it by writing one small
:class:`CommitRecord` saying where the parts are. Readers start from the
commit record, so they see the old state or the new one, never a mix, and a
workflow step writes only its new events.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace

from beluga_workflow.codec import decode_state_parts, stored_text
from beluga_workflow.errors import CorruptStateError
from beluga_workflow.models import WorkflowState

__all__ = ["CommitRecord", "history_text", "split"]


@dataclass
class CommitRecord:
    """Where one workflow's parts are, and what listing needs without reading them.

    ``gen`` names the generation a ``save`` wrote (parts of older generations
    can be removed); ``head`` counts head rewrites within it; ``head_parts``
    and ``frags`` say how many head chunks and history fragments there are.
    """

    id: str
    status: str
    created: str
    version: int
    n: int
    gen: str
    head: int = 0
    head_parts: int = 0
    frags: int = 0

    @classmethod
    def first(cls, state: WorkflowState) -> CommitRecord:
        """The record of a new generation of ``state`` (its parts still to be counted)."""
        return cls(
            id=state.workflow_id,
            status=state.status.value,
            created=state.created_at.isoformat(timespec="microseconds"),
            version=state.version,
            n=len(state.history),
            gen=uuid.uuid4().hex[:12],
        )

    def next_step(self, state: WorkflowState) -> CommitRecord:
        """The record after a step: a new head, the same generation and fragments so far."""
        return replace(
            self,
            status=state.status.value,
            created=state.created_at.isoformat(timespec="microseconds"),
            version=state.version,
            n=len(state.history),
            head=self.head + 1,
            head_parts=0,
        )

    def head_part(self, index: int) -> str:
        return f"h{self.head}.{index}"

    def fragment(self, index: int) -> str:
        return f"e{index}"

    def encode(self) -> bytes:
        # Every field is a str or an int: the instance's own dict is the record
        # (``asdict`` would deep-copy it, a tenth of a NATS save's own time).
        return json.dumps(vars(self)).encode()

    @classmethod
    def decode(cls, raw: bytes, where: str) -> CommitRecord:
        """Read a stored record; ``where`` names it if it is unreadable."""
        try:
            return cls(**json.loads(raw))
        except (ValueError, TypeError) as exc:
            raise CorruptStateError(where, f"unreadable commit record: {exc}") from exc

    def assemble(self, head_chunks: list[bytes], fragments: list[bytes]) -> WorkflowState:
        """The state from its head chunks and history fragments, in order."""
        events = stored_text(b"".join(fragments), self.id)
        head = stored_text(b"".join(head_chunks), self.id)
        return decode_state_parts(head, [events] if events else [], self.id)


def history_text(state: WorkflowState, start: int = 0) -> str:
    """The events from ``start`` on as JSON list items, comma-led when they extend others."""
    history = state.history
    text = ",".join(history[i].model_dump_json() for i in range(start, len(history)))
    return "," + text if text and start else text


def split(text: str, size: int) -> list[bytes]:
    """``text`` as UTF-8 chunks of at most ``size`` bytes (none for empty text)."""
    data = text.encode()
    return [data[i : i + size] for i in range(0, len(data), size)]
