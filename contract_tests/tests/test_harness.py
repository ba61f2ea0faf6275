"""What the harness promises authors: stores closed, foreign data untouched, a usable report."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest

from beluga_workflow import WorkflowState, WorkflowStatus, WorkflowStore
from beluga_workflow_contract_tests import CONTRACT_VERSION, RuleResult, run_contract
from beluga_workflow_contract_tests.installed import InstalledStore, parse_options
from beluga_workflow_contract_tests.runner import run_suite
from contract_tests.tests.broken_stores import ContractStore, Link, SharedBackendStore
from contract_tests.tests.test_proof_of_strength import SUITE, Choose


class TrackedStore(ContractStore):
    """Remembers every instance, to check that the suite closed them all."""

    opened: ClassVar[list[TrackedStore]] = []

    def __init__(self) -> None:
        super().__init__()
        TrackedStore.opened.append(self)


class ForeignDataStore(SharedBackendStore):
    """A durable store whose namespace already holds someone else's states."""

    shared_namespace = True
    backends: ClassVar[list[dict[str, WorkflowState]]] = []
    foreign: ClassVar[list[WorkflowState]] = [
        WorkflowState(workflow_id=f"foreign-{n}", status=list(WorkflowStatus)[n % 4], input=n)
        for n in range(6)
    ]

    @classmethod
    def factory(cls) -> Callable[[], Awaitable[WorkflowStore]]:
        backend = {state.workflow_id: state.model_copy(deep=True) for state in cls.foreign}
        cls.backends.append(backend)
        peers: list[SharedBackendStore] = []

        async def open_one() -> WorkflowStore:
            return cls._on(backend, peers)

        return open_one


class ClosingLink(Link):
    """An outage handle that can be closed, as an ``OutageProxy`` is."""

    closed = False

    async def close(self) -> None:
        self.closed = True


class CutOffStore(SharedBackendStore):
    """Remembers the outage handles the suite opened."""

    links: ClassVar[list[ClosingLink]] = []

    @classmethod
    def outage_factory(cls, store_factory: Any) -> Any:
        async def open_cut_off(operation_timeout: float | None) -> tuple[WorkflowStore, Link]:
            store = await store_factory()
            link = ClosingLink(store)
            cls.links.append(link)
            return store, link

        return open_cut_off


def test_the_outage_handle_a_rule_opens_is_closed_with_its_store() -> None:
    CutOffStore.links.clear()

    report = run_suite([str(SUITE), "-k", "cut_off"], plugins=[Choose(CutOffStore)])

    assert report.ok, [(r.rule, r.message) for r in report.failures]
    assert [r.rule for r in report.results] == ["watch.reconnects"]
    assert len(CutOffStore.links) == 1
    assert CutOffStore.links[0].closed
    assert CutOffStore.links[0].store._closed


def test_every_store_the_suite_opens_is_closed() -> None:
    TrackedStore.opened.clear()

    report = run_suite([str(SUITE)], plugins=[Choose(TrackedStore)])

    assert report.ok
    assert len(TrackedStore.opened) >= len(report.results)
    assert all(store._closed for store in TrackedStore.opened)


def test_shared_namespace_keeps_foreign_data_and_leaves_nothing_behind() -> None:
    ForeignDataStore.backends.clear()

    report = run_suite([str(SUITE)], plugins=[Choose(ForeignDataStore)])

    assert report.ok, [(r.rule, r.message) for r in report.failures]
    assert len(ForeignDataStore.backends) == len(report.results)
    for backend in ForeignDataStore.backends:
        assert sorted(backend) == [state.workflow_id for state in ForeignDataStore.foreign]
        for state in ForeignDataStore.foreign:
            assert backend[state.workflow_id] == state


def test_run_contract_reports_every_rule_as_it_finishes() -> None:
    seen: list[RuleResult] = []

    report = run_contract(
        "inmemory", {}, on_progress=seen.append, pytest_args=["-k", "save or ordered_list"]
    )

    assert report.ok
    assert seen == report.results
    assert report.provider == "inmemory"
    assert report.capabilities == [
        "append_history",
        "compare_and_append",
        "optimistic_concurrency",
        "watch",
    ]
    assert report.contract_version == CONTRACT_VERSION
    rules = {result.rule: result for result in report.results}
    assert rules["save.overwrite"].outcome == "passed"
    assert rules["save.overwrite"].statement.startswith("saving an existing id")
    assert rules["ordered_list.order"].outcome == "skipped"
    assert rules["ordered_list.order"].capability == "ordered_list"
    assert "'ordered_list' is not declared" in (rules["ordered_list.order"].message or "")
    document = json.loads(report.model_dump_json())
    assert document["ok"] is True
    assert document["passed"] == report.passed
    assert document["skipped"] == 1
    assert {"rule", "outcome", "message", "duration"} <= set(document["results"][0])


def test_run_contract_reports_a_failing_rule_with_its_message() -> None:
    report = run_contract("inmemory", {}, pytest_args=["-k", "durable.reopen"])

    assert not report.ok
    assert [r.outcome for r in report.results] == ["skipped"]
    assert any("no contract rule was executed" in p for p in report.problems)


def test_run_contract_refuses_to_run_inside_an_event_loop() -> None:
    async def inside() -> None:
        run_contract("inmemory", {})

    with pytest.raises(RuntimeError, match=r"asyncio\.to_thread"):
        asyncio.run(inside())


def test_placeholders_give_each_test_its_own_namespace(tmp_path: Path) -> None:
    installed = InstalledStore("sqlite:///{tmp_path}/db.sqlite", {"prefix": "ct-{unique}"})
    first = installed.for_test(tmp_path / "a")
    second = installed.for_test(tmp_path / "b")

    assert not installed.shared_namespace
    assert first.spec == f"sqlite:///{(tmp_path / 'a').as_posix()}/db.sqlite"
    assert first.options["prefix"] != second.options["prefix"]
    assert first.spec_mapping() == {"url": first.spec, "prefix": first.options["prefix"]}
    assert InstalledStore("inmemory", {}).shared_namespace
    assert InstalledStore("inmemory", {"a": "1"}).spec_mapping() == {
        "provider": "inmemory",
        "a": "1",
    }


def test_store_options_are_key_value_pairs() -> None:
    assert parse_options(["url=redis://x/0?a=b", "size=3"]) == {
        "url": "redis://x/0?a=b",
        "size": "3",
    }
    with pytest.raises(ValueError, match="key=value"):
        parse_options(["no-equals-sign"])


def test_store_label_masks_passwords() -> None:
    installed = InstalledStore("postgresql://app:s3cret@db/workflows", {})

    assert "s3cret" not in installed.label
