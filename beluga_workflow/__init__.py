"""beluga-workflow: an asyncio-first durable workflow engine with pluggable state stores."""

from beluga_workflow.capabilities import Capability
from beluga_workflow.config import open_store
from beluga_workflow.errors import (
    BelugaWorkflowError,
    ConcurrencyConflictError,
    CorruptStateError,
    InvalidArgumentError,
    PayloadSerializationError,
    ProviderConfigError,
    ProviderError,
    ProviderLoadError,
    ProviderNotFoundError,
    StoreClosedError,
    StoreError,
    StoreUnavailableError,
)
from beluga_workflow.hookspecs import hookimpl
from beluga_workflow.models import (
    EventType,
    HistoryEvent,
    Signal,
    WorkflowFilter,
    WorkflowState,
    WorkflowStatus,
)
from beluga_workflow.plugins.provider import StoreProvider
from beluga_workflow.plugins.registry import StoreInfo, available_stores
from beluga_workflow.store import SupportsAppend, SupportsCompareAndSave, WorkflowStore

__version__ = "0.1.0"

__all__ = [
    "BelugaWorkflowError",
    "Capability",
    "ConcurrencyConflictError",
    "CorruptStateError",
    "EventType",
    "HistoryEvent",
    "InvalidArgumentError",
    "PayloadSerializationError",
    "ProviderConfigError",
    "ProviderError",
    "ProviderLoadError",
    "ProviderNotFoundError",
    "Signal",
    "StoreClosedError",
    "StoreError",
    "StoreInfo",
    "StoreProvider",
    "StoreUnavailableError",
    "SupportsAppend",
    "SupportsCompareAndSave",
    "WorkflowFilter",
    "WorkflowState",
    "WorkflowStatus",
    "WorkflowStore",
    "__version__",
    "available_stores",
    "hookimpl",
    "open_store",
]
