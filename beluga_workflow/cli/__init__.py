"""The ``beluga-workflow`` command line."""

from beluga_workflow.cli.app import cli, main

__all__ = ["cli", "main"]
