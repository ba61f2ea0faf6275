"""Spans and metrics of one workflow, read from the OpenTelemetry SDK's in-memory exporters."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from beluga_workflow import Executor, RetryPolicy, Signal, WorkflowContext, WorkflowOptions
from beluga_workflow.providers.inmemory import InMemoryStore
from beluga_workflow_otel import Telemetry

P = "beluga_workflow."


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


attempts: list[int] = []


async def charge(amount: int) -> int:
    attempts.append(amount)
    if len(attempts) == 1:
        raise ConnectionError("payment service unavailable")
    return amount


async def ship(order: str) -> str:
    return f"shipped {order}"


async def order_flow(ctx: WorkflowContext, order: dict[str, Any]) -> str:
    await ctx.execute_activity(
        charge, order["amount"], retry=RetryPolicy(max_attempts=3, initial_interval=0.01)
    )
    await ctx.sleep(0.01)
    address = await ctx.wait_for_signal("address")
    return str(await ctx.execute_activity(ship, f"{order['id']} to {address}"))


async def test_a_run_with_a_retry_a_timer_and_a_signal_is_one_trace_with_metrics(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    attempts.clear()
    tracer_provider, exporter = spans
    reader = InMemoryMetricReader()
    telemetry = Telemetry(
        tracer_provider=tracer_provider, meter_provider=MeterProvider(metric_readers=[reader])
    )
    async with Executor(InMemoryStore(), hooks=[telemetry], load_plugins=False) as executor:
        handle = await executor.execute(
            order_flow, WorkflowOptions(id="order-7", input={"id": "o7", "amount": 5})
        )
        for _ in range(2000):  # until the timer fired, so the signal comes after it
            if any(span.name == "Timer:sleep" for span in exporter.get_finished_spans()):
                break
            await asyncio.sleep(0.005)
        with tracer_provider.get_tracer("caller").start_as_current_span("caller") as caller:
            await executor.signal("order-7", Signal(name="address", payload="Lisbon"))
        assert await handle.result() == "shipped o7 to Lisbon"

    finished = exporter.get_finished_spans()
    by_name: dict[str, list[ReadableSpan]] = {}
    for span in finished:
        by_name.setdefault(span.name, []).append(span)
    name = "test_otel_spans_and_metrics:order_flow"
    workflow_name = next(n for n in by_name if n.startswith("RunWorkflow:")).split(":", 1)[1]
    assert workflow_name.endswith(name)
    (start,) = by_name[f"StartWorkflow:{workflow_name}"]
    (run,) = by_name[f"RunWorkflow:{workflow_name}"]
    charges = sorted(by_name["RunActivity:charge"], key=lambda s: s.attributes[P + "attempt"])  # type: ignore[index]
    (timer,) = by_name["Timer:sleep"]
    (signal,) = by_name["SignalWorkflow:address"]
    (shipped,) = by_name["RunActivity:ship"]

    # One trace: start -> run -> each step of the run; a signal is in its sender's trace.
    run_trace = [span for span in finished if span.name not in ("caller", signal.name)]
    assert {span.context.trace_id for span in run_trace} == {start.context.trace_id}
    assert signal.parent is not None
    assert signal.parent.span_id == caller.get_span_context().span_id
    assert run.parent is not None
    assert run.parent.span_id == start.context.span_id
    for step in (*charges, timer, shipped):
        assert step.parent is not None
        assert step.parent.span_id == run.context.span_id
    assert run.attributes is not None
    assert run.attributes[P + "workflow_id"] == "order-7"
    assert run.attributes[P + "run_id"] == handle.run_id
    assert run.attributes[P + "resumed"] is False

    # The first attempt failed and says why; the second succeeded.
    assert [span.attributes[P + "attempt"] for span in charges] == [1, 2]  # type: ignore[index]
    assert charges[0].status.status_code is StatusCode.ERROR
    assert charges[0].events[0].name == "exception"
    assert "payment service unavailable" in str(charges[0].events[0].attributes)
    assert charges[1].status.status_code is StatusCode.UNSET
    assert signal.attributes is not None
    assert signal.attributes[P + "signal_name"] == "address"
    assert timer.attributes is not None
    assert timer.attributes[P + "timer_seconds"] == 0.01

    values = _metric_values(reader)
    assert values["beluga_workflow.runs.started"] == 1
    assert values["beluga_workflow.runs.completed"] == 1
    assert values["beluga_workflow.activity.retries"] == 1
    assert "beluga_workflow.runs.failed" not in values
    # workflow + 3 activity attempts + timer + signal
    assert values["beluga_workflow.step.duration"] == 6


async def fails(ctx: WorkflowContext, _: Any) -> None:
    raise ValueError("bad order")


async def test_a_failed_run_is_an_error_span_and_counted(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    tracer_provider, exporter = spans
    reader = InMemoryMetricReader()
    telemetry = Telemetry(
        tracer_provider=tracer_provider, meter_provider=MeterProvider(metric_readers=[reader])
    )
    async with Executor(InMemoryStore(), hooks=[telemetry], load_plugins=False) as executor:
        handle = await executor.execute(fails, WorkflowOptions(id="bad"))
        with pytest.raises(Exception, match="bad order"):
            await handle.result()
    (run,) = [s for s in exporter.get_finished_spans() if s.name.startswith("RunWorkflow:")]
    assert run.status.status_code is StatusCode.ERROR
    assert run.status.description == "ValueError: bad order"
    assert _metric_values(reader)["beluga_workflow.runs.failed"] == 1


def _metric_values(reader: InMemoryMetricReader) -> dict[str, float]:
    """Each metric's total: the sum of a counter, the count of a histogram."""
    data = reader.get_metrics_data()
    found: dict[str, float] = {}
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                total = 0.0
                for point in metric.data.data_points:
                    total += getattr(point, "count", None) or getattr(point, "value", 0)
                found[metric.name] = total
    return found


async def test_spans_an_activity_makes_are_children_of_its_attempt_even_in_a_thread(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    tracer_provider, exporter = spans
    tracer = tracer_provider.get_tracer("app")

    def lookup(key: str) -> str:  # a plain function: it runs on a thread
        with tracer.start_as_current_span("db.lookup"):
            return key.upper()

    async def fetch(key: str) -> str:
        with tracer.start_as_current_span("http.get"):
            return key

    async def both(ctx: WorkflowContext, key: str) -> list[str]:
        return [
            await ctx.execute_activity(lookup, key, name="lookup"),
            await ctx.execute_activity(fetch, key, name="fetch"),
        ]

    telemetry = Telemetry(tracer_provider=tracer_provider)
    async with Executor(InMemoryStore(), hooks=[telemetry], load_plugins=False) as executor:
        handle = await executor.execute(both, WorkflowOptions(id="nested", input="k"))
        assert await handle.result() == ["K", "k"]
    finished = {span.name: span for span in exporter.get_finished_spans()}
    for inner, attempt in (("db.lookup", "RunActivity:lookup"), ("http.get", "RunActivity:fetch")):
        parent = finished[inner].parent
        assert parent is not None
        assert parent.span_id == finished[attempt].context.span_id
