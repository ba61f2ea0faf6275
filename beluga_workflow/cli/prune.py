"""``beluga-workflow prune``: delete finished runs older than an age (see ``retention``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from beluga_workflow.cli.app import config_option, json_option, stderr, stdout, store_option
from beluga_workflow.cli.app import with_store as run_with_store
from beluga_workflow.errors import InvalidArgumentError
from beluga_workflow.models import WorkflowStatus
from beluga_workflow.retention import FINISHED, PruneReport, RetentionPolicy, parse_age, prune
from beluga_workflow.store import WorkflowStore

__all__ = ["prune_command"]

if TYPE_CHECKING:
    _Param = click.ParamType[Any]  # generic from click 8.4; plain before
else:
    _Param = click.ParamType


class AgeParam(_Param):
    """An age such as ``7d``, ``12h`` or ``30m``; anything else is a usage error."""

    name = "AGE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return parse_age(value)
        except InvalidArgumentError as exc:
            self.fail(str(exc), param, ctx)


@click.command(name="prune")
@click.option(
    "--older-than",
    "older_than",
    type=AgeParam(),
    required=True,
    help="Only runs last updated longer ago than this: 30m, 12h, 7d, 2w.",
)
@click.option(
    "--status",
    "statuses",
    type=click.Choice(sorted(status.value for status in FINISHED)),
    multiple=True,
    help="Only runs with this status (repeatable; default: completed, failed and canceled).",
)
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@store_option
@config_option
@json_option
def prune_command(
    older_than: Any,
    statuses: tuple[str, ...],
    dry_run: bool,
    store: str | None,
    config: str | None,
    as_json: bool,
) -> None:
    """Delete finished runs not updated for a while (running runs are never touched)."""
    chosen = frozenset(WorkflowStatus(status) for status in statuses) or FINISHED
    policy = RetentionPolicy(older_than=older_than, statuses=chosen)
    shown = not as_json and not dry_run

    def deleted(workflow_id: str) -> None:
        if shown:
            stderr.print(f"deleted {workflow_id}")

    async def act(opened: WorkflowStore) -> PruneReport:
        return await prune(opened, policy, dry_run=dry_run, progress=deleted)

    report = run_with_store(store, config, act)
    if as_json:
        stdout.print_json(
            json.dumps({"dry_run": dry_run, "matched": report.matched, "deleted": report.deleted})
        )
        return
    if dry_run:
        for workflow_id in report.matched:
            stdout.print(workflow_id)
        stdout.print(f"{len(report.matched)} run(s) would be deleted (dry run: nothing deleted)")
    else:
        stdout.print(f"deleted {len(report.deleted)} run(s)")
