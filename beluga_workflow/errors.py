"""Every exception beluga-workflow raises, in one hierarchy.

Catch :class:`BelugaWorkflowError` to handle anything the library raises on
purpose. Each subclass names one kind of problem so callers (and the CLI's exit
codes) can tell "you passed something wrong" from "the backend is down".
"""

from __future__ import annotations

__all__ = [
    "WorkflowPinnedError",
    "BelugaWorkflowError",
    "InvalidArgumentError",
    "PayloadSerializationError",
    "StoreError",
    "StoreClosedError",
    "StoreUnavailableError",
    "CorruptStateError",
    "ConcurrencyConflictError",
    "ProviderError",
    "ProviderNotFoundError",
    "ProviderLoadError",
    "ProviderConfigError",
    "DuplicateProviderError",
    "WorkflowError",
    "WorkflowAlreadyRunningError",
    "WorkflowNotFoundError",
    "WorkflowFailedError",
    "WorkflowCanceledError",
    "WorkflowTimeoutError",
    "ActivityFailedError",
    "ActivityTimeoutError",
    "NonDeterminismError",
    "WorkflowNotRegisteredError",
    "UnknownQueryError",
    "WorkflowAlreadyExistsError",
    "WorkflowIdConflictError",
    "ActivityHeartbeatTimeoutError",
    "ChildWorkflowError",
]


class BelugaWorkflowError(Exception):
    """Base of every error raised deliberately by beluga-workflow."""


# --- bad input ---------------------------------------------------------------


class InvalidArgumentError(BelugaWorkflowError, ValueError):
    """An argument is invalid (an empty id or one with NUL, a negative limit, ...).

    Raised before anything is changed: a call that raises it has no effect.
    Subclasses ``ValueError`` so generic validation code keeps working.
    """


class PayloadSerializationError(InvalidArgumentError):
    """A payload is not a JSON value every store can keep.

    A set, an object, NaN, infinity, text holding a lone surrogate, nesting
    deeper than :data:`~beluga_workflow.payloads.MAX_PAYLOAD_DEPTH`, ...

    Raised by the call that introduced the payload; nothing is stored.
    """


# --- stores ------------------------------------------------------------------


class StoreError(BelugaWorkflowError):
    """A store operation failed for a reason other than bad input."""


class StoreClosedError(StoreError):
    """The store was used after ``close()``."""


class StoreUnavailableError(StoreError):
    """The store's backend cannot be reached within the configured time.

    The message names the provider and the address, with any password masked.
    """


class CorruptStateError(StoreError):
    """A stored record cannot be decoded into a :class:`WorkflowState`.

    ``workflow_id`` names the record so the operator can inspect or delete it.
    ``load`` raises it; ``list`` skips the record and reports it instead (see
    :mod:`beluga_workflow.listing`), so the others stay listed and recoverable.
    """

    def __init__(self, workflow_id: str, reason: str) -> None:
        self.workflow_id = workflow_id
        self.reason = reason
        super().__init__(f"stored state for workflow id {workflow_id!r} is unreadable: {reason}")


class ConcurrencyConflictError(StoreError):
    """An optimistic-concurrency write lost: the stored version moved on.

    Only raised by stores declaring the ``optimistic_concurrency`` capability.
    """


# --- providers and selection -------------------------------------------------


class ProviderError(BelugaWorkflowError):
    """Selecting, loading or configuring a store provider failed."""


class ProviderNotFoundError(ProviderError, LookupError):
    """No installed provider has the requested name or URL scheme."""


class ProviderLoadError(ProviderError, ImportError):
    """A provider's plugin module or backend library failed to import."""


class ProviderConfigError(ProviderError, InvalidArgumentError):
    """A provider's configuration did not validate; the message holds pydantic's errors.

    Also raised by a store's first call when its client library refuses the
    options (libpq and ``sslmode=bogus``): a bad option is never reported as
    the server being unavailable.
    """


class DuplicateProviderError(ProviderError):
    """Two distributions register a provider under the same name."""


# --- workflows ---------------------------------------------------------------


class WorkflowError(BelugaWorkflowError):
    """A workflow could not be started, run or inspected."""


class WorkflowAlreadyRunningError(WorkflowError):
    """A workflow with this id is already running."""


class WorkflowPinnedError(WorkflowError):
    """A run is pinned to another build than this executor's (see :mod:`beluga_workflow.pinning`);
    a worker of that build resumes it."""


class WorkflowNotFoundError(WorkflowError, LookupError):
    """No workflow with this id exists in the store."""


class WorkflowFailedError(WorkflowError):
    """The workflow function raised; ``handle.result()`` re-raises it as this."""


class WorkflowCanceledError(WorkflowError):
    """The workflow was canceled before it completed."""


class WorkflowTimeoutError(WorkflowFailedError):
    """The workflow ran longer than ``WorkflowOptions.timeout``."""


class ActivityFailedError(WorkflowError):
    """An activity failed after its retry policy was exhausted."""


class ActivityTimeoutError(ActivityFailedError):
    """One activity attempt ran longer than its timeout."""


class NonDeterminismError(WorkflowError):
    """Replay diverged from the recorded history (the workflow code changed)."""


class WorkflowNotRegisteredError(WorkflowError, LookupError):
    """A stored workflow names a function this executor does not know."""


class UnknownQueryError(WorkflowError, LookupError):
    """``query`` named a query type the workflow does not answer."""


# --- identity and lifecycle --------------------------------------------------


class WorkflowAlreadyExistsError(WorkflowAlreadyRunningError):
    """The id names a run that the start's id policy does not let it reuse.

    A ``WorkflowAlreadyRunningError``, so code written for running duplicates
    catches it too; the existing run is left as it is.
    """


class WorkflowIdConflictError(WorkflowError):
    """A start named an existing id with another workflow or another input.

    Under the default id policy an id is an idempotency key: starting it again
    must repeat the same start. Nothing is started or changed.
    """


class ActivityHeartbeatTimeoutError(ActivityTimeoutError):
    """An activity attempt went longer than its ``heartbeat_timeout`` without a heartbeat."""


class ChildWorkflowError(WorkflowError):
    """A child workflow failed or was canceled; ``execute_child`` raises it in the parent."""
