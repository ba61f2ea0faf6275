"""The result of a contract run, one entry per rule, for people and for scripts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, computed_field

__all__ = ["ContractReport", "Outcome", "RuleResult"]

Outcome = Literal["passed", "failed", "skipped"]


class RuleResult(BaseModel):
    """How one rule fared."""

    model_config = ConfigDict(frozen=True)

    rule: str
    """The rule's name, e.g. ``save.overwrite`` (the test name for a non-rule test)."""
    statement: str = ""
    """The promise in words."""
    capability: str | None = None
    """The capability the rule belongs to, if it checks an optional one."""
    test: str
    """The pytest node id that checked it."""
    outcome: Outcome
    message: str | None = None
    """Why it failed (``rule <name>: ...``) or why it was skipped."""
    note: str | None = None
    """Something the author should know although nothing failed (an undeclared capability
    the store supports, for example)."""
    duration: float = 0.0
    """Seconds spent in setup, test and teardown."""
    details: str | None = None
    """pytest's full failure report (traceback included), for failures only."""


class ContractReport(BaseModel):
    """Everything ``run_contract`` found; ``ok`` says whether the store passed."""

    contract_version: str
    store: str
    """The store that was checked, as given (passwords masked)."""
    provider: str | None = None
    capabilities: list[str] = []
    results: list[RuleResult] = []
    problems: list[str] = []
    """Problems of the run as a whole (collection errors, no rule executed, ...)."""
    exit_code: int
    """pytest's exit code."""
    duration: float = 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> int:
        """Rules that passed."""
        return sum(1 for r in self.results if r.outcome == "passed")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def failed(self) -> int:
        """Rules that failed."""
        return sum(1 for r in self.results if r.outcome == "failed")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def skipped(self) -> int:
        """Rules skipped (undeclared capabilities, for example)."""
        return sum(1 for r in self.results if r.outcome == "skipped")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        """True only if rules ran, none failed, and the run itself had no problem."""
        return self.exit_code == 0 and not self.problems and self.failed == 0 and self.passed > 0

    @property
    def failures(self) -> list[RuleResult]:
        """The failed rules."""
        return [r for r in self.results if r.outcome == "failed"]

    @property
    def notes(self) -> list[str]:
        """Every note of every rule."""
        return [r.note for r in self.results if r.note]
