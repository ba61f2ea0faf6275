"""Spans and metrics for workflow runs, made by a step interceptor and lifecycle hooks.

Spans (names as Temporal's tracing interceptor uses them, so dashboards read alike):

- ``StartWorkflow:<name>`` in the process that starts a run; its context is
  written into the run's headers, which the store keeps with the run;
- ``RunWorkflow:<name>`` each time a process runs the workflow function, a
  child of the start span read back from those headers, so a run resumed after
  a crash or taken over by another worker continues the same trace;
- ``RunActivity:<name>`` per activity attempt, ``Timer:sleep`` per durable
  sleep and ``SignalWorkflow:<name>`` per signal sent, children of the current
  span (the workflow's, inside a run).

Errors are recorded on the span with an error status; a workflow stopped
without failing (shutdown, crash recovery elsewhere, cancel) is marked with
``beluga_workflow.stopped``. Metrics: counters of runs started, completed,
failed and canceled, of activity retries, and a histogram of step durations.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from beluga_workflow.hookspecs import hookimpl
from beluga_workflow.interceptors import Step, StepKind

if TYPE_CHECKING:
    from beluga_workflow.interceptors import StepInterceptor

__all__ = ["ATTRIBUTE_PREFIX", "METER_NAME", "TRACER_NAME", "Telemetry"]

TRACER_NAME = "beluga_workflow_otel"
METER_NAME = "beluga_workflow_otel"
ATTRIBUTE_PREFIX = "beluga_workflow."

_SPAN_NAMES = {
    StepKind.START: "StartWorkflow",
    StepKind.WORKFLOW: "RunWorkflow",
    StepKind.ACTIVITY: "RunActivity",
    StepKind.TIMER: "Timer",
    StepKind.SIGNAL: "SignalWorkflow",
}
_SPAN_KINDS = {
    StepKind.START: SpanKind.PRODUCER,
    StepKind.WORKFLOW: SpanKind.CONSUMER,
    StepKind.SIGNAL: SpanKind.PRODUCER,
}


class Telemetry:
    """The OpenTelemetry plugin as one hook object: step spans plus run and step metrics.

    ``tracer_provider`` and ``meter_provider`` default to the global ones
    (``opentelemetry.trace.set_tracer_provider``), looked up lazily so that
    configuring them after the executor was built still works.
    """

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        self._tracer = trace.get_tracer(TRACER_NAME, tracer_provider=tracer_provider)
        meter = metrics.get_meter(METER_NAME, meter_provider=meter_provider)
        self._started = meter.create_counter(
            "beluga_workflow.runs.started", unit="{run}", description="Workflow runs started."
        )
        self._completed = meter.create_counter(
            "beluga_workflow.runs.completed", unit="{run}", description="Workflow runs completed."
        )
        self._failed = meter.create_counter(
            "beluga_workflow.runs.failed", unit="{run}", description="Workflow runs failed."
        )
        self._canceled = meter.create_counter(
            "beluga_workflow.runs.canceled", unit="{run}", description="Workflow runs canceled."
        )
        self._retries = meter.create_counter(
            "beluga_workflow.activity.retries",
            unit="{retry}",
            description="Activity attempts that failed and are retried.",
        )
        self._durations = meter.create_histogram(
            "beluga_workflow.step.duration",
            unit="s",
            description="How long each step took: workflow run, activity attempt, timer, signal.",
        )

    # --- wrapping steps -------------------------------------------------------------

    @hookimpl
    def beluga_workflow_step_interceptors(self) -> list[StepInterceptor]:
        return [self.intercept]

    @contextmanager
    def intercept(self, step: Step) -> Iterator[None]:
        """A span around ``step``; for a start, its context written into the run's headers."""
        parent = propagate.extract(step.headers) if step.kind is StepKind.WORKFLOW else None
        name = f"{_SPAN_NAMES[step.kind]}:{step.name}"
        began = time.perf_counter()
        with self._tracer.start_as_current_span(
            name,
            context=parent,
            kind=_SPAN_KINDS.get(step.kind, SpanKind.INTERNAL),
            attributes=_attributes(step),
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            if step.kind is StepKind.START and isinstance(step.headers, MutableMapping):
                propagate.inject(step.headers)
            try:
                yield
            except asyncio.CancelledError:
                span.set_attribute(ATTRIBUTE_PREFIX + "stopped", True)
                raise
            except Exception as error:
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
                raise
            finally:
                if step.kind is not StepKind.START:
                    self._durations.record(
                        time.perf_counter() - began,
                        {"step": step.kind.value, "name": step.name},
                    )

    # --- counting runs --------------------------------------------------------------

    @hookimpl
    def beluga_workflow_on_workflow_start(self, workflow_name: str) -> None:
        self._started.add(1, {"workflow_name": workflow_name})

    @hookimpl
    def beluga_workflow_on_workflow_complete(self, workflow_name: str) -> None:
        self._completed.add(1, {"workflow_name": workflow_name})

    @hookimpl
    def beluga_workflow_on_workflow_fail(self, workflow_name: str) -> None:
        self._failed.add(1, {"workflow_name": workflow_name})

    @hookimpl
    def beluga_workflow_on_workflow_cancel(self, workflow_name: str) -> None:
        self._canceled.add(1, {"workflow_name": workflow_name})

    @hookimpl
    def beluga_workflow_on_activity_retry(self, activity_name: str, attempt: int) -> None:
        self._retries.add(1, {"activity_name": activity_name})


def _attributes(step: Step) -> dict[str, Any]:
    found: dict[str, Any] = {
        ATTRIBUTE_PREFIX + "workflow_id": step.workflow_id,
        ATTRIBUTE_PREFIX + "workflow_name": step.workflow_name,
    }
    if step.run_id:
        found[ATTRIBUTE_PREFIX + "run_id"] = step.run_id
    if step.kind is StepKind.ACTIVITY:
        found[ATTRIBUTE_PREFIX + "activity_name"] = step.name
    if step.kind is StepKind.SIGNAL:
        found[ATTRIBUTE_PREFIX + "signal_name"] = step.name
    if step.attempt is not None:
        found[ATTRIBUTE_PREFIX + "attempt"] = step.attempt
    if step.kind is StepKind.WORKFLOW:
        found[ATTRIBUTE_PREFIX + "resumed"] = step.resumed
    if step.seconds is not None:
        found[ATTRIBUTE_PREFIX + "timer_seconds"] = step.seconds
    return found
