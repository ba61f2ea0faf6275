"""Options of the SQLite store, validated before any file is touched."""

from __future__ import annotations

from typing import ClassVar, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from beluga_workflow.storekit.config import StoreConfig
from beluga_workflow.storekit.schemes import published_schemes

__all__ = ["MEMORY", "SQLiteConfig"]

MEMORY = ":memory:"


class SQLiteConfig(StoreConfig):
    """Where the database lives and how hard each commit works to survive a crash.

    ``url``: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` or
    ``sqlite://:memory:`` (one private in-memory database, gone on close);
    options may follow in the query (``sqlite:///runs.db?synchronous=NORMAL``).
    ``synchronous`` is SQLite's setting under WAL: ``FULL`` (default) syncs the
    log on every commit, so a committed step survives power loss; ``NORMAL``
    survives a crash of the process but may lose the last commits on power
    loss; ``OFF`` leaves durability to the operating system.
    """

    model_config = ConfigDict(extra="forbid")
    url_schemes: ClassVar[tuple[str, ...]] = published_schemes("sqlite")
    shown_fields: ClassVar[dict[str, str]] = {"path": "path", "synchronous": "synchronous"}

    url: str | None = None
    path: str | None = Field(default=None, description="Database file; alternative to url.")
    synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = "FULL"
    busy_timeout: float = Field(
        default=10.0, gt=0, description="Seconds to wait for another process's write lock."
    )
    max_batch: int = Field(
        default=256, ge=1, description="Most concurrent writes committed in one transaction."
    )
    watch_interval: float = Field(
        default=0.02,
        gt=0,
        description=(
            "Seconds between two looks of a watch() iterator for writes by other "
            "processes or store instances (a cheap PRAGMA when nothing changed); this "
            "store's own writes wake it at once."
        ),
    )
    inline_when_idle: bool = Field(
        default=True,
        description=(
            "Run an operation on the caller's thread when it is the only one waiting and "
            "the store's thread is idle: it saves two thread hand-offs, about a third of a "
            "sequential workflow step, while the event loop waits for that one commit. "
            "False keeps every disk wait off the event loop."
        ),
    )

    @model_validator(mode="after")
    def _path_from_url(self) -> Self:
        if self.url is not None and self.path is not None:
            raise ValueError("give either url or path, not both")
        if self.url is not None:
            self.path = database_path(self.url)
        if not self.path:
            raise ValueError("a database is needed: url='sqlite:///file.db' or path='file.db'")
        return self


def database_path(url: str) -> str:
    """The file path (or ``:memory:``) a ``sqlite://`` URL names."""
    scheme, sep, rest = url.partition("://")
    if scheme.lower() not in SQLiteConfig.url_schemes or not sep:
        raise ValueError(f"expected a sqlite:// URL, got {url!r}")
    if rest in (MEMORY, "/" + MEMORY, ""):
        if rest == "":
            raise ValueError("sqlite:// needs a path: sqlite:///file.db or sqlite://:memory:")
        return MEMORY
    if not rest.startswith("/"):
        raise ValueError(
            f"{url!r} has a host part; use sqlite:///relative.db or sqlite:////absolute.db"
        )
    path = rest[1:]
    if not path:
        raise ValueError("sqlite:/// needs a file name, e.g. sqlite:///runs.db")
    if "?" in path:
        # open_store moves query options out of the URL; one left here is not a file name.
        raise ValueError(
            "a sqlite:// URL with ?options needs open_store; or give them as fields, "
            "and path= for a file name holding '?'"
        )
    return path
