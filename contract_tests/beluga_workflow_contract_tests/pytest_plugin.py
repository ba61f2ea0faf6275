"""pytest plugin of the contract suite: options, and nothing else unless they are used.

``--beluga-store NAME_OR_URL`` (with ``--beluga-store-option key=value``,
repeatable) adds the ready-made test class
:class:`~beluga_workflow_contract_tests.test_installed_store.TestInstalledStore`
to the run. A run that asked for the suite but executed none of its rules ends
with a failure exit code. Notes from rules (a capability the store supports
without declaring it) are listed at the end of any run that produced some.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from beluga_workflow_contract_tests.names import NOTE_PROPERTY, RULE_ATTRIBUTE

if TYPE_CHECKING:
    from beluga_workflow_contract_tests.installed import InstalledStore

__all__ = ["INSTALLED_MODULE", "installed_store_of"]

INSTALLED_MODULE = "beluga_workflow_contract_tests.test_installed_store"
INSTALLED_PATH = Path(__file__).with_name("test_installed_store.py")


_INSTALLED = pytest.StashKey["InstalledStore"]()


def installed_store_of(config: pytest.Config) -> InstalledStore | None:
    """The store given with ``--beluga-store``, or ``None``."""
    return config.stash.get(_INSTALLED, None)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("beluga-workflow", "beluga-workflow store contract")
    group.addoption(
        "--beluga-store",
        metavar="NAME_OR_URL",
        help="run the store contract against this installed provider (a name, a URL or a "
        "TOML file); {tmp_path} and {unique} are filled in per test",
    )
    group.addoption(
        "--beluga-store-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option of the --beluga-store provider's config (repeatable)",
    )
    group.addoption(
        "--beluga-examples",
        type=int,
        metavar="N",
        help="examples the contract's state-machine rule generates (default 25)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_Tally(config), _TALLY_NAME)
    spec = config.getoption("beluga_store")
    pairs = config.getoption("beluga_store_option")
    if spec is None:
        if pairs:
            raise pytest.UsageError("--beluga-store-option needs --beluga-store NAME_OR_URL")
        return
    # Imported only now: a run without --beluga-store never loads the core.
    from beluga_workflow_contract_tests.installed import InstalledStore, parse_options

    try:
        options = parse_options(pairs)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[_INSTALLED] = InstalledStore(spec, options)
    if not _already_collected(config):
        config.args.append(INSTALLED_MODULE if config.option.pyargs else str(INSTALLED_PATH))


def pytest_unconfigure(config: pytest.Config) -> None:
    tally = config.pluginmanager.get_plugin(_TALLY_NAME)
    if tally is not None:
        config.pluginmanager.unregister(tally)


_TALLY_NAME = "beluga-workflow-contract-tally"


class _Tally:
    """Counts executed contract rules and gathers their notes, for one session."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.rules: set[str] = set()
        self.executed = 0
        self.notes: list[str] = []
        self.verdict: str | None = None

    def pytest_itemcollected(self, item: pytest.Item) -> None:
        rule = getattr(getattr(item, "function", None), RULE_ATTRIBUTE, None)
        if rule is not None:  # lets -k select by rule name: -k "save.overwrite or ids"
            item.extra_keyword_matches.add(rule.name)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.rules = {
            item.nodeid
            for item in session.items
            if getattr(getattr(item, "function", None), RULE_ATTRIBUTE, None) is not None
        }

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.nodeid not in self.rules:
            return
        if report.when == "call" and report.outcome in ("passed", "failed"):
            self.executed += 1
        self.notes.extend(str(v) for k, v in report.user_properties if k == NOTE_PROPERTY)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        installed = installed_store_of(self.config)
        if installed is None or self.executed:
            return
        self.verdict = (
            f"the store contract was requested with --beluga-store {installed.label!r} "
            "but no contract rule was executed"
        )
        if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not (self.notes or self.verdict):
            return
        terminalreporter.write_sep("=", "beluga-workflow store contract")
        for note in self.notes:
            terminalreporter.write_line(f"note: {note}")
        if self.verdict:
            terminalreporter.write_line(f"FAILED: {self.verdict}", red=True, bold=True)


def _already_collected(config: pytest.Config) -> bool:
    for arg in config.args:
        target = arg.split("::", 1)[0]
        if config.option.pyargs and target.startswith("beluga_workflow_contract_tests"):
            return True
        try:
            path = Path(target).resolve()
        except OSError:
            continue
        if path == INSTALLED_PATH or path in INSTALLED_PATH.parents:
            return True
    return False
