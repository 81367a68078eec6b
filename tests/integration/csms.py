"""A small but real upstream CSMS for the proxy tests: an aiohttp WebSocket server on a free
port that checks identities and Basic credentials, negotiates OCPP subprotocols, records every
frame it gets, answers charge point CALLs, sends its own CALLs, and can go away and come back."""

from __future__ import annotations

import asyncio
import base64
import itertools
import ssl
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from tests.conftest import free_port

Answer = Callable[[str, dict[str, Any]], Any]  # (action, payload) -> payload, or None: silence


def default_answer(action: str, payload: dict[str, Any]) -> Any:
    if action == "BootNotification":
        return {"status": "Accepted", "currentTime": "2026-01-01T00:00:00Z", "interval": 300}
    if action == "Heartbeat":
        return {"currentTime": "2026-01-01T00:00:00Z"}
    if action == "Authorize":
        return {"idTagInfo": {"status": "Accepted"}}
    if action == "StartTransaction":
        return {"transactionId": 4242, "idTagInfo": {"status": "Accepted"}}
    return {}


class Csms:
    def __init__(self, name: str = "csms", protocols: tuple[str, ...] = ("ocpp1.6", "ocpp2.0.1"),
                 users: dict[str, str] | None = None,
                 identities: set[str] | None = None, tls: ssl.SSLContext | None = None) -> None:
        self.name = name
        self.tls = tls  # wss:// (CERT_REQUIRED in it: client certificates)
        self.peer_certs: list[Any] = []  # the client certificate of each TLS handshake
        self.port = free_port()
        self.protocols = protocols
        self.users = users  # identity -> password (Basic user = identity); None: no auth
        self.identities = identities  # None: any identity is known
        self.answer: Answer = default_answer
        self.received: list[tuple[str, Any]] = []  # (identity, frame)
        self.raw: list[str] = []  # the text of every frame, as received
        self.sockets: dict[str, web.WebSocketResponse] = {}
        self.handshakes: list[dict[str, str]] = []  # identity, protocol, authorization
        self._new = asyncio.Event()
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        scheme = "wss" if self.tls is not None else "ws"
        return f"{scheme}://127.0.0.1:{self.port}/ocpp/{{cid}}"

    async def start(self) -> Csms:
        app = web.Application()
        app.router.add_get("/ocpp/{cid}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True,
                          ssl_context=self.tls).start()
        return self

    async def stop(self) -> None:
        """Go away: close every connection with 1001 and stop listening."""
        for ws in list(self.sockets.values()):
            await ws.close(code=1001, message=b"csms going away")
        self.sockets.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        cid = request.match_info["cid"]
        auth = request.headers.get("Authorization", "")
        if self.tls is not None and request.transport is not None:
            self.peer_certs.append(request.transport.get_extra_info("peercert"))
        self.handshakes.append({"cid": cid, "auth": auth,
                                "protocol": request.headers.get("Sec-WebSocket-Protocol", "")})
        if self.identities is not None and cid not in self.identities:
            return web.Response(status=404, text="unknown charge point")
        if self.users is not None:
            expected = "Basic " + base64.b64encode(
                f"{cid}:{self.users.get(cid, '')}".encode()).decode()
            if cid not in self.users or auth != expected:
                return web.Response(status=401, headers={"WWW-Authenticate": "Basic"})
        ws = web.WebSocketResponse(protocols=self.protocols)
        await ws.prepare(request)
        if ws.ws_protocol is None:
            await ws.close(code=1002, message=b"no common version")
            return ws
        self.sockets[cid] = ws
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            frame = orjson.loads(msg.data)
            self.raw.append(msg.data)
            self.received.append((cid, frame))
            self._new.set()
            if frame[0] == 2:
                result = self.answer(frame[2], frame[3])
                if result is not None:
                    await ws.send_str(orjson.dumps([3, frame[1], result]).decode())
        if self.sockets.get(cid) is ws:
            del self.sockets[cid]
        return ws

    async def send(self, cid: str, text: str) -> None:
        await self.sockets[cid].send_str(text)

    async def call(self, cid: str, action: str, payload: dict[str, Any],
                   unique_id: str | None = None) -> str:
        uid = unique_id or f"{self.name}-{next(self._ids)}"
        await self.send(cid, orjson.dumps([2, uid, action, payload]).decode())
        return uid

    async def wait_for(self, where: Callable[[Any], bool], timeout: float = 5.0) -> Any:
        """The first received frame matching `where` (consumed)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for index, (_cid, frame) in enumerate(self.received):
                if where(frame):
                    del self.received[index]
                    return frame
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"{self.name}: no such frame; got {self.received}")
            self._new.clear()
            waiter = asyncio.ensure_future(self._new.wait())
            try:
                await asyncio.wait({waiter}, timeout=remaining)
            finally:
                waiter.cancel()

    async def connected(self, cid: str, timeout: float = 5.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while cid not in self.sockets:
            assert asyncio.get_running_loop().time() < deadline, f"{cid} not at {self.name}"
            await asyncio.sleep(0.02)
