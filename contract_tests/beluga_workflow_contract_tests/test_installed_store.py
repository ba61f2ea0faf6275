"""The ready-made contract test class for ``pytest --beluga-store NAME_OR_URL``.

The pytest plugin adds this module to the run when ``--beluga-store`` is given;
collected without that option, every rule fails and says what is missing.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import pytest

from beluga_workflow import WorkflowStore
from beluga_workflow_contract_tests.contract import StoreContract
from beluga_workflow_contract_tests.installed import InstalledStore
from beluga_workflow_contract_tests.pytest_plugin import installed_store_of

__all__ = ["TestInstalledStore"]


@pytest.fixture(scope="session")
def contract_installed_problem(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> str | None:
    """Open the store once per session, so a bad name or a dead backend fails every rule
    at once instead of timing out in each."""
    installed = installed_store_of(pytestconfig)
    if installed is None:
        return None
    return installed.problem(tmp_path_factory.mktemp("beluga-store-probe"))


class TestInstalledStore(StoreContract):
    """Every rule, against the provider named by ``--beluga-store``."""

    @pytest.fixture
    def contract_installed(self, pytestconfig: pytest.Config) -> InstalledStore | None:
        return installed_store_of(pytestconfig)

    @pytest.fixture
    def contract_setup_problem(
        self, contract_installed: InstalledStore | None, contract_installed_problem: str | None
    ) -> str | None:
        if contract_installed is None:
            return (
                "this module runs the suite against an installed provider; "
                "name it with --beluga-store NAME_OR_URL (options: --beluga-store-option key=value)"
            )
        return contract_installed_problem

    @pytest.fixture
    def contract_capabilities(self, contract_installed: InstalledStore | None) -> Collection[str]:
        if contract_installed is None:
            return frozenset()
        try:
            return contract_installed.capabilities()
        except Exception:
            return frozenset()  # the setup problem already says why

    @pytest.fixture
    def contract_shared_namespace(self, contract_installed: InstalledStore | None) -> bool:
        return contract_installed is None or contract_installed.shared_namespace

    @pytest.fixture
    def contract_test_store(
        self, contract_installed: InstalledStore | None, tmp_path: Path
    ) -> InstalledStore | None:
        return None if contract_installed is None else contract_installed.for_test(tmp_path)

    @pytest.fixture
    def store_factory(self, contract_test_store: InstalledStore | None) -> Any:
        if contract_test_store is None:
            return None
        chosen = contract_test_store

        async def open_one() -> WorkflowStore:
            return chosen.open()

        return open_one

    @pytest.fixture
    def store_spec(self, contract_test_store: InstalledStore | None) -> Any:
        return None if contract_test_store is None else contract_test_store.spec_mapping()
