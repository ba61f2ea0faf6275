"""The store kit: what every store needs, for the authors of new ones.

Nothing here is required: the executor sees only the protocols of
:mod:`beluga_workflow.store`. The kit gives a store the frame every shipped
store shares, so that a new one writes only what its backend does:

- :class:`StoreBase` / :class:`ServerStore`: the closed state, ``async with``,
  a repr from the config, a config from a URL, one bound per call and the
  mapping of backend errors (:func:`backend_errors`);
- :class:`CompareAndSaveFrame` / :class:`AppendFrame`: the conditional
  writes' checks and their standard conflicts (:mod:`.conflicts`);
- :class:`StoreConfig` / :class:`ServerStoreConfig`: URL schemes declared
  once, addresses with secrets masked;
- :class:`StateRecord`: the encoding of a state for a write;
- :mod:`.checks`, :mod:`.chunking` and :func:`lazy_exports`.

Names load on first use, so importing the kit imports only what is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from beluga_workflow.storekit.lazy import lazy_exports

if TYPE_CHECKING:
    from beluga_workflow.storekit.backend import backend_errors, failure
    from beluga_workflow.storekit.base import ServerStore, StoreBase
    from beluga_workflow.storekit.checks import (
        require_append,
        require_expected_version,
        require_filter,
        require_state,
        require_step,
        require_version_number,
        require_workflow_id,
    )
    from beluga_workflow.storekit.chunking import CommitRecord, history_text, split
    from beluga_workflow.storekit.config import ServerStoreConfig, StoreConfig
    from beluga_workflow.storekit.conflicts import history_conflict, step_conflict, version_conflict
    from beluga_workflow.storekit.frames import AppendFrame, CompareAndSaveFrame
    from beluga_workflow.storekit.records import StateRecord, epoch_microseconds
    from beluga_workflow.storekit.schemes import PUBLISHED_SCHEMES, published_schemes

_EXPORTS = {
    "backend_errors": "backend",
    "failure": "backend",
    "ServerStore": "base",
    "StoreBase": "base",
    "require_append": "checks",
    "require_expected_version": "checks",
    "require_filter": "checks",
    "require_state": "checks",
    "require_step": "checks",
    "require_version_number": "checks",
    "require_workflow_id": "checks",
    "CommitRecord": "chunking",
    "history_text": "chunking",
    "split": "chunking",
    "ServerStoreConfig": "config",
    "StoreConfig": "config",
    "history_conflict": "conflicts",
    "step_conflict": "conflicts",
    "version_conflict": "conflicts",
    "AppendFrame": "frames",
    "CompareAndSaveFrame": "frames",
    "StateRecord": "records",
    "epoch_microseconds": "records",
    "PUBLISHED_SCHEMES": "schemes",
    "published_schemes": "schemes",
}

__all__ = [
    "AppendFrame",
    "CommitRecord",
    "CompareAndSaveFrame",
    "PUBLISHED_SCHEMES",
    "ServerStore",
    "ServerStoreConfig",
    "StateRecord",
    "StoreBase",
    "StoreConfig",
    "backend_errors",
    "epoch_microseconds",
    "failure",
    "history_conflict",
    "history_text",
    "lazy_exports",
    "published_schemes",
    "require_append",
    "require_expected_version",
    "require_filter",
    "require_state",
    "require_step",
    "require_version_number",
    "require_workflow_id",
    "split",
    "step_conflict",
    "version_conflict",
]

__getattr__ = lazy_exports(
    __name__, {name: f"{__name__}.{module}" for name, module in _EXPORTS.items()}
)
