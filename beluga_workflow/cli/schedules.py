"""``beluga-workflow schedule create|list|pause|resume|delete``: the store's schedule book.

Workers started with ``worker --forever --schedules`` start the runs. Imported
by :mod:`beluga_workflow.cli.app` once its shared options are defined.
"""

from __future__ import annotations

import json
from typing import Any

import click
from pydantic import ValidationError
from rich.table import Table
from rich.text import Text

from beluga_workflow.cli.app import config_option, fail, stdout, store_option, with_store
from beluga_workflow.cli.params import JSON_VALUE, SECONDS, TEXT
from beluga_workflow.errors import InvalidArgumentError
from beluga_workflow.schedules import CatchUp, Schedule, ScheduleBook, ScheduleEntry
from beluga_workflow.store import WorkflowStore

__all__ = ["schedule"]


def _with_book(store: str | None, config: str | None, action: Any) -> Any:
    async def act(opened: WorkflowStore) -> Any:
        return await action(ScheduleBook(opened))

    return with_store(store, config, act)


def _summary(entry: ScheduleEntry) -> dict[str, Any]:
    spec = entry.schedule
    return {
        "name": spec.name,
        "workflow": spec.workflow,
        "cron": spec.cron,
        "every": spec.every,
        "timezone": spec.timezone,
        "catch_up": spec.catch_up.value,
        "paused": entry.paused,
        "last_tick": entry.last_tick.isoformat(),
        "next_tick": None if entry.paused else entry.next_tick().isoformat(),
    }


def _table(entries: list[ScheduleEntry]) -> Table:
    table = Table(title=f"{len(entries)} schedule(s)")
    for column in ("name", "workflow", "when", "catch-up", "state", "next tick (UTC)"):
        table.add_column(column)
    for entry in entries:
        row = _summary(entry)
        when = (
            f"cron {row['cron']} ({row['timezone']})" if row["cron"] else f"every {row['every']:g}s"
        )
        table.add_row(
            Text(row["name"]),
            Text(row["workflow"]),
            Text(when),
            Text(row["catch_up"]),
            Text("paused" if entry.paused else "active"),
            Text("" if entry.paused else entry.next_tick().strftime("%Y-%m-%d %H:%M:%S")),
        )
    return table


def _store_options(fn: Any) -> Any:
    return store_option(config_option(fn))


@click.group()
def schedule() -> None:
    """Durable schedules: start a workflow at every tick of a cron expression or interval."""


@schedule.command()
@click.argument("name", type=TEXT)
@click.option("--workflow", "workflow", type=TEXT, required=True, help="Registered workflow name.")
@click.option("--cron", type=TEXT, default=None, help="Cron expression (6th field: seconds).")
@click.option("--every", type=SECONDS, default=None, help="Fixed interval in seconds.")
@click.option("--timezone", type=TEXT, default="UTC", show_default=True, help="IANA time zone.")
@click.option("--input", "value", type=JSON_VALUE, default="null", help="JSON input of each run.")
@click.option(
    "--catch-up",
    type=click.Choice([c.value for c in CatchUp]),
    default=CatchUp.ONCE.value,
    show_default=True,
    help="What to start for ticks missed while no worker ran.",
)
@click.option("--max-catch-up", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--replace", is_flag=True, help="Replace a schedule of that name.")
@_store_options
def create(
    name: str,
    workflow: str,
    cron: str | None,
    every: float | None,
    timezone: str,
    value: Any,
    catch_up: str,
    max_catch_up: int,
    replace: bool,
    store: str | None,
    config: str | None,
) -> None:
    """Create schedule NAME; its first tick is the first one after now."""
    try:
        spec = Schedule(
            name=name,
            workflow=workflow,
            input=value,
            cron=cron,
            every=every,
            timezone=timezone,
            catch_up=CatchUp(catch_up),
            max_catch_up=max_catch_up,
        )
    except ValidationError as exc:
        reasons = "; ".join(str(error["msg"]) for error in exc.errors())
        fail(InvalidArgumentError(f"invalid schedule: {reasons}"))
    entry = _with_book(store, config, lambda book: book.create(spec, replace=replace))
    stdout.print(f"created schedule {name}; next tick {entry.next_tick().isoformat()}")


@schedule.command(name="list")
@_store_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def list_(store: str | None, config: str | None, as_json: bool) -> None:
    """List the schedules."""
    entries = _with_book(store, config, lambda book: book.list())
    if as_json:
        stdout.print_json(json.dumps([_summary(entry) for entry in entries]))
    else:
        stdout.print(_table(entries))


@schedule.command()
@click.argument("name", type=TEXT)
@_store_options
def pause(name: str, store: str | None, config: str | None) -> None:
    """Stop starting runs for NAME."""
    _with_book(store, config, lambda book: book.pause(name))
    stdout.print(f"paused schedule {name}")


@schedule.command()
@click.argument("name", type=TEXT)
@_store_options
def resume(name: str, store: str | None, config: str | None) -> None:
    """Start runs for NAME again, from its next tick (ticks of the pause are not caught up)."""
    _with_book(store, config, lambda book: book.resume(name))
    stdout.print(f"resumed schedule {name}")


@schedule.command()
@click.argument("name", type=TEXT)
@_store_options
def delete(name: str, store: str | None, config: str | None) -> None:
    """Delete schedule NAME (the runs it started stay)."""
    _with_book(store, config, lambda book: book.delete(name))
    stdout.print(f"deleted schedule {name}")
