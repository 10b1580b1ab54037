"""The `server:` section: how `supportbot serve` sits in its network."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from pydantic import Field, field_validator

from supportbot.config.base import Strict

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Sequence[str]) -> list[Network]:
    """Addresses or CIDR ranges; ValueError names the entry that is neither."""
    networks = []
    for position, entry in enumerate(entries):
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"[{position}] {entry!r}: not an IP address or network") from exc
    return networks


class MetricsConfig(Strict):
    """`GET /metrics` (Prometheus text format): behind the admin token on the main port,
    or, with `port`, without a token on a port of its own (bind it to a private network)."""

    enabled: bool = True
    port: int | None = Field(default=None, ge=1, le=65535)
    host: str = "127.0.0.1"
    """The separate port's address (with `port`)."""


class ServerConfig(Strict):
    """How `supportbot serve` sits in its network."""

    trusted_proxies: list[str] = Field(default_factory=list)
    """Reverse proxies (addresses or CIDR ranges) whose `X-Forwarded-For` names the
    client (bot/forwarded.py); empty: the connection's own address is the client's."""

    body_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    """A request body must arrive within this, or the request gets 408."""
    slow_bodies_per_client: int = Field(default=16, ge=1, le=10_000)
    """Requests one client address may have with their body still arriving; beyond: 429."""
    header_timeout_seconds: float = Field(default=15.0, gt=0, le=3600)
    """A connection must send its request headers within this (and may idle this long)."""
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, entries: list[str]) -> list[str]:
        parse_networks(entries)
        return entries
