"""The agent console and the customer's widget, two pages of a real headless Chromium on a
real server: the customer asks for a person, the conversation appears in the console
within 2 s, the agent claims it and replies, the customer sees the agent's name and
message and answers, the agent sees that live, releases, and the bot answers again."""

from __future__ import annotations

import os
import time
from pathlib import Path

from playwright.async_api import Page, async_playwright, expect

from bot import messages
from supportbot.testing import live_server
from supportbot.testing.agents import create_agent
from tests.test_webchat_browser import CHROMIUM_ARGS, chat, chromium, send


async def sign_in(console: Page, url: str, secret: str) -> None:
    await console.goto(url + "/agent")
    await console.get_by_label("Name").fill("dana")
    await console.get_by_label("Secret").fill(secret)
    await console.get_by_role("button", name="Sign in").click()
    await expect(console.locator("#queue-empty")).to_be_visible()


async def test_customer_and_agent_talk_through_widget_and_console(tiny_model, tmp_path):
    expect.set_options(timeout=15_000)
    orders = {r.text for r in tiny_model.responses["order_status"]}
    screenshot = Path(os.environ.get("AGENT_CONSOLE_SCREENSHOT") or tmp_path / "console.png")
    secret = create_agent(tmp_path / "log.db", "dana")
    async with live_server(tiny_model, tmp_path / "log.db") as live, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        console = await (await browser.new_context()).new_page()
        console.set_default_timeout(15_000)
        await console.set_viewport_size({"width": 1100, "height": 760})
        customer = await (await browser.new_context()).new_page()
        errors: list[str] = []
        for page in (console, customer):
            page.on("pageerror", lambda exc: errors.append(str(exc)))
        await sign_in(console, live.url, secret)

        await customer.goto(live.url + "/")
        await customer.get_by_role("button", name="Open chat").click()
        await send(customer, "I want to talk to a human")
        bot = chat(customer).locator(".sb-bot .sb-bubble")
        await expect(bot.nth(1)).to_have_text(messages.HANDOFF_CONFIRMED)
        asked = time.monotonic()
        item = console.locator(".queue-item")
        await expect(item).to_contain_text("I want to talk to a human", timeout=2000)
        assert time.monotonic() - asked < 2.0

        await item.get_by_role("button").click()
        await console.get_by_role("button", name="Claim").click()
        await expect(chat(customer).locator(".sb-event")).to_have_text(
            messages.AGENT_JOINED.format(agent="Dana")
        )
        reply = console.get_by_role("textbox", name="Reply to the customer")
        await reply.fill("Hi, I'm Dana. How can I help?")
        await console.get_by_role("button", name="Send").click()
        agent_line = chat(customer).locator(".sb-agent")
        await expect(agent_line.locator(".sb-agent-name")).to_have_text("Dana")
        await expect(agent_line.locator(".sb-bubble")).to_have_text("Hi, I'm Dana. How can I help?")

        await send(customer, "my parcel never arrived")
        transcript = console.locator("#transcript")
        await expect(transcript.locator(".t-customer").last).to_contain_text(
            "my parcel never arrived"
        )
        await console.get_by_role("textbox", name="Private note").fill("check the courier")
        await console.get_by_role("button", name="Add note").click()
        await expect(console.locator("#notes li")).to_have_text(["dana: check the courier"])
        await console.screenshot(path=str(screenshot))

        await console.get_by_role("button", name="Release").click()
        await expect(chat(customer).locator(".sb-event").last).to_have_text(
            messages.AGENT_LEFT.format(agent="Dana")
        )
        count = await bot.count()
        await send(customer, "where is my order?")
        await expect(bot).to_have_count(count + 1)
        assert await bot.last.text_content() in orders
        await customer.reload()
        await customer.get_by_role("button", name="Open chat").click()
        await expect(agent_line.locator(".sb-bubble")).to_have_text("Hi, I'm Dana. How can I help?")
        assert errors == []
        await browser.close()
    assert screenshot.stat().st_size > 10_000
