"""Runs of the contract suite against one chosen store class, here or in worker processes.

The proof tests run the whole suite once per broken store and seed, some 270
sessions that each take one core for a second or more; :class:`SuiteRuns`
runs them in a few worker processes (as many as there are cores, at most
two), each session exactly as it would run in the test process, so the
verdicts are the same and the wait is shorter.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from beluga_workflow_contract_tests.report import ContractReport
from beluga_workflow_contract_tests.runner import run_suite
from contract_tests.tests.broken_stores import ContractStore

SUITE = Path(__file__).with_name("broken_suite.py")
WORKERS = max(1, min(2, os.cpu_count() or 1))


class Choose:
    """A pytest plugin that hands ``store_class`` to the suite as the ``chosen_store`` fixture."""

    def __init__(self, store_class: type[ContractStore]) -> None:
        self.store_class = store_class

    @pytest.fixture
    def chosen_store(self) -> Any:
        return self.store_class


def run_against(store_class: type[ContractStore], *args: str) -> ContractReport:
    """The suite against ``store_class`` in this process (``args`` go to pytest)."""
    return run_suite([str(SUITE), *args], plugins=[Choose(store_class)])


class SuiteRuns:
    """Suite runs started at once in worker processes; each test waits for its own report.

    Workers are started with ``spawn`` (a fresh interpreter, not a fork of the
    test process with its event loops and threads); a store class is sent by
    its importable name.
    """

    def __init__(self, runs: Iterable[tuple[type[ContractStore], tuple[str, ...]]]) -> None:
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(max_workers=WORKERS, mp_context=context)
        self._futures: dict[tuple[type[ContractStore], tuple[str, ...]], Future[ContractReport]]
        self._futures = {}
        for store_class, args in runs:
            if (store_class, args) not in self._futures:
                future = self._pool.submit(run_against, store_class, *args)
                self._futures[store_class, args] = future

    def report(self, store_class: type[ContractStore], *args: str) -> ContractReport:
        """The report of a run submitted at the start (the run's exception if it raised)."""
        future = self._futures.get((store_class, args))
        if future is None:  # not selected at the start: run it here
            return run_against(store_class, *args)
        return future.result()

    def close(self) -> None:
        for future in self._futures.values():
            future.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)
