"""Which store a command uses: ``--store``, then the environment, then a config file.

Order: the ``--store`` option; ``$BELUGA_WORKFLOW_STORE``; ``--config FILE``
or ``beluga-workflow.toml`` in the current folder; else the local SQLite file
``beluga-workflow.db`` — the in-memory default of :func:`open_store` would
forget everything between two commands.
"""

from __future__ import annotations

import os
from pathlib import Path

from beluga_workflow.config import ENV_VAR, StoreSpec, open_store
from beluga_workflow.errors import InvalidArgumentError
from beluga_workflow.store import WorkflowStore

__all__ = ["CLI_DEFAULT_STORE", "CONFIG_FILE", "open_cli_store", "store_spec"]

CLI_DEFAULT_STORE = "sqlite:///beluga-workflow.db"
CONFIG_FILE = "beluga-workflow.toml"


def store_spec(option: str | None, config: str | None) -> StoreSpec:
    """The store the command line selects, before opening it.

    An option given empty (``--store ""``) is an error, never a fall-back to
    the next source: an unset variable in a script must not pick another store.
    """
    if option is not None:
        if not option.strip():
            raise InvalidArgumentError("--store is empty; give a store URL or provider name")
        return option
    from_env = os.environ.get(ENV_VAR, "").strip()
    if from_env:
        return from_env
    if config is not None:
        path = Path(config)
        if not path.is_file():
            raise InvalidArgumentError(f"config file {config!r} does not exist")
        return path
    if Path(CONFIG_FILE).is_file():
        return Path(CONFIG_FILE)
    return CLI_DEFAULT_STORE


def open_cli_store(option: str | None, config: str | None) -> WorkflowStore:
    return open_store(store_spec(option, config))
