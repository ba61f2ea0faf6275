"""Discovery through real entry points of separately built and installed distributions.

Each scenario runs in a fresh interpreter whose ``sys.path`` includes a folder
the plugin wheels were installed into; nothing in the registry is patched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.registry import plugin_dists

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("dists")
    return {
        "acme": plugin_dists.build_distribution(
            work,
            "acme-workflow-store",
            "acme_store",
            plugin_dists.acme_files("acme", "acme_store"),
            "acme",
        ),
        "clone": plugin_dists.build_distribution(
            work,
            "acme-clone",
            "acme_clone",
            plugin_dists.acme_files("acme", "acme_clone"),
            "acme-clone",
        ),
        "broken": plugin_dists.build_distribution(
            work,
            "broken-workflow-store",
            "broken_store",
            plugin_dists.broken_files(),
            "broken",
        ),
        "exiting": plugin_dists.build_distribution(
            work,
            "exiting-workflow-store",
            "exiting_store",
            plugin_dists.exiting_files(),
            "exiting",
        ),
        "exiting-hook": plugin_dists.build_distribution(
            work,
            "exiting-hook-workflow-store",
            "exiting_hook_store",
            plugin_dists.exiting_hook_files(),
            "exiting-hook",
        ),
    }


def site_with(tmp_path: Path, wheels: dict[str, Path], *names: str) -> Path:
    site = tmp_path / "site"
    for name in names:
        plugin_dists.install(wheels[name], site)
    return site


def run_python(code: str, *paths: Path, **env: str) -> dict[str, object]:
    """Run ``code`` in a new interpreter with ``paths`` importable; it prints one JSON line."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BELUGA_WORKFLOW_")}
    environment["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
    environment.update(env)
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


LIST_STORES = """
    import json
    from beluga_workflow import available_stores
    print(json.dumps({i.name: i.model_dump(mode="json") for i in available_stores()}))
"""


def test_third_party_provider_is_found_by_name_and_by_url_scheme(
    tmp_path: Path, wheels: dict[str, Path]
) -> None:
    site = site_with(tmp_path, wheels, "acme")
    result = run_python(
        """
        import json
        from beluga_workflow import open_store
        by_name = open_store("acme", shelves=3)
        by_url = open_store("acme://warehouse/7")
        print(json.dumps({
            "by_name": [type(by_name).__name__, by_name.config.shelves],
            "by_url": [type(by_url).__name__, by_url.config.url],
        }))
        """,
        site,
    )
    assert result == {"by_name": ["AcmeStore", 3], "by_url": ["AcmeStore", "acme://warehouse/7"]}


def test_listing_names_distribution_version_schemes_and_capabilities(
    tmp_path: Path, wheels: dict[str, Path]
) -> None:
    site = site_with(tmp_path, wheels, "acme")
    stores = run_python(LIST_STORES, site)
    acme = stores["acme"]
    assert isinstance(acme, dict)
    assert acme["distribution"] == "acme-workflow-store"
    assert acme["version"] == "1.2.3"
    assert acme["schemes"] == ["acme"]
    assert acme["capabilities"] == ["durable"]
    assert acme["load_error"] is None
    assert "inmemory" in stores


def test_plugin_that_fails_to_import_is_reported_and_the_others_still_work(
    tmp_path: Path, wheels: dict[str, Path]
) -> None:
    site = site_with(tmp_path, wheels, "acme", "broken")
    stores = run_python(LIST_STORES, site)
    broken = stores["broken"]
    assert isinstance(broken, dict)
    assert "acme backend library is missing" in str(broken["load_error"])
    assert broken["distribution"] == "broken-workflow-store"
    opened = run_python(
        """
        import json
        from beluga_workflow import open_store
        print(json.dumps(type(open_store("acme")).__name__))
        """,
        site,
    )
    assert opened == "AcmeStore"


EVERYTHING_ELSE = """
    import asyncio, json
    from beluga_workflow import Executor, WorkflowOptions, available_stores, open_store

    async def greet(ctx, name):
        return f"hello {name}"

    async def run_one():
        async with Executor("memory://") as executor:
            handle = await executor.execute(greet, WorkflowOptions(id="g", input="ana"))
            return await handle.result()

    print(json.dumps({
        "errors": {i.name: i.load_error for i in available_stores() if i.load_error},
        "acme": type(open_store("acme")).__name__,
        "memory": type(open_store("memory://")).__name__,
        "workflow": asyncio.run(run_one()),
    }))
"""


@pytest.mark.parametrize(
    ("plugin", "reason"),
    [("exiting", "SystemExit: 3"), ("exiting-hook", "SystemExit: no providers today")],
    ids=["exit-at-import", "exit-in-hook"],
)
def test_plugin_that_calls_sys_exit_is_reported_and_the_others_still_work(
    tmp_path: Path, wheels: dict[str, Path], plugin: str, reason: str
) -> None:
    site = site_with(tmp_path, wheels, "acme", plugin)
    result = run_python(EVERYTHING_ELSE, site)
    assert result == {
        "errors": {plugin: reason},
        "acme": "AcmeStore",
        "memory": "InMemoryStore",
        "workflow": "hello ana",
    }


def run_cli(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BELUGA_WORKFLOW_")}
    environment.update(PYTHONPATH=str(site), COLUMNS="80", **env)
    return subprocess.run(
        [sys.executable, "-m", "beluga_workflow.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=site.parent,
        check=False,
    )


def test_cli_store_commands_work_beside_a_plugin_that_exits(
    tmp_path: Path, wheels: dict[str, Path]
) -> None:
    site = site_with(tmp_path, wheels, "exiting")
    listed = run_cli(site, "providers", "--json")
    assert listed.returncode == 0, listed.stderr
    errors = {p["name"]: p["load_error"] for p in json.loads(listed.stdout)}
    assert errors["exiting"] == "SystemExit: 3"
    assert errors["sqlite"] is None
    stored = run_cli(site, "list", "--store", "sqlite:///runs.db", "--json")
    assert stored.returncode == 0, stored.stderr
    assert json.loads(stored.stdout) == []


def test_cli_in_strict_mode_names_the_failing_plugin_in_one_line(
    tmp_path: Path, wheels: dict[str, Path]
) -> None:
    site = site_with(tmp_path, wheels, "exiting")
    for args in (["providers"], ["list", "--store", "sqlite:///runs.db"]):
        done = run_cli(site, *args, BELUGA_WORKFLOW_STRICT_PLUGINS="1")
        assert done.returncode == 3, (args, done.stderr)
        assert "Traceback" not in done.stderr
        message = done.stderr.strip()
        assert len(message.splitlines()) == 1, message
        assert message.startswith("error: plugin 'exiting' (exiting_store.plugin)")
        assert message.endswith("failed to import: SystemExit: 3")


def test_strict_mode_reraises_a_failing_plugin(tmp_path: Path, wheels: dict[str, Path]) -> None:
    site = site_with(tmp_path, wheels, "broken")
    result = run_python(
        """
        import json
        from beluga_workflow import ProviderLoadError, available_stores
        try:
            available_stores()
        except ProviderLoadError as exc:
            print(json.dumps(str(exc)))
        else:
            print(json.dumps(None))
        """,
        site,
        BELUGA_WORKFLOW_STRICT_PLUGINS="1",
    )
    assert isinstance(result, str)
    assert "broken" in result
    assert "acme backend library is missing" in result


def test_listing_imports_no_store_module(tmp_path: Path, wheels: dict[str, Path]) -> None:
    site = site_with(tmp_path, wheels, "acme")
    loaded = run_python(
        """
        import json, sys
        from beluga_workflow import available_stores
        available_stores()
        print(json.dumps(sorted(m for m in sys.modules if m.startswith("acme_store"))))
        """,
        site,
    )
    assert loaded == ["acme_store", "acme_store.plugin"]


def test_two_distributions_claiming_one_name_is_an_error_naming_both(
    tmp_path: Path, wheels: dict[str, Path]
) -> None:
    site = site_with(tmp_path, wheels, "acme", "clone")
    result = run_python(
        """
        import json
        from beluga_workflow import open_store
        from beluga_workflow.errors import DuplicateProviderError
        try:
            open_store("acme")
        except DuplicateProviderError as exc:
            print(json.dumps(str(exc)))
        """,
        site,
    )
    assert isinstance(result, str)
    assert "acme-workflow-store" in result
    assert "acme-clone" in result


def test_the_same_distribution_seen_twice_counts_once(
    tmp_path: Path, wheels: dict[str, Path]
) -> None:
    first = site_with(tmp_path / "one", wheels, "acme")
    second = site_with(tmp_path / "two", wheels, "acme")
    result = run_python(
        """
        import json
        from beluga_workflow import available_stores, open_store
        names = [i.name for i in available_stores()]
        print(json.dumps([names.count("acme"), type(open_store("acme")).__name__]))
        """,
        first,
        second,
    )
    assert result == [1, "AcmeStore"]


def test_disabling_autoload_keeps_only_the_builtin_store(
    tmp_path: Path, wheels: dict[str, Path]
) -> None:
    site = site_with(tmp_path, wheels, "acme", "broken")
    stores = run_python(LIST_STORES, site, BELUGA_WORKFLOW_DISABLE_PLUGIN_AUTOLOAD="1")
    assert "acme" not in stores
    assert "broken" not in stores
    assert "inmemory" in stores


def test_allow_list_loads_only_named_plugins_and_builtins(
    tmp_path: Path, wheels: dict[str, Path]
) -> None:
    site = site_with(tmp_path, wheels, "acme", "broken")
    stores = run_python(LIST_STORES, site, BELUGA_WORKFLOW_PLUGINS="acme")
    assert "acme" in stores
    assert "broken" not in stores
    assert "inmemory" in stores
