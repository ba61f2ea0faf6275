"""Failure messages point at the defect: what differs, what led there, and whose error it is."""

from __future__ import annotations

import unicodedata

from beluga_workflow_contract_tests.compare import first_difference
from beluga_workflow_contract_tests.report import RuleResult
from contract_tests.tests.broken_stores import (
    ContractStore,
    DeleteMissingRaises,
    ListDropsHistory,
    LoadCacheSurvivesDelete,
    NormalizesUnicode,
    TruncatesLargeStrings,
)
from contract_tests.tests.test_proof_of_strength import run_against


def only_failure(store_class: type[ContractStore], test_name: str) -> RuleResult:
    report = run_against(store_class, "-k", test_name)
    assert len(report.failures) == 1, [(r.rule, r.outcome) for r in report.results]
    failure = report.failures[0]
    assert failure.message is not None
    return failure


def test_strings_that_render_alike_are_told_apart_by_code_point() -> None:
    composed = unicodedata.normalize("NFC", "caf\u00e9")
    decomposed = unicodedata.normalize("NFD", composed)

    difference = first_difference({"name": decomposed}, {"name": composed})

    assert difference is not None
    assert difference == (
        "state['name']: saved 'cafe\u0301', got 'caf\u00e9'; they differ first at index 3: "
        "saved U+0065 U+0301, got U+00E9"
    )


def test_a_normalizing_store_is_reported_with_the_code_points() -> None:
    failure = only_failure(NormalizesUnicode, "test_unicode")

    assert failure.rule == "fidelity.unicode"
    assert "U+0301" in failure.message  # type: ignore[operator]


def test_long_strings_are_reported_by_length_and_first_differing_index() -> None:
    saved, loaded = "x" * 5000 + "tail", "x" * 5000

    difference = first_difference(saved, loaded)

    assert difference == (
        "state: saved 5004 characters, got 5000; they differ first at index 5000: "
        "saved U+0074 U+0061 U+0069 U+006C, got nothing (saved 'tail', got '')"
    )


def test_a_truncating_store_is_reported_with_both_lengths() -> None:
    failure = only_failure(TruncatesLargeStrings, "test_large_payload")

    assert "characters, got 1048576; they differ first at index 1048576" in failure.message  # type: ignore[operator]


def test_a_failure_lists_the_operations_that_led_to_it() -> None:
    failure = only_failure(LoadCacheSurvivesDelete, "test_delete_removes_the_state")

    assert failure.rule == "delete.removes"
    message = failure.message or ""
    operations = message[message.index("operations: ") :]
    assert "save(<'" in operations
    assert "-doomed') -> a state (completed, 3 events)" in operations
    assert "delete('" in operations
    assert operations.index("delete(") < operations.rindex("load(")


def test_an_error_of_the_store_is_reported_as_the_stores() -> None:
    failure = only_failure(DeleteMissingRaises, "test_delete_of_missing_id_is_a_no_op")

    assert "the store raised KeyError" in failure.message  # type: ignore[operator]
    assert "delete('" in failure.message  # type: ignore[operator]
    assert "raised KeyError" in failure.message  # type: ignore[operator]


def test_an_error_in_the_suites_own_code_is_not_blamed_on_the_store() -> None:
    # The suite mutates history[0] of a listed state; this store lists no history.
    failure = only_failure(ListDropsHistory, "test_mutating_listed_state")

    assert failure.rule == "isolation.after_list"
    assert "the contract suite's own code raised IndexError" in failure.message  # type: ignore[operator]
    assert "isolation.py:" in failure.message  # type: ignore[operator]
    assert "the store raised" not in failure.message  # type: ignore[operator]
