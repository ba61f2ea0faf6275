"""Finding the real server a provider's tests need, or saying how to start it.

On a developer machine a missing server skips the test with the command that
starts it; under ``CI=true`` it fails the test, because a CI run that silently
skipped every server test would prove nothing.
"""

from __future__ import annotations

import os
import socket

import pytest

__all__ = ["in_ci", "port_is_open", "require_server"]


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
