"""The WebSocket client toward an upstream CSMS (proxy mode): a thin edge over aiohttp.

It opens one connection per charge point, offering exactly the OCPP version the charge point
negotiated, with the credentials and TLS options it is given; it writes text frames in order
and hands received text frames to a callback. It decides nothing about OCPP.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import WSMsgType

from ..ocppj.versions import Version
from . import eager

log = logging.getLogger("ocpp_mqtt.upstream")


@dataclass(frozen=True, slots=True)
class Refused:
    """The upstream answered the handshake with an HTTP status other than 101 (`status`), or
    with 101 but without the OCPP version (`status` 101: the charge point gets the same)."""

    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class Unreachable:
    """No HTTP answer at all: DNS, TCP, TLS or a timeout."""

    reason: str


class UpstreamClient:
    """One aiohttp session (connection pool, DNS cache) for every upstream connection."""

    def __init__(self, connect_timeout: float, max_msg_size: int, heartbeat: float | None,
                 compress: bool) -> None:
        self.connect_timeout = connect_timeout
        self.max_msg_size = max_msg_size
        self.heartbeat = heartbeat
        self.compress = 15 if compress else 0
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.connect_timeout))
        return self._session

    async def connect(self, url: str, version: Version, authorization: str | None,
                      tls: ssl.SSLContext | None, label: str) -> UpstreamLink | Refused | \
            Unreachable:
        headers = {"Authorization": authorization} if authorization else {}
        try:
            async with asyncio.timeout(self.connect_timeout):
                ws = await self._client().ws_connect(
                    url, protocols=(version.subprotocol,), headers=headers,
                    ssl=tls if tls is not None else True, max_msg_size=self.max_msg_size,
                    heartbeat=self.heartbeat, compress=self.compress, autoping=True,
                )
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status == 101:  # aiohttp: 101 with a bad or missing header
                return Refused(101, f"upstream handshake failed: {exc.message}")
            return Refused(exc.status, f"upstream refused the connection: HTTP {exc.status} "
                           f"{exc.message}".rstrip())
        except TimeoutError:
            return Unreachable(f"no answer within {self.connect_timeout:g} s")
        except (aiohttp.ClientError, OSError, ssl.SSLError) as exc:
            return Unreachable(str(exc) or type(exc).__name__)
        if ws.protocol != version.subprotocol:  # HS-06 at the upstream: it lacks the version
            await ws.close()
            return Refused(101, f"upstream does not speak {version.subprotocol}")
        return UpstreamLink(ws, label)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class UpstreamLink:
    """One open upstream WebSocket: ordered writes, a read loop, a close reason."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, label: str) -> None:
        self.ws = ws
        self.label = label  # for logs: "upstream" or "secondary"
        self._out: deque[str] = deque()
        self._writer: asyncio.Task[None] | None = None
        self.closed_reason: str | None = None

    @property
    def open(self) -> bool:
        return not self.ws.closed and self.closed_reason is None

    def send(self, text: str) -> None:
        if not self.open:
            return
        if self._out or (self._writer is not None and not self._writer.done()):
            self._out.append(text)  # behind a write that had to wait: keep the order
            return
        coro = self.ws.send_str(text)  # usually written at once: see eager
        try:
            waiting = eager.start(coro)
        except (ConnectionError, RuntimeError) as exc:
            self._failed(exc)
            return
        if waiting is not eager.DONE:
            self._writer = asyncio.get_running_loop().create_task(self._finish(coro, waiting))

    async def _finish(self, coro: Coroutine[Any, Any, None], waiting: Any) -> None:
        """Complete a send that had to wait, then write what queued meanwhile."""
        try:
            await eager.finish(coro, waiting)
            while self._out:
                await self.ws.send_str(self._out.popleft())
        except (ConnectionError, RuntimeError) as exc:
            self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        log.info("upstream write failed", extra={"upstream": self.label, "error": str(exc)})
        self._out.clear()
        self.closed_reason = self.closed_reason or f"write to the {self.label} failed"
        asyncio.get_running_loop().create_task(self.ws.close())

    async def read(self, on_text: Callable[[str], None]) -> str:
        """Hand every text frame to `on_text` until the connection ends; return why."""
        reason = "closed by the upstream"
        try:
            async for msg in self.ws:
                if msg.type is WSMsgType.TEXT:
                    on_text(msg.data)
                elif msg.type is WSMsgType.BINARY:  # FR-01: OCPP-J is text frames only
                    reason = "binary frame from the upstream (OCPP-J uses text frames)"
                    await self.ws.close(code=1003, message=b"text frames only")
                    break
                elif msg.type is WSMsgType.ERROR:
                    reason = f"upstream WebSocket error: {self.ws.exception()}"
                    break
            if self.ws.close_code is not None and reason == "closed by the upstream":
                reason = f"closed by the upstream (code {self.ws.close_code})"
        finally:
            self.closed_reason = self.closed_reason or reason
        return self.closed_reason

    async def close(self, code: int = 1000, reason: str = "closed") -> None:
        if self.closed_reason is None:
            self.closed_reason = reason
        if not self.ws.closed:
            await self.ws.close(code=code, message=reason.encode()[:120])


def tls_for(ca: str | None, cert: str | None, key: str | None) -> ssl.SSLContext | None:
    """A client TLS context when any option is set; None means the system's defaults."""
    if not (ca or cert):
        return None
    ctx = ssl.create_default_context(cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx
