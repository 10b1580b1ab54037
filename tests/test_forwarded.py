"""The client's address behind a reverse proxy: X-Forwarded-For counts only on connections
from a configured proxy, so per-client limits see customers, not the proxy, and a client
cannot pick its own address. Unit rules first, then a real server on loopback."""

from __future__ import annotations

import aiohttp
import pytest
from pydantic import ValidationError

from bot.server.forwarded import client_address
from bot.server.settings import ServerSettings
from supportbot.config import BotConfig, parse_networks
from supportbot.config.channels import WebchatSettings
from supportbot.testing import live_server

PROXIES = parse_networks(["10.0.0.0/8", "127.0.0.1"])


@pytest.mark.parametrize(
    ("peer", "header", "client"),
    [
        ("10.1.2.3", "203.0.113.7", "203.0.113.7"),
        ("10.1.2.3", "198.51.100.1, 203.0.113.7, 10.9.9.9", "203.0.113.7"),
        ("203.0.113.50", "198.51.100.1", "203.0.113.50"),
        ("10.1.2.3", "10.4.4.4, 10.5.5.5", "10.4.4.4"),
        ("10.1.2.3", "not-an-address, 203.0.113.7", "203.0.113.7"),
        ("10.1.2.3", "203.0.113.7, garbage", "10.1.2.3"),
        ("::1", "203.0.113.7", "::1"),
    ],
    ids=[
        "one-proxy",
        "spoofed-left-part-ignored",
        "untrusted-peer-ignored",
        "all-trusted",
        "stops-at-client",
        "malformed-hop",
        "ipv6-peer-untrusted",
    ],
)
def test_client_is_the_rightmost_address_that_is_not_a_trusted_proxy(peer, header, client):
    assert client_address(peer, header, PROXIES) == client


def test_a_bad_proxy_entry_is_a_config_error_naming_the_key():
    with pytest.raises(ValidationError) as caught:
        BotConfig.model_validate({"server": {"trusted_proxies": ["10.0.0.0/8", "proxy.local"]}})
    problem = caught.value.errors()[0]
    assert problem["loc"] == ("server", "trusted_proxies")
    assert "[1] 'proxy.local': not an IP address or network" in problem["msg"]


async def _statuses(url: str, forwarded_for: list[str]) -> list[int]:
    statuses = []
    async with aiohttp.ClientSession() as client:
        for address in forwarded_for:
            headers = {"X-Forwarded-For": address}
            async with client.post(url + "/webchat/api/sessions", headers=headers) as response:
                statuses.append(response.status)
    return statuses


async def test_session_limit_counts_forwarded_clients_only_behind_a_trusted_proxy(
    tiny_model, tmp_path
):
    webchat = WebchatSettings(sessions_per_minute=1)
    customers = ["203.0.113.1", "203.0.113.2", "203.0.113.1"]
    behind_proxy = ServerSettings(webchat=webchat, trusted_proxies=["127.0.0.1"])
    async with live_server(tiny_model, tmp_path / "proxied.db", behind_proxy) as live:
        assert await _statuses(live.url, customers) == [201, 201, 429]
    direct = ServerSettings(webchat=webchat)
    async with live_server(tiny_model, tmp_path / "direct.db", direct) as live:
        assert await _statuses(live.url, customers) == [201, 429, 429]


def test_serve_takes_the_proxies_from_the_models_config():
    from types import SimpleNamespace

    from supportbot.cli.serving import server_settings

    manifest = SimpleNamespace(config={"server": {"trusted_proxies": ["10.0.0.0/8"]}})
    settings = server_settings(SimpleNamespace(manifest=manifest), channels=False)
    assert settings.trusted_proxies == ["10.0.0.0/8"]
