"""Reusable contract suite for beluga-workflow store providers.

Subclass :class:`StoreContract` in a test module and provide a
``store_factory`` fixture; or run ``pytest --beluga-store NAME`` against an
installed provider; or call :func:`run_contract` for a report.

Names are imported on first use: the package's pytest plugin is loaded into
every pytest run, and must not slow down runs that never use the suite.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from beluga_workflow_contract_tests.context import (
        ContractRun,
        NamespaceFactory,
        StoreFactory,
        StorePoison,
    )
    from beluga_workflow_contract_tests.contract import StoreContract
    from beluga_workflow_contract_tests.report import ContractReport, RuleResult
    from beluga_workflow_contract_tests.rule import Rule, rule
    from beluga_workflow_contract_tests.runner import run_contract
    from beluga_workflow_contract_tests.version import CONTRACT_VERSION

__all__ = [
    "CONTRACT_VERSION",
    "ContractReport",
    "ContractRun",
    "Rule",
    "RuleResult",
    "StoreContract",
    "NamespaceFactory",
    "StoreFactory",
    "StorePoison",
    "rule",
    "run_contract",
]

_HOMES = {
    "CONTRACT_VERSION": "version",
    "ContractReport": "report",
    "ContractRun": "context",
    "Rule": "rule",
    "RuleResult": "report",
    "StoreContract": "contract",
    "NamespaceFactory": "context",
    "StoreFactory": "context",
    "StorePoison": "context",
    "rule": "rule",
    "run_contract": "runner",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
