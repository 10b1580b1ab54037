"""Socket Mode: the bot opens a WebSocket to Slack (slack-sdk's aiohttp SocketModeClient)
instead of receiving HTTP requests, for deployments without a public URL.

Requests arrive already authenticated by the app-level token, so there is no signature to
check; each envelope is acknowledged at once and handed to the same channel code as the
HTTP endpoints, so dedupe, threading and background turns behave the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.channels.slack.channel import SlackChannel
from bot.server.http_errors import RequestError
from bot.server.json_input import check_tree

log = logging.getLogger(__name__)


def request_listener(channel: SlackChannel):
    """The listener SocketModeClient calls per envelope: claim it and start its turn (a
    few milliseconds), then acknowledge, as the HTTP endpoints answer after the claim. The
    ack is sent even if the payload is unusable, or Slack would redeliver it."""

    async def listener(client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        try:
            check_tree(request.payload, "payload")
            if request.type == "events_api":
                await channel.accept_event(request.payload)
            elif request.type == "interactive":
                await channel.accept_interaction(request.payload)
        except RequestError as exc:
            log.warning(
                "slack socket mode envelope %s refused: %s", request.envelope_id, exc.reason
            )
        finally:
            response = SocketModeResponse(envelope_id=request.envelope_id)
            await client.send_socket_mode_response(response)

    return listener


@contextlib.asynccontextmanager
async def socket_mode(channel: SlackChannel, app_token: str) -> AsyncIterator[SocketModeClient]:
    """Connect in the background (start-up does not wait on Slack); close on exit."""
    client = SocketModeClient(app_token=app_token, web_client=channel.web)
    client.socket_mode_request_listeners.append(request_listener(channel))
    connecting = asyncio.create_task(client.connect(), name="slack-socket-connect")
    try:
        yield client
    finally:
        connecting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await connecting
        await client.close()
