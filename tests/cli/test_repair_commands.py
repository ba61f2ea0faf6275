"""``beluga-workflow resume`` and ``fork``: a worker runs what they store."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli import _env, cli

APP = str(Path(__file__).with_name("repair_app.py"))
STORE = ("--store", "sqlite:///r.db")


def test_resume_then_fork_from_the_command_line(tmp_path: Path) -> None:
    effects = tmp_path / "effects.txt"
    broken = tmp_path / "broken"
    broken.touch()
    env = _env(REPAIR_SIDE_EFFECTS=str(effects), REPAIR_BROKEN=str(broken))
    failed = cli("run", f"{APP}:three_steps", "--id", "x", *STORE, cwd=tmp_path, env=env)
    assert failed.returncode == 1
    assert "b is broken" in failed.stderr
    assert effects.read_text().splitlines() == ["a"]

    strict = ("--id-reuse", "reject_duplicate")
    refused = cli("run", f"{APP}:three_steps", "--id", "x", *strict, *STORE, cwd=tmp_path, env=env)
    assert refused.returncode == 1
    assert "reject_duplicate" in refused.stderr

    broken.unlink()
    resumed = cli("resume", "x", *STORE, cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed x" in resumed.stdout
    worked = cli("worker", APP, *STORE, cwd=tmp_path, env=env)
    assert worked.returncode == 0, worked.stderr
    shown = json.loads(cli("show", "x", *STORE, "--json", cwd=tmp_path, env=env).stdout)
    assert (shown["status"], shown["result"]) == ("completed", ["a", "b", "c"])
    assert effects.read_text().splitlines() == ["a", "b", "c"]
    again = cli("run", f"{APP}:three_steps", "--id", "x", *STORE, cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr  # the stored run's result; nothing ran again
    assert 'Result: ["a", "b", "c"]' in again.stdout
    assert effects.read_text().splitlines() == ["a", "b", "c"]

    forked = cli("fork", "x", "--from-step", "2", "--id", "y", *STORE, cwd=tmp_path, env=env)
    assert forked.returncode == 0, forked.stderr
    assert "as y" in forked.stdout
    assert cli("worker", APP, *STORE, cwd=tmp_path, env=env).returncode == 0
    shown = json.loads(cli("show", "y", *STORE, "--json", cwd=tmp_path, env=env).stdout)
    assert (shown["status"], shown["result"]) == ("completed", ["a", "b", "c"])
    assert effects.read_text().splitlines() == ["a", "b", "c", "c"]  # only step 3 ran again

    again = cli("resume", "x", *STORE, cwd=tmp_path, env=env)
    assert again.returncode == 1
    assert "completed" in again.stderr
    bad = cli("fork", "x", "--from-step", "9", *STORE, cwd=tmp_path, env=env)
    assert bad.returncode == 2
    assert "from_step" in bad.stderr
