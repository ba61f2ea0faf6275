"""Work queues: bound how many runs go at once, per worker, per key, and how fast they start.

Start a run with ``submit(name, WorkflowOptions(queue=QueueOptions(name="emails")))``
and serve the queue with ``Worker(..., queues=[Queue(name="emails", ...)])``.
Everything is coordinated through the shared store's compare-and-set: see
:mod:`beluga_workflow.queues.board`.
"""

from beluga_workflow.queues.definition import Queue, RateLimit
from beluga_workflow.queues.placement import QueueOptions

__all__ = ["Queue", "QueueOptions", "RateLimit"]
