"""The client's address behind a reverse proxy, from `X-Forwarded-For`, trusted only when
the connection comes from a configured proxy (`server.trusted_proxies`).

Why it matters: per-client limits (web chat sessions per minute, the admin audit's
actor) key on `request.remote`. Behind a proxy that is the proxy's address, so every
customer would share one limit and one customer's burst would lock out the rest.

The header is read right to left, skipping addresses of trusted proxies; the first other
address is the client (nginx's `real_ip_recursive`). A header from a peer that is not a
trusted proxy is ignored, so a client cannot choose its own address. aiohttp-remotes was
considered: its strict mode answers 400 to any connection not made through the proxy
(health checks from the host included), and its relaxed mode believes any client's
header, so neither fits a server that is reached both ways.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import hdrs, web

from supportbot.config.server import Network

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def client_address(peer: str | None, forwarded_for: str, trusted: Sequence[Network]) -> str | None:
    """The client's address for a connection from `peer` carrying this header value."""
    if not _is_trusted(peer, trusted):
        return peer
    client = peer
    for hop in reversed([part.strip() for part in forwarded_for.split(",")]):
        if _address(hop) is None:
            break
        client = hop
        if not _is_trusted(hop, trusted):
            break
    return client


def forwarded_middleware(trusted: Sequence[Network]):
    """Sets `request.remote` to the client's address for requests through a trusted proxy."""

    @web.middleware
    async def real_client(request: web.Request, handler: Handler) -> web.StreamResponse:
        header = ",".join(request.headers.getall(hdrs.X_FORWARDED_FOR, []))
        if header:
            remote = client_address(request.remote, header, trusted)
            if remote is not None and remote != request.remote:
                request = request.clone(remote=remote)
        return await handler(request)

    return real_client


def _address(text: str | None):
    try:
        return ipaddress.ip_address(text) if text else None
    except ValueError:
        return None


def _is_trusted(text: str | None, trusted: Sequence[Network]) -> bool:
    address = _address(text)
    return address is not None and any(address in network for network in trusted)
