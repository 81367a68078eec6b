"""One accepted charge point WebSocket: its identity, its session, and an ordered writer."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import WSMsgType, web

from ..ocppj.session import Session
from ..ocppj.versions import Version
from . import eager
from .recent import QUIET, RecentFrames

log = logging.getLogger("ocpp_mqtt.ws")

MAX_PENDING_FRAMES = 1000  # frames waiting behind a blocked write before the socket is closed


class Connection:
    """Frames are written strictly in the order they were queued, one WebSocket frame each."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        identity: str,
        cid_level: str,
        version: Version,
        session: Session,
        remote_ip: str,
        sockport: int,
        username: str | None,
        keepalive: int,
    ) -> None:
        self.ws = ws
        self.identity = identity
        self.cid_level = cid_level  # the identity escaped for topics (ID-03)
        self.version = version
        self.session = session
        self.remote_ip = remote_ip
        self.sockport = sockport
        self.username = username
        self.keepalive = keepalive
        self.connected_at_ms = int(time.time() * 1000)
        self.last_rx = time.monotonic()  # any frame received, pongs included
        self.ping_sent = 0.0  # monotonic time of an unanswered ping (transport/pings.py)
        self.topics: Any = None  # set by the mode that owns the connection
        self.upstream: Any = None  # proxy mode: the upstream CSMS link opened at the handshake
        self.ready = False  # set once commands can reach it (subscriptions acknowledged)
        self.detached = False
        self.taken_over_by: str | None = None  # another gateway instance holds it now
        self.close_reason: str | None = None
        self.frames_in = 0
        self.frames_out = 0
        self.trace: Callable[[str, str], None] | None = None  # the frame log, when it wants us
        # the last frames; the owning mode gives it a size and a tap
        self.recent = RecentFrames(identity, 0, QUIET)
        self._out: deque[str] = deque()
        self._writing = False

    def send(self, text: str) -> None:
        if self.trace is not None:
            self.trace("out", text)
        self.recent.add(False, text, time.monotonic())
        if self._writing or self._out:
            if len(self._out) >= MAX_PENDING_FRAMES:
                self._overflow()
                return
            self._out.append(text)
            return
        if self.ws.closed:
            return
        coro = self.ws.send_str(text)
        try:
            waiting = eager.start(coro)
        except (ConnectionError, RuntimeError) as exc:
            self._write_failed(exc)
            return
        if waiting is eager.DONE:
            self.frames_out += 1
            return
        self._writing = True
        asyncio.get_running_loop().create_task(self._finish(coro, waiting))

    async def _finish(self, coro: Coroutine[Any, Any, None], waiting: Any) -> None:
        """Complete a send that had to wait, then send what queued meanwhile."""
        try:
            await eager.finish(coro, waiting)
            self.frames_out += 1
            while self._out:
                text = self._out.popleft()
                if self.ws.closed:
                    self._out.clear()
                    break
                await self.ws.send_str(text)
                self.frames_out += 1
        except (ConnectionError, RuntimeError) as exc:
            self._write_failed(exc)
        finally:
            self._writing = False

    def _write_failed(self, exc: BaseException) -> None:
        """Frames that cannot be written are lost: end the connection rather than go on."""
        log.info("write failed: closing", extra={"cid": self.identity, "error": str(exc)})
        self._out.clear()
        self.close(1011, "write to the charge point failed")

    def _overflow(self) -> None:
        self.session.policy.stats.hit("write_backlog")
        log.warning("charge point does not read its frames: closing",
                    extra={"cid": self.identity, "queued": len(self._out)})
        self._out.clear()
        self.close(1008, "too many frames waiting: the charge point does not read")

    def ping(self) -> None:
        """A ping frame, written at once: control frames are never compressed nor queued
        behind a frame that is (RFC 6455 §5.4 lets them interleave)."""
        writer = self.ws._writer
        if writer is None or self.ws.closed:
            return
        try:
            writer._write_websocket_frame(b"", WSMsgType.PING, 0)
        except (ConnectionError, RuntimeError) as exc:
            self._write_failed(exc)

    def no_pong(self) -> None:
        """KA-03: no answer to a ping within ping_timeout. The socket is probably half-open,
        so it is dropped without a closing handshake (as aiohttp's own heartbeat does)."""
        self.ws._pong_not_received()

    def close(self, code: int, reason: str) -> None:
        """Close from the gateway's side; `reason` is what the disconnect event reports."""
        if self.close_reason is None:
            self.close_reason = reason
        if not self.ws.closed:
            message = reason.encode()[:120]  # a close reason must fit in a control frame
            asyncio.get_running_loop().create_task(self.ws.close(code=code, message=message))

    def info(self, gateway: str) -> dict[str, Any]:
        """EMQX's connection-event fields, plus which gateway holds the connection."""
        return {
            "clientid": self.identity,
            "username": self.username,
            "ipaddress": self.remote_ip,
            "sockport": self.sockport,
            "protocol": "ocpp",
            "proto_name": "OCPP",
            "proto_ver": self.version.value,
            "connected_at": self.connected_at_ms,
            "keepalive": self.keepalive,
            "clean_start": True,
            "expiry_interval": 0,
            "receive_maximum": 1,
            "gateway": gateway,
        }
