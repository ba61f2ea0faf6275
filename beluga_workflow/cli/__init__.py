"""The ``beluga-workflow`` command line."""

from beluga_workflow.cli.app import cli, main
from beluga_workflow.cli.prune import prune_command

cli.add_command(prune_command)

__all__ = ["cli", "main"]
