"""Running the contract against an installed provider chosen on the command line.

``pytest --beluga-store NAME_OR_URL --beluga-store-option key=value`` opens the
store through :func:`beluga_workflow.open_store`; the provider's record says
which capabilities to check. In the store and option values, ``{tmp_path}``
becomes a fresh directory and ``{unique}`` a fresh token for every test, so
``--beluga-store "sqlite:///{tmp_path}/contract.db"`` gives each rule an empty
namespace. Without placeholders the namespace is shared: rules then prefix
their ids and delete them again, leaving other data alone.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from beluga_workflow import WorkflowFilter, WorkflowStore, open_store
from beluga_workflow.config import resolve_store
from beluga_workflow.plugins.registry import default_registry
from beluga_workflow.redaction import redact_text, redact_url

__all__ = ["InstalledStore", "parse_options"]

PLACEHOLDERS = ("{tmp_path}", "{unique}")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def parse_options(pairs: list[str]) -> dict[str, str]:
    """``["key=value", ...]`` as a dict; raise ``ValueError`` naming a malformed pair."""
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--beluga-store-option expects key=value, got {redact_text(pair)!r}")
        options[key.strip()] = value
    return options


@dataclass(frozen=True)
class InstalledStore:
    """The store named on the command line, before placeholders are filled in."""

    spec: str
    options: dict[str, str]

    @property
    def label(self) -> str:
        """The store as given, with passwords masked (for messages)."""
        return redact_url(self.spec)

    @property
    def shared_namespace(self) -> bool:
        """False when placeholders give every test its own namespace."""
        values = [self.spec, *self.options.values()]
        return not any(p in v for v in values for p in PLACEHOLDERS)

    def capabilities(self) -> frozenset[str]:
        """What the provider declares; raises the registry's error if it cannot be found."""
        selection = resolve_store(self.for_test(Path("."), "probe").spec_mapping())
        provider = default_registry().get(selection.provider).provider
        return frozenset(str(c) for c in provider.capabilities)

    def for_test(self, tmp_path: Path, unique: str | None = None) -> InstalledStore:
        """This store with ``{tmp_path}`` and ``{unique}`` filled in for one test."""
        token = unique or secrets.token_hex(4)

        def fill(value: str) -> str:
            return value.replace("{tmp_path}", tmp_path.as_posix()).replace("{unique}", token)

        return InstalledStore(fill(self.spec), {k: fill(v) for k, v in self.options.items()})

    def spec_mapping(self) -> Any:
        """An ``open_store()`` argument holding the spec and every option."""
        if _SCHEME.match(self.spec):
            return {"url": self.spec, **self.options}
        if self.spec.endswith(".toml"):
            if not self.options:
                return self.spec
            table = tomllib.loads(Path(self.spec).read_text(encoding="utf-8")).get("store", {})
            return {**table, **self.options}
        return {"provider": self.spec, **self.options}

    def open(self) -> WorkflowStore:
        """A new store instance."""
        return open_store(self.spec_mapping())

    def problem(self, tmp_path: Path) -> str | None:
        """Why the store cannot be used (unknown, misconfigured, unreachable), or ``None``."""
        try:
            self.capabilities()
            asyncio.run(self.for_test(tmp_path)._probe())
        except Exception as exc:
            return (
                f"--beluga-store {self.label!r} cannot be used: "
                f"{type(exc).__name__}: {redact_text(str(exc))}"
            )
        return None

    async def _probe(self) -> None:
        store = self.open()
        try:
            await store.list(WorkflowFilter(limit=1))
        finally:
            await store.close()
