"""Masking secrets in URLs and DSNs before they reach an error, a log or a repr."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["MASK", "redact_text", "redact_url"]

MASK = "***"
_TOKEN_SCHEMES = ("redis", "rediss", "nats", "tls")

_DSN_PASSWORD = re.compile(
    r"(?i)\b(password|passwd|pwd|sasl_plain_password|token)\s*=\s*('[^']*'|[^\s&#]+)"
)
_URL_IN_TEXT = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
_QUERY_SECRET = re.compile(
    r"(?i)([?&](?:password|passwd|pwd|token|secret|sasl_plain_password)=)[^&#]*"
)


def redact_url(url: str) -> str:
    """Return ``url`` with any password (userinfo, query or ``key=value`` DSN) masked.

    Handles ``scheme://user:pass@host/...``, secrets in the query string and
    libpq-style ``host=... password=...`` strings. The user name is kept so
    the message still says who tried to connect.
    """
    text = _DSN_PASSWORD.sub(lambda m: f"{m.group(1)}={MASK}", url)
    text = _QUERY_SECRET.sub(lambda m: f"{m.group(1)}{MASK}", text)
    if "://" not in text:
        return text
    try:
        parts = urlsplit(text)
    except ValueError:
        return MASK
    if "@" not in parts.netloc:
        return text
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user, has_password, _ = userinfo.partition(":")
    if not has_password:
        if user and not parts.scheme.startswith(_TOKEN_SCHEMES):
            return text
        # redis://secret@host and nats://token@host: the userinfo alone is a secret.
        userinfo = MASK if user else userinfo
    else:
        userinfo = f"{user}:{MASK}"
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{hostinfo}"))


def redact_text(text: str) -> str:
    """Mask secrets in every URL and ``password=`` pair found inside free text."""
    text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
    return _DSN_PASSWORD.sub(lambda m: f"{m.group(1)}={MASK}", text)
