"""The ``beluga-workflow`` command line."""

from beluga_workflow.cli.app import cli, main
from beluga_workflow.cli.dashboard import ui_command
from beluga_workflow.cli.prune import prune_command

cli.add_command(prune_command)
cli.add_command(ui_command)

__all__ = ["cli", "main"]
