"""One accepted charge point WebSocket: its identity, its session, and an ordered writer."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

from aiohttp import web

from ..ocppj.session import Session
from ..ocppj.versions import Version

log = logging.getLogger("ocpp_mqtt.ws")


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
        self.last_rx = time.monotonic()
        self.topics: Any = None  # set by the mode that owns the connection
        self.detached = False
        self.close_reason: str | None = None
        self.frames_in = 0
        self.frames_out = 0
        self._out: deque[str] = deque()
        self._writing = False

    def send(self, text: str) -> None:
        self._out.append(text)
        if not self._writing:
            self._writing = True
            asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._out:
                text = self._out.popleft()
                if self.ws.closed:
                    self._out.clear()
                    break
                await self.ws.send_str(text)
                self.frames_out += 1
        except (ConnectionError, RuntimeError) as exc:
            log.info("write failed", extra={"cid": self.identity, "error": str(exc)})
            self._out.clear()
        finally:
            self._writing = False

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
