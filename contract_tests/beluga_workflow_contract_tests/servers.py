"""Finding the real server a provider's tests need, or saying how to start it.

On a developer machine a missing server skips the test with the command that
starts it; under ``CI=true`` it fails the test, because a CI run that silently
skipped every server test would prove nothing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence

import pytest

__all__ = ["free_port", "in_ci", "port_is_open", "private_server", "require_server"]


def in_ci() -> bool:
    """True when running under CI (``CI`` set to a true-ish value)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def port_is_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """True if a TCP connection to ``host:port`` succeeds within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_server(name: str, host: str, port: int, how_to_start: str) -> None:
    """Skip (or, under CI, fail) the calling test unless ``host:port`` accepts connections."""
    if port_is_open(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}; start it with: {how_to_start}"
    if in_ci():
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    """A local TCP port nothing listens on (bound once by the OS, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def private_server(argv: Sequence[str], port: int, *, ready_within: float = 10.0) -> Iterator[int]:
    """Run a server of this test's own (say, one that requires a password) on ``port``.

    Skips (or, under CI, fails) when the program is not installed; stops the
    process it started, by its id, on exit.
    """
    if shutil.which(argv[0]) is None:
        message = f"{argv[0]} is not installed"
        if in_ci():
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + ready_within
        while not port_is_open("127.0.0.1", port, timeout=0.2):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{argv[0]} did not start on port {port}")
            time.sleep(0.02)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
