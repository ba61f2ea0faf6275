"""Exit codes of ``beluga-workflow`` and the one-line message for each failure.

Scripts can rely on these numbers; docs/cli.md lists them.
"""

from __future__ import annotations

from enum import IntEnum

from beluga_workflow.errors import (
    BelugaWorkflowError,
    InvalidArgumentError,
    ProviderError,
    StoreError,
    StoreUnavailableError,
    WorkflowCanceledError,
    WorkflowError,
    WorkflowFailedError,
    WorkflowNotFoundError,
)
from beluga_workflow.redaction import redact_text

__all__ = ["ExitCode", "classify"]


class ExitCode(IntEnum):
    OK = 0
    WORKFLOW_FAILED = 1
    """The workflow failed, timed out or was canceled; ``check`` found a broken rule."""
    USAGE = 2
    """Bad arguments or input: unknown option, invalid JSON, unimportable function."""
    PROVIDER = 3
    """The store provider is unknown, failed to load or its configuration is invalid."""
    STORE = 4
    """The store is unreachable or failed."""
    NOT_FOUND = 5
    """No workflow with that id."""
    INTERRUPTED = 130
    """Ctrl-C: recorded progress is kept; the workflow stays running for ``worker``."""


def classify(error: BaseException) -> tuple[ExitCode, str]:
    """The exit code and one-line message for an error that ends a command."""
    message = redact_text(" ".join(str(error).split())) or type(error).__name__
    if isinstance(error, WorkflowNotFoundError):
        return ExitCode.NOT_FOUND, message
    if isinstance(error, ProviderError):
        return ExitCode.PROVIDER, message
    if isinstance(error, InvalidArgumentError):
        return ExitCode.USAGE, message
    if isinstance(error, StoreUnavailableError):
        return ExitCode.STORE, f"{message} (is the server running? check --store)"
    if isinstance(error, StoreError):
        return ExitCode.STORE, message
    if isinstance(error, (WorkflowFailedError, WorkflowCanceledError)):
        return ExitCode.WORKFLOW_FAILED, message
    if isinstance(error, (WorkflowError, BelugaWorkflowError)):
        return ExitCode.WORKFLOW_FAILED, message
    return ExitCode.WORKFLOW_FAILED, f"{type(error).__name__}: {message}"
