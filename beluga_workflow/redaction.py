"""Masking secrets in URLs and DSNs before they reach an error, a log or a repr.

Masking never relies on a URL being well formed: the user info is everything
between ``scheme://`` and the last ``@`` (see :mod:`beluga_workflow.store_url`),
so a password holding ``/``, ``#``, ``?``, ``@``, quotes or spaces is masked
whole. When in doubt, more is masked, never less.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable

from beluga_workflow.store_url import StoreURL

__all__ = ["MASK", "mask_library_logs", "redact_text", "redact_url"]

MASK = "***"
_TOKEN_SCHEMES = ("redis", "rediss", "nats", "tls")
"""Schemes whose user info alone (``redis://secret@host``) is a password or token."""
_OPAQUE_SCHEMES = ("nats", "tls")
"""Schemes whose user info is masked whole: a NATS token may hold a ``:`` of its own."""

_SECRET_KEYS = r"password|passwd|pwd|token|secret|sasl_plain_password|auth_token"
_DSN_VALUE = r"""'(?:\\.|[^'\\\n])*'?|"(?:\\.|[^"\\\n])*"?|[^\s'"]\S*"""
_DSN_PASSWORD = re.compile(rf"(?i)(?<![?&;\w])((?:{_SECRET_KEYS})\s*=\s*)(?:{_DSN_VALUE})?")
"""``password=...`` pairs of a libpq-style DSN, quoted values included."""
_QUERY_SECRET = re.compile(rf"(?i)([?&;](?:{_SECRET_KEYS})=)[^&\n]*")
"""A secret in a URL query: masked up to the next ``&`` (or the end of the line)."""
_URL_START = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def redact_url(url: str) -> str:
    """Return ``url`` with any password (user info, query or ``key=value`` DSN) masked.

    Handles ``scheme://user:pass@host/...``, ``redis://:pass@host``, tokens
    (``nats://token@host``), secrets in the query string and libpq-style
    ``host=... password=...`` strings. The user name is kept so the message
    still says who tried to connect.
    """
    parts = StoreURL.split(url)
    if parts is None:
        return _mask_pairs(url)
    masked = parts.scheme + "://"
    if parts.userinfo is not None:
        masked += _masked_userinfo(parts.scheme, parts.userinfo) + "@"
    masked += parts.location
    if parts.query is not None:
        masked += "?" + parts.query
    return _mask_pairs(masked)


def redact_text(text: str) -> str:
    """Mask secrets in every URL and ``password=`` pair found inside free text.

    A URL in text may be followed by quotes, spaces or more words; its user
    info is taken to run to the last ``@`` on its line, so a password holding
    any of those is still masked whole.
    """
    pieces: list[str] = []
    position = 0
    while (found := _URL_START.search(text, position)) is not None:
        line_end = text.find("\n", found.end())
        line_end = len(text) if line_end < 0 else line_end
        at = text.rfind("@", found.end(), line_end)
        pieces.append(text[position : found.end()])
        if at < 0:
            position = found.end()
            continue
        scheme = found.group(0)[:-3]
        pieces.append(_masked_userinfo(scheme, text[found.end() : at]) + "@")
        position = at + 1
    pieces.append(text[position:])
    return _mask_pairs("".join(pieces))


def _masked_userinfo(scheme: str, userinfo: str) -> str:
    user, colon, _ = userinfo.partition(":")
    if scheme.lower() in _OPAQUE_SCHEMES:
        return MASK
    if colon:
        return f"{user}:{MASK}"
    if not user or (scheme.lower() not in _TOKEN_SCHEMES and _plain_user(user)):
        return userinfo
    return MASK  # a token, or something no user name looks like


def _plain_user(user: str) -> bool:
    return not any(c.isspace() or c in "/?#'\"" for c in user)


def _mask_pairs(text: str) -> str:
    text = _QUERY_SECRET.sub(lambda m: f"{m.group(1)}{MASK}", text)
    return _DSN_PASSWORD.sub(lambda m: f"{m.group(1)}{MASK}", text)


# --- logs of client libraries -----------------------------------------------------


class _RedactingFilter(logging.Filter):
    """Rewrites a record's message with its secrets masked; drops nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to logging's own error path
            return True
        masked = redact_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            text = str(exc)
            if redact_text(text) != text:
                record.msg = f"{record.msg} ({type(exc).__name__}: {redact_text(text)})"
                record.exc_info = None
                record.exc_text = None
        return True


_FILTER = _RedactingFilter()
_masked_loggers: set[str] = set()
_masked_lock = threading.Lock()


def mask_library_logs(names: Iterable[str]) -> None:
    """Mask URLs and DSN passwords in what the named loggers (and their children) log.

    A store calls it with its client library's logger names before handing
    that library anything, so a library that logs a connection string at any
    level logs it masked. A filter applies only to records of its own logger,
    so every existing logger and every imported module under those names (the
    ``getLogger(__name__)`` a module may call later) gets one.
    """
    with _masked_lock:
        roots = set(names)
        wanted = set(roots)
        for name in [*logging.Logger.manager.loggerDict, *sys.modules]:
            if any(name.startswith(root + ".") for root in roots):
                wanted.add(name)
        for name in wanted - _masked_loggers:
            logging.getLogger(name).addFilter(_FILTER)
            _masked_loggers.add(name)
