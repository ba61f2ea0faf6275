"""Library log noise off: a command's errors are the one line it promised, nothing before it.

Database and broker clients log their own retries (psycopg's pool logs each
failed connection attempt as a warning and an error), and Python prints those
to stderr when nothing configured logging. The command already says, in one
line, what failed and what to do, so in the command-line process their
loggers report only critical messages. The engine's own loggers are left
alone.
"""

from __future__ import annotations

import logging

__all__ = ["LIBRARY_LOGGERS", "quiet_library_logs"]

LIBRARY_LOGGERS = ("psycopg", "psycopg_pool", "redis", "nats", "aiokafka")


def quiet_library_logs() -> None:
    """Let the client libraries' loggers through only at ``CRITICAL``."""
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
