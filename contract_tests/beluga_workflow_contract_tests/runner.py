"""Run the contract suite in this process and get a report (what ``beluga-workflow check`` uses).

Example::

    from beluga_workflow_contract_tests import run_contract

    report = run_contract("sqlite", {"url": "sqlite:///{tmp_path}/contract.db"})
    for result in report.failures:
        print(result.rule, result.message)
    print(report.model_dump_json(indent=2))   # for --json
    raise SystemExit(0 if report.ok else 1)
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from beluga_workflow_contract_tests.collector import ResultCollector
from beluga_workflow_contract_tests.installed import InstalledStore
from beluga_workflow_contract_tests.pytest_plugin import INSTALLED_PATH
from beluga_workflow_contract_tests.report import ContractReport, RuleResult
from beluga_workflow_contract_tests.version import CONTRACT_VERSION

__all__ = ["run_contract", "run_suite"]

PLUGIN_MODULE = "beluga_workflow_contract_tests.pytest_plugin"
OUTPUT_TAIL = 2000
SETUP_PROBLEM = "the contract suite is not set up correctly"


def run_contract(
    spec: str,
    options: Mapping[str, str],
    *,
    on_progress: Callable[[RuleResult], None] | None = None,
    max_examples: int | None = None,
    pytest_args: Sequence[str] = (),
) -> ContractReport:
    """Check the installed provider ``spec`` against every rule and report per rule.

    ``spec`` is what :func:`beluga_workflow.open_store` takes as a string: a
    provider name (``"sqlite"``), a URL (``"redis://127.0.0.1:6379/0"``) or a
    TOML file path. ``options`` are the provider's config options as strings
    (``{"url": ..., "pool_max_size": "4"}``); pydantic converts them. In the
    spec and the option values ``{tmp_path}`` becomes a fresh directory and
    ``{unique}`` a fresh token for each rule, which gives every rule an empty
    namespace; without them rules share the namespace, use ids of their own and
    delete them afterwards.

    ``on_progress`` is called with each :class:`RuleResult` as soon as its
    rule finishes (to print progress); an exception it raises is re-raised
    after the run. ``max_examples`` sets the state-machine rule's example
    count (default 25). ``pytest_args`` are extra pytest arguments, e.g.
    ``["-x"]`` to stop at the first failure or ``["-k", "fidelity"]``.

    The run happens in this process through ``pytest.main`` with its own
    empty configuration (the caller's pytest.ini, conftest.py files and
    ``PYTEST_ADDOPTS`` do not apply) and its output captured. An unknown
    provider, invalid options or an unreachable backend make every rule fail
    with the reason; a run in which no rule executed is not ``ok``.

    Call it from synchronous code: each rule runs its own event loop, so it
    cannot run inside a running one (use ``asyncio.to_thread`` from async code).
    """
    installed = InstalledStore(spec, dict(options))
    args = [str(INSTALLED_PATH), "--beluga-store", spec]
    for key, value in options.items():
        args += ["--beluga-store-option", f"{key}={value}"]
    if max_examples is not None:
        args += ["--beluga-examples", str(max_examples)]
    report = run_suite([*args, *pytest_args], store=installed.label, on_progress=on_progress)
    try:
        provider_capabilities = installed.capabilities()
        provider = _provider_name(installed)
    except Exception:
        return report
    return report.model_copy(
        update={"provider": provider, "capabilities": sorted(provider_capabilities)}
    )


def run_suite(
    args: Sequence[str],
    *,
    store: str = "",
    on_progress: Callable[[RuleResult], None] | None = None,
    plugins: Sequence[object] = (),
) -> ContractReport:
    """Run pytest with ``args`` in this process and report every contract rule it ran.

    The lower-level form of :func:`run_contract`, for running a test module
    that subclasses ``StoreContract`` (``args`` then names that module).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError(
            "run_contract() runs an event loop per rule and cannot run inside a running "
            "event loop; call it from synchronous code or through asyncio.to_thread()"
        )
    collector = ResultCollector(on_progress=on_progress)
    output = io.StringIO()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="beluga-contract-") as work:
        root = Path(work)
        (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        base = [
            "-c",
            str(root / "pytest.ini"),
            "--rootdir",
            str(root),
            "--basetemp",
            str(root / "tmp"),
            "--import-mode=importlib",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:asyncio",  # rules run their own loops; the plugin would only add noise
            "-q",
        ]
        if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
            base += ["-p", PLUGIN_MODULE]
        with _without_addopts(), contextlib.redirect_stdout(output):
            exit_code = int(pytest.main([*base, *args], plugins=[collector, *plugins]))
    collector.raise_callback_error()
    problems = list(collector.problems)
    for result in collector.results:
        message = result.message or ""
        if message.startswith(SETUP_PROBLEM) and message not in problems:
            problems.append(message)
    text = output.getvalue()
    if "FAILED: the store contract was requested" in text:
        problems.append(text.split("FAILED: ", 1)[1].splitlines()[0])
    if exit_code not in (0, 1) and not problems:
        problems.append(f"pytest exited with code {exit_code}: {text[-OUTPUT_TAIL:].strip()}")
    return ContractReport(
        contract_version=CONTRACT_VERSION,
        store=store,
        results=collector.results,
        problems=problems,
        exit_code=exit_code,
        duration=round(time.perf_counter() - started, 3),
    )


def _provider_name(installed: InstalledStore) -> str:
    from beluga_workflow.config import resolve_store

    return resolve_store(installed.for_test(Path("."), "probe").spec_mapping()).provider


@contextlib.contextmanager
def _without_addopts() -> Iterator[None]:
    saved = os.environ.pop("PYTEST_ADDOPTS", None)
    try:
        yield None
    finally:
        if saved is not None:
            os.environ["PYTEST_ADDOPTS"] = saved
