"""Deprecated alias of :mod:`beluga_workflow.storekit.chunking`, kept for one release.

Import :class:`CommitRecord`, :func:`history_text` and :func:`split` from the
store kit instead; this module goes in the next release.
"""

from __future__ import annotations

from beluga_workflow.storekit.chunking import CommitRecord, history_text, split

__all__ = ["CommitRecord", "history_text", "split"]
