"""The processes of the cross-process tracing test: a client, workers (one gets killed), a sender.

    python -m traced_app start|work|signal DB SPANS [WORKER_ID]

Each process configures the global OpenTelemetry providers and loads the
plugin the ordinary way (entry points). Every finished span is appended to
the SPANS file as one JSON line at once, so a process killed with SIGKILL
still leaves the spans it finished. ``work`` runs until the run completes,
then appends its metric totals as a line ``{"metrics": ...}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from beluga_workflow import Executor, RetryPolicy, Signal, WorkflowContext, WorkflowOptions
from beluga_workflow.worker import Worker
from beluga_workflow_sqlite import SQLiteStore

WORKFLOW = "traced"
WORKFLOW_ID = "traced-1"
HOLD = "hold"


class JsonLinesExporter(SpanExporter):
    """Appends each finished span to a file, flushed at once."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._path.open("a", encoding="utf-8") as out:
            for span in spans:
                parent = span.parent
                out.write(
                    json.dumps(
                        {
                            "name": span.name,
                            "trace_id": span.context.trace_id,
                            "span_id": span.context.span_id,
                            "parent_id": None if parent is None else parent.span_id,
                            "attributes": dict(span.attributes or {}),
                            "status": span.status.status_code.name,
                            "process": sys.argv[1] + "".join(sys.argv[4:5]),
                        }
                    )
                    + "\n"
                )
        return SpanExportResult.SUCCESS


def configure(spans: Path) -> InMemoryMetricReader:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(spans)))
    trace.set_tracer_provider(provider)
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    return reader


calls: list[int] = []


async def flaky(x: int) -> int:
    calls.append(x)
    if len(calls) == 1:
        raise ConnectionError("first attempt fails")
    return x


def hold(flag: str) -> str:
    """Waits until the test creates ``flag.release``: the first worker is killed in here."""
    Path(flag + ".entered").touch()
    while not Path(flag + ".release").exists():
        time.sleep(0.02)
    return "released"


async def traced(ctx: WorkflowContext, input: dict[str, Any]) -> list[Any]:
    first = await ctx.execute_activity(
        flaky, 1, retry=RetryPolicy(max_attempts=2, initial_interval=0.01)
    )
    held = await ctx.execute_activity(hold, input["flag"])
    await ctx.sleep(0.05)
    payload = await ctx.wait_for_signal("go")
    return [first, held, payload]


async def main(action: str, db: str, spans: Path, worker_id: str) -> None:
    reader = configure(spans)
    store = SQLiteStore(db)
    try:
        if action == "start":
            async with Executor(store) as client:
                await client.submit(WORKFLOW, WorkflowOptions(id=WORKFLOW_ID, input={"flag": db}))
        elif action == "signal":
            async with Executor(store) as client:
                await client.signal(WORKFLOW_ID, Signal(name="go", payload="now"))
        else:
            worker = Worker(store, worker_id=worker_id, lease_duration=1.0, poll_interval=0.1)
            worker.executor.register(traced, WORKFLOW)
            running = asyncio.create_task(worker.run())
            while True:
                state = await store.load(WORKFLOW_ID)
                if state is not None and state.status.is_terminal:
                    break
                await asyncio.sleep(0.05)
            worker.stop()
            await running
            print(json.dumps(state.result), flush=True)
            with spans.open("a", encoding="utf-8") as out:
                out.write(json.dumps({"metrics": totals(reader)}) + "\n")
    finally:
        await store.close()


def totals(reader: InMemoryMetricReader) -> dict[str, float]:
    found: dict[str, float] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data is not None else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found[metric.name] = sum(
                    getattr(point, "count", None) or getattr(point, "value", 0)
                    for point in metric.data.data_points
                )
    return found


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), "".join(sys.argv[4:5])))
