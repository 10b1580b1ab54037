"""`GET /metrics`: scraped with prometheus-client's own parser from a real server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aiohttp
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bot.server.admission import drain
from bot.server.settings import ServerSettings
from supportbot.config import MetricsConfig
from supportbot.testing import free_port, live_server

TOKEN = "metrics-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WEBHOOK = "/webhooks/rest/webhook"
DOCKER = Path(__file__).resolve().parent.parent / "docker"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample by (name, sorted labels)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def total(found: dict, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(value for (n, ls), value in found.items() if n == name and wanted <= set(ls))


def exposed_names(text: str) -> set[str]:
    """Every series name the text declares, with or without a sample yet."""
    suffixes = {
        "counter": ["_total"],
        "histogram": ["_bucket", "_sum", "_count"],
        "info": ["_info"],
    }
    names = set()
    for family in text_string_to_metric_families(text):
        names |= {family.name + suffix for suffix in suffixes.get(family.type, [""])}
        names |= {sample.name for sample in family.samples}
    return names


async def scrape(session: aiohttp.ClientSession, url: str) -> dict:
    async with session.get(url + "/metrics", headers=AUTH) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return samples(await response.text())


async def test_counters_and_histograms_move_by_exactly_the_turns_sent(tiny_model, tmp_path):
    settings = ServerSettings(admin_token=TOKEN)
    n = 7
    async with (
        live_server(tiny_model, tmp_path / "log.db", settings) as live,
        aiohttp.ClientSession() as session,
    ):
        before = await scrape(session, live.url)
        for index in range(n):
            body = {"sender": f"customer-{index}", "message": "where is my order?"}
            async with session.post(live.url + WEBHOOK, json=body) as response:
                assert response.status == 200
        after = await scrape(session, live.url)
        async with session.get(live.url + "/metrics", headers=AUTH) as response:
            text = await response.text()

    def moved(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert moved("supportbot_turns_total", channel="rest", outcome="intent_response") == n
    assert moved("supportbot_turns_total") == n
    assert moved("supportbot_turn_latency_seconds_count", channel="rest") == n
    for stage in ("log_turns", "understand", "response_policy"):
        assert moved("supportbot_stage_latency_seconds_count", stage=stage) == n, stage
    assert moved("supportbot_store_latency_seconds_count", operation="log_turn") == n
    assert 1 <= moved("supportbot_batch_size_count", batcher="model") <= n
    assert moved("supportbot_batch_size_sum", batcher="model") == n
    assert moved("supportbot_handoffs_total") == 0
    assert after[("supportbot_model_info", (("version", tiny_model.version),))] == 1
    assert ("supportbot_encoder_restarts_total", ()) in after
    # No conversation id, sender id or message text in any label.
    assert "customer-" not in text and "where is my order" not in text


async def test_handoffs_are_counted_by_reason(tiny_model, tmp_path):
    settings = ServerSettings(admin_token=TOKEN)
    async with (
        live_server(tiny_model, tmp_path / "log.db", settings) as live,
        aiohttp.ClientSession() as session,
    ):
        body = {"sender": "dana", "message": "I want to talk to a human"}
        async with session.post(live.url + WEBHOOK, json=body) as response:
            assert response.status == 200
        after = await scrape(session, live.url)
    assert total(after, "supportbot_handoffs_total", reason="asked") == 1
    assert total(after, "supportbot_turns_total", outcome="handoff") == 1


async def test_metrics_need_the_admin_token(tiny_model, tmp_path):
    settings = ServerSettings(admin_token=TOKEN)
    async with (
        live_server(tiny_model, tmp_path / "log.db", settings) as live,
        aiohttp.ClientSession() as session,
    ):
        async with session.get(live.url + "/metrics") as response:
            assert response.status == 401
            body = await response.json()
    assert body["error"] == "admin endpoint requires an Authorization: Bearer token"


async def test_busy_refusals_are_counted(tiny_model, tmp_path):
    settings = ServerSettings(admin_token=TOKEN)
    async with (
        live_server(tiny_model, tmp_path / "log.db", settings) as live,
        aiohttp.ClientSession() as session,
    ):
        await drain(live.app, 1.0)  # closed, as on SIGTERM: turns get 503
        body = {"sender": "erin", "message": "hello"}
        async with session.post(live.url + WEBHOOK, json=body) as response:
            assert response.status == 503
        after = await scrape(session, live.url)
    assert total(after, "supportbot_requests_refused_total", status="503", route=WEBHOOK) == 1


async def test_metrics_on_a_port_of_their_own_without_a_token(tiny_model, tmp_path):
    port = free_port()
    settings = ServerSettings(metrics=MetricsConfig(port=port))
    async with (
        live_server(tiny_model, tmp_path / "log.db", settings) as live,
        aiohttp.ClientSession() as session,
    ):
        async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
            assert response.status == 200
            assert "supportbot_turns_total" in await response.text()
        async with session.get(live.url + "/metrics") as response:
            assert response.status == 404


def dashboard_metric_names() -> set[str]:
    dashboard = json.loads((DOCKER / "grafana" / "supportbot.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert exprs, "the dashboard has no queries"
    return {name for expr in exprs for name in re.findall(r"\bsupportbot_[a-z_]+\b", expr)}


async def test_the_dashboard_and_prometheus_use_what_the_server_exposes(tiny_model, tmp_path):
    async with (
        live_server(tiny_model, tmp_path / "log.db", ServerSettings(admin_token=TOKEN)) as live,
        aiohttp.ClientSession() as session,
    ):
        body = {"sender": "fay", "message": "where is my order?"}
        async with session.post(live.url + WEBHOOK, json=body) as response:
            assert response.status == 200
        async with session.get(live.url + "/metrics", headers=AUTH) as response:
            exposed = exposed_names(await response.text())
    assert dashboard_metric_names() - exposed == set()
    assert {"supportbot_turns_total", "supportbot_handoffs_total"} <= dashboard_metric_names()

    compose = yaml.safe_load((DOCKER / "compose.yml").read_text())
    prometheus = compose["services"]["prometheus"]
    assert prometheus["profiles"] == ["metrics"]
    assert "./prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus["volumes"]
    [job] = yaml.safe_load((DOCKER / "prometheus.yml").read_text())["scrape_configs"]
    [target] = job["static_configs"][0]["targets"]
    bot_port = str(compose["services"]["bot"]["ports"][0]).split(":")[-1]
    assert (job["metrics_path"], target) == ("/metrics", f"bot:{bot_port}")
    assert job["authorization"]["credentials_file"] == "/run/secrets/admin_token"
    assert prometheus["secrets"] == ["admin_token"]
    grafana = compose["services"]["grafana"]
    for volume in grafana["volumes"]:
        assert (DOCKER / volume.split(":")[0]).exists(), volume
