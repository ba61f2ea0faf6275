"""Stores whose watchers lose notices silently, behind or cut off (see ``broken_stores.py``)."""

from __future__ import annotations

from beluga_workflow.watching import Subscription, Watchers
from contract_tests.tests.broken_stores import ContractStore, SharedBackendStore

FORGETFUL_BACKLOG = 100


class _Forgetful(Subscription):
    """Keeps at most ``FORGETFUL_BACKLOG`` notices and drops the rest silently."""

    def _put(self, item: object) -> None:
        if isinstance(item, str) and len(self._pending) >= FORGETFUL_BACKLOG:
            return
        super()._put(item)  # type: ignore[arg-type]


class _ForgetfulWatchers(Watchers):
    def subscribe(self) -> Subscription:
        subscription = _Forgetful()
        with self._lock:
            self._subscriptions.add(subscription)
        return subscription


class WatchDropsWhenBehind(ContractStore):
    """A watcher that is not read keeps a short backlog and drops later notices, saying nothing."""

    breaks = ("watch.falls_behind",)

    def __init__(self) -> None:
        super().__init__()
        self._watchers = _ForgetfulWatchers()


class WatchSilentAfterReconnect(SharedBackendStore):
    """Listens again after a cut but does not say that notices may have been missed."""

    breaks = ("watch.reconnects",)

    def _restored(self) -> None:
        self._cut = False


class WatchResyncsBeforeReconnecting(SharedBackendStore):
    """Says None as soon as the connection is cut, not once it listens again."""

    breaks = ("watch.reconnects",)

    def _lost(self) -> None:
        self._watchers.notify(None)

    def _restored(self) -> None:
        self._cut = False


class WatchDeafAfterReconnect(SharedBackendStore):
    """Says None once the server is back, but never listens again."""

    breaks = ("watch.reconnects",)

    def _restored(self) -> None:
        self._watchers.notify(None)


BROKEN_WATCH_STORES: list[type[ContractStore]] = [
    WatchDropsWhenBehind,
    WatchSilentAfterReconnect,
    WatchResyncsBeforeReconnecting,
    WatchDeafAfterReconnect,
]
