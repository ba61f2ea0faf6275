"""Finding workflow functions named on the command line.

``MODULE:FUNCTION`` imports a module from the Python path; ``path/file.py:FUNCTION``
loads a file, as module ``file`` with its folder on the path, so that a later
``worker path/file.py`` registers the same workflow names and can resume them.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from beluga_workflow.errors import InvalidArgumentError
from beluga_workflow.queues import Queue

__all__ = ["load_function", "load_module", "queues_in", "workflows_in"]


def load_module(target: str) -> ModuleType:
    """Import ``target``, a dotted module name or a path to a ``.py`` file."""
    if target.endswith(".py") or "/" in target or "\\" in target:
        return _load_file(Path(target))
    try:
        return importlib.import_module(target)
    except ImportError as exc:
        raise InvalidArgumentError(
            f"cannot import module {target!r} ({exc}); check the name, or pass a file path "
            "such as examples/order_approval.py"
        ) from exc


def load_function(target: str) -> Any:
    """Return the function ``MODULE:FUNCTION`` (or ``file.py:FUNCTION``) names."""
    module_part, sep, function_name = target.rpartition(":")
    if not sep or not module_part or not function_name:
        raise InvalidArgumentError(
            f"{target!r} is not MODULE:FUNCTION; "
            "for example examples/order_approval.py:order_workflow"
        )
    module = load_module(module_part)
    function = getattr(module, function_name, None)
    if function is None:
        raise InvalidArgumentError(
            f"module {module.__name__!r} has no function {function_name!r}; "
            f"its async functions are: {', '.join(sorted(workflows_in(module))) or 'none'}"
        )
    if not inspect.iscoroutinefunction(function):
        raise InvalidArgumentError(
            f"{target!r} is not an async function; a workflow is `async def fn(ctx, input)`"
        )
    return function


def workflows_in(module: ModuleType) -> dict[str, Any]:
    """The async functions defined in ``module`` (candidates to register as workflows)."""
    return {
        name: value
        for name, value in vars(module).items()
        if inspect.iscoroutinefunction(value) and value.__module__ == module.__name__
    }


def queues_in(module: ModuleType) -> list[Queue]:
    """The :class:`~beluga_workflow.queues.Queue` objects at the top level of ``module``."""
    return [value for value in vars(module).values() if isinstance(value, Queue)]


def _load_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise InvalidArgumentError(f"file {str(path)!r} does not exist")
    name = path.stem
    existing = sys.modules.get(name)
    if existing is not None and Path(getattr(existing, "__file__", "") or "").resolve() == (
        path.resolve()
    ):
        return existing
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InvalidArgumentError(f"cannot load {str(path)!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise InvalidArgumentError(
            f"importing {str(path)!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    return module
