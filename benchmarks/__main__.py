"""``python -m benchmarks [--quick] [--only NAME ...]``: run and write docs/benchmarks.md."""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path

from beluga_workflow_contract_tests.servers import port_is_open
from benchmarks.growth import run_growth
from benchmarks.harness import Report
from benchmarks.overhead import run_overhead
from benchmarks.steps import run_steps
from benchmarks.store_ops import run_store_ops

ROOT = Path(__file__).resolve().parent.parent
SUITES = ("steps", "growth", "ops", "overhead")


def server_urls() -> dict[str, str | None]:
    urls = {
        "postgres": os.environ.get(
            "BELUGA_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
        "redis": os.environ.get("BELUGA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "nats": os.environ.get("BELUGA_BENCH_NATS_URL", "nats://127.0.0.1:4222"),
    }
    ports = {"postgres": 5432, "redis": 6379, "nats": 4222}
    return {
        name: url if port_is_open("127.0.0.1", ports[name]) else None for name, url in urls.items()
    }


async def main(args: argparse.Namespace) -> None:
    report = Report()
    urls = server_urls()
    report.settings = {
        "mode": "quick (tiny sizes; figures not meaningful)" if args.quick else "full",
        "SQLite": "WAL; synchronous=FULL unless stated",
        "servers": ", ".join(f"{k}: {'yes' if v else 'not reachable'}" for k, v in urls.items()),
    }
    with tempfile.TemporaryDirectory(prefix="beluga-bench-") as folder:
        work = Path(folder)
        if "steps" in args.only:
            await run_steps(report, work, urls["postgres"], args.quick)
        if "growth" in args.only:
            await run_growth(report, work, urls["postgres"], args.quick)
        if "ops" in args.only:
            await run_store_ops(report, work, urls, args.quick)
        if "overhead" in args.only:
            await run_overhead(report, args.quick)
    report.write(args.output / "benchmarks.md", args.output / "benchmarks.json")
    print(f"wrote {args.output / 'benchmarks.md'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check it runs")
    parser.add_argument("--only", nargs="+", choices=SUITES, default=list(SUITES))
    parser.add_argument("--output", type=Path, default=ROOT / "docs")
    asyncio.run(main(parser.parse_args()))
