"""An HTTP client for a live gateway's admin API (aiohttp), and a Server-Sent Events reader."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson


@dataclass
class Reply:
    status: int
    headers: Any
    body: Any  # decoded JSON, or the text when not JSON
    text: str


class Admin:
    def __init__(self, base: str, token: str | None = None) -> None:
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))

    async def request(self, method: str, path: str, json: Any = None,
                      headers: dict[str, str] | None = None, data: bytes | None = None,
                      **params: Any) -> Reply:
        async with self.session.request(
                method, self.base + path, json=json, data=data,
                params={k: str(v) for k, v in params.items()} or None,
                headers=self.headers if headers is None else headers) as resp:
            text = await resp.text()
            try:
                body = orjson.loads(text) if text else None
            except orjson.JSONDecodeError:
                body = text
            return Reply(resp.status, resp.headers, body, text)

    async def get(self, path: str, **params: Any) -> Reply:
        return await self.request("GET", path, **params)

    async def post(self, path: str, json: Any = None, **kw: Any) -> Reply:
        return await self.request("POST", path, json=json, **kw)

    async def close(self) -> None:
        await self.session.close()


@contextlib.asynccontextmanager
async def admin(base: str, token: str | None = None) -> AsyncIterator[Admin]:
    client = Admin(base, token)
    try:
        yield client
    finally:
        await client.close()


class EventReader:
    """Reads `event:`/`data:` blocks of a text/event-stream response."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def next(self, timeout: float = 5.0) -> tuple[str, Any]:
        """The next (event, data) pair; comments and keepalives are skipped."""
        event, data = "message", []
        while True:
            raw = await asyncio.wait_for(self.response.content.readline(), timeout)
            if not raw:
                raise EOFError("the event stream ended")
            line = raw.decode().rstrip("\n")
            if line == "":
                if data:
                    return event, orjson.loads("\n".join(data))
                event = "message"
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)

    async def wait(self, kind: str, timeout: float = 5.0, **match: Any) -> Any:
        """The next event of `kind` whose data has the `match` items."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event, data = await self.next(max(0.01, deadline - loop.time()))
            if event == kind and all(data.get(k) == v for k, v in match.items()):
                return data
