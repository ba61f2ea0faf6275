"""Work queues: bound how many runs go at once, per worker, per key, and how fast they start.

Start a run with ``submit(name, WorkflowOptions(queue=QueueOptions(name="emails")))``
and serve the queue with ``Worker(..., queues=[Queue(name="emails", ...)])``.
Everything is coordinated through the shared store: its own queue entries
when it has ``queue_dispatch`` (:mod:`beluga_workflow.queues.native`), else a
board record changed by compare-and-set (:mod:`beluga_workflow.queues.board`).
"""

from beluga_workflow.queues.definition import Queue, RateLimit
from beluga_workflow.queues.placement import QueueOptions

__all__ = ["Queue", "QueueOptions", "RateLimit"]
