"""A pytest plugin object that turns test reports into :class:`RuleResult` entries."""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field

import pytest

from beluga_workflow_contract_tests.names import NOTE_PROPERTY, RULE_ATTRIBUTE
from beluga_workflow_contract_tests.report import Outcome, RuleResult
from beluga_workflow_contract_tests.rule import Rule

__all__ = ["ResultCollector"]


@dataclass
class _Pending:
    rule: Rule | None
    outcome: Outcome = "passed"
    message: str | None = None
    note: str | None = None
    details: str | None = None
    duration: float = 0.0


@dataclass(eq=False)  # pluggy keeps plugins in sets: identity hashing
class ResultCollector:
    """Collects one :class:`RuleResult` per test; pass it in ``pytest.main(plugins=...)``."""

    on_progress: Callable[[RuleResult], None] | None = None
    results: list[RuleResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _rules: dict[str, Rule | None] = field(default_factory=dict)
    _pending: dict[str, _Pending] = field(default_factory=dict)
    _messages: dict[tuple[str, str], str] = field(default_factory=dict)
    _callback_errors: list[BaseException] = field(default_factory=list)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        function = getattr(item, "function", None)
        self._rules[item.nodeid] = getattr(function, RULE_ATTRIBUTE, None)
        if call.excinfo is not None:
            value = call.excinfo.value
            message = getattr(value, "msg", None) or str(value) or type(value).__name__
            if not isinstance(
                value, (AssertionError, pytest.fail.Exception, pytest.skip.Exception)
            ):
                message = f"{type(value).__name__}: {message}"
            self._messages[(item.nodeid, call.when)] = message
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        pending = self._pending.setdefault(report.nodeid, _Pending(self._rules.get(report.nodeid)))
        pending.duration += report.duration
        for key, value in report.user_properties:
            if key == NOTE_PROPERTY:
                pending.note = str(value)
        if report.failed and pending.outcome != "failed":
            pending.outcome = "failed"
            message = self._messages.get((report.nodeid, report.when), report.longreprtext)
            if report.when != "call":
                message = f"error in {report.when}: {message}"
            pending.message = message
            pending.details = report.longreprtext
        elif report.skipped and pending.outcome == "passed":
            pending.outcome = "skipped"
            pending.message = self._messages.get((report.nodeid, report.when)) or _skip_reason(
                report
            )
        if report.when == "teardown":
            self._finish(report.nodeid, self._pending.pop(report.nodeid))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.problems.append(
                f"could not collect {report.nodeid or 'the suite'}: {report.longreprtext}"
            )

    def _finish(self, nodeid: str, pending: _Pending) -> None:
        info = pending.rule
        result = RuleResult(
            rule=info.name if info else nodeid.rpartition("::")[2],
            statement=info.statement if info else "",
            capability=str(info.capability) if info and info.capability else None,
            test=nodeid,
            outcome=pending.outcome,
            message=pending.message,
            note=pending.note,
            duration=round(pending.duration, 6),
            details=pending.details,
        )
        self.results.append(result)
        if self.on_progress is not None:
            try:
                self.on_progress(result)
            except Exception as exc:  # raised again once pytest is done
                self._callback_errors.append(exc)

    def raise_callback_error(self) -> None:
        """Re-raise the first exception ``on_progress`` raised, if any."""
        if self._callback_errors:
            raise self._callback_errors[0]


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return report.longreprtext
