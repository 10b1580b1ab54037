"""HTTP status mapping, in one place. Clients get a reason, never a traceback or str(exc)."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.replicas.conversation_lock import ConversationBusy

log = logging.getLogger(__name__)


class RequestError(Exception):
    """A client mistake, with the reason to send back (it must not echo the body)."""

    def __init__(self, reason: str, status: int = 400):
        super().__init__(reason)
        self.reason = reason
        self.status = status


def error_response(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason, "status": status}, status=status)


@web.middleware
async def json_errors(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RequestError as exc:
        return error_response(exc.status, exc.reason)
    except ConversationBusy as exc:
        # Another replica holds the conversation: retryable, like a full admission queue.
        response = error_response(503, str(exc))
        response.headers["Retry-After"] = "1"
        return response
    except web.HTTPRequestEntityTooLarge:
        return error_response(413, f"request body is larger than {request.client_max_size} bytes")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, exc.reason)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal server error")
