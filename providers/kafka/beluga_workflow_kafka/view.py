"""The materialized view of the topic, fed both by the consumer and by the store's own writes.

A store applies what it wrote as soon as the broker acknowledges it, so it
reads its own writes without waiting for them to come back through the
consumer. The consumer then delivers the same records again, and records of
other instances in between: every record carries its offset, and per key
the view keeps the newest one. All records of one workflow are in one
partition, so offsets order them.

Guard: a record applied from an acknowledgement is remembered by key until
the consumer reaches it; an older record of that key the consumer delivers
meanwhile is skipped (it would undo the newer one, e.g. bring a deleted
workflow back). An acknowledgement for a record the consumer already passed
changes nothing: the view holds that record and possibly newer ones.
"""

from __future__ import annotations

from beluga_workflow.errors import CorruptStateError
from beluga_workflow.storekit.chunking import CommitRecord
from beluga_workflow_kafka.list_order import ListOrder

__all__ = ["MaterializedView"]


class MaterializedView:
    """The latest value of every key of one topic, as far as it is known."""

    def __init__(self) -> None:
        self.metas: dict[str, CommitRecord] = {}
        self.unreadable: dict[str, CorruptStateError] = {}
        """Workflows whose latest meta record cannot be read: load raises, list reports."""
        self.data: dict[tuple[str, str], dict[str, bytes]] = {}
        self.order = ListOrder()
        """The ids of ``metas`` in list order."""
        self._read: dict[int, int] = {}
        """Per partition, the offset after the last record the consumer delivered."""
        self._ahead: dict[bytes, int] = {}
        """Keys applied from acknowledgements the consumer has not reached: their offsets."""
        self._own: dict[int, dict[int, bytes]] = {}
        """Per partition, offsets of own records the consumer has not delivered yet: their keys."""

    def consumed(self, partition: int, offset: int, key: bytes | None, value: bytes | None) -> None:
        """A record the consumer delivered (in partition order)."""
        self._read[partition] = offset + 1
        own = self._own.get(partition)
        if own and offset in own:  # applied when acknowledged, or shadowed by a newer own one
            self._passed(own.pop(offset), offset)
            return
        if key is None:
            return
        ahead = self._ahead.get(key)
        if ahead is not None:
            if ahead > offset:
                return  # a newer record of this key is applied already
            del self._ahead[key]
        self._apply(key, value)

    def acknowledged(self, partition: int, offset: int, key: bytes, value: bytes | None) -> None:
        """A record this store wrote, at the ``offset`` the broker gave it."""
        if offset < self._read.get(partition, 0):
            return  # delivered already, and whatever came after it
        self._own.setdefault(partition, {})[offset] = key
        if self._ahead.get(key, -1) < offset:
            self._ahead[key] = offset
            self._apply(key, value)

    def read_up_to(self, partition: int) -> int:
        """The offset after the last record the consumer delivered on ``partition``."""
        return self._read.get(partition, 0)

    def only_own_between(self, partition: int, start: int, end: int) -> bool:
        """Whether every record at ``start`` up to ``end`` is one this store wrote and applied."""
        own = self._own.get(partition, {})
        if end - start > len(own):
            return False
        return all(offset in own for offset in range(start, end))

    def skip_own(self, partition: int, start: int) -> int:
        """Count the own records from ``start`` on, up to the first that is not, as delivered.

        Returns the offset after them: the consumer need not fetch them back
        (the view holds them since they were acknowledged), so it may move on
        to there.
        """
        own = self._own.get(partition)
        end = start
        while own and end in own:
            self._passed(own.pop(end), end)
            end += 1
        if end > self._read.get(partition, 0):
            self._read[partition] = end
        return end

    def _passed(self, key: bytes, offset: int) -> None:
        """The consumer is past the own record of ``key`` at ``offset``."""
        if self._ahead.get(key) == offset:
            del self._ahead[key]

    def _apply(self, key: bytes, value: bytes | None) -> None:
        if key.startswith(b"m\0"):
            workflow_id = key[2:].decode()
            self.metas.pop(workflow_id, None)
            self.unreadable.pop(workflow_id, None)
            if value is None:
                self.order.remove(workflow_id)
                return
            try:
                meta = CommitRecord.decode(value, workflow_id)
            except CorruptStateError as exc:
                self.order.remove(workflow_id)
                self.unreadable[workflow_id] = exc
                return
            self.metas[workflow_id] = meta
            self.order.put(workflow_id, meta.status, meta.created)
        elif key.startswith(b"d\0"):
            head, _, part = key[2:].rpartition(b"\0")
            workflow, _, gen = head.rpartition(b"\0")
            slot = (workflow.decode(), gen.decode())
            if value is None:
                parts = self.data.get(slot)
                if parts is not None:
                    parts.pop(part.decode(), None)
                    if not parts:
                        del self.data[slot]
            else:
                self.data.setdefault(slot, {})[part.decode()] = value
