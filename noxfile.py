"""Developer sessions: ``nox -l`` lists them.

``scripts/test`` runs everything in one environment (what CI does); these
sessions isolate one part each, e.g. ``nox -s "provider(name='redis')"``.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "types", "core", "provider"]

ROOT = Path(__file__).parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
PROVIDERS = sorted(p.parent.name for p in ROOT.glob("providers/*/pyproject.toml"))
PLUGINS = sorted(p.parent.name for p in ROOT.glob("plugins/*/pyproject.toml"))


def _install_workspace(session: nox.Session, *providers: str) -> None:
    session.install(*nox.project.dependency_groups(PYPROJECT, "test"))
    editables = ["-e", ".", "-e", "contract_tests"]
    for name in providers:
        editables += ["-e", f"providers/{name}"]
    session.install("--no-build-isolation", *editables)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff lint and format check."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def types(session: nox.Session) -> None:
    """mypy --strict on the core package."""
    session.install("mypy", "-e", ".")
    session.run("mypy", "beluga_workflow")


@nox.session
def core(session: nox.Session) -> None:
    """The core's own tests and the contract suite's proof of strength."""
    _install_workspace(session, "sqlite")
    session.run("pytest", "tests", "contract_tests/tests", *session.posargs)


@nox.session
@nox.parametrize("name", PROVIDERS)
def provider(session: nox.Session, name: str) -> None:
    """One provider's tests, its contract run included, against its real server."""
    _install_workspace(session, name)
    session.run("pytest", f"providers/{name}/tests", *session.posargs)


@nox.session
@nox.parametrize("name", PLUGINS)
def plugin(session: nox.Session, name: str) -> None:
    """One plugin's tests (plugins/<name>, e.g. OpenTelemetry) on the SQLite store."""
    _install_workspace(session, "sqlite")
    session.install("--no-build-isolation", "-e", f"plugins/{name}")
    session.run("pytest", f"plugins/{name}/tests", *session.posargs)


@nox.session
def contract(session: nox.Session) -> None:
    """The contract suite through its pytest plugin, e.g. ``nox -s contract -- sqlite:///x.db``."""
    _install_workspace(session, *PROVIDERS)
    target = session.posargs[0] if session.posargs else "inmemory"
    session.run(
        "pytest",
        "-p",
        "beluga_workflow_contract_tests.pytest_plugin",
        "--beluga-store",
        target,
        "--pyargs",
        "beluga_workflow_contract_tests",
    )


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks; writes docs/benchmarks.md and a JSON file."""
    _install_workspace(session, *PROVIDERS)
    session.install(*nox.project.dependency_groups(PYPROJECT, "bench"))
    session.run("python", "-m", "benchmarks", *session.posargs)
