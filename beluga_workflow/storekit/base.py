"""An optional base class with the frame every store repeats.

A store need not inherit from anything: the executor sees only the
:mod:`beluga_workflow.store` protocols. :class:`StoreBase` gives a new store
what every shipped one has: the closed state and its error, ``async with``,
a repr from the config, and error mapping. :class:`ServerStore` adds what a
store on a server needs: a config built from a URL or given, one time bound
per call, and calls mapped to store errors.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, ClassVar, Generic, Self, TypeVar, cast

from beluga_workflow.bounded import OperationBound
from beluga_workflow.errors import InvalidArgumentError, StoreClosedError
from beluga_workflow.redaction import mask_library_logs
from beluga_workflow.storekit.backend import backend_errors
from beluga_workflow.storekit.config import ServerStoreConfig
from beluga_workflow.url_options import options_from_url

__all__ = ["ServerStore", "StoreBase"]

T = TypeVar("T")
C = TypeVar("C", bound=ServerStoreConfig)


class StoreBase:
    """The closed state, ``async with`` and a repr, for any store.

    ``provider`` names the store in messages (``"redis store ... is
    closed"``); ``where`` says which one (its masked address, a path).
    :meth:`close` marks the store closed, then awaits :meth:`release`, which
    a subclass overrides to free its connections; it may be called again.
    """

    provider: ClassVar[str] = "store"

    def __init__(self) -> None:
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def where(self) -> str:
        """Which store this is, for messages: its address, a path, or nothing."""
        return ""

    @property
    def label(self) -> str:
        """The store as messages name it: ``"redis store redis://host:6379/0"``."""
        return f"{self.provider} store {self.where}" if self.where else f"{self.provider} store"

    def closed_error(self) -> StoreClosedError:
        """The error every call of a closed store raises."""
        return StoreClosedError(f"{self.label} is closed")

    def check_open(self) -> None:
        """Raise :meth:`closed_error` once the store is closed."""
        if self._closed:
            raise self.closed_error()

    def shown(self) -> list[tuple[str, Any]]:
        """The fields of the repr; by default those of ``self.config``, when there is one."""
        config = getattr(self, "config", None)
        shown = getattr(config, "shown", None)
        return list(shown()) if callable(shown) else []

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self.shown())
        return f"{type(self).__name__}({fields})"

    async def close(self) -> None:
        """Close the store: later calls raise ``StoreClosedError``. Idempotent."""
        self._closed = True
        await self.release()

    async def release(self) -> None:
        """Free what the store holds (connections, threads); called by every :meth:`close`."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class ServerStore(StoreBase, Generic[C]):
    """A store on a server: built from a config or a URL, each call bounded and mapped.

    A subclass sets ``provider``, ``config_model`` and ``library_loggers``
    (the client's loggers, whose records get their secrets masked), and runs
    each call through :meth:`bounded`.
    """

    config_model: ClassVar[type[ServerStoreConfig]]
    library_loggers: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: C | str | None = None, **options: Any) -> None:
        super().__init__()
        self.config: C = self.config_from(config, options)
        mask_library_logs(list(self.library_loggers))
        self._bound = OperationBound(self.provider, self.config.address, self.operation_timeout)

    @classmethod
    def config_from(cls, config: C | str | None, options: dict[str, Any]) -> C:
        """The config given, or one from a URL (and options); both at once is refused."""
        if config is None or isinstance(config, str):
            settings = dict(options)
            if config is not None:
                settings["url"] = config
            model = cls.config_model
            return cast(C, model(**options_from_url(model, settings)))
        if options:
            raise InvalidArgumentError(f"give {cls.__name__} a config, or a URL with options")
        return config

    @property
    def operation_timeout(self) -> float:
        """The bound of every call, from the config's ``operation_timeout``."""
        timeout: Any = cast(Any, self.config).operation_timeout
        return float(timeout)

    @property
    def where(self) -> str:
        return self.config.address

    async def bounded(
        self,
        operation: str,
        attempt: Callable[[], Awaitable[T]],
        *,
        outage: tuple[type[BaseException], ...],
        failures: tuple[type[BaseException], ...] = (),
    ) -> T:
        """Run ``attempt`` under the call's bound; ``outage`` errors end as unavailable.

        A closed store raises ``StoreClosedError`` before anything is tried,
        and instead of giving up as unavailable; ``failures`` (the client's
        other errors) become ``StoreError``.
        """
        self.check_open()
        with backend_errors(self, failures):
            return await self._bound.run(operation, attempt, outage=outage)
