"""Calling the lifecycle hooks of installed plugins and of hook objects given to one executor.

Hooks observe; they must never decide a workflow's fate. So each
implementation is called on its own, and an exception it raises is logged and
swallowed instead of stopping the others (pluggy alone would stop at the first
one). The implementations are looked up once, when the executor is built, so an
event nobody listens to costs one dictionary lookup.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import pluggy

from beluga_workflow import hookspecs
from beluga_workflow.errors import InvalidArgumentError
from beluga_workflow.interceptors import Interceptors
from beluga_workflow.models import WorkflowState

__all__ = ["HOOK_NAMES", "Lifecycle"]

logger = logging.getLogger("beluga_workflow.lifecycle")

HOOK_NAMES = (
    "beluga_workflow_on_workflow_start",
    "beluga_workflow_on_workflow_complete",
    "beluga_workflow_on_workflow_fail",
    "beluga_workflow_on_workflow_cancel",
    "beluga_workflow_on_workflow_blocked",
    "beluga_workflow_on_activity_start",
    "beluga_workflow_on_activity_complete",
    "beluga_workflow_on_activity_retry",
    "beluga_workflow_on_activity_fail",
    "beluga_workflow_on_signal",
)

_Implementation = tuple[Callable[..., Any], tuple[str, ...], str]


class Lifecycle:
    """The lifecycle hook implementations one executor calls.

    ``plugin_manager`` holds the installed plugins (the registry's manager);
    ``hooks`` are extra objects whose methods carry :data:`~beluga_workflow.hookimpl`.
    """

    def __init__(
        self, hooks: Iterable[object] = (), *, plugin_manager: pluggy.PluginManager | None = None
    ) -> None:
        own = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        own.add_hookspecs(hookspecs)
        for hook in hooks:
            try:
                own.register(hook)
            except (ValueError, pluggy.PluginValidationError) as exc:
                raise InvalidArgumentError(
                    f"cannot use {hook!r} as lifecycle hooks: {exc}"
                ) from exc
        try:
            own.check_pending()
        except pluggy.PluginValidationError as exc:
            raise InvalidArgumentError(f"unknown lifecycle hook: {exc}") from exc
        managers = [own] if plugin_manager is None else [plugin_manager, own]
        self._implementations: dict[str, list[_Implementation]] = {}
        for name in HOOK_NAMES:
            found: list[_Implementation] = []
            for manager in managers:
                caller = getattr(manager.hook, name, None)
                if caller is None:
                    continue
                for impl in reversed(caller.get_hookimpls()):  # registration order
                    if impl.hookwrapper or impl.wrapper:
                        continue
                    found.append((impl.function, tuple(impl.argnames), impl.plugin_name))
            if found:
                self._implementations[name] = found
        self.interceptors = Interceptors.collect(managers)
        """The step interceptors of the same plugins and hook objects, outermost first."""

    def __bool__(self) -> bool:
        return bool(self._implementations)

    def started(self, state: WorkflowState, workflow_name: str) -> None:
        """Announce a newly stored run (``beluga_workflow_on_workflow_start``)."""
        self.emit(
            "beluga_workflow_on_workflow_start",
            workflow_id=state.workflow_id,
            run_id=state.run_id,
            workflow_name=workflow_name,
            input=state.input,
        )

    def emit(self, hook_name: str, **arguments: Any) -> None:
        """Call every implementation of ``hook_name``; log and swallow their exceptions."""
        implementations = self._implementations.get(hook_name)
        if not implementations:
            return
        for function, argnames, plugin_name in implementations:
            try:
                function(*[arguments[name] for name in argnames])
            except Exception:
                logger.exception(
                    "lifecycle hook %s of %s raised; the workflow carries on",
                    hook_name,
                    plugin_name,
                )
