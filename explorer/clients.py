"""Who is asking: a client identity for rate limits and fair shares of the queue.

A request is made by an API token's holder (``Authorization: Bearer <token>``, when the
operator configured tokens in ``EXPLORER_API_TOKENS``) or else by its network address:
``REMOTE_ADDR``, or with ``EXPLORER_TRUSTED_PROXIES=N`` the N-th address from the right
of ``X-Forwarded-For`` (what the operator's own proxies appended; anything further left
is whatever the client claimed). IPv6 addresses count per /64, as one host usually holds
a whole /64.

The identity stored and logged is never the raw address: ``ip:`` and a keyed hash of it
(HMAC with SECRET_KEY), or ``token:<name>``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest


class UnknownToken(Exception):
    """A bearer token was sent that the server does not know."""


@dataclass(frozen=True)
class Client:
    id: str  # "ip:3f2a…" or "token:<name>"
    is_token: bool = False

    @property
    def factor(self) -> int:
        """How many times the anonymous limits a client gets (tokens: EXPLORER_TOKEN_LIMIT_FACTOR)."""
        return settings.TOKEN_LIMIT_FACTOR if self.is_token else 1


def network_address(request: HttpRequest) -> str:
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    hops = settings.TRUSTED_PROXIES
    if hops > 0:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if len(forwarded) >= hops:
            remote = forwarded[-hops]
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return remote[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _hash(text: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), text.encode(), hashlib.sha256).hexdigest()[:16]


def client_of(request: HttpRequest) -> Client:
    """The client of a request (cached on it). Raises UnknownToken for a bearer token we do not know."""
    cached = getattr(request, "_explorer_client", None)
    if cached is not None:
        return cached
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header[:6].lower() == "bearer":
        token = header[6:].strip()
        name = next((n for n, t in settings.API_TOKENS.items() if hmac.compare_digest(t, token)), None)
        if name is None:
            raise UnknownToken("Unknown API token: check the Authorization header (Bearer <token>).")
        client = Client(f"token:{name}", is_token=True)
    else:
        client = Client(f"ip:{_hash(network_address(request))}")
    request._explorer_client = client
    return client


def parse_tokens(spec: str) -> dict[str, str]:
    """``name=token,name2=token2`` (or one per line) -> {name: token}. Tokens shorter than
    16 characters are refused: a guessable token is worse than none."""
    tokens: dict[str, str] = {}
    for item in spec.replace("\n", ",").split(","):
        item = item.strip()
        if not item or item.startswith("#"):
            continue
        name, sep, token = item.partition("=")
        name, token = name.strip(), token.strip()
        if not sep or not name or len(token) < 16:
            raise ValueError(f"EXPLORER_API_TOKENS: expected name=token with a token of 16+ characters, got {name!r}")
        tokens[name] = token
    return tokens
