"""The web dashboard ``beluga-workflow ui`` serves: runs, their histories, signal and cancel.

Needs the ``ui`` extra (``pip install "beluga-workflow[ui]"``: Starlette,
Jinja2, uvicorn). Importing this package imports none of them; :func:`create_app`
does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from beluga_workflow.ui.app import create_app as create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> object:
    if name == "create_app":
        from beluga_workflow.ui.app import create_app

        return create_app
    raise AttributeError(name)
