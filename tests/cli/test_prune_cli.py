"""``beluga-workflow prune``: a dry run lists, a real run deletes exactly the old finished runs."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

from beluga_workflow import WorkflowState, WorkflowStatus
from beluga_workflow.models import utc_now
from beluga_workflow_sqlite import SQLiteStore
from tests.cli.test_cli import _env, cli


def _seed(db: Path) -> None:
    async def save() -> None:
        async with SQLiteStore(str(db)) as store:
            now = utc_now()
            for workflow_id, status, days in (
                ("done-old", WorkflowStatus.COMPLETED, 9),
                ("done-new", WorkflowStatus.COMPLETED, 1),
                ("failed-old", WorkflowStatus.FAILED, 9),
                ("running-old", WorkflowStatus.RUNNING, 9),
            ):
                moment = now - timedelta(days=days)
                await store.save(
                    WorkflowState(
                        workflow_id=workflow_id, status=status, created_at=moment, updated_at=moment
                    )
                )

    asyncio.run(save())


def test_prune_dry_run_then_delete(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    _seed(db)
    url = f"sqlite:///{db}"
    dry = cli(
        "prune",
        "--status",
        "completed",
        "--older-than",
        "7d",
        "--dry-run",
        "--store",
        url,
        cwd=tmp_path,
    )
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        "done-old",
        "1 run(s) would be deleted (dry run: nothing deleted)",
    ]
    real = cli("prune", "--older-than", "7d", "--store", url, "--json", cwd=tmp_path)
    assert real.returncode == 0, real.stderr
    assert json.loads(real.stdout) == {
        "dry_run": False,
        "matched": ["done-old", "failed-old"],
        "deleted": ["done-old", "failed-old"],
    }
    listed = cli("list", "--store", url, "--json", cwd=tmp_path)
    assert sorted(row["workflow_id"] for row in json.loads(listed.stdout)) == [
        "done-new",
        "running-old",
    ]


def test_a_bad_age_or_status_is_a_usage_error_and_deletes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    _seed(db)
    url = f"sqlite:///{db}"
    bad_age = cli("prune", "--older-than", "soon", "--store", url, cwd=tmp_path, env=_env())
    assert bad_age.returncode == 2
    assert "s, m, h, d or w" in bad_age.stderr
    assert len(bad_age.stderr.strip().splitlines()) == 1
    running = cli(
        "prune", "--older-than", "1d", "--status", "running", "--store", url, cwd=tmp_path
    )
    assert running.returncode == 2
    listed = cli("list", "--store", url, "--json", cwd=tmp_path)
    assert len(json.loads(listed.stdout)) == 4
