"""The WebSocket edge of a simulated charge point: aiohttp's client, one connection per
charge point, text frames only. `Link` is all the charge point needs, so a benchmark can plug in
another WebSocket client without touching the behaviour."""

from __future__ import annotations

import base64
from typing import Protocol

import aiohttp


class ConnectError(Exception):
    """The connection could not be made; `kind` is the short name counted in the summary."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


class Link(Protocol):
    @property
    def closed(self) -> bool: ...

    async def send(self, text: str) -> None: ...

    async def receive(self) -> str | None:
        """The next text frame, or None once the connection is closed."""
        ...

    async def close(self, code: int = 1000) -> None: ...


class Connect(Protocol):
    async def __call__(self, url: str, subprotocol: str, identity: str,
                       password: str | None, handshake_s: float) -> Link: ...


def basic_auth(identity: str, password: str) -> str:
    """Security profile 1: HTTP Basic with the identity as the user name (SEC rules)."""
    return "Basic " + base64.b64encode(f"{identity}:{password}".encode()).decode()


class AiohttpLink:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws

    @property
    def closed(self) -> bool:
        return self._ws.closed

    async def send(self, text: str) -> None:
        await self._ws.send_str(text)

    async def receive(self) -> str | None:
        while True:
            msg = await self._ws.receive()
            if msg.type is aiohttp.WSMsgType.TEXT:
                return str(msg.data)
            if msg.type is aiohttp.WSMsgType.BINARY:
                continue  # OCPP-J is text only; a binary frame carries nothing for us
            return None  # CLOSE, CLOSING, CLOSED, ERROR

    async def close(self, code: int = 1000) -> None:
        await self._ws.close(code=code)


class AiohttpConnect:
    """Opens connections through one shared aiohttp session (one connection pool for all)."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def __call__(self, url: str, subprotocol: str, identity: str,
                       password: str | None, handshake_s: float) -> Link:
        headers = {"Authorization": basic_auth(identity, password)} if password else {}
        try:
            ws = await self._session.ws_connect(
                url, protocols=(subprotocol,), headers=headers, autoping=True,
                heartbeat=None, timeout=aiohttp.ClientWSTimeout(ws_receive=None,
                                                                ws_close=handshake_s),
                autoclose=True, max_msg_size=0, compress=0,
            )
        except aiohttp.WSServerHandshakeError as exc:
            raise ConnectError(f"HTTP {exc.status}", f"handshake refused: {exc.status} "
                               f"{exc.message}") from exc
        except aiohttp.ClientConnectorError as exc:
            raise ConnectError("refused", f"cannot connect: {exc.os_error}") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise ConnectError(type(exc).__name__, str(exc) or type(exc).__name__) from exc
        if ws.protocol != subprotocol:
            # HS-06: a server without a common version completes the handshake without a
            # protocol and closes; carrying on would speak a version it never agreed to
            await ws.close()
            raise ConnectError("no subprotocol",
                               f"the server did not accept subprotocol {subprotocol}")
        return AiohttpLink(ws)
