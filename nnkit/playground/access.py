"""Who may use a playground server: on loopback, the server's own pages only; for a classroom
(``host=0.0.0.0``, or any ``token=``), whoever holds the server's token, from any of its
addresses — as Jupyter does.

Every request of a classroom's server — the page, its assets, the WebSocket, the exports —
carries the token: in the address (``?token=...``, the URL the server prints), or in the
cookie the page's answer sets from it. A request without it is refused with 403. A request
from a page (its ``Origin``) must come from the address it asks for (``Host``), so another
site open in a student's browser cannot drive the server with that student's cookie.

>>> room = Access(token="s3cret")
>>> room.refusal("10.0.0.7:8000", None, {"token": "s3cret"}, {})
>>> room.refusal("10.0.0.7:8000", None, {}, {})
'this playground needs its token: open the address it printed (…/?token=...)'
>>> Access(origins=frozenset({"http://127.0.0.1:8000"})).refusal("10.0.0.7:8000", None, {}, {})
"unexpected Host '10.0.0.7:8000'"
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

COOKIE = "nnkit_playground_token"
NO_TOKEN = "this playground needs its token: open the address it printed (…/?token=...)"
TOKEN_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


@dataclass(frozen=True)
class Access:
    """The server's rule: its own ``origins`` (loopback serving), or a ``token`` (a classroom).
    With neither, every request is served."""

    origins: frozenset[str] = field(default_factory=frozenset)
    token: str | None = None

    def refusal(
        self,
        host: str,
        origin: str | None,
        query: Mapping[str, str],
        cookies: Mapping[str, str],
    ) -> str | None:
        """Why a request (its ``Host`` and ``Origin`` headers, query and cookies) is refused,
        or None where it is served."""
        if self.token is not None:
            if not (self.holds(query.get("token")) or self.holds(cookies.get(COOKIE))):
                return NO_TOKEN
            if origin is not None and origin.split("://", 1)[-1] != host:
                return f"unexpected Origin {origin!r} for {host!r}"
            return None
        if self.origins and host not in {o.split("://", 1)[-1] for o in self.origins}:
            return f"unexpected Host {host!r}"
        if origin is not None and self.origins and origin not in self.origins:
            return f"unexpected Origin {origin!r}"
        return None

    def holds(self, given: str | None) -> bool:
        """Whether ``given`` is the token (compared in constant time)."""
        if self.token is None or given is None:
            return False
        return hmac.compare_digest(given.encode(), self.token.encode())


def new_token() -> str:
    """A token nobody guesses: 128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


def check_token(token: str) -> str:
    """``token=`` as given, or a one-line ``ValueError`` (it travels in URLs and cookies).

    >>> check_token("a b")
    Traceback (most recent call last):
    ...
    ValueError: token='a b' should be at least 8 of A-Z, a-z, 0-9, - and _
    """
    if len(token) < 8 or not set(token) <= TOKEN_CHARACTERS:
        raise ValueError(f"token={token!r} should be at least 8 of A-Z, a-z, 0-9, - and _")
    return token


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) reaches only this machine.

    >>> is_loopback("127.0.0.3"), is_loopback("0.0.0.0"), is_loopback("localhost")
    (True, False, True)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def addresses(hosts: list[str]) -> list[str]:
    """The addresses the served ``hosts`` are reached at: every address of this machine for
    ``0.0.0.0`` (its own name's, and loopback), else the hosts themselves.

    >>> addresses(["127.0.0.2", "127.0.0.3"])
    ['127.0.0.2', '127.0.0.3']
    >>> "127.0.0.1" in addresses(["0.0.0.0"])
    True
    """
    found: list[str] = []
    for host in hosts:
        if host not in ("0.0.0.0", ""):
            found.append(host)
            continue
        try:
            named = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
        except OSError:
            named = []
        found += [str(info[4][0]) for info in named] + ["127.0.0.1"]
    return list(dict.fromkeys(found))
