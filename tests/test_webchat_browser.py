"""The widget in a real headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright) on the demo page, against a real server: chat, quick replies, feedback, safe
markdown, unread badge, handoff notice, and the history after a reload."""

from __future__ import annotations

import os
from pathlib import Path

import aiohttp
import pytest
import sqlite_utils
from playwright.async_api import Page, async_playwright, expect

from bot import messages
from bot.app_keys import MANAGER
from bot.channels.webchat.channel import TOKEN_HEADER
from bot.dialogue.manager import Next, stage_name
from bot.dialogue.turn import Turn
from bot.server.settings import ServerSettings
from supportbot.testing import live_server
from supportbot.testing.agents import create_agent, sign_in
from supportbot.testing.browser import CHROMIUM, CHROMIUM_ARGS

INJECTION = '<img src=x onerror="window.__xss = 1">'
ADMIN = {"Authorization": "Bearer widget-admin-token"}
MARKUP_REPLY = (
    f"Careful: {INJECTION} **bold** [docs](https://example.com/help) [bad](javascript:alert(1))"
)


async def markup_reply(turn: Turn, next_stage: Next) -> None:
    """A test-only stage standing in for a bot answer that carries markup; it sits right
    after the logging stage, so the turn is logged and replayed like any other."""
    if turn.text == "show me markup":
        turn.action = "intent_response"
        turn.dispatcher.utter(MARKUP_REPLY)
        return
    await next_stage()


def chromium() -> str:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the widget test needs Debian's chromium "
            "(apt-get install -y chromium; .ci/run installs it)"
        )
    return str(CHROMIUM)


def chat(page: Page):
    return page.locator("#supportbot-chat")


async def send(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Message")
    await box.fill(text)
    await box.press("Enter")


async def test_widget_end_to_end_in_chromium(tiny_model, tmp_path):
    expect.set_options(timeout=15_000)
    orders = {r.text for r in tiny_model.responses["order_status"]}
    screenshot = Path(os.environ.get("WIDGET_SCREENSHOT") or tmp_path / "widget.png")
    settings = ServerSettings(admin_token="widget-admin-token")
    async with (
        live_server(tiny_model, tmp_path / "log.db", settings) as live,
        async_playwright() as pw,
    ):
        stages = live.app[MANAGER].stages
        logged = next(i for i, s in enumerate(stages) if stage_name(s) == "log_turns")
        stages.insert(logged + 1, markup_reply)
        browser = await pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 900, "height": 720})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(live.url + "/")

        launcher = page.get_by_role("button", name="Open chat")
        await launcher.focus()
        await page.keyboard.press("Enter")
        box = page.get_by_role("textbox", name="Message")
        await expect(box).to_be_focused()
        await expect(chat(page).locator(".sb-bot .sb-bubble").first).to_have_text(messages.GREETING)

        await send(page, "where is my order?")
        bot_bubbles = chat(page).locator(".sb-bot .sb-bubble")
        await expect(bot_bubbles).to_have_count(2)
        assert await bot_bubbles.nth(1).text_content() in orders

        await page.get_by_role("button", name="Helpful", exact=True).click()
        await expect(page.get_by_role("button", name="Helpful", exact=True)).to_have_attribute(
            "aria-pressed", "true"
        )

        await page.get_by_role("button", name="Track my order").click()
        customer = chat(page).locator(".sb-customer .sb-bubble")
        await expect(customer).to_have_text(["where is my order?", "Track my order"])
        await expect(bot_bubbles).to_have_count(3)

        await send(page, "show me markup")
        markup = bot_bubbles.nth(3)
        await expect(markup).to_contain_text(INJECTION)
        await expect(chat(page).locator(".sb-quick-reply")).to_have_count(0)
        assert await chat(page).locator(".sb-log img").count() == 0
        assert await markup.locator("strong").text_content() == "bold"
        docs = markup.get_by_role("link", name="docs")
        assert await docs.get_attribute("href") == "https://example.com/help"
        assert await docs.get_attribute("rel") == "noopener noreferrer"
        assert await docs.get_attribute("target") == "_blank"
        assert await markup.get_by_role("link").count() == 1

        await page.keyboard.press("Escape")
        await expect(page.get_by_role("dialog")).to_be_hidden()
        await expect(launcher).to_be_focused()
        token = await page.evaluate(
            "Object.keys(localStorage).map(k => localStorage.getItem(k))[0]"
        )
        secret = create_agent(live.db_path, "dana")
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            await sign_in(session, live.url, "dana", secret)  # a person can take it
            url = live.url + "/webchat/api/messages"
            body = {"text": "I want to talk to a human"}
            async with session.post(url, json=body, headers={TOKEN_HEADER: token}) as response:
                assert response.status == 200
        # the confirmation and the customer's place in the queue
        await expect(chat(page).locator(".sb-badge")).to_have_text("2")
        await expect(page.get_by_role("button", name="Open chat, 2 unread")).to_be_visible()

        await page.reload()
        await page.get_by_role("button", name="Open chat").click()
        await expect(customer).to_have_text(
            ["where is my order?", "Track my order", "show me markup", "I want to talk to a human"]
        )
        await expect(bot_bubbles.nth(3)).to_contain_text(INJECTION)
        await expect(chat(page).locator(".sb-notice")).to_have_text(messages.WEBCHAT_HANDOFF)
        await agent_hands_back_and_takes_over(page, live)
        await expect(
            page.get_by_role("button", name="Helpful", exact=True).first
        ).to_have_attribute("aria-pressed", "true")
        assert await page.evaluate("window.__xss") is None
        assert errors == []
        await page.screenshot(path=str(screenshot))
        await rest_fallback_answers(browser, live.url, orders)
        await browser.close()
    assert screenshot.stat().st_size > 10_000
    [rating] = sqlite_utils.Database(live.db_path)["feedback"].rows
    assert rating["value"] == 1


async def agent_hands_back_and_takes_over(page: Page, live) -> None:
    """The admin endpoint's take and release reach the open widget without a reload."""
    [conversation] = [
        r["conversation_id"] for r in sqlite_utils.Database(live.db_path)["webchat_sessions"].rows
    ]
    notice = chat(page).locator(".sb-notice")
    url = f"{live.url}/admin/conversations/{conversation}/handoff"
    async with aiohttp.ClientSession(headers=ADMIN) as session:
        async with session.post(url, json={"action": "release"}) as response:
            assert response.status == 200
        await expect(notice).to_be_hidden(timeout=1000)
        async with session.post(url, json={"action": "take"}) as response:
            assert response.status == 200
        await expect(notice).to_have_text(messages.WEBCHAT_HANDOFF, timeout=1000)
        await expect(notice).to_be_visible(timeout=1000)


async def rest_fallback_answers(browser, url: str, orders: set[str]) -> None:
    """With every WebSocket refused (a proxy that drops them), the widget answers over REST."""
    context = await browser.new_context()
    page = await context.new_page()
    await page.route_web_socket("**/webchat/ws", refuse_socket)
    await page.goto(url + "/")
    await page.get_by_role("button", name="Open chat").click()
    await send(page, "where is my order?")
    bot_bubbles = chat(page).locator(".sb-bot .sb-bubble")
    await expect(bot_bubbles).to_have_count(2)
    assert await bot_bubbles.nth(1).text_content() in orders
    await expect(chat(page).locator(".sb-customer .sb-bubble")).to_have_text(["where is my order?"])
    await context.close()


async def refuse_socket(route) -> None:
    await route.close(code=1011, reason="refused by the test")
