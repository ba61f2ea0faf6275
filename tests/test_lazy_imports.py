"""Listing providers must not import any store implementation or backend library."""

from __future__ import annotations

import json
import subprocess
import sys

BACKENDS = ("redis", "psycopg", "psycopg_pool", "nats", "aiokafka", "kafka", "aiosqlite")


def test_available_stores_imports_no_backend() -> None:
    code = (
        "import json, sys\n"
        "from beluga_workflow import available_stores\n"
        "infos = available_stores()\n"
        "names = [i.name for i in infos]\n"
        "print(json.dumps({'providers': names, 'modules': sorted(sys.modules)}))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    report = json.loads(completed.stdout)
    modules = set(report["modules"])
    assert "inmemory" in report["providers"]
    leaked = sorted(
        m
        for m in modules
        if m.split(".")[0] in BACKENDS
        or (m.startswith("beluga_workflow_") and m.endswith(".store"))
        or m == "beluga_workflow.providers.inmemory.factory"
    )
    assert leaked == [], f"listing providers imported {leaked}"
