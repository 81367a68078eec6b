"""The charge-point-facing WebSocket listener (aiohttp): a thin edge around the handshake
decision (:mod:`handshake`), the session core and the mode that owns the connection."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from aiohttp import WSMsgType, hdrs, web

from ..config import Settings
from ..framelog import frame_log_from
from ..limitlog import OncePerMinute
from ..listeners import ListenerSpec
from ..ocppj.identity import escape_topic_level
from ..ocppj.session import Policy, Session
from ..ocppj.validation import Schemas
from ..ocppj.versions import Version
from .auth import WWW_AUTHENTICATE
from .connection import Connection
from .direct import OcppWebSocket
from .handshake import Accept, Reject, negotiate
from .http_errors import install as quiet_client_http_errors
from .limits import ConnectionLimits

if TYPE_CHECKING:
    from .guard import Guard

log = logging.getLogger("ocpp_mqtt.ws")
quiet_client_http_errors()

CLOSE_PROTOCOL_ERROR = 1002
CLOSE_UNSUPPORTED_DATA = 1003


class Owner(Protocol):
    """What a mode offers the listener."""

    async def attach(self, conn: Connection) -> None: ...
    def detach(self, conn: Connection, reason: str) -> None: ...
    def on_text(self, conn: Connection, text: str) -> None: ...


class Flow(Protocol):
    """Back-pressure from the MQTT side: while `blocked`, sockets are not read."""

    blocked: bool

    async def wait_writable(self) -> None: ...


class Gate(Protocol):
    """Proxy mode: the upstream connection, opened before the charge point gets its 101."""

    async def open(self, identity: str, version: Version,
                   authorization: str | None) -> object: ...  # the link, or a Reject
    async def discard(self, opened: object) -> None: ...  # the charge point went away


class Availability(Protocol):
    """Whether the gateway takes new charge points now, for the handshake and probes."""

    def refusal(self) -> str | None: ...  # why new charge points are refused, None if not
    def health(self) -> dict[str, Any]: ...


PROBES = ("/health", "/ready")
ENDPOINT = web.AppKey("endpoint", ListenerSpec)  # the listener (profile) an app serves
RETRY_AFTER = "10"  # seconds, on 503 answers while the broker is unreachable


def probe(availability: Availability | None, readiness: bool) -> web.Response:
    """Liveness (`/health`, `/healthz`: the process serves) and readiness (`/ready`,
    `/readyz`: charge points are accepted, which needs the broker) for load balancers and
    orchestrators; the same JSON body for both."""
    body: dict[str, Any] = availability.health() if availability else {}
    refusal = availability.refusal() if availability else None
    status = 503 if readiness and refusal is not None else 200
    body = {"status": "ready" if refusal is None else "unavailable", "reason": refusal, **body}
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


class Listener:
    def __init__(
        self, settings: Settings, schemas: Schemas, policy: Policy, owner: Owner, flow: Flow,
        availability: Availability | None = None, gate: Gate | None = None,
    ) -> None:
        self.availability = availability
        self.gate = gate
        self.guard: Guard | None = None  # profiles 1-3: set by the gateway
        self.flow = flow
        self.settings = settings
        self.schemas = schemas
        self.policy = policy
        self.owner = owner
        self._enabled = settings.enabled_versions
        self._legacy = settings.legacy_version
        self.frame_log = frame_log_from(settings.frame_log, settings.frame_log_file,
                                        settings.log_format)
        self.limits = ConnectionLimits(settings.max_connections, settings.max_per_address)
        self.limit_log = OncePerMinute(log)

    def _probe(self, path: str) -> web.Response:
        return probe(self.availability, readiness=path == "/ready")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        upgrade = request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
        if not upgrade and request.path in PROBES:
            return self._probe(request.path)
        refusal = self.availability.refusal() if self.availability else None
        if refusal is not None and upgrade:
            log.info("handshake refused", extra={"status": 503, "reason": refusal,
                                                 "ip": request.remote})
            return web.Response(status=503, text=refusal + "\n",
                                headers={hdrs.RETRY_AFTER: RETRY_AFTER})
        decision = negotiate(
            request.raw_path,
            request.headers.getall(hdrs.SEC_WEBSOCKET_PROTOCOL, ()),
            self._enabled,
            self._legacy,
            self.settings.identity_max_length,
        )
        if isinstance(decision, Reject):
            log.info("handshake refused", extra={"status": decision.status,
                                                 "reason": decision.reason,
                                                 "ip": request.remote})
            return web.Response(status=decision.status, text=decision.reason + "\n")
        address = request.remote or ""
        limited = self.limits.admit(decision.identity, address)
        if limited is not None:
            limit = "max_connections" if limited.status == 503 else "max_per_address"
            self.policy.stats.hit(limit)
            self.limit_log.warning(limit, address if limit == "max_per_address" else "",
                                   "handshake refused: " + limited.reason,
                                   status=limited.status, cid=decision.identity, ip=address)
            headers = {hdrs.RETRY_AFTER: RETRY_AFTER}
            return web.Response(status=limited.status, text=limited.reason + "\n",
                                headers=headers)
        self.limits.opened(decision.identity, address)  # counted from here: no overshoot
        try:
            return await self._accept(request, decision, address)
        finally:
            self.limits.closed(decision.identity, address)

    async def _accept(self, request: web.Request, decision: Accept,
                      address: str) -> web.StreamResponse:
        spec = request.app.get(ENDPOINT)
        if self.guard is not None and spec is not None:  # SEC-03: before any upgrade
            denied = await self.guard.admit(spec, request, decision.identity, decision.version)
            if denied is not None:
                log.info("handshake refused", extra={
                    "status": denied.status, "reason": denied.reason, "ip": request.remote,
                    "cid": decision.identity, "profile": spec.profile})
                headers = {hdrs.WWW_AUTHENTICATE: WWW_AUTHENTICATE} if denied.status == 401 \
                    else {hdrs.RETRY_AFTER: "60" if denied.status == 429 else RETRY_AFTER} \
                    if denied.status in (429, 503) else {}
                return web.Response(status=denied.status, text=denied.reason + "\n",
                                    headers=headers)
        settings = self.settings
        version = decision.version
        echo = decision.echo
        opened: object = None
        if self.gate is not None and version is not None:
            if not web.WebSocketResponse(protocols=(echo,) if echo else ()).can_prepare(
                    request).ok:
                return web.Response(status=400, text="expected a WebSocket upgrade request\n")
            opened = await self.gate.open(decision.identity, version,
                                          request.headers.get(hdrs.AUTHORIZATION))
            if isinstance(opened, Reject):  # refused upstream: refused the same way here
                log.info("handshake refused upstream", extra={
                    "cid": decision.identity, "status": opened.status,
                    "reason": opened.reason, "ip": request.remote})
                if opened.status != 101:
                    return web.Response(status=opened.status, text=opened.reason + "\n")
                version, echo, opened = None, None, None  # 101 without a version, then close
        ws = OcppWebSocket(
            protocols=(echo,) if echo else (),
            compress=settings.compression,
            max_msg_size=settings.max_frame_size,
            autoping=False,  # pings are answered below; ours are sent by transport/pings.py
        )
        ws._pong_heartbeat = settings.ping_timeout  # for the "no pong" message
        if not ws.can_prepare(request).ok:
            return web.Response(status=400, text="expected a WebSocket upgrade request\n")
        try:
            await ws.prepare(request)
        except BaseException:
            if opened is not None and self.gate is not None:
                await self.gate.discard(opened)
            raise
        if version is None:  # HS-06 / HS-07: 101 without a protocol, then close
            log.info("no common OCPP version", extra={"cid": decision.identity,
                                                      "reason": decision.problem or
                                                      "the upstream lacks the version"})
            await ws.close(code=CLOSE_PROTOCOL_ERROR, message=b"no supported OCPP subprotocol")
            return ws
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        conn = Connection(
            ws,
            decision.identity,
            escape_topic_level(decision.identity),
            version,
            Session(version, self.schemas, self.policy),
            request.remote or "",
            sockname[1] if sockname else 0,
            None,
            settings.default_heartbeat_interval,
        )
        if self.frame_log is not None:
            conn.trace = self.frame_log.tracer(conn.identity)
        conn.upstream = opened
        await self._serve(conn)
        return ws

    @staticmethod
    def _direct(conn: Connection, on_text: Callable[[Connection, str], None],
                trace: Callable[[str, str], None] | None) -> Callable[[str], None]:
        """What handles a text frame straight from the parser (transport/direct.py)."""

        def deliver(text: str) -> None:
            if trace is not None:
                trace("in", text)
            try:
                on_text(conn, text)
            except Exception:  # inside aiohttp's parser: it must not see the exception
                log.exception("cannot handle a frame: closing the connection",
                              extra={"cid": conn.identity})
                conn.close(1011, "internal error")

        return deliver

    async def _serve(self, conn: Connection) -> None:
        ws = conn.ws
        reason = "closed by the charge point"
        direct = ws.direct if isinstance(ws, OcppWebSocket) else None
        try:
            await self.owner.attach(conn)
            on_text = self.owner.on_text
            flow = self.flow
            trace = conn.trace
            if direct is not None:
                direct.held = lambda: flow.blocked  # then the queue holds them, as below
                direct.deliver = self._direct(conn, on_text, trace)
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    if trace is not None:
                        trace("in", msg.data)
                    on_text(conn, msg.data)
                    if flow.blocked:
                        await flow.wait_writable()
                elif msg.type is WSMsgType.PONG:
                    conn.last_rx = time.monotonic()
                elif msg.type is WSMsgType.PING:  # KA-01
                    conn.last_rx = time.monotonic()
                    await ws.pong(msg.data)
                elif msg.type is WSMsgType.BINARY:  # FR-01: OCPP-J is text frames only
                    reason = "binary frame received (OCPP-J uses text frames)"
                    await ws.close(code=CLOSE_UNSUPPORTED_DATA, message=b"text frames only")
                    break
                elif msg.type is WSMsgType.ERROR:
                    reason = f"WebSocket error: {ws.exception()}"
                    break
            exc = ws.exception()
            if isinstance(exc, asyncio.TimeoutError):
                reason = "no pong: the charge point stopped answering pings"
            elif ws.close_code is not None and reason == "closed by the charge point":
                reason = f"closed by the charge point (code {ws.close_code})"
        except asyncio.CancelledError:
            reason = "gateway shutting down"
            raise
        finally:
            if direct is not None:
                direct.deliver = None  # whatever the socket still brings is not ours to handle
            self.owner.detach(conn, reason)
