"""Handlers of the admin API (`/api/v1/...`): charge points, kick, synchronous CALL, status,
live stream. Each answers JSON; every refusal is {"error", "reason"} with a fitting status."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import hdrs, web

from ..modes import calls
from ..ocppj.frames import MAX_ID_LENGTH
from . import views
from .auth import json_error
from .stream import KINDS, Stream

if TYPE_CHECKING:
    from ..gateway import Gateway

LIMIT_DEFAULT, LIMIT_MAX = 50, 1000
KICK_WAIT = 5.0  # seconds a kick waits for the disconnect to be processed
STREAM_KEEPALIVE = 15.0  # seconds between comments on an idle event stream
DROP_GRACE = 5.0  # seconds a dropped reader has to take its `dropped` event


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), headers=headers,
                        content_type="application/json")


class BadQuery(Exception):
    """A query parameter or body that cannot be used: answered 400 with its reason."""


def _int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadQuery(f"{name}: expected an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise BadQuery(f"{name}: must be {low}..{high}, got {value}")
    return value


def _identities(request: web.Request) -> frozenset[str] | None:
    """`identity` repeated or comma-separated; None (every charge point) when absent."""
    found = {part for raw in request.query.getall("identity", ())
             for part in raw.split(",") if part}
    return frozenset(found) or None


class Api:
    def __init__(self, gateway: Gateway, stream: Stream) -> None:
        self.gateway = gateway
        self.stream = stream

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.get("/api/v1/status", self.status),
            web.get("/api/v1/charge-points", self.list),
            web.get("/api/v1/charge-points/{identity}", self.detail),
            web.post("/api/v1/charge-points/{identity}/kick", self.kick),
            web.post("/api/v1/charge-points/{identity}/call", self.call),
            web.get("/api/v1/stream", self.events),
        ]

    async def status(self, request: web.Request) -> web.Response:
        return _json(views.status(self.gateway))

    async def list(self, request: web.Request) -> web.Response:
        try:
            limit = _int(request, "limit", LIMIT_DEFAULT, 1, LIMIT_MAX)
            offset = _int(request, "offset", 0, 0, 10**9)
            status = request.query.get("status")
            if status is not None and status not in views.STATUSES:
                raise BadQuery(f"status: expected online or offline, got {status!r}")
            version = request.query.get("version")
            if version is not None and version not in ("1.6", "2.0.1", "2.1"):
                raise BadQuery(f"version: expected 1.6, 2.0.1 or 2.1, got {version!r}")
        except BadQuery as exc:
            return json_error(400, "bad_request", str(exc))
        items = views.charge_points(self.gateway, views.Filter(status, version,
                                                               request.query.get("q")))
        return _json({"total": len(items), "limit": limit, "offset": offset,
                      "items": items[offset:offset + limit]})

    async def detail(self, request: web.Request) -> web.Response:
        identity = request.match_info["identity"]
        body = views.charge_point(self.gateway, identity)
        if body is None:
            return json_error(404, "not_found", f"charge point {identity!r} is not connected "
                              "here" + (" and unknown to the store"
                                        if self.gateway.central is not None else ""))
        return _json(body)

    async def _body(self, request: web.Request, keys: tuple[str, ...]) -> dict[str, Any]:
        raw = await request.read()
        if not raw.strip():
            return {}
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise BadQuery(f"the body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise BadQuery("the body must be a JSON object")
        unknown = sorted(set(body) - set(keys))
        if unknown:
            raise BadQuery(f"unknown key(s) {', '.join(map(repr, unknown))}; expected "
                           f"{', '.join(keys)}")
        return body

    async def kick(self, request: web.Request) -> web.Response:
        identity = request.match_info["identity"]
        try:
            body = await self._body(request, ("reason",))
            reason = body.get("reason", "")
            if not isinstance(reason, str) or len(reason) > 80:
                raise BadQuery("reason: expected a string of at most 80 characters")
        except BadQuery as exc:
            return json_error(400, "bad_request", str(exc))
        conn = self.gateway.relay.connections.get(identity)
        if conn is None or conn.detached:
            return json_error(404, "not_connected",
                              f"charge point {identity!r} is not connected here")
        why = "kicked by the admin API" + (f": {reason}" if reason else "")
        conn.close(1000, why)
        for _ in range(int(KICK_WAIT / 0.02)):  # polled: the socket's close is not awaitable
            if conn.detached:
                break
            await asyncio.sleep(0.02)
        return _json({"identity": identity, "closed": conn.detached, "reason": why})

    async def call(self, request: web.Request) -> web.Response:
        identity = request.match_info["identity"]
        try:
            body = await self._body(request, ("action", "payload", "unique_id"))
            action, payload = body.get("action"), body.get("payload", {})
            unique_id = body.get("unique_id")
            if not isinstance(action, str) or not action:
                raise BadQuery('action: required, the OCPP action to send, e.g. '
                               '{"action": "Reset", "payload": {"type": "Soft"}}')
            if not isinstance(payload, dict):
                raise BadQuery("payload: expected a JSON object (the CALL's payload)")
            if unique_id is not None and (not isinstance(unique_id, str) or not unique_id
                                          or len(unique_id) > MAX_ID_LENGTH):
                raise BadQuery(f"unique_id: expected a string of 1..{MAX_ID_LENGTH} characters "
                               "(omit it and the gateway picks a UUID)")
        except BadQuery as exc:
            return json_error(400, "bad_request", str(exc))
        conn = self.gateway.relay.connections.get(identity)
        if conn is None or conn.detached:
            return json_error(404, "not_connected",
                              f"charge point {identity!r} is not connected here")
        started = time.monotonic()
        result = await calls.send_call(self.gateway.relay, identity, action, payload, unique_id)
        out: dict[str, Any] = {"identity": identity, "unique_id": result.unique_id,
                               **result.to_json(),
                               "elapsed_ms": round((time.monotonic() - started) * 1000, 1)}
        status = {calls.ANSWERED: 200, calls.REJECTED: 200, calls.TIMEOUT: 504,
                  calls.QUEUE_FULL: 429, calls.OFFLINE: 409}.get(result.status, 422)
        headers = None
        if result.status == calls.INVALID and result.result is not None:
            status = 502  # the charge point's answer failed its schema, not the request
        elif result.status == calls.QUEUE_FULL:
            headers = {"Retry-After": str(max(1, int(self.gateway.settings.call_timeout)))}
        if status >= 400:
            out = {"error": result.status, **out}
        return _json(out, status, headers)

    async def events(self, request: web.Request) -> web.StreamResponse:
        kinds = frozenset(part for raw in request.query.getall("types", ())
                          for part in raw.split(",") if part) or frozenset(KINDS)
        unknown = kinds - set(KINDS)
        if unknown:
            return json_error(400, "bad_request", f"types: unknown {sorted(unknown)}; "
                              f"expected some of {', '.join(KINDS)}")
        reader = self.stream.subscribe(_identities(request), kinds)
        transport = request.transport
        if transport is not None:
            reader.on_drop = lambda: asyncio.get_running_loop().call_later(
                DROP_GRACE, transport.close)
        response = web.StreamResponse(headers={
            hdrs.CONTENT_TYPE: "text/event-stream", hdrs.CACHE_CONTROL: "no-cache",
            "X-Accel-Buffering": "no"})
        try:
            await response.prepare(request)
            await response.write(b"retry: 2000\n: connected\n\n")
            while True:
                reader.wake.clear()
                while reader.queue:
                    await response.write(reader.take())
                if reader.dropped is not None:
                    await response.write(b"event: dropped\ndata: "
                                         + orjson.dumps({"reason": reader.dropped}) + b"\n\n")
                    break
                if reader.closed:
                    break
                try:
                    await asyncio.wait_for(reader.wake.wait(), STREAM_KEEPALIVE)
                except TimeoutError:
                    await response.write(b": keepalive\n\n")
        except (ConnectionError, RuntimeError):
            pass  # the reader went away
        finally:
            self.stream.unsubscribe(reader)
        return response
