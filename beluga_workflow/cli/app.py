"""The ``beluga-workflow`` commands.

Results go to stdout (``--json`` for scripts); progress and errors go to
stderr, errors as one line that says what to do. Exit codes are in
:mod:`beluga_workflow.cli.exit_codes`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console

from beluga_workflow.cli import render
from beluga_workflow.cli.exit_codes import ExitCode, classify
from beluga_workflow.cli.stores import open_cli_store, store_spec
from beluga_workflow.cli.targets import load_function, load_module, workflows_in
from beluga_workflow.errors import InvalidArgumentError, WorkflowNotFoundError
from beluga_workflow.executor import Executor
from beluga_workflow.models import MAX_LIMIT, Signal, WorkflowFilter, WorkflowStatus
from beluga_workflow.options import WorkflowOptions
from beluga_workflow.plugins.registry import available_stores
from beluga_workflow.redaction import redact_text
from beluga_workflow.store import WorkflowStore

__all__ = ["cli", "main"]

T = TypeVar("T")

stderr = Console(stderr=True, highlight=False)
stdout = Console(highlight=False, soft_wrap=True)

store_option = click.option(
    "--store",
    "store",
    metavar="URL|NAME",
    help="Store to use (default: $BELUGA_WORKFLOW_STORE, beluga-workflow.toml, "
    "else sqlite:///beluga-workflow.db).",
)
config_option = click.option(
    "--config", "config", metavar="FILE", help="TOML file with a [store] table."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def fail(error: BaseException) -> NoReturn:
    code, message = classify(error)
    stderr.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    raise SystemExit(int(code))


def run_async(work: Callable[[], Awaitable[T]], *, interrupted: str | None = None) -> T:
    """Run ``work`` in an event loop; map errors and Ctrl-C to exit codes."""
    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except KeyboardInterrupt:
        stderr.print(interrupted or "interrupted", markup=False)
        raise SystemExit(int(ExitCode.INTERRUPTED)) from None
    except SystemExit:
        raise
    except Exception as exc:
        fail(exc)


def parse_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(
            InvalidArgumentError(
                f"{what} is not valid JSON ({exc.msg} at character {exc.pos}); "
                'quote it for the shell, e.g. \'{"order_id": "A-1"}\' or \'"text"\''
            )
        )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="beluga-workflow")
def cli() -> None:
    """Durable workflows with pluggable state stores."""


# --- providers and checks ------------------------------------------------------------


@cli.command()
@json_option
def providers(as_json: bool) -> None:
    """List installed store providers, their capabilities and load errors."""
    infos = available_stores()
    if as_json:
        stdout.print_json(json.dumps([info.model_dump(mode="json") for info in infos]))
        return
    stdout.print(render.providers_table(infos))


@cli.command()
@click.argument("provider")
@click.option(
    "--option",
    "-o",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Provider option (repeatable), e.g. -o synchronous=NORMAL.",
)
@json_option
def check(provider: str, options: tuple[str, ...], as_json: bool) -> None:
    """Run the store contract suite against PROVIDER (a name or URL)."""
    try:
        from beluga_workflow_contract_tests.runner import run_contract
    except ImportError:
        stderr.print(
            "error: the contract suite is not installed; "
            'run: pip install "beluga-workflow[contract]"'
        )
        raise SystemExit(int(ExitCode.USAGE)) from None
    parsed: dict[str, str] = {}
    for item in options:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(InvalidArgumentError(f"--option {item!r} is not KEY=VALUE"))
        parsed[key] = value

    def progress(result: Any) -> None:
        stderr.print(render.rule_line(result), highlight=False)

    try:
        report = run_contract(provider, parsed, on_progress=None if as_json else progress)
    except KeyboardInterrupt:
        stderr.print("interrupted")
        raise SystemExit(int(ExitCode.INTERRUPTED)) from None
    except Exception as exc:
        fail(exc)
    if as_json:
        stdout.print_json(report.model_dump_json())
    else:
        stdout.print(render.report_summary(report))
    if not report.ok:
        raise SystemExit(int(ExitCode.WORKFLOW_FAILED))


# --- running workflows ---------------------------------------------------------------


@cli.command()
@click.argument("target", metavar="MODULE:FUNCTION")
@click.option("--input", "input_json", default="null", metavar="JSON", help="Workflow input.")
@click.option("--id", "workflow_id", default="", help="Workflow id (default: a new random id).")
@click.option("--timeout", type=float, default=None, help="Workflow timeout in seconds.")
@store_option
@config_option
@json_option
def run(
    target: str,
    input_json: str,
    workflow_id: str,
    timeout: float | None,
    store: str | None,
    config: str | None,
    as_json: bool,
) -> None:
    """Run a workflow to completion and print its result.

    MODULE may be a dotted module name or a .py file. Ctrl-C stops without
    losing recorded progress; `beluga-workflow worker MODULE` resumes it.
    """
    payload = parse_json(input_json, "--input")
    try:
        function = load_function(target)
        spec = store_spec(store, config)
    except Exception as exc:
        fail(exc)
    workflow_id = workflow_id or uuid.uuid4().hex
    module = target.rpartition(":")[0]
    resume = f"beluga-workflow worker {module}" + (
        f" --store {redact_text(store)}" if store else ""
    )

    async def work() -> tuple[str, Any, str | None, str]:
        async with Executor(store=spec) as executor:
            options = WorkflowOptions(id=workflow_id, input=payload, timeout=timeout)
            handle = await executor.execute(function, options)
            if not as_json:
                stderr.print(f"workflow {workflow_id} started (run {handle.run_id})")
            try:
                with stderr.status(f"running {target} ...", spinner="dots"):
                    result = await handle.result()
                return handle.run_id, result, None, "completed"
            except Exception as exc:
                if isinstance(exc, (KeyboardInterrupt, asyncio.CancelledError)):
                    raise
                return handle.run_id, None, str(exc), str(handle.status)

    run_id, result, error, status = run_async(
        work,
        interrupted=f"interrupted: workflow {workflow_id} is still running in the store; "
        f"resume it with: {resume}",
    )
    if as_json:
        stdout.print_json(
            json.dumps(
                {
                    "workflow_id": workflow_id,
                    "run_id": run_id,
                    "status": status,
                    "result": result,
                    "error": error,
                }
            )
        )
    elif error is None:
        stdout.print(f"Result: {json.dumps(result)}", markup=False)
    if error is not None:
        if not as_json:
            stderr.print(f"error: {error}", markup=False)
        raise SystemExit(int(ExitCode.WORKFLOW_FAILED))


@cli.command()
@click.argument("modules", nargs=-1, required=True, metavar="MODULE...")
@click.option("--forever", is_flag=True, help="Keep running and pick up new running workflows.")
@click.option("--poll", type=float, default=2.0, help="Seconds between store scans (--forever).")
@store_option
@config_option
def worker(
    modules: tuple[str, ...], forever: bool, poll: float, store: str | None, config: str | None
) -> None:
    """Resume every running workflow defined in MODULE... and run until they end.

    Registers the async functions of each module (a dotted name or a .py
    file), recovers the running workflows in the store, and waits for them.
    """
    try:
        functions = [fn for target in modules for fn in workflows_in(load_module(target)).values()]
        spec = store_spec(store, config)
    except Exception as exc:
        fail(exc)

    async def work() -> int:
        finished = 0
        async with Executor(store=spec, workflows=functions) as executor:
            while True:
                report = await executor.recover()
                for workflow_id, problem in report.not_resumed.items():
                    stderr.print(f"not resumed {workflow_id}: {problem}", markup=False)
                for handle in report.resumed:
                    stderr.print(f"resumed {handle.id} (run {handle.run_id})", markup=False)
                with stderr.status(
                    f"{len(report.resumed)} workflow(s) running ...", spinner="dots"
                ):
                    outcomes = await asyncio.gather(
                        *(h.result() for h in report.resumed), return_exceptions=True
                    )
                for handle, outcome in zip(report.resumed, outcomes, strict=True):
                    finished += 1
                    if isinstance(outcome, BaseException):
                        stderr.print(f"{handle.id}: {handle.status}: {outcome}", markup=False)
                    else:
                        stderr.print(f"{handle.id}: completed: {json.dumps(outcome)}", markup=False)
                if not forever:
                    return finished
                await asyncio.sleep(poll)

    count = run_async(
        work, interrupted="interrupted: unfinished workflows stay running for the next worker"
    )
    stdout.print(f"{count} workflow(s) finished", markup=False)


# --- looking at and acting on stored workflows ----------------------------------------


def with_store(
    store: str | None, config: str | None, action: Callable[[WorkflowStore], Awaitable[T]]
) -> T:
    async def work() -> T:
        async with open_cli_store(store, config) as opened:
            return await action(opened)

    return run_async(work)


@cli.command(name="list")
@click.option(
    "--status",
    type=click.Choice([s.value for s in WorkflowStatus]),
    default=None,
    help="Only workflows with this status.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=0, max=MAX_LIMIT),
    default=0,
    help="At most this many (0: all).",
)
@store_option
@config_option
@json_option
def list_(
    status: str | None, limit: int, store: str | None, config: str | None, as_json: bool
) -> None:
    """List stored workflows."""
    wanted = WorkflowFilter(status=WorkflowStatus(status) if status else None, limit=limit)
    states = with_store(store, config, lambda s: s.list(wanted))
    if as_json:
        stdout.print_json(json.dumps([render.summary(state) for state in states]))
    else:
        stdout.print(render.states_table(states))


@cli.command()
@click.argument("workflow_id", metavar="ID")
@store_option
@config_option
@json_option
def show(workflow_id: str, store: str | None, config: str | None, as_json: bool) -> None:
    """Show one workflow: its state and history."""

    async def load(opened: WorkflowStore) -> Any:
        state = await opened.load(workflow_id)
        if state is None:
            raise WorkflowNotFoundError(
                f"no workflow {workflow_id!r} in the store; `beluga-workflow list` shows the ids"
            )
        return state

    state = with_store(store, config, load)
    if as_json:
        stdout.print_json(state.model_dump_json())
    else:
        render.print_state(stdout, state)


@cli.command()
@click.argument("workflow_id", metavar="ID")
@store_option
@config_option
def cancel(workflow_id: str, store: str | None, config: str | None) -> None:
    """Cancel a running workflow (recorded in the store; its process stops it)."""

    async def act(opened: WorkflowStore) -> None:
        async with Executor(store=opened, load_plugins=False) as executor:
            await executor.cancel(workflow_id)

    with_store(store, config, act)
    stdout.print(f"canceled {workflow_id}", markup=False)


@cli.command()
@click.argument("workflow_id", metavar="ID")
@click.argument("name")
@click.argument("payload", default="null", metavar="JSON")
@store_option
@config_option
def signal(
    workflow_id: str, name: str, payload: str, store: str | None, config: str | None
) -> None:
    """Send signal NAME with a JSON payload to a workflow."""
    value = parse_json(payload, "the signal payload")
    try:
        message = Signal(name=name, payload=value)
    except ValueError as exc:
        fail(InvalidArgumentError(f"invalid signal: {exc}"))

    async def act(opened: WorkflowStore) -> None:
        async with Executor(store=opened, load_plugins=False) as executor:
            await executor.signal(workflow_id, message)

    with_store(store, config, act)
    stdout.print(f"signal {name!r} sent to {workflow_id}", markup=False)


@cli.command()
@click.argument("workflow_id", metavar="ID")
@store_option
@config_option
def delete(workflow_id: str, store: str | None, config: str | None) -> None:
    """Delete a workflow's stored state (a missing id is not an error)."""
    with_store(store, config, lambda s: s.delete(workflow_id))
    stdout.print(f"deleted {workflow_id}", markup=False)


def main() -> None:
    """Console-script entry point."""
    try:
        code = cli.main(standalone_mode=False, prog_name="beluga-workflow")
    except click.exceptions.NoArgsIsHelpError as exc:
        stderr.print(exc.format_message())
        raise SystemExit(int(ExitCode.USAGE)) from None
    except click.ClickException as exc:
        stderr.print(f"error: {exc.format_message()}", markup=False)
        raise SystemExit(int(ExitCode.USAGE)) from None
    except click.exceptions.Abort:
        stderr.print("interrupted")
        raise SystemExit(int(ExitCode.INTERRUPTED)) from None
    sys.exit(code if isinstance(code, int) else 0)
