"""Patched and unpatched runs keep their paths across a SIGKILL and a restart with new code."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from beluga_workflow.models import EventType
from tests.executor.test_crash_recovery import _finish, _kill, _lines, _start, _stored, _wait_until


@pytest.mark.parametrize(
    ("started_by", "expected"),
    [("before-patch", ["a", "c", "b"]), ("with-patch", ["a", "x", "c", "b"])],
)
def test_a_run_keeps_the_path_it_started_on_when_patched_code_recovers_it(
    tmp_path: Path, started_by: str, expected: list[str]
) -> None:
    store_dir, side_effects = tmp_path / "store", tmp_path / "side-effects.txt"
    child = _start(started_by, "start", "sqlite", store_dir, side_effects)
    _wait_until(lambda: "b" in _lines(side_effects), "the last step to start", child)
    _kill(child)

    # The code deployed now has the patch, whichever code started the run.
    assert _finish(_start("with-patch", "recover", "sqlite", store_dir, side_effects)) == expected
    assert Counter(_lines(side_effects)) == {**{label: 1 for label in expected}, "b": 2}
    state = _stored("sqlite", store_dir)
    markers = [e.change_id for e in state.history if e.type is EventType.MARKER_RECORDED]
    assert markers == (["add-x"] if started_by == "with-patch" else [])
