"""Declares the OpenTelemetry plugin to beluga-workflow.

Discovery imports this module for every process that loads plugins, so it
imports the telemetry code only when an executor asks for its hooks.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from beluga_workflow.hookspecs import hookimpl

if TYPE_CHECKING:
    from beluga_workflow.interceptors import StepInterceptor
    from beluga_workflow_otel.telemetry import Telemetry


@cache
def telemetry() -> Telemetry:
    """The process-wide :class:`Telemetry`, on the global tracer and meter providers."""
    from beluga_workflow_otel.telemetry import Telemetry

    return Telemetry()


@hookimpl
def beluga_workflow_step_interceptors() -> list[StepInterceptor]:
    return telemetry().beluga_workflow_step_interceptors()


@hookimpl
def beluga_workflow_on_workflow_start(workflow_name: str) -> None:
    telemetry().beluga_workflow_on_workflow_start(workflow_name)


@hookimpl
def beluga_workflow_on_workflow_complete(workflow_name: str) -> None:
    telemetry().beluga_workflow_on_workflow_complete(workflow_name)


@hookimpl
def beluga_workflow_on_workflow_fail(workflow_name: str) -> None:
    telemetry().beluga_workflow_on_workflow_fail(workflow_name)


@hookimpl
def beluga_workflow_on_workflow_cancel(workflow_name: str) -> None:
    telemetry().beluga_workflow_on_workflow_cancel(workflow_name)


@hookimpl
def beluga_workflow_on_activity_retry(activity_name: str, attempt: int) -> None:
    telemetry().beluga_workflow_on_activity_retry(activity_name, attempt)
