"""The real ``beluga-workflow`` command, run in subprocesses on an SQLite file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ORDER = str(ROOT / "examples" / "order_approval.py")
NAPPING = str(Path(__file__).with_name("napping_app.py"))


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "beluga_workflow.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env or _env(),
        check=False,
    )


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BELUGA_WORKFLOW_")}
    env.update(extra, COLUMNS="200")
    return env


def start(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "beluga_workflow.cli", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for_line(path: Path, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in {path}")


def order_input(order_id: str, **extra: object) -> str:
    return json.dumps({"order_id": order_id, "amount": 10, "cooling_off": 0.1, **extra})


def test_run_prints_the_result_and_exits_zero(tmp_path: Path) -> None:
    done = cli(
        "run",
        f"{ORDER}:order_workflow",
        "--id",
        "o1",
        "--store",
        "sqlite:///o.db",
        "--input",
        order_input("A-1", approval_timeout=0.2, auto_approve=True),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert '"status": "shipped"' in done.stdout
    assert done.stdout.startswith("Result: ")


def test_run_json_output_parses_back(tmp_path: Path) -> None:
    done = cli(
        "run",
        f"{ORDER}:order_workflow",
        "--id",
        "o1",
        "--json",
        "--input",
        order_input("A-1", approval_timeout=0.2),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["workflow_id"] == "o1"
    assert payload["status"] == "completed"
    assert payload["result"]["status"] == "rejected"
    assert (tmp_path / "beluga-workflow.db").exists()  # the documented default store


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGKILL], ids=["sigint", "sigkill"])
def test_interrupted_run_is_resumed_by_the_worker(tmp_path: Path, stop: signal.Signals) -> None:
    effects = tmp_path / "effects.txt"
    # The worker that resumes it has the id of the killed process (as a restarted
    # service would), so it takes the run back without waiting for the lease to end.
    env = _env(ORDER_SIDE_EFFECTS=str(effects), BELUGA_WORKFLOW_WORKER_ID="shop-1")
    running = start(
        "run",
        f"{ORDER}:order_workflow",
        "--id",
        "o2",
        "--store",
        "sqlite:///o.db",
        "--input",
        order_input("A-2", approval_timeout=60),
        cwd=tmp_path,
        env=env,
    )
    wait_for_line(effects, "charge 10 for A-2\n")
    time.sleep(0.3)  # let the charge be recorded and the approval wait begin
    running.send_signal(stop)
    _, err = running.communicate(timeout=30)
    if stop is signal.SIGINT:
        assert running.returncode == 130
        assert "beluga-workflow worker" in err
    else:
        assert running.returncode == -signal.SIGKILL
    listed = json.loads(cli("list", "--store", "sqlite:///o.db", "--json", cwd=tmp_path).stdout)
    assert [(w["workflow_id"], w["status"]) for w in listed] == [("o2", "running")]

    sent = cli(
        "signal",
        "o2",
        "approval",
        '{"approved": true, "by": "ana"}',
        "--store",
        "sqlite:///o.db",
        cwd=tmp_path,
    )
    assert sent.returncode == 0, sent.stderr
    resumed = cli("worker", ORDER, "--store", "sqlite:///o.db", cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert "1 workflow(s) finished" in resumed.stdout

    shown = json.loads(
        cli("show", "o2", "--store", "sqlite:///o.db", "--json", cwd=tmp_path).stdout
    )
    assert shown["status"] == "completed"
    assert shown["result"]["approved_by"] == "ana"
    lines = effects.read_text().splitlines()
    assert lines.count("reserve stock for A-2") == 1
    assert lines.count("charge 10 for A-2") == 1  # finished before the stop: not run again
    assert lines.count("ship A-2") == 1


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_stop_during_a_blocking_activity_exits_at_once_and_the_run_resumes_later(
    tmp_path: Path, stop: signal.Signals
) -> None:
    marker = tmp_path / "nap.txt"
    running = start(
        "run",
        f"{NAPPING}:napping_workflow",
        "--id",
        "n1",
        "--store",
        "sqlite:///n.db",
        "--input",
        "20",
        cwd=tmp_path,
        env=_env(NAP_MARKER=str(marker)),
    )
    wait_for_line(marker, "napping")  # the 20-second activity is running in a thread
    stopped_at = time.monotonic()
    running.send_signal(stop)
    _, err = running.communicate(timeout=30)
    assert running.returncode == 130, err
    assert time.monotonic() - stopped_at < 3
    assert "n1 is still running in the store" in err
    listed = json.loads(cli("list", "--store", "sqlite:///n.db", "--json", cwd=tmp_path).stdout)
    assert [(w["workflow_id"], w["status"]) for w in listed] == [("n1", "running")]

    resumed = cli(
        "worker",
        NAPPING,
        "--store",
        "sqlite:///n.db",
        cwd=tmp_path,
        env=_env(NAP_MARKER=str(marker), NAP_SECONDS="0"),
    )
    assert resumed.returncode == 0, resumed.stderr
    shown = json.loads(
        cli("show", "n1", "--store", "sqlite:///n.db", "--json", cwd=tmp_path).stdout
    )
    assert (shown["status"], shown["result"]) == ("completed", {"slept": 20})


def test_list_and_show_render_tables(tmp_path: Path) -> None:
    cli(
        "run",
        f"{ORDER}:order_workflow",
        "--id",
        "o3",
        "--store",
        "sqlite:///o.db",
        "--input",
        order_input("A-3", approval_timeout=0.1),
        cwd=tmp_path,
    )
    listed = cli("list", "--store", "sqlite:///o.db", "--status", "completed", cwd=tmp_path)
    assert listed.returncode == 0
    assert "o3" in listed.stdout
    assert "completed" in listed.stdout
    shown = cli("show", "o3", "--store", "sqlite:///o.db", cwd=tmp_path)
    assert shown.returncode == 0
    assert "charge_payment" in shown.stdout
    assert "activity_failed" in shown.stdout  # the retried attempt is visible


def test_cancel_and_delete(tmp_path: Path) -> None:
    effects = tmp_path / "effects.txt"
    env = _env(ORDER_SIDE_EFFECTS=str(effects))
    running = start(
        "run",
        f"{ORDER}:order_workflow",
        "--id",
        "o4",
        "--store",
        "sqlite:///o.db",
        "--input",
        order_input("A-4", approval_timeout=60),
        cwd=tmp_path,
        env=env,
    )
    wait_for_line(effects, "charge 10 for A-4\n")
    running.kill()
    running.wait()
    assert cli("cancel", "o4", "--store", "sqlite:///o.db", cwd=tmp_path).returncode == 0
    shown = json.loads(
        cli("show", "o4", "--store", "sqlite:///o.db", "--json", cwd=tmp_path).stdout
    )
    assert shown["status"] == "canceled"
    assert cli("delete", "o4", "--store", "sqlite:///o.db", cwd=tmp_path).returncode == 0
    missing = cli("show", "o4", "--store", "sqlite:///o.db", cwd=tmp_path)
    assert missing.returncode == 5


def test_providers_lists_the_installed_stores(tmp_path: Path) -> None:
    done = cli("providers", "--json", cwd=tmp_path)
    assert done.returncode == 0
    names = {p["name"] for p in json.loads(done.stdout)}
    assert {"inmemory", "sqlite"} <= names
    table = cli("providers", cwd=tmp_path)
    assert "durable" in table.stdout


@pytest.mark.parametrize(
    ("args", "code", "advice"),
    [
        (["list", "--store", "nosuch://x"], 3, "installed providers"),
        (["list", "--store", "postgres-typo"], 3, "installed providers"),
        (["list", "--store", "sqlite://host/x.db"], 3, "sqlite:///relative.db"),
        (["run", f"{ORDER}:order_workflow", "--input", "{oops"], 2, "not valid JSON"),
        (["run", "no_such_module_xyz:fn"], 2, "cannot import module"),
        (["run", f"{ORDER}:no_such_fn"], 2, "its async functions are"),
        (["run", "missing-colon"], 2, "MODULE:FUNCTION"),
        (["show", "nobody", "--store", "sqlite:///o.db"], 5, "beluga-workflow list"),
        (["signal", "nobody", "go", "{}", "--store", "sqlite:///o.db"], 5, "nobody"),
        (["cancel", "nobody", "--store", "sqlite:///o.db"], 5, "nobody"),
        (["signal", "x", "go", "{bad", "--store", "sqlite:///o.db"], 2, "not valid JSON"),
        (["list", "--limit", "-1"], 2, "limit"),
        (["list", "--limit", str(2**63), "--store", "sqlite:///o.db"], 2, "--limit"),
        (["nonsense"], 2, "No such command"),
        (["show", "[/]", "--store", "sqlite:///o.db"], 5, "no workflow '[/]' in the store"),
        (["show", "[bold]x\\", "--store", "sqlite:///o.db"], 5, "no workflow '[bold]x\\\\'"),
        (["show", "\udcff", "--store", "sqlite:///o.db"], 2, "'\\udcff' is not valid UTF-8"),
        (["cancel", "\udcff", "--store", "sqlite:///o.db"], 2, "not valid UTF-8"),
        (["signal", "x", "\udcff", "--store", "sqlite:///o.db"], 2, "not valid UTF-8"),
        (["run", f"{ORDER}:order_workflow", "--input", "[" * 10_000], 2, "nested too deeply"),
        (["signal", "x", "go", "[" * 10_000, "--store", "sqlite:///o.db"], 2, "too deeply"),
        (["run", f"{ORDER}:order_workflow", "--timeout", "inf"], 2, "not a duration"),
        (["run", f"{ORDER}:order_workflow", "--timeout", "nan"], 2, "not a duration"),
        (["run", f"{ORDER}:order_workflow", "--timeout", "1e300"], 2, "not a duration"),
        (["run", f"{ORDER}:order_workflow", "--timeout", "0"], 2, "not a duration"),
        (["run", f"{ORDER}:order_workflow", "--timeout", "soon"], 2, "not a number"),
        (["worker", ORDER, "--poll", "-inf"], 2, "not a duration"),
        (["check", "nosuch"], 3, "no store provider named 'nosuch'"),
        (["check", "sqlite", "-o", "nosuch=1"], 3, "invalid configuration"),
    ],
)
def test_errors_exit_non_zero_with_one_line_advice(
    tmp_path: Path, args: list[str], code: int, advice: str
) -> None:
    done = cli(*args, cwd=tmp_path)
    assert done.returncode == code, (done.stdout, done.stderr)
    message = done.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert message.startswith("error:")
    assert advice in message
    assert "Traceback" not in done.stderr


def test_ids_payloads_and_results_with_markup_characters_print_as_typed(tmp_path: Path) -> None:
    workflow_id = "[bold]o[/]\\[x] :smile:"
    text = "[red]in[/] [/] \\ :thumbs_up:"
    seed = str(ROOT / "examples" / "seed.py")
    store = ("--store", "sqlite:///o.db")
    done = cli(
        "run",
        f"{seed}:my_workflow",
        "--id",
        workflow_id,
        "--input",
        json.dumps(text),
        *store,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Result: {json.dumps('processed: ' + text)}\n"
    assert f"workflow {workflow_id} started" in done.stderr
    listed = cli("list", *store, cwd=tmp_path)
    assert workflow_id in listed.stdout
    shown = cli("show", workflow_id, *store, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"{workflow_id}  run ")
    assert f"input:    {json.dumps(text)}" in shown.stdout
    deleted = cli("delete", workflow_id, *store, cwd=tmp_path)
    assert deleted.stdout == f"deleted {workflow_id}\n"


def test_the_install_hint_keeps_its_extra_in_brackets(tmp_path: Path) -> None:
    env = _env(BELUGA_WORKFLOW_PLUGINS="sqlite")  # PostgreSQL's plugin is not loaded
    done = cli("list", "--store", "postgresql://db.example/x", cwd=tmp_path, env=env)
    assert done.returncode == 3, done.stderr
    assert 'install it with: pip install "beluga-workflow[postgres]"' in done.stderr


def test_secret_in_store_url_is_not_printed(tmp_path: Path) -> None:
    done = cli("list", "--store", "nosuch://admin:hunter2@db/x", cwd=tmp_path)
    assert done.returncode == 3
    assert "hunter2" not in done.stderr + done.stdout


def test_seed_example_runs() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "seed.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Result: processed: hello"


@pytest.mark.parametrize("option", [["--store", ""], ["--config", ""]])
def test_an_empty_store_option_is_an_error_not_the_default_file(
    tmp_path: Path, option: list[str]
) -> None:
    done = cli("list", *option, cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.startswith("error:")
    assert not (tmp_path / "beluga-workflow.db").exists()
