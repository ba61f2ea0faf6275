"""OpenTelemetry for beluga-workflow: traces and metrics of every run, across processes.

Installed, it is found through the ``beluga_workflow`` entry points and used
by every executor and worker that loads plugins, reporting to the globally
configured tracer and meter providers. For other providers, or an executor
built with ``load_plugins=False``, pass a :class:`Telemetry` as a hook object::

    Executor(store, hooks=[Telemetry(tracer_provider=..., meter_provider=...)])
"""

from __future__ import annotations

from beluga_workflow_otel.telemetry import ATTRIBUTE_PREFIX, METER_NAME, TRACER_NAME, Telemetry

__all__ = ["ATTRIBUTE_PREFIX", "METER_NAME", "TRACER_NAME", "Telemetry"]
