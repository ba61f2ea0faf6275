"""Splitting a store URL into its parts without trusting it to be well encoded.

Generated passwords often hold ``/``, ``#``, ``?`` or ``@``, and people paste
them into URLs unencoded. A standard parser then cuts the URL in the middle of
the password and hands a piece of it on as a host, port or path, where no
masking finds it. Here the user info is everything between ``scheme://`` and
the **last** ``@``: whatever the password holds, it stays in the user info.
The price is that an ``@`` after the host (in a path or query) must be written
``%40``.

Percent escapes in the user info are decoded; a ``%`` not followed by two hex
digits is taken literally. :meth:`StoreURL.render` writes the URL back with
the user info percent-encoded, which every client library parses the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, quote, unquote, urlencode

__all__ = ["StoreURL"]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


@dataclass(frozen=True)
class StoreURL:
    """``scheme://[userinfo@]location[?query]``, split by the last-``@`` rule.

    ``userinfo`` and ``query`` are ``None`` when the URL has no ``@`` or no
    ``?`` (after the user info); ``location`` is the host part and the path.
    """

    scheme: str
    userinfo: str | None
    location: str
    query: str | None

    @classmethod
    def split(cls, url: str) -> StoreURL | None:
        """The parts of ``url``, or ``None`` when it does not start with ``scheme://``."""
        match = _SCHEME.match(url)
        if match is None:
            return None
        rest = url[match.end() :]
        userinfo: str | None
        userinfo, at, after = rest.rpartition("@")
        if not at:
            userinfo, after = None, rest
        location, question, query = after.partition("?")
        return cls(match.group(1), userinfo, location, query if question else None)

    @property
    def host(self) -> str:
        """The host part (``host[:port]``, possibly a comma-separated list)."""
        return self.location.partition("/")[0]

    @property
    def path(self) -> str:
        """Everything after the host part, starting with ``/`` (or ``""``)."""
        _, slash, path = self.location.partition("/")
        return slash + path

    @property
    def username(self) -> str | None:
        """The decoded user name (the whole user info when it holds no ``:``)."""
        if self.userinfo is None:
            return None
        return unquote(self.userinfo.partition(":")[0])

    @property
    def password(self) -> str | None:
        """The decoded password: what follows the first ``:`` of the user info."""
        if self.userinfo is None or ":" not in self.userinfo:
            return None
        return unquote(self.userinfo.partition(":")[2])

    def query_items(self) -> list[tuple[str, str]]:
        """The query's ``key=value`` pairs, decoded, in order."""
        return parse_qsl(self.query or "", keep_blank_values=True)

    def with_query(self, items: list[tuple[str, str]]) -> StoreURL:
        """This URL with its query replaced by ``items`` (none: no ``?``)."""
        return replace(self, query=urlencode(items, quote_via=quote) if items else None)

    def without_userinfo(self) -> StoreURL:
        return replace(self, userinfo=None)

    def text(self) -> str:
        """The URL as written (user info included, as it was given)."""
        userinfo = "" if self.userinfo is None else self.userinfo + "@"
        query = "" if self.query is None else "?" + self.query
        return f"{self.scheme}://{userinfo}{self.location}{query}"

    def encoded(self) -> str:
        """The URL with its user info percent-encoded, so that any parser reads it alike."""
        if self.userinfo is None:
            return self.text()
        userinfo = quote(self.username or "", safe="")
        if self.password is not None:
            userinfo += ":" + quote(self.password, safe="")
        return replace(self, userinfo=userinfo).text()
