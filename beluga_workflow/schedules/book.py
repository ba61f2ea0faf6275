"""The schedule book: every schedule of a store, kept in one system record.

One record (``~beluga/schedules``, see :mod:`beluga_workflow.system_records`)
holds every schedule and, for each, whether it is paused and the last tick a
worker dealt with. Every change (a schedule created, paused, a tick taken) is
a compare-and-set of that record, so workers and the CLI never undo each
other's changes; listing schedules is one read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from beluga_workflow.errors import InvalidArgumentError, WorkflowNotFoundError
from beluga_workflow.models import UtcDatetime, utc_now
from beluga_workflow.schedules.spec import Schedule
from beluga_workflow.store import WorkflowStore
from beluga_workflow.system_records import (
    SYSTEM_PREFIX,
    read_record,
    require_versioned,
    update_record,
)

__all__ = ["BOOK_ID", "ScheduleBook", "ScheduleEntry"]

BOOK_ID = f"{SYSTEM_PREFIX}schedules"
_KEY = "schedules"


class ScheduleEntry(BaseModel):
    """A stored schedule: its definition, whether it is paused, and where its ticks stand.

    ``last_tick`` is the latest tick a worker dealt with (started, or skipped
    by the catch-up policy); ticks up to it never start again. Creating or
    resuming a schedule sets it to that moment, so ticks of a pause are not
    caught up. ``anchor`` is where fixed intervals count from.
    """

    model_config = ConfigDict(extra="forbid")

    schedule: Schedule
    paused: bool = False
    anchor: UtcDatetime
    last_tick: UtcDatetime

    def next_tick(self) -> datetime:
        return self.schedule.next_tick(self.last_tick, self.anchor)


def _entries(raw: Any) -> dict[str, ScheduleEntry]:
    if not isinstance(raw, dict):
        return {}
    return {name: ScheduleEntry.model_validate(entry) for name, entry in raw.items()}


def _dump(entries: dict[str, ScheduleEntry]) -> dict[str, Any]:
    return {name: entry.model_dump(mode="json") for name, entry in entries.items()}


class ScheduleBook:
    """Create, list, pause, resume and delete the schedules kept in ``store``.

    The store must have ``compare_and_append`` (``InvalidArgumentError``
    otherwise). Workers started with ``schedules=True`` start the runs.
    """

    def __init__(self, store: WorkflowStore) -> None:
        require_versioned(store, "schedules")
        self._store = store

    async def create(self, schedule: Schedule, *, replace: bool = False) -> ScheduleEntry:
        """Store ``schedule``; its first tick is the first one after now.

        A schedule of that name raises ``InvalidArgumentError`` unless
        ``replace``, which keeps the old one's paused state and last tick.
        """
        if not isinstance(schedule, Schedule):
            raise InvalidArgumentError(f"schedule must be a Schedule, got {schedule!r}")
        created: ScheduleEntry | None = None

        def add(raw: Any) -> Any:
            nonlocal created
            entries = _entries(raw)
            old = entries.get(schedule.name)
            if old is not None and not replace:
                raise InvalidArgumentError(
                    f"a schedule named {schedule.name!r} exists; delete it or replace it"
                )
            now = utc_now()
            created = ScheduleEntry(
                schedule=schedule,
                paused=old.paused if old else False,
                anchor=old.anchor if old else now,
                last_tick=old.last_tick if old else now,
            )
            entries[schedule.name] = created
            return _dump(entries)

        await update_record(self._store, BOOK_ID, _KEY, add)
        assert created is not None
        return created

    async def list(self) -> list[ScheduleEntry]:
        """Every schedule, by name."""
        raw, _ = await read_record(self._store, BOOK_ID, _KEY)
        entries = _entries(raw)
        return [entries[name] for name in sorted(entries)]

    async def get(self, name: str) -> ScheduleEntry:
        """The schedule ``name``; ``WorkflowNotFoundError`` if there is none."""
        raw, _ = await read_record(self._store, BOOK_ID, _KEY)
        entry = _entries(raw).get(name)
        if entry is None:
            raise WorkflowNotFoundError(f"no schedule named {name!r}")
        return entry

    async def pause(self, name: str) -> ScheduleEntry:
        """Stop starting runs for ``name`` until :meth:`resume`."""
        return await self._change(name, paused=True)

    async def resume(self, name: str) -> ScheduleEntry:
        """Start runs for ``name`` again, from its next tick after now."""
        return await self._change(name, paused=False)

    async def delete(self, name: str) -> None:
        """Remove the schedule ``name`` (runs it started stay); a missing name is a no-op."""

        def remove(raw: Any) -> Any:
            entries = _entries(raw)
            if name not in entries:
                return raw
            del entries[name]
            return _dump(entries)

        await update_record(self._store, BOOK_ID, _KEY, remove)

    async def _change(self, name: str, *, paused: bool) -> ScheduleEntry:
        changed: ScheduleEntry | None = None

        def change(raw: Any) -> Any:
            nonlocal changed
            entries = _entries(raw)
            entry = entries.get(name)
            if entry is None:
                raise WorkflowNotFoundError(f"no schedule named {name!r}")
            if entry.paused == paused:
                changed = entry
                return raw
            update: dict[str, Any] = {"paused": paused}
            if not paused:
                update["last_tick"] = max(entry.last_tick, utc_now())
            changed = entry.model_copy(update=update)
            entries[name] = changed
            return _dump(entries)

        await update_record(self._store, BOOK_ID, _KEY, change)
        assert changed is not None
        return changed

    async def advance(self, name: str, tick: datetime) -> None:
        """Record that ticks of ``name`` up to ``tick`` were dealt with (never moves back)."""

        def move(raw: Any) -> Any:
            entries = _entries(raw)
            entry = entries.get(name)
            if entry is None or entry.last_tick >= tick:
                return raw
            entries[name] = entry.model_copy(update={"last_tick": tick})
            return _dump(entries)

        await update_record(self._store, BOOK_ID, _KEY, move)
