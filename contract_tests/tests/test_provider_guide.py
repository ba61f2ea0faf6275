"""The provider guide works as written: its example provider is built from the guide's
code blocks, installed, and checked with the contract suite in all three ways shown.

A code block whose first line is ``# file: PATH`` is a file of the example
project; every other Python block and every ``pytest`` command of a bash block
is run with that project installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from beluga_workflow_contract_tests import CONTRACT_VERSION, StoreContract
from beluga_workflow_contract_tests.rule import RULE_ATTRIBUTE, Rule

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "provider-guide.md"
BLOCK = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
FILE_MARKER = re.compile(r"^# file: (\S+)\n")

pytestmark = pytest.mark.slow


def blocks() -> list[tuple[str, str]]:
    """(language, code) of every fenced block of the guide."""
    return [(m.group(1), m.group(3)) for m in BLOCK.finditer(GUIDE.read_text(encoding="utf-8"))]


def project_files() -> dict[str, str]:
    files = {}
    for _, code in blocks():
        marker = FILE_MARKER.match(code)
        if marker:
            files[marker.group(1)] = code
    return files


def install(project: Path, site: Path) -> None:
    """Install the project into ``site`` as pip would: its package and its entry points."""
    metadata = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for package in tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "hatch"
    ]["build"]["targets"]["wheel"]["packages"]:
        shutil.copytree(project / package, site / package)
    dist_info = site / f"{metadata['name'].replace('-', '_')}-{metadata['version']}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {metadata['name']}\nVersion: {metadata['version']}\n",
        encoding="utf-8",
    )
    lines = []
    for group, entries in metadata.get("entry-points", {}).items():
        lines.append(f"[{group}]")
        lines += [f"{name} = {target}" for name, target in entries.items()]
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The example project written from the guide and installed into a site folder."""
    root = tmp_path_factory.mktemp("guide")
    project = root / "jsondir-store"
    for name, code in project_files().items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code, encoding="utf-8")
    site = root / "site"
    install(project, site)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BELUGA_", "PYTEST_"))}
    env["PYTHONPATH"] = str(site)
    return project, env


def run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_guide_has_the_whole_example_project() -> None:
    assert set(project_files()) == {
        "pyproject.toml",
        "jsondir_store/__init__.py",
        "jsondir_store/config.py",
        "jsondir_store/plugin.py",
        "jsondir_store/store.py",
        "tests/test_contract.py",
    }


def test_example_provider_is_discovered_without_importing_its_store(
    example: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    _, env = example
    code = (
        "import sys\n"
        "from beluga_workflow import available_stores\n"
        "info = {i.name: i for i in available_stores()}['jsondir']\n"
        "print(info.capabilities, info.distribution, 'jsondir_store.store' in sys.modules)\n"
    )
    completed = run([sys.executable, "-c", code], tmp_path, env)

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["('durable',", "'multi_process')", "jsondir-store", "False"]


def test_pytest_commands_of_the_guide_pass(
    example: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    project, env = example
    commands = [
        line
        for language, code in blocks()
        if language == "bash"
        for line in code.splitlines()
        if line.startswith("pytest ")
    ]
    assert any("tests/test_contract.py" in c for c in commands)
    assert any("--beluga-store" in c for c in commands)
    for number, command in enumerate(commands):
        # The subclass runs in the project; --beluga-store runs in an empty folder.
        folder = project if "tests/" in command else tmp_path / f"run{number}"
        folder.mkdir(exist_ok=True)
        completed = run([sys.executable, "-m", *shlex_split(command)], folder, env)
        assert completed.returncode == 0, (command, completed.stdout[-3000:])
        assert " passed" in completed.stdout, command
        assert "failed" not in completed.stdout, command
        if "jsondir" in command or "tests/" in command:
            # Both declared capabilities were checked, not skipped.
            assert "'durable' is not declared" not in completed.stdout
            assert "'multi_process' is not declared" not in completed.stdout


def test_python_examples_of_the_guide_run(
    example: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    _, env = example
    scripts = [
        code for language, code in blocks() if language == "python" and not FILE_MARKER.match(code)
    ]
    assert scripts
    for number, code in enumerate(scripts):
        script = tmp_path / f"example{number}.py"
        script.write_text(code, encoding="utf-8")
        completed = run([sys.executable, str(script)], tmp_path, env)
        assert completed.returncode == 0, (code, completed.stdout, completed.stderr)
        if "run_contract" in code:
            assert "ok " in completed.stdout
            assert " passed" in completed.stdout


def test_rule_table_lists_every_rule_of_the_suite() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \| (.+?) \|$", text, re.MULTILINE))
    rules = {
        rule.name: rule
        for name in dir(StoreContract)
        if isinstance(rule := getattr(getattr(StoreContract, name), RULE_ATTRIBUTE, None), Rule)
    }

    assert table == {name: rule.statement for name, rule in rules.items()}
    assert f"Contract version {CONTRACT_VERSION} " in text
    assert f"### {CONTRACT_VERSION}\n" in text


def shlex_split(command: str) -> list[str]:
    import shlex

    return shlex.split(command)
