"""Selecting a store by name, URL, mapping, TOML file and environment; bad selections."""

from __future__ import annotations

from pathlib import Path

import pytest

from beluga_workflow import (
    InvalidArgumentError,
    ProviderConfigError,
    ProviderNotFoundError,
    open_store,
)
from beluga_workflow.config import resolve_store
from beluga_workflow.providers.inmemory import InMemoryStore


@pytest.fixture(autouse=True)
def _no_store_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BELUGA_WORKFLOW_STORE", raising=False)


@pytest.mark.parametrize(
    "spec", ["inmemory", "memory://", "  inmemory ", {"provider": "inmemory"}, {"url": "memory://"}]
)
def test_in_memory_store_is_selected_by_name_url_and_mapping(spec: object) -> None:
    assert isinstance(open_store(spec), InMemoryStore)  # type: ignore[arg-type]


def test_default_is_in_memory_without_argument_or_environment() -> None:
    assert resolve_store().source == "default"
    assert isinstance(open_store(), InMemoryStore)


def test_environment_variable_selects_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BELUGA_WORKFLOW_STORE", "memory://")
    selection = resolve_store()
    assert selection.provider == "inmemory"
    assert selection.source == "$BELUGA_WORKFLOW_STORE"


def test_toml_file_selects_the_store(tmp_path: Path) -> None:
    config = tmp_path / "store.toml"
    config.write_text('[store]\nprovider = "inmemory"\n')
    assert isinstance(open_store(config), InMemoryStore)
    assert isinstance(open_store(str(config)), InMemoryStore)


def test_toml_file_without_store_table_is_rejected(tmp_path: Path) -> None:
    config = tmp_path / "store.toml"
    config.write_text("[other]\nx = 1\n")
    with pytest.raises(InvalidArgumentError, match=r"no \[store\] table"):
        open_store(config)


def test_missing_toml_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        open_store(tmp_path / "absent.toml")


def test_unknown_name_lists_installed_providers() -> None:
    with pytest.raises(ProviderNotFoundError, match=r"installed providers: .*inmemory") as info:
        open_store("no-such-store")
    assert "pip install" not in str(info.value)


def test_unknown_published_provider_gives_the_pip_install_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BELUGA_WORKFLOW_DISABLE_PLUGIN_AUTOLOAD", "1")
    from beluga_workflow.plugins.registry import ProviderRegistry

    registry = ProviderRegistry.discover()
    with pytest.raises(ProviderNotFoundError, match=r'pip install "beluga-workflow\[redis\]"'):
        open_store("redis://localhost:6379/0", registry=registry)
    with pytest.raises(ProviderNotFoundError, match=r'pip install "beluga-workflow\[postgres\]"'):
        open_store("postgres", registry=registry)


def test_secret_in_url_never_appears_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BELUGA_WORKFLOW_DISABLE_PLUGIN_AUTOLOAD", "1")
    from beluga_workflow.plugins.registry import ProviderRegistry

    registry = ProviderRegistry.discover()
    for url in ["nosuch://admin:hunter2@db.example/x", "memory://admin:hunter2@host/x"]:
        with pytest.raises((ProviderNotFoundError, ProviderConfigError)) as info:
            open_store(url, registry=registry)
        assert "hunter2" not in str(info.value)


def test_bad_option_names_the_provider_and_the_field() -> None:
    with pytest.raises(ProviderConfigError, match=r"store provider 'inmemory'.*shelves"):
        open_store("inmemory", shelves=3)


@pytest.mark.parametrize("spec", ["", "   ", 42, ["inmemory"]])
def test_unusable_selection_is_an_invalid_argument(spec: object) -> None:
    with pytest.raises(InvalidArgumentError):
        open_store(spec)  # type: ignore[arg-type]


def test_not_a_url_in_mapping_is_rejected() -> None:
    with pytest.raises(InvalidArgumentError, match="not a store URL"):
        open_store({"url": "just-text"})


def test_query_options_of_a_url_are_validated_with_the_provider_name() -> None:
    with pytest.raises(ProviderConfigError, match=r"provider 'inmemory'.*unknown option 'x'"):
        open_store("memory://?x=1")
