"""The suite fails loudly when misused, and its plugin stays out of runs that do not use it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from beluga_workflow_contract_tests import run_contract
from beluga_workflow_contract_tests.runner import run_suite

PLAIN_TESTS = """
import pytest

def test_passes():
    assert True

def test_fails():
    assert 1 == 2

@pytest.mark.skip(reason="skipped on purpose")
def test_skipped():
    pass

async def test_coroutine_left_alone():
    pass
"""

INMEMORY_CONTRACT = """
import pytest
from beluga_workflow.providers.inmemory import InMemoryStore
from beluga_workflow_contract_tests import StoreContract


class TestInMemory(StoreContract):
    capabilities = {capabilities}

    @pytest.fixture
    def store_factory(self):
        async def open_one():
            return InMemoryStore()
        return open_one
"""

UNREACHABLE_PLUGIN = """
from beluga_workflow import StoreProvider, hookimpl


@hookimpl
def beluga_workflow_store_providers():
    return [StoreProvider(name="unreachable", factory="unreachable_store.store:create")]
"""

UNREACHABLE_STORE = """
from beluga_workflow import StoreUnavailableError
from beluga_workflow.providers.inmemory import InMemoryStore


class UnreachableStore(InMemoryStore):
    async def list(self, filter=None):
        raise StoreUnavailableError("unreachable: cannot connect to 127.0.0.1:9 within 0.1 s")


def create(config):
    return UnreachableStore()
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def pytest_in(
    folder: Path, *args: str, pythonpath: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run pytest in a new interpreter, configured only by an empty pytest.ini in ``folder``."""
    write(folder / "pytest.ini", "[pytest]\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BELUGA_", "PYTEST_"))}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_missing_store_factory_fails_every_rule_and_says_what_to_add(tmp_path: Path) -> None:
    module = write(
        tmp_path / "test_forgot.py",
        """
        from beluga_workflow_contract_tests import StoreContract

        class TestForgotTheFactory(StoreContract):
            pass
        """,
    )

    report = run_suite([str(module)])

    assert not report.ok
    assert report.passed == 0
    assert report.skipped == 0
    assert report.failed == len(report.results) > 40
    message = report.results[0].message or ""
    assert "TestForgotTheFactory" in message
    assert "no `store_factory` fixture is defined" in message
    assert "async def open_one():" in message


def test_store_factory_may_come_from_a_conftest(tmp_path: Path) -> None:
    write(
        tmp_path / "conftest.py",
        """
        import pytest
        from beluga_workflow.providers.inmemory import InMemoryStore

        @pytest.fixture
        def store_factory():
            async def open_one():
                return InMemoryStore()
            return open_one
        """,
    )
    module = write(
        tmp_path / "test_from_conftest.py",
        """
        from beluga_workflow_contract_tests import StoreContract

        class TestFromConftest(StoreContract):
            capabilities = {"append_history", "optimistic_concurrency"}
        """,
    )

    report = run_suite([str(module), "-k", "save or list or append"])

    assert report.ok, [(r.rule, r.message) for r in report.failures]


def test_unknown_capability_fails_with_the_known_names(tmp_path: Path) -> None:
    module = write(tmp_path / "test_typo.py", INMEMORY_CONTRACT.format(capabilities='{"durabel"}'))

    report = run_suite([str(module), "-x"])

    assert not report.ok
    message = report.failures[0].message or ""
    assert "unknown capability 'durabel'" in message
    assert "durable" in message.split("known capabilities:")[1]


def test_unknown_provider_fails_naming_the_installed_ones() -> None:
    report = run_contract("no-such-store", {})

    assert not report.ok
    assert report.passed == 0
    assert report.failed > 0
    assert any("no store provider named 'no-such-store'" in p for p in report.problems)
    assert all("installed providers: " in (r.message or "") for r in report.results)


def test_invalid_provider_option_fails() -> None:
    report = run_contract("inmemory", {"no_such_option": "1"})

    assert not report.ok
    assert any("ProviderConfigError" in p for p in report.problems)


def test_unknown_provider_on_the_command_line_exits_non_zero(tmp_path: Path) -> None:
    completed = pytest_in(tmp_path, "--beluga-store", "no-such-store", "-x")

    assert completed.returncode == pytest.ExitCode.TESTS_FAILED, completed.stdout
    assert "no store provider named 'no-such-store'" in completed.stdout


def test_unreachable_backend_fails_instead_of_skipping(tmp_path: Path) -> None:
    site = tmp_path / "site"
    write(site / "unreachable_store" / "__init__.py", "")
    write(site / "unreachable_store" / "plugin.py", UNREACHABLE_PLUGIN)
    write(site / "unreachable_store" / "store.py", UNREACHABLE_STORE)
    dist_info = site / "unreachable_store-0.1.dist-info"
    write(dist_info / "METADATA", "Metadata-Version: 2.1\nName: unreachable-store\nVersion: 0.1\n")
    write(
        dist_info / "entry_points.txt",
        "[beluga_workflow]\nunreachable = unreachable_store.plugin\n",
    )

    completed = pytest_in(tmp_path / "run", "--beluga-store", "unreachable", pythonpath=site)

    assert completed.returncode == pytest.ExitCode.TESTS_FAILED, completed.stdout
    assert " passed" not in completed.stdout
    assert "skipped" not in completed.stdout
    assert "cannot be used: StoreUnavailableError" in completed.stdout


def test_requested_suite_that_runs_no_rule_exits_non_zero(tmp_path: Path) -> None:
    completed = pytest_in(tmp_path, "--beluga-store", "inmemory", "-k", "no_rule_matches_this")

    assert completed.returncode == pytest.ExitCode.TESTS_FAILED
    assert "no contract rule was executed" in completed.stdout


def test_store_option_without_store_is_a_usage_error(tmp_path: Path) -> None:
    completed = pytest_in(tmp_path, "--beluga-store-option", "url=x")

    assert completed.returncode == pytest.ExitCode.USAGE_ERROR
    assert "--beluga-store-option needs --beluga-store" in completed.stderr


def test_plugin_leaves_an_unrelated_run_unchanged(tmp_path: Path) -> None:
    write(tmp_path / "test_plain.py", PLAIN_TESTS)

    with_plugin = pytest_in(tmp_path, "-q")
    without_plugin = pytest_in(
        tmp_path, "-q", "-p", "no:beluga_workflow_contract_tests.pytest_plugin"
    )

    assert with_plugin.returncode == without_plugin.returncode == pytest.ExitCode.TESTS_FAILED
    summary = [line for line in with_plugin.stdout.splitlines() if " in " in line][-1]
    assert (
        summary.split(" in ")[0]
        == [line for line in without_plugin.stdout.splitlines() if " in " in line][-1].split(
            " in "
        )[0]
    )
    assert "beluga" not in with_plugin.stdout.lower()
    assert "--beluga-store" in pytest_in(tmp_path, "--help").stdout


@pytest.mark.parametrize(
    "asyncio_args",
    [["-p", "no:asyncio"], ["-p", "asyncio", "-o", "asyncio_mode=auto"]],
    ids=["without-pytest-asyncio", "pytest-asyncio-auto-mode"],
)
def test_suite_runs_with_and_without_pytest_asyncio(
    tmp_path: Path, asyncio_args: list[str]
) -> None:
    write(
        tmp_path / "test_contract.py",
        INMEMORY_CONTRACT.format(capabilities='{"append_history", "optimistic_concurrency"}'),
    )

    completed = pytest_in(
        tmp_path, *asyncio_args, "-k", "save or concurrency or state_machine or lifecycle"
    )

    assert completed.returncode == pytest.ExitCode.OK, completed.stdout
    assert " passed" in completed.stdout
    assert "failed" not in completed.stdout


def test_plugin_imports_nothing_of_the_core_until_asked(tmp_path: Path) -> None:
    code = (
        "import sys, beluga_workflow_contract_tests.pytest_plugin\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'beluga_workflow', 'pydantic', 'hypothesis'}))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )

    assert completed.stdout.strip() == "[]"
