"""What tracing costs a durable step: no interceptor, the OpenTelemetry plugin with the API's
no-op tracer (installed, no SDK configured), and with the SDK recording every span.

    python -m benchmarks.tracing [--quick]

Prints microseconds per activity step on the in-memory store, the three side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from beluga_workflow import Executor, WorkflowOptions
from beluga_workflow.providers.inmemory import InMemoryStore
from benchmarks.workflows import sequential_steps


async def per_step(hooks: list[object], steps: int) -> float:
    async with Executor(store=InMemoryStore(), hooks=hooks, load_plugins=False) as executor:
        started = time.perf_counter()
        handle = await executor.execute(sequential_steps, WorkflowOptions(input=steps))
        await handle.result()
        return (time.perf_counter() - started) / steps * 1e6


async def main(quick: bool) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import NoOpTracerProvider

    from beluga_workflow_otel import Telemetry

    steps, repeats = (200, 1) if quick else (2_000, 5)
    recording = TracerProvider()
    recording.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    setups: dict[str, list[object]] = {
        "no interceptor": [],
        "otel plugin, no-op tracer": [Telemetry(tracer_provider=NoOpTracerProvider())],
        "otel plugin, SDK recording": [Telemetry(tracer_provider=recording)],
    }
    results: dict[str, float] = {}
    for name, hooks in setups.items():
        results[name] = statistics.median([await per_step(hooks, steps) for _ in range(repeats)])
    base = results["no interceptor"]
    for name, value in results.items():
        print(f"{name:<28} {value:8.1f} us/step  x{value / base:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    asyncio.run(main(parser.parse_args().quick))
