"""Proof that the suite is strong: every store with one defect fails it, on the right rule.

Each broken store (see ``broken_stores.py``) runs the whole suite in a pytest
session of its own, stopping at the first failure, once per seed of
:data:`SEEDS` (the sessions run in worker processes, see ``suite_runs.py``);
the test asserts that a rule failed, which one, and that its
message names the rule.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from contract_tests.tests.broken_lease_stores import BROKEN_LEASE_STORES
from contract_tests.tests.broken_queue_stores import BROKEN_QUEUE_STORES
from contract_tests.tests.broken_stores import (
    BROKEN_STORES,
    CORRECT_STORES,
    ContractStore,
    SortedListStore,
)
from contract_tests.tests.broken_watch_stores import BROKEN_WATCH_STORES
from contract_tests.tests.suite_runs import SUITE, Choose, SuiteRuns, run_against

__all__ = ["SUITE", "Choose", "run_against"]

EVERY_BROKEN_STORE = [
    *BROKEN_STORES,
    *BROKEN_LEASE_STORES,
    *BROKEN_WATCH_STORES,
    *BROKEN_QUEUE_STORES,
]

SEEDS = (0, 1, 20261201)
"""Random seeds each broken store is run with: no verdict may depend on the seed, so
every one must fail the same rule (about 20 s per seed on one core)."""


def _broken_args(seed: int) -> tuple[str, ...]:
    return ("-x", f"--hypothesis-seed={seed}")


@pytest.fixture(scope="module")
def broken_runs(request: pytest.FixtureRequest) -> Iterator[SuiteRuns]:
    """Every selected broken-store run, started in worker processes before the first is needed."""
    selected: list[tuple[type[ContractStore], tuple[str, ...]]] = []
    for item in request.session.items:
        if (
            isinstance(item, pytest.Function)
            and item.originalname == "test_broken_store_fails_the_suite_on_its_rule"
            and item.path == request.path
        ):
            store_class, seed = item.callspec.params["store_class"], item.callspec.params["seed"]
            assert isinstance(store_class, type)
            assert issubclass(store_class, ContractStore)
            assert isinstance(seed, int)
            selected.append((store_class, _broken_args(seed)))
    runs = SuiteRuns(selected)
    yield runs
    runs.close()


def test_there_are_many_broken_stores() -> None:
    assert len(EVERY_BROKEN_STORE) >= 20
    assert len({cls.__name__ for cls in EVERY_BROKEN_STORE}) == len(EVERY_BROKEN_STORE)


@pytest.mark.parametrize("seed", SEEDS, ids=lambda seed: f"seed{seed}")
@pytest.mark.parametrize("store_class", EVERY_BROKEN_STORE, ids=lambda cls: cls.__name__)
def test_broken_store_fails_the_suite_on_its_rule(
    store_class: type[ContractStore], seed: int, broken_runs: SuiteRuns
) -> None:
    report = broken_runs.report(store_class, *_broken_args(seed))

    assert not report.ok
    assert [r.outcome for r in report.results].count("failed") == 1, report.results
    failure = report.failures[0]
    assert failure.rule in store_class.breaks, (failure.rule, failure.message)
    assert failure.message is not None
    assert failure.message.startswith(f"rule {failure.rule}: {failure.statement}")


@pytest.mark.parametrize("store_class", CORRECT_STORES, ids=lambda cls: cls.__name__)
def test_correct_store_passes_every_rule(store_class: type[ContractStore]) -> None:
    report = run_against(store_class)

    assert report.ok, [(r.rule, r.message) for r in report.failures]
    assert report.failed == 0
    declared = {str(c) for c in store_class.capabilities}
    for result in report.results:
        if result.outcome != "skipped":
            continue
        assert result.capability is not None
        assert result.message is not None
        if result.rule == "watch.reconnects":  # a store of its own has no connection to cut
            assert store_class is ContractStore
            assert "provide the outage_factory fixture" in result.message
        elif result.capability in declared:  # checked across processes only with a store_spec
            assert result.rule == "durable.processes"
            assert "provide the store_spec fixture" in result.message
        else:
            assert f"capability {result.capability!r} is not declared" in result.message


def test_undeclared_capability_that_passes_gets_a_note() -> None:
    report = run_against(SortedListStore, "-k", "ordered_list or save.roundtrip")

    (ordered,) = [r for r in report.results if r.rule == "ordered_list.order"]
    assert ordered.outcome == "skipped"
    assert ordered.note is not None
    assert "'ordered_list' is not declared" in ordered.note
    assert "passed rule ordered_list.order" in ordered.note
    assert report.ok
