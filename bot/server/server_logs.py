"""What aiohttp's own server logger may write. It logs a malformed request at ERROR with
the parser's message, which quotes the offending header line (it can be an admin bearer
token), and a client that hangs up mid-request as a traceback. Both are the client's
doing, so they become one line at WARNING or INFO, without the content."""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError

SERVER_LOGGER = "aiohttp.server"
DISCONNECTS = (ConnectionError, TimeoutError)


class ClientFaultsFilter(logging.Filter):
    """Rewrites aiohttp's records about bad requests and hang-ups; passes everything else."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.msg, record.args = (
                "malformed HTTP request from %s (%s)",
                (
                    remote,
                    type(error).__name__,
                ),
            )
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        elif isinstance(error, DISCONNECTS):
            record.msg, record.args = "client went away mid-request (%s)", (type(error).__name__,)
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info = record.exc_text = None
        return True


def quiet_client_faults() -> None:
    """Install the filter on aiohttp's server logger, once per process."""
    logger = logging.getLogger(SERVER_LOGGER)
    if not any(isinstance(f, ClientFaultsFilter) for f in logger.filters):
        logger.addFilter(ClientFaultsFilter())
