"""``beluga-workflow ui``: serve the web dashboard (:mod:`beluga_workflow.ui`) on 127.0.0.1."""

from __future__ import annotations

import socket

import click

from beluga_workflow.cli.app import config_option, run_async, stderr, store_option
from beluga_workflow.cli.stores import open_cli_store
from beluga_workflow.errors import InvalidArgumentError

__all__ = ["ui_command"]

HOST = "127.0.0.1"


@click.command(name="ui")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8233, help="Port (default 8233; 0: any free)."
)
@store_option
@config_option
def ui_command(port: int, store: str | None, config: str | None) -> None:
    """Serve the web dashboard on 127.0.0.1: runs, histories, signal and cancel."""
    try:
        import uvicorn

        from beluga_workflow.ui.app import create_app
    except ImportError as exc:
        raise InvalidArgumentError(
            f"the dashboard needs the ui extra ({exc.name} is missing): "
            'pip install "beluga-workflow[ui]"'
        ) from exc

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((HOST, port))
    except OSError as exc:
        listener.close()
        raise InvalidArgumentError(
            f"cannot listen on {HOST}:{port}: {exc.strerror}; choose another --port"
        ) from exc
    bound = listener.getsockname()[1]

    async def serve() -> None:
        opened = open_cli_store(store, config)
        app = create_app(opened, close_store=True)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        stderr.print(f"dashboard on http://{HOST}:{bound} (Ctrl-C stops it)")
        await server.serve(sockets=[listener])

    run_async(serve, interrupted="dashboard stopped")
