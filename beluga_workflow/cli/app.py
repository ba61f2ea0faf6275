"""The ``beluga-workflow`` commands.

Results go to stdout (``--json`` for scripts); progress and errors go to
stderr, errors as one line that says what to do. Exit codes are in
:mod:`beluga_workflow.cli.exit_codes`.
"""

from __future__ import annotations

import asyncio
import io
import json
import signal as signals
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import click

from beluga_workflow.cli import render
from beluga_workflow.cli.exit_codes import ExitCode, classify
from beluga_workflow.cli.params import JSON_VALUE, LIMIT, SECONDS, TEXT
from beluga_workflow.cli.quiet import quiet_library_logs
from beluga_workflow.cli.stores import open_cli_store, store_spec
from beluga_workflow.cli.targets import load_function, load_module, queues_in, workflows_in
from beluga_workflow.client import Client
from beluga_workflow.errors import InvalidArgumentError, WorkflowError, WorkflowNotFoundError
from beluga_workflow.executor import Executor
from beluga_workflow.idpolicy import IdReusePolicy
from beluga_workflow.models import WorkflowStatus
from beluga_workflow.options import WorkflowOptions
from beluga_workflow.ownership import DEFAULT_LEASE_SECONDS
from beluga_workflow.pinning import Versioning
from beluga_workflow.plugins.registry import available_stores
from beluga_workflow.redaction import redact_text
from beluga_workflow.store import WorkflowStore
from beluga_workflow.worker import Worker

__all__ = ["cli", "main"]

T = TypeVar("T")

stderr = render.PlainConsole(stderr=True)
stdout = render.PlainConsole()

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
    stderr.print(render.error_line(message))
    raise SystemExit(int(code))


def run_async(work: Callable[[], Awaitable[T]], *, interrupted: str | None = None) -> T:
    """Run ``work`` in an event loop; map errors, Ctrl-C and SIGTERM to exit codes.

    Neither signal waits for an activity in progress: the workflow stays
    ``running`` in the store for the next ``worker``.
    """
    try:
        return asyncio.run(_stopped_by_sigterm_too(work))
    except KeyboardInterrupt:
        stderr.print(interrupted or "interrupted")
        raise SystemExit(int(ExitCode.INTERRUPTED)) from None
    except SystemExit:
        raise
    except Exception as exc:
        fail(exc)


async def _stopped_by_sigterm_too(work: Callable[[], Awaitable[T]]) -> T:
    """Await ``work`` with SIGTERM handled as asyncio handles Ctrl-C (cancel, then stop)."""
    on_interrupt = signals.getsignal(signals.SIGINT)
    if not callable(on_interrupt):  # Ctrl-C ignored (a background job): still stop on SIGTERM
        on_interrupt = signals.default_int_handler
    previous = signals.signal(signals.SIGTERM, on_interrupt)
    try:
        return await work()
    finally:
        signals.signal(signals.SIGTERM, previous)


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
@click.argument("provider", type=TEXT)
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
        from beluga_workflow_contract_tests.installed import InstalledStore
        from beluga_workflow_contract_tests.runner import run_contract
    except ImportError:
        stderr.print(
            render.error_line(
                'the contract suite is not installed; run: pip install "beluga-workflow[contract]"'
            )
        )
        raise SystemExit(int(ExitCode.USAGE)) from None
    parsed: dict[str, str] = {}
    for item in options:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(InvalidArgumentError(f"--option {item!r} is not KEY=VALUE"))
        parsed[key] = value
    try:
        InstalledStore(provider, parsed).capabilities()  # an unknown provider is not a rule
    except Exception as exc:
        fail(exc)

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
@click.option(
    "--input", "payload", type=JSON_VALUE, default="null", metavar="JSON", help="Workflow input."
)
@click.option(
    "--id", "workflow_id", type=TEXT, default="", help="Workflow id (default: a new random id)."
)
@click.option("--timeout", type=SECONDS, default=None, help="Workflow timeout in seconds.")
@click.option(
    "--id-reuse",
    "id_reuse",
    type=click.Choice([policy.value for policy in IdReusePolicy]),
    default=IdReusePolicy.USE_EXISTING.value,
    show_default=True,
    help="What starting an id that already names a run does.",
)
@store_option
@config_option
@json_option
def run(
    target: str,
    payload: Any,
    workflow_id: str,
    timeout: float | None,
    id_reuse: str,
    store: str | None,
    config: str | None,
    as_json: bool,
) -> None:
    """Run a workflow to completion and print its result.

    MODULE may be a dotted module name or a .py file. Ctrl-C stops without
    losing recorded progress; `beluga-workflow worker MODULE` resumes it.
    """
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
            options = WorkflowOptions(
                id=workflow_id, input=payload, timeout=timeout, id_reuse=IdReusePolicy(id_reuse)
            )
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
        stdout.print(f"Result: {json.dumps(result)}")
    if error is not None:
        if not as_json:
            stderr.print(render.error_line(error))
        raise SystemExit(int(ExitCode.WORKFLOW_FAILED))


@cli.command()
@click.argument("modules", nargs=-1, required=True, metavar="MODULE...")
@click.option(
    "--forever",
    is_flag=True,
    help="Keep running: claim new and orphaned runs as they come (several workers may share "
    "a store that keeps leases).",
)
@click.option("--poll", type=SECONDS, default=0.5, help="Seconds between claims (--forever).")
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=100,
    help="Most runs held at once (--forever).",
)
@click.option(
    "--worker-id",
    type=TEXT,
    default=None,
    help="This worker's id (default $BELUGA_WORKFLOW_WORKER_ID, else unique to the process); "
    "a worker restarted under its id takes its runs back at once.",
)
@click.option(
    "--lease",
    type=SECONDS,
    default=DEFAULT_LEASE_SECONDS,
    help="Seconds a lease lasts unless renewed: how soon another worker takes over.",
)
@click.option(
    "--schedules", is_flag=True, help="Also start the store's scheduled runs (--forever)."
)
@click.option(
    "--build-id",
    type=TEXT,
    default=None,
    help="Names the code this worker runs (default $BELUGA_WORKFLOW_BUILD_ID); runs started "
    "--pinned are resumed only by workers of the build that first ran them.",
)
@store_option
@config_option
def worker(
    modules: tuple[str, ...],
    forever: bool,
    poll: float,
    concurrency: int,
    worker_id: str | None,
    lease: float,
    schedules: bool,
    build_id: str | None,
    store: str | None,
    config: str | None,
) -> None:
    """Run the workflows defined in MODULE... that are stored as running.

    Registers the async functions of each module (a dotted name or a .py
    file). Without --forever it resumes the running workflows it can claim
    and waits for them; with --forever it keeps claiming new and orphaned
    runs, up to --concurrency at once, until SIGTERM or Ctrl-C, and then
    hands its runs back. With --forever it also serves the queues defined in
    the modules (module-level ``Queue`` objects), and with --schedules it
    starts the store's scheduled runs.
    """
    try:
        loaded = [load_module(target) for target in modules]
        functions = [fn for module in loaded for fn in workflows_in(module).values()]
        queues = [queue for module in loaded for queue in queues_in(module)]
        spec = store_spec(store, config)
    except Exception as exc:
        fail(exc)

    async def once() -> int:
        runner = Executor(
            spec,
            workflows=functions,
            worker_id=worker_id,
            lease_duration=lease,
            build_id=build_id,
        )
        async with runner as executor:
            report = await executor.recover()
            for workflow_id, problem in report.not_resumed.items():
                stderr.print(f"not resumed {workflow_id}: {problem}")
            for handle in report.resumed:
                stderr.print(f"resumed {handle.id} (run {handle.run_id})")
            with stderr.status(f"{len(report.resumed)} workflow(s) running ...", spinner="dots"):
                outcomes = await asyncio.gather(
                    *(h.result() for h in report.resumed), return_exceptions=True
                )
            for handle, outcome in zip(report.resumed, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    stderr.print(f"{handle.id}: {handle.status}: {outcome}")
                else:
                    stderr.print(f"{handle.id}: completed: {json.dumps(outcome)}")
            return len(report.resumed)

    async def serve() -> int:
        serving = Worker(
            spec,
            workflows=functions,
            concurrency=concurrency,
            worker_id=worker_id,
            lease_duration=lease,
            poll_interval=poll,
            queues=queues,
            schedules=schedules,
            build_id=build_id,
        )
        stderr.print(f"worker {serving.worker_id} serving; stop with Ctrl-C or SIGTERM")
        await serving.run()
        return 0

    count = run_async(
        serve if forever else once,
        interrupted="interrupted: unfinished workflows stay running for the next worker",
    )
    if not forever:
        stdout.print(f"{count} workflow(s) finished")


# --- looking at and acting on stored workflows ----------------------------------------


def with_store(
    store: str | None, config: str | None, action: Callable[[WorkflowStore], Awaitable[T]]
) -> T:
    async def work() -> T:
        async with open_cli_store(store, config) as opened:
            return await action(opened)

    return run_async(work)


def with_client(
    store: str | None, config: str | None, action: Callable[[Client], Awaitable[T]]
) -> T:
    """Run ``action`` with a :class:`Client` on the selected store (closed after)."""

    async def act(opened: WorkflowStore) -> T:
        async with Client(opened, load_plugins=False) as client:
            return await action(client)

    return with_store(store, config, act)


@cli.command(name="list")
@click.option(
    "--status",
    type=click.Choice([s.value for s in WorkflowStatus]),
    default=None,
    help="Only workflows with this status.",
)
@click.option("--limit", type=LIMIT, default=0, help="At most this many (0: all).")
@store_option
@config_option
@json_option
def list_(
    status: str | None, limit: int, store: str | None, config: str | None, as_json: bool
) -> None:
    """List stored workflows."""
    wanted = WorkflowStatus(status) if status else None
    states = with_client(store, config, lambda c: c.list_workflows(wanted, limit=limit))
    if as_json:
        stdout.print_json(json.dumps([render.summary(state) for state in states]))
    else:
        stdout.print(render.states_table(states))


@cli.command()
@click.argument("workflow_id", type=TEXT, metavar="ID")
@store_option
@config_option
@json_option
def show(workflow_id: str, store: str | None, config: str | None, as_json: bool) -> None:
    """Show one workflow: its state and history."""

    async def load(client: Client) -> Any:
        try:
            return await client.describe(workflow_id)
        except WorkflowNotFoundError as exc:
            raise WorkflowNotFoundError(f"{exc}; `beluga-workflow list` shows the ids") from None

    state = with_client(store, config, load)
    if as_json:
        stdout.print_json(state.model_dump_json())
    else:
        render.print_state(stdout, state)


@cli.command()
@click.argument("workflow_id", type=TEXT, metavar="ID")
@store_option
@config_option
def cancel(workflow_id: str, store: str | None, config: str | None) -> None:
    """Cancel a running workflow (recorded in the store; the worker running it stops it)."""
    with_client(store, config, lambda client: client.cancel(workflow_id))
    stdout.print(f"canceled {workflow_id}")


@cli.command()
@click.argument("workflow_id", type=TEXT, metavar="ID")
@click.argument("name", type=TEXT)
@click.argument("value", type=JSON_VALUE, default="null", metavar="JSON")
@store_option
@config_option
def signal(workflow_id: str, name: str, value: Any, store: str | None, config: str | None) -> None:
    """Send signal NAME with a JSON payload to a workflow."""
    with_client(store, config, lambda client: client.signal(workflow_id, name, value))
    stdout.print(f"signal {name!r} sent to {workflow_id}")


@cli.command()
@click.argument("name", type=TEXT, metavar="NAME")
@click.option(
    "--input", "payload", type=JSON_VALUE, default="null", metavar="JSON", help="Workflow input."
)
@click.option(
    "--id", "workflow_id", type=TEXT, default="", help="Workflow id (default: a new random id)."
)
@click.option("--timeout", type=SECONDS, default=None, help="Workflow timeout in seconds.")
@click.option("--wait", is_flag=True, help="Wait for the result a worker makes, and print it.")
@click.option(
    "--pinned",
    is_flag=True,
    help="Only workers of the build (--build-id) that first runs it may resume the run.",
)
@store_option
@config_option
@json_option
def start(
    name: str,
    payload: Any,
    workflow_id: str,
    timeout: float | None,
    wait: bool,
    pinned: bool,
    store: str | None,
    config: str | None,
    as_json: bool,
) -> None:
    """Store a new run of the workflow registered as NAME, for a worker to run.

    NAME is the name a worker registers (`module:function` for the functions
    `beluga-workflow worker MODULE` registers). Nothing runs here.
    """

    async def act(client: Client) -> tuple[str, str, Any, str | None, str]:
        try:
            options = WorkflowOptions(
                id=workflow_id,
                input=payload,
                timeout=timeout,
                versioning=Versioning.PINNED if pinned else Versioning.AUTO_UPGRADE,
            )
        except ValueError as exc:
            raise InvalidArgumentError(f"invalid workflow options: {exc}") from None
        handle = await client.start(name, options=options)
        if not wait:
            return handle.id, handle.run_id, None, None, str(handle.status)
        if not as_json:
            stderr.print(f"workflow {handle.id} started (run {handle.run_id}); waiting ...")
        try:
            result = await handle.result()
            return handle.id, handle.run_id, result, None, "completed"
        except WorkflowError as exc:
            return handle.id, handle.run_id, None, str(exc), str(handle.status)

    started, run_id, result, error, status = with_client(store, config, act)
    if as_json:
        shape: dict[str, Any] = {"workflow_id": started, "run_id": run_id, "status": status}
        if wait:
            shape.update(result=result, error=error)
        stdout.print_json(json.dumps(shape))
    elif not wait:
        stdout.print(f"started {started} (run {run_id})")
    elif error is None:
        stdout.print(f"Result: {json.dumps(result)}")
    if error is not None:
        if not as_json:
            stderr.print(render.error_line(error))
        raise SystemExit(int(ExitCode.WORKFLOW_FAILED))


@cli.command()
@click.argument("workflow_id", type=TEXT, metavar="ID")
@click.argument("name", type=TEXT)
@store_option
@config_option
def query(workflow_id: str, name: str, store: str | None, config: str | None) -> None:
    """Print the JSON answer to query NAME (status, result, history, or a published event)."""

    async def ask(client: Client) -> Any:
        answer = await client.query(workflow_id, name)
        if name == "history":
            return [event.model_dump(mode="json") for event in answer]
        return answer

    stdout.print_json(json.dumps(with_client(store, config, ask)))


@cli.command()
@click.argument("workflow_id", type=TEXT, metavar="ID")
@store_option
@config_option
def resume(workflow_id: str, store: str | None, config: str | None) -> None:
    """Resume a failed or canceled workflow from its history (a worker runs it)."""

    async def act(opened: WorkflowStore) -> None:
        async with Executor(store=opened, load_plugins=False) as executor:
            await executor.resume(workflow_id)

    with_store(store, config, act)
    stdout.print(f"resumed {workflow_id}")


@cli.command()
@click.argument("workflow_id", type=TEXT, metavar="ID")
@click.option(
    "--from-step",
    "from_step",
    type=click.IntRange(min=0),
    required=True,
    help="Keep steps 1..N (activity calls that ended); run the later ones again.",
)
@click.option(
    "--id", "new_id", type=TEXT, default=None, help="Id of the new run (default: random)."
)
@store_option
@config_option
def fork(
    workflow_id: str, from_step: int, new_id: str | None, store: str | None, config: str | None
) -> None:
    """Start a new run of a workflow that keeps its first N steps (a worker runs it)."""

    async def act(opened: WorkflowStore) -> str:
        async with Executor(store=opened, load_plugins=False) as executor:
            return (await executor.fork(workflow_id, from_step, new_id=new_id)).id

    forked = with_store(store, config, act)
    stdout.print(f"forked {workflow_id} from step {from_step} as {forked}")


@cli.command()
@click.argument("workflow_id", type=TEXT, metavar="ID")
@store_option
@config_option
def delete(workflow_id: str, store: str | None, config: str | None) -> None:
    """Delete a workflow's stored state (a missing id is not an error)."""
    with_store(store, config, lambda s: s.delete(workflow_id))
    stdout.print(f"deleted {workflow_id}")


@cli.command()
@click.argument("modules", nargs=-1, required=True, metavar="MODULE...")
@click.option(
    "--id",
    "workflow_ids",
    type=TEXT,
    multiple=True,
    help="Replay only this run (repeatable; default: every stored run of the modules' workflows).",
)
@store_option
@config_option
@json_option
def replay(
    modules: tuple[str, ...],
    workflow_ids: tuple[str, ...],
    store: str | None,
    config: str | None,
    as_json: bool,
) -> None:
    """Check the workflows of MODULE... against stored histories before deploying them.

    Replays each run's history against the current code without running
    anything or changing the store, and names each run and event that no
    longer match. Exits 1 when any does.
    """
    from beluga_workflow.replaying import HistoryReplayer

    try:
        functions = [fn for target in modules for fn in workflows_in(load_module(target)).values()]
        replayer = HistoryReplayer(functions)
    except Exception as exc:
        fail(exc)
    results = with_store(store, config, lambda s: replayer.replay_store(s, workflow_ids or None))
    if as_json:
        stdout.print_json(json.dumps([result.summary() for result in results]))
    else:
        for result in results:
            verdict = "ok" if result.ok else f"DIVERGES: {result.problem}"
            stdout.print(f"{result.workflow_id} (run {result.run_id}): {verdict}")
        stdout.print(f"{len(results)} run(s) replayed, {sum(not r.ok for r in results)} diverge")
    if not all(result.ok for result in results):
        raise SystemExit(int(ExitCode.WORKFLOW_FAILED))


from beluga_workflow.cli.schedules import schedule  # noqa: E402 - it uses the options above

cli.add_command(schedule)


def main() -> None:
    """Console-script entry point: every failure ends as one line and an exit code."""
    _escape_undecodable_output()
    quiet_library_logs()
    try:
        code = cli.main(standalone_mode=False, prog_name="beluga-workflow")
    except click.exceptions.NoArgsIsHelpError as exc:
        stderr.print(exc.format_message())
        raise SystemExit(int(ExitCode.USAGE)) from None
    except click.ClickException as exc:
        stderr.print(render.error_line(exc.format_message()))
        raise SystemExit(int(ExitCode.USAGE)) from None
    except click.exceptions.Abort:
        stderr.print("interrupted")
        raise SystemExit(int(ExitCode.INTERRUPTED)) from None
    except Exception as exc:
        fail(exc)
    sys.exit(code if isinstance(code, int) else 0)


def _escape_undecodable_output() -> None:
    """Print text holding undecodable bytes (lone surrogates) as escapes instead of failing."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
