"""Raw WebSocket helpers for conformance tests: exact handshake bytes and raw frames."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson
import websockets
from aiohttp import web
from websockets.asyncio.client import ClientConnection


@dataclass
class HandshakeReply:
    status: int
    headers: dict[str, str]
    body: bytes


async def raw_handshake(
    port: int, path: str, protocols: list[str] | None, extra: dict[str, str] | None = None
) -> tuple[HandshakeReply, asyncio.StreamReader, asyncio.StreamWriter]:
    """Send an HTTP upgrade by hand and read the response head (headers lower-cased)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if protocols is not None:
        lines.append("Sec-WebSocket-Protocol: " + ", ".join(protocols))
    for name, value in (extra or {}).items():
        lines.append(f"{name}: {value}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    status_line, *header_lines = head.decode().split("\r\n")
    headers: dict[str, str] = {}
    for line in header_lines:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    status = int(status_line.split()[1])
    body = b""
    if status != 101 and "content-length" in headers:
        body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), 5)
    return HandshakeReply(status, headers, body), reader, writer


async def read_close_frame(reader: asyncio.StreamReader, timeout: float = 5) -> int:
    """Read server frames until a close frame; return its status code."""
    while True:
        head = await asyncio.wait_for(reader.readexactly(2), timeout)
        opcode = head[0] & 0x0F
        length = head[1] & 0x7F
        if length == 126:
            length = int.from_bytes(await reader.readexactly(2), "big")
        elif length == 127:
            length = int.from_bytes(await reader.readexactly(8), "big")
        payload = await reader.readexactly(length)
        if opcode == 0x8:
            return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005


@contextlib.asynccontextmanager
async def connect(url: str, protocols: list[str],
                  **kwargs: Any) -> AsyncIterator[ClientConnection]:
    """Open a WebSocket like a charge point; when the gateway is one of this test session's,
    return once it can deliver commands to it (its subscriptions are acknowledged), so a test
    that publishes a command right away does not race the subscription."""
    async with websockets.connect(url, subprotocols=protocols,  # type: ignore[arg-type]
                                  open_timeout=5, **kwargs) as ws:
        if ws.subprotocol is not None:
            await _wait_ready(url)
        yield ws


async def _wait_ready(url: str) -> None:
    from tests.conftest import GATEWAYS

    parts = urlsplit(url)
    gateway = GATEWAYS.get(parts.port or 0)
    if gateway is None:
        return
    identity = unquote(parts.path.rsplit("/", 1)[-1])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        conn = gateway.relay.connections.get(identity)
        if conn is not None and (conn.ready or conn.detached):
            return
        await asyncio.sleep(0.005)


async def recv_json(ws: ClientConnection, timeout: float = 3.0) -> list[object]:
    text = await asyncio.wait_for(ws.recv(), timeout)
    assert isinstance(text, str), "OCPP-J frames must be text frames (FR-01)"
    value = orjson.loads(text)
    assert isinstance(value, list), "one JSON array per frame (FR-01)"
    return value


async def no_frame(ws: ClientConnection, seconds: float = 0.4) -> None:
    """Assert the gateway sends nothing back within `seconds`."""
    try:
        text = await asyncio.wait_for(ws.recv(), seconds)
    except TimeoutError:
        return
    raise AssertionError(f"expected no reply, got {text!r}")


async def until(condition: Any, timeout: float, what: str) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting: {what}"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def ws_server(handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                    port: int) -> AsyncIterator[None]:
    """A plain aiohttp server on 127.0.0.1:port answering every path with `handler`: a
    scripted central system for tests of the simulator against servers other than ours."""
    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield
    finally:
        await runner.cleanup()
