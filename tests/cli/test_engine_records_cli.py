"""``beluga-workflow list`` (table and ``--json``) shows runs only, and a limit counts runs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from beluga_workflow import open_store
from tests.cli.test_cli import cli
from tests.engine_records_seed import seed


def seeded(tmp_path: Path, runs: int) -> tuple[str, list[str]]:
    url = f"sqlite:///{tmp_path / 'runs.db'}"

    async def fill() -> list[str]:
        async with open_store(url) as store:
            return await seed(store, runs)

    return url, asyncio.run(fill())


def test_list_and_its_json_leave_engine_records_out_and_limit_counts_runs(tmp_path: Path) -> None:
    url, runs = seeded(tmp_path, 12)
    listed = cli("list", "--json", "--store", url, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert sorted(row["workflow_id"] for row in json.loads(listed.stdout)) == runs
    limited = cli("list", "--json", "--limit", "10", "--store", url, cwd=tmp_path)
    assert limited.returncode == 0, limited.stderr
    ten = [row["workflow_id"] for row in json.loads(limited.stdout)]
    assert len(ten) == 10
    assert set(ten) <= set(runs)
    table = cli("list", "--limit", "10", "--store", url, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "~beluga/" not in table.stdout
    assert sum(workflow_id in table.stdout for workflow_id in runs) == 10
