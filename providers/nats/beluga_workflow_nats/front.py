"""The front page of a status: its first index entries in list order, under one key.

``list(status=..., limit=n)`` returns the first ``n`` states of a status by
creation time, then id. The status index (one key per workflow and status)
has no order the server can walk, and on the server any read with a wildcard
subject filter costs in proportion to every key in the bucket (a filtered
consumer on a bucket of 100,000 keys took 78 ms where one of 1,000 took
2.5 ms), while a read of one key costs the same at any size. So each status
keeps, under the key ``_front.<status>`` of the index bucket, its first
entries (creation time, id, and the revision of the workflow's index entry),
at most ``CAPACITY``, and a bound: every index entry of that status at or
before the bound is on the page (no bound: every entry is). A list reads the
page and loads its first states; only when the page runs short (its states
moved on) or is not there is the whole index read, and the page rebuilt from it.
Only a status with more entries than a page holds gets one: for fewer, the
index is cheap to read, and writers are spared a key they would all share.

Keeping the bound true under racing writers, without a lock:

- A writer that gives a workflow a status writes its index entry, then, before
  it commits the state, *admits* it here: onto the page when it falls at or
  before the bound (the page's last entries drop off when it is full, moving
  the bound back). A new workflow usually falls after the bound: one read.
- Once committed, a writer that moved a workflow off a status *releases* its
  entry from that status's page if it still has the revision the replaced
  state noted (so an entry another writer made since stays).
- A rebuild first marks the page as being rebuilt (with a token), then reads
  the whole index; writers that find the mark add their entry to the page
  (unbounded), and the rebuild merges those into what it read when it
  writes the page back, on condition that its mark is still there. A writer
  that read the page before the mark wrote its entry before the rebuild read
  the index, so the rebuild sees it.
- A write that finds the page changed tries again, three times at most; one
  that cannot get through, or that would move an entry within the order (its
  creation time changed), replaces the page with a fresh mark, so the next
  list rebuilds it. Writers leave a page so marked alone (no rebuild is under
  way): many writers at once give a page up rather than queue for it.

An entry on the page whose workflow no longer has that status (its writer
lost, or died before its release) is only an extra: listing loads every
state it returns and checks its status.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from dataclasses import dataclass, field

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

__all__ = ["CAPACITY", "FrontPage", "FrontPages"]

CAPACITY = 64
"""Entries a page keeps; a list needing more (or finding fewer live) reads the whole index."""
_MAX_BYTES = 256 * 1024
"""A page is cut shorter when its entries (long ids) would make it larger than this."""
_MARKED_MOST = 16 * CAPACITY
"""Entries a page being rebuilt takes from writers; beyond, it is marked afresh."""
_ATTEMPTS = 8
"""Tries of a rebuild's change that found the page changed by another writer."""
_WRITER_ATTEMPTS = 3
"""Tries of a writer's change; then the page is given up (marked afresh) rather than fought over."""
_REBUILD_TIME = 60.0
"""Seconds after which a rebuild that has not finished is taken for dead, and begun again."""

Entry = tuple[str, str]
"""Creation time and id: the list order."""


@dataclass
class FrontPage:
    """The first entries of one status; ``rebuilding`` set: unusable (being rebuilt, given up)."""

    entries: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Id to creation time and the revision of its index entry."""
    bound: Entry | None = None
    """Every index entry at or before it is on the page; None: every entry is."""
    rebuilding: str | None = None
    marked: float = 0.0
    """When the rebuild began (seconds since 1970, the marker's clock); 0: not marked by one."""

    def under_way(self) -> bool:
        """Whether a rebuild marked the page lately (writers then add themselves to it)."""
        return self.rebuilding is not None and self.marked > time.time() - _REBUILD_TIME

    def covers(self, entry: Entry) -> bool:
        return self.bound is None or entry <= self.bound

    def ordered(self) -> list[str]:
        """The ids on the page, in list order."""
        return [i for _, i in sorted((created, i) for i, (created, _) in self.entries.items())]

    def trim(self) -> None:
        """Drop the last entries beyond ``CAPACITY`` (or the size limit); the bound moves back."""
        if len(self.entries) <= CAPACITY and len(self.encode()) <= _MAX_BYTES:
            return
        order = sorted((created, i) for i, (created, _) in self.entries.items())
        keep = order[:CAPACITY]
        while len(keep) > 1 and sum(len(c) + len(i.encode()) + 32 for c, i in keep) > _MAX_BYTES:
            keep.pop()
        self.entries = {i: self.entries[i] for _, i in keep}
        self.bound = keep[-1]

    def encode(self) -> bytes:
        entries = [[c, i, ix] for i, (c, ix) in self.entries.items()]
        bound = None if self.bound is None else list(self.bound)
        value = {"e": entries, "b": bound, "r": self.rebuilding, "m": self.marked}
        return json.dumps(value, ensure_ascii=False).encode()

    @classmethod
    def decode(cls, raw: bytes) -> FrontPage:
        """The page stored in ``raw``; one that cannot be read counts as being rebuilt."""
        try:
            value = json.loads(raw)
            entries = {str(i): (str(c), int(ix)) for c, i, ix in value["e"]}
            bound = value["b"]
            rebuilding = value["r"]
            return cls(
                entries,
                None if bound is None else (str(bound[0]), str(bound[1])),
                None if rebuilding is None else str(rebuilding),
                float(value.get("m", 0.0)),
            )
        except (ValueError, KeyError, TypeError, IndexError):
            return cls(rebuilding="unreadable")


class FrontPages:
    """The front pages of every status, in the status index bucket."""

    def __init__(self, index: KeyValue) -> None:
        self._index = index

    async def read(self, status: str) -> FrontPage | None:
        """The page of ``status`` if it can be used: there, and not being rebuilt."""
        page, _ = await self._get(status)
        return None if page is None or page.rebuilding is not None else page

    async def admit(self, status: str, workflow_id: str, created: str, ix: int) -> None:
        """Put a workflow about to get ``status`` on its page when the bound says it must be."""
        entry = (created, workflow_id)
        for attempt in range(_WRITER_ATTEMPTS):
            page, revision = await self._get(status)
            if page is None or not (page.rebuilding is None or page.under_way()):
                return  # no usable page: the rebuild that makes one reads the entry in the index
            held = page.entries.get(workflow_id)
            if page.rebuilding is None:
                if held is not None and held[0] != created:
                    break  # it would move within the order: start the page afresh
                if held is None and not page.covers(entry):
                    return
            elif len(page.entries) >= _MARKED_MOST:
                break
            page.entries[workflow_id] = (created, ix)
            if page.rebuilding is None:
                page.trim()
            if await self._put(status, page, revision):
                return
            await _pause(attempt)
        await self.invalidate(status)

    async def release(self, status: str, workflow_id: str, ix: int) -> None:
        """Take a workflow that left ``status`` off its page, if its entry is the one noted.

        Best effort: an entry left on the page is an extra, skipped by listing.
        """
        for attempt in range(_WRITER_ATTEMPTS):
            page, revision = await self._get(status)
            if page is None or page.entries.get(workflow_id, ("", 0))[1] != ix:
                return
            del page.entries[workflow_id]
            if await self._put(status, page, revision):
                return
            await _pause(attempt)

    async def begin_rebuild(self, status: str) -> str | None:
        """Mark the page as being rebuilt; the token to finish with.

        None when another list began a rebuild less than ``_REBUILD_TIME`` ago
        (it is left to finish: marking afresh would make it fail), or when the
        page kept changing.
        """
        token = uuid.uuid4().hex
        for attempt in range(_ATTEMPTS):
            page, revision = await self._get(status)
            if page is not None and page.under_way():
                return None
            # What writers added during an earlier rebuild stays: the index read may miss it.
            kept = page.entries if page is not None and page.rebuilding is not None else {}
            if await self._put(status, FrontPage(kept, None, token, time.time()), revision):
                return token
            await _pause(attempt)
        return None

    async def finish_rebuild(
        self, status: str, token: str, found: dict[str, tuple[str, int]]
    ) -> None:
        """Write the page from the index entries ``found``, if the mark ``token`` still holds."""
        for attempt in range(_ATTEMPTS):
            page, revision = await self._get(status)
            if page is None or page.rebuilding != token:
                return  # marked afresh since: that rebuild will write it
            rebuilt = FrontPage({**found, **page.entries})
            rebuilt.trim()
            if await self._put(status, rebuilt, revision):
                return
            await _pause(attempt)

    async def drop(self, status: str) -> None:
        """Remove the page: lists of that status read the index, writers find nothing to share."""
        page, _ = await self._get(status)
        if page is not None:
            await self._index.delete(_key(status))

    async def invalidate(self, status: str) -> None:
        """Replace the page by a fresh mark that no rebuild holds: the next list rebuilds it."""
        fresh = FrontPage(rebuilding=uuid.uuid4().hex)
        await self._index.put(_key(status), fresh.encode())

    async def _get(self, status: str) -> tuple[FrontPage | None, int]:
        """The page and its revision; None and the revision to create it at when there is none."""
        try:
            stored = await self._index.get(_key(status))
        except KeyNotFoundError as gone:
            marker = gone.entry.revision if gone.entry is not None else None
            return None, marker or 0
        if stored.value is None or stored.revision is None:
            return None, stored.revision or 0
        return FrontPage.decode(stored.value), stored.revision

    async def _put(self, status: str, page: FrontPage, revision: int) -> bool:
        """Write the page on condition that it is still at ``revision`` (0: not there)."""
        try:
            await self._index.update(_key(status), page.encode(), last=revision)
        except KeyWrongLastSequenceError:
            return False
        return True


def _key(status: str) -> str:
    return f"_front.{status}"


async def _pause(attempt: int) -> None:
    """A short random wait before trying again, so racing writers fall out of step."""
    await asyncio.sleep(random.uniform(0, min(0.02, 0.001 * 2**attempt)))
