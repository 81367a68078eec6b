"""Malformed HTTP requests are the client's fault, not the gateway's.

aiohttp logs each one it cannot parse (an overlong URL or header, a broken request line) as an
ERROR with a traceback, so anyone who can reach the port could fill the logs. This filter turns
those records into one INFO line with the status and reason, without the traceback; it keeps
server-side errors (5xx, handler exceptions) as they are.
"""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError

AIOHTTP_SERVER = "aiohttp.server"  # aiohttp's logger, filtered here; ours log as ocpp_mqtt.*


class ClientHttpErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError) or (exc.code or 400) >= 500:
            return True
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.msg, record.args = "malformed HTTP request refused", ()
        record.exc_info, record.exc_text = None, None
        record.status = exc.code or 400
        record.reason = str(exc.message)[:200]
        # the level was checked as ERROR: apply the logger's threshold to the new one
        return logging.getLogger(record.name).isEnabledFor(logging.INFO)


def install() -> None:
    server = logging.getLogger(AIOHTTP_SERVER)
    if not any(isinstance(f, ClientHttpErrors) for f in server.filters):
        server.addFilter(ClientHttpErrors())
