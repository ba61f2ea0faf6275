"""The capabilities checked are the provider record's, unless the class sets its own."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import ClassVar

from beluga_workflow.plugins.registry import default_registry
from beluga_workflow_contract_tests import StoreContract
from beluga_workflow_contract_tests.capabilities import declared_capabilities
from beluga_workflow_contract_tests.runner import run_suite


class NamesItsProvider(StoreContract):
    provider_name = "inmemory"


class OverridesItsProvider(StoreContract):
    provider_name = "inmemory"
    capabilities: ClassVar[frozenset[str]] = frozenset({"durable"})


def test_a_class_naming_its_provider_checks_the_records_capabilities() -> None:
    record = default_registry().get("inmemory").provider

    assert declared_capabilities(NamesItsProvider) == {str(c) for c in record.capabilities}
    assert "compare_and_append" in declared_capabilities(NamesItsProvider)


def test_capabilities_set_on_the_class_override_the_record() -> None:
    assert declared_capabilities(OverridesItsProvider) == {"durable"}


def test_a_class_naming_no_provider_declares_nothing() -> None:
    assert declared_capabilities(StoreContract) == frozenset()


def test_a_provider_that_is_not_registered_fails_every_rule_naming_it(tmp_path: Path) -> None:
    module = tmp_path / "test_unregistered.py"
    module.write_text(
        textwrap.dedent(
            """
            import pytest
            from beluga_workflow.providers.inmemory import InMemoryStore
            from beluga_workflow_contract_tests import StoreContract

            class TestUnregistered(StoreContract):
                provider_name = "no-such-provider"

                @pytest.fixture
                def store_factory(self):
                    async def open_one():
                        return InMemoryStore()
                    return open_one
            """
        ),
        encoding="utf-8",
    )

    report = run_suite([str(module), "-k", "save or append"])

    assert not report.ok
    assert report.passed == 0
    message = report.failures[0].message or ""
    assert "provider_name is 'no-such-provider'" in message
    assert "inmemory" in message  # the registry names the installed providers
