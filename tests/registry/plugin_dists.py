"""Builds small third-party plugin distributions and installs them into a folder.

The wheels are built by pip from real ``pyproject.toml`` files and installed
with ``pip install --target``, so the core discovers them through genuine
entry-point metadata, exactly as it would after ``pip install``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ACME_PLUGIN = """
from pydantic import BaseModel
from beluga_workflow import StoreProvider, hookimpl


class AcmeConfig(BaseModel):
    url: str | None = None
    shelves: int = 1


@hookimpl
def beluga_workflow_store_providers():
    return [
        StoreProvider(
            name="{name}",
            factory="{package}.store:create",
            config_model=AcmeConfig,
            url_schemes=("{name}",),
            capabilities=frozenset({{"durable"}}),
            description="Acme test store",
        )
    ]
"""

ACME_STORE = """
from beluga_workflow.providers.inmemory import InMemoryStore


class AcmeStore(InMemoryStore):
    def __init__(self, config):
        super().__init__()
        self.config = config


def create(config):
    return AcmeStore(config)
"""

BROKEN_PLUGIN = """
raise ImportError("acme backend library is missing")
"""

EXITING_PLUGIN = """
import sys

sys.exit(3)
"""

EXITING_HOOK_PLUGIN = """
import sys

from beluga_workflow import hookimpl


@hookimpl
def beluga_workflow_store_providers():
    sys.exit("no providers today")
"""


def build_distribution(
    workdir: Path, dist_name: str, package: str, files: dict[str, str], entry_point: str
) -> Path:
    """Write a project for ``dist_name`` and build its wheel; return the wheel path."""
    project = workdir / dist_name
    (project / package).mkdir(parents=True)
    for name, text in files.items():
        (project / package / name).write_text(textwrap.dedent(text))
    (project / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [build-system]
            requires = ["hatchling"]
            build-backend = "hatchling.build"

            [project]
            name = "{dist_name}"
            version = "1.2.3"

            [project.entry-points.beluga_workflow]
            {entry_point} = "{package}.plugin"

            [tool.hatch.build.targets.wheel]
            packages = ["{package}"]
            """
        )
    )
    wheels = workdir / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(wheels),
            str(project),
        ],
        check=True,
        capture_output=True,
    )
    return next(wheels.glob(f"{dist_name.replace('-', '_')}-*.whl"))


def install(wheel: Path, target: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )


def acme_files(name: str, package: str) -> dict[str, str]:
    return {
        "__init__.py": "",
        "plugin.py": ACME_PLUGIN.format(name=name, package=package),
        "store.py": ACME_STORE,
    }


def broken_files() -> dict[str, str]:
    return {"__init__.py": "", "plugin.py": BROKEN_PLUGIN}


def exiting_files() -> dict[str, str]:
    """A plugin whose module calls ``sys.exit(3)`` when it is imported."""
    return {"__init__.py": "", "plugin.py": EXITING_PLUGIN}


def exiting_hook_files() -> dict[str, str]:
    """A plugin whose hook calls ``sys.exit()`` when asked for its providers."""
    return {"__init__.py": "", "plugin.py": EXITING_HOOK_PLUGIN}
