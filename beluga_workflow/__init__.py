"""beluga-workflow: an asyncio-first durable workflow engine with pluggable state stores."""

from beluga_workflow import activity
from beluga_workflow.capabilities import Capability
from beluga_workflow.children import ChildHandle, ParentClosePolicy
from beluga_workflow.client import Client
from beluga_workflow.config import open_store
from beluga_workflow.context import WorkflowContext
from beluga_workflow.divergence import HistoryDivergenceError
from beluga_workflow.errors import (
    ActivityFailedError,
    ActivityHeartbeatTimeoutError,
    ActivityTimeoutError,
    BelugaWorkflowError,
    ChildWorkflowError,
    ConcurrencyConflictError,
    CorruptStateError,
    InvalidArgumentError,
    NonDeterminismError,
    PayloadSerializationError,
    ProviderConfigError,
    ProviderError,
    ProviderLoadError,
    ProviderNotFoundError,
    StoreClosedError,
    StoreError,
    StoreUnavailableError,
    UnknownQueryError,
    WorkflowAlreadyExistsError,
    WorkflowAlreadyRunningError,
    WorkflowCanceledError,
    WorkflowError,
    WorkflowFailedError,
    WorkflowIdConflictError,
    WorkflowNotFoundError,
    WorkflowNotRegisteredError,
    WorkflowPinnedError,
    WorkflowTimeoutError,
)
from beluga_workflow.executor import Executor, RecoveryReport
from beluga_workflow.handle import WorkflowHandle
from beluga_workflow.hookspecs import hookimpl
from beluga_workflow.idpolicy import IdReusePolicy
from beluga_workflow.models import (
    EventType,
    HistoryEvent,
    Lease,
    Signal,
    WorkflowFilter,
    WorkflowState,
    WorkflowStatus,
)
from beluga_workflow.options import WorkflowOptions
from beluga_workflow.pinning import Versioning
from beluga_workflow.plugins.provider import StoreProvider
from beluga_workflow.plugins.registry import StoreInfo, available_stores
from beluga_workflow.queues import Queue, QueueOptions, RateLimit
from beluga_workflow.replaying import HistoryReplayer
from beluga_workflow.retry import RetryPolicy
from beluga_workflow.schedules import CatchUp, Schedule, ScheduleBook, ScheduleEntry
from beluga_workflow.store import (
    SupportsAppend,
    SupportsCompareAndAppend,
    SupportsCompareAndSave,
    SupportsWatch,
    WorkflowStore,
)
from beluga_workflow.worker import Worker

__version__ = "0.1.0"

__all__ = [
    "ActivityFailedError",
    "ActivityTimeoutError",
    "BelugaWorkflowError",
    "Capability",
    "Client",
    "ConcurrencyConflictError",
    "CorruptStateError",
    "EventType",
    "Executor",
    "HistoryEvent",
    "Lease",
    "InvalidArgumentError",
    "NonDeterminismError",
    "PayloadSerializationError",
    "ProviderConfigError",
    "ProviderError",
    "ProviderLoadError",
    "ProviderNotFoundError",
    "RecoveryReport",
    "RetryPolicy",
    "Signal",
    "StoreClosedError",
    "StoreError",
    "StoreInfo",
    "StoreProvider",
    "StoreUnavailableError",
    "SupportsAppend",
    "SupportsCompareAndAppend",
    "SupportsCompareAndSave",
    "SupportsWatch",
    "WorkflowAlreadyRunningError",
    "WorkflowCanceledError",
    "WorkflowContext",
    "WorkflowError",
    "WorkflowFailedError",
    "WorkflowFilter",
    "WorkflowHandle",
    "WorkflowNotFoundError",
    "WorkflowNotRegisteredError",
    "UnknownQueryError",
    "WorkflowOptions",
    "WorkflowState",
    "WorkflowStatus",
    "WorkflowStore",
    "Worker",
    "WorkflowTimeoutError",
    "__version__",
    "available_stores",
    "hookimpl",
    "open_store",
    "activity",
    "ActivityHeartbeatTimeoutError",
    "ChildHandle",
    "ChildWorkflowError",
    "IdReusePolicy",
    "ParentClosePolicy",
    "WorkflowAlreadyExistsError",
    "WorkflowIdConflictError",
    "HistoryDivergenceError",
    "HistoryReplayer",
    "Queue",
    "QueueOptions",
    "RateLimit",
    "CatchUp",
    "Schedule",
    "ScheduleBook",
    "ScheduleEntry",
    "Versioning",
    "WorkflowPinnedError",
]
