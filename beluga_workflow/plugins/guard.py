"""One guard around all plugin code: whatever it raises is a load failure, never an exit.

Plugin code is third-party code that runs at discovery (the plugin module's
import, its hook) and when a store is opened (the factory's import). A
``sys.exit()`` there, or any other exception, must neither end the program
nor hide the other providers: :func:`run_plugin_code` turns it into
:class:`PluginCodeFailed`, which the registry reports. Ctrl-C belongs to the
user, not to the plugin: ``KeyboardInterrupt`` still interrupts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

__all__ = ["PluginCodeFailed", "describe_failure", "run_plugin_code"]

T = TypeVar("T")


def describe_failure(error: BaseException) -> str:
    """``Type: message`` on one line (``SystemExit: 3``), the type alone without a message."""
    message = " ".join(str(error).split())
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


class PluginCodeFailed(Exception):
    """Plugin code raised ``cause``; ``reason`` says what it was, on one line."""

    def __init__(self, cause: BaseException) -> None:
        self.cause = cause
        self.reason = describe_failure(cause)
        super().__init__(self.reason)


def run_plugin_code(action: Callable[[], T]) -> T:
    """Return ``action()``; anything it raises but Ctrl-C becomes :class:`PluginCodeFailed`."""
    try:
        return action()
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit and friends from plugin code included
        raise PluginCodeFailed(exc) from exc
