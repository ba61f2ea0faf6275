"""The ``beluga-workflow`` command line."""

from __future__ import annotations


def main() -> None:
    raise SystemExit("beluga-workflow: the command line is not built yet")
