"""Backend errors become the library's store errors in one place.

Each store names the exceptions its client raises for a failed request; a
call wrapped in :func:`backend_errors` then raises only store errors:

- a call that gave up on a store closed meanwhile: :class:`StoreClosedError`
  (the close is why, not the backend);
- the client's failures: :class:`StoreError` naming the store, secrets masked.

``StoreUnavailableError`` itself (raised by the call's
:class:`~beluga_workflow.bounded.OperationBound` when the backend cannot be
reached in time) passes through otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from beluga_workflow.errors import StoreClosedError, StoreError, StoreUnavailableError
from beluga_workflow.redaction import redact_text

__all__ = ["ClosableStore", "backend_errors", "failure"]


class ClosableStore(Protocol):
    """What the mapping needs of a store: whether it is closed, and how it is named."""

    @property
    def closed(self) -> bool: ...

    @property
    def label(self) -> str: ...

    def closed_error(self) -> StoreClosedError: ...


def failure(store: ClosableStore, error: BaseException) -> StoreError:
    """The :class:`StoreError` for a failed request: the store and the reason, secrets masked."""
    return StoreError(f"{store.label} failed: {redact_text(str(error))}")


@contextmanager
def backend_errors(
    store: ClosableStore, failures: tuple[type[BaseException], ...] = ()
) -> Iterator[None]:
    """Turn what the body raises into store errors (see the module's docstring)."""
    try:
        yield
    except StoreUnavailableError as exc:
        if store.closed:
            raise store.closed_error() from exc
        raise
    except failures as exc:
        raise failure(store, exc) from exc
