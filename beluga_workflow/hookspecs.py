"""The plugin API: every hook a beluga-workflow plugin can implement.

A plugin is a module named by an entry point in the ``beluga_workflow`` group::

    [project.entry-points.beluga_workflow]
    myplugin = "my_package.plugin"

It implements hooks with :data:`hookimpl`. The plugin module should import
nothing heavy (no database client): discovery imports it, and a broken backend
library must not break listing the other providers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from beluga_workflow.plugins.provider import StoreProvider

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]

PROJECT_NAME = "beluga_workflow"
"""The pluggy project name, which is also the entry-point group."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def beluga_workflow_store_providers() -> list[StoreProvider]:  # type: ignore[empty-body]
    """Return the store providers this plugin offers.

    Called once per discovery. Each :class:`StoreProvider` names its factory as
    a ``"module:callable"`` string (or a callable) that is imported only when a
    store is opened, so listing providers never imports a backend library.
    """
