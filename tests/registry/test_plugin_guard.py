"""Plugin code that exits or raises while it loads is a load error, never the program's end."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from beluga_workflow.errors import ProviderLoadError
from beluga_workflow.plugins.guard import PluginCodeFailed, run_plugin_code
from beluga_workflow.plugins.provider import StoreProvider


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("import sys\nsys.exit(3)\n", "SystemExit: 3"),
        ("raise SystemExit\n", "SystemExit"),
        ("raise RuntimeError('no [backend]\\nhere')\n", "RuntimeError: no [backend] here"),
    ],
    ids=["sys-exit", "bare-system-exit", "runtime-error"],
)
def test_a_store_factory_that_fails_at_import_is_a_load_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, reason: str
) -> None:
    (tmp_path / "failing_factory.py").write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    provider = StoreProvider(name="failing", factory="failing_factory:create")
    with pytest.raises(ProviderLoadError) as raised:
        provider.load_factory()
    assert str(raised.value) == (
        f"store provider 'failing' could not load 'failing_factory:create': {reason}"
    )
    assert "failing_factory" not in sys.modules


def test_a_missing_factory_attribute_is_a_load_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "empty_factory.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    provider = StoreProvider(name="empty", factory="empty_factory:create")
    with pytest.raises(ProviderLoadError, match="could not load 'empty_factory:create'"):
        provider.load_factory()


def test_ctrl_c_in_plugin_code_still_interrupts() -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_plugin_code(interrupted)


def test_a_failure_keeps_its_cause() -> None:
    def exits() -> None:
        sys.exit(7)

    with pytest.raises(PluginCodeFailed) as raised:
        run_plugin_code(exits)
    assert isinstance(raised.value.cause, SystemExit)
    assert raised.value.reason == "SystemExit: 7"
