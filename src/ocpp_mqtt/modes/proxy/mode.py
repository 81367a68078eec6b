"""Proxy mode's hub: each charge point stays connected to its upstream CSMS through the gateway,
MQTT sees every frame and may inject CALLs, and the gateway may answer some actions itself.

It rides on the relay, which still owns the connections, presence, the EMQX topics, MQTT
injection (the `{prefix}cs/{cid}` path and its acks) and the session timers. The upstream
connection is opened during the charge point's handshake (`gate.py`); the hub relays
frames both ways as they were sent, mirrors them to MQTT, and handles the upstream's loss.
What goes to the charge point first and what waits is the session's decision (SY-01, MID-06).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...config import Settings
from ...northbound import emqx
from ...northbound.client import Backoff
from ...ocppj import events as ev
from ...ocppj.frames import (
    BadFrame,
    Call,
    CallError,
    CallResult,
    Ignored,
    error_frame,
    parse,
    result_frame,
)
from ...ocppj.versions import CALL, CALLRESULTERROR, SEND, error_code
from ...transport.connection import Connection
from ...transport.upstream import UpstreamClient, UpstreamLink
from . import mirror
from .calls import ProxyCall, SecondaryCall, UpstreamCall
from .gate import Gate, Opened, Route
from .local import LocalAnswers

if TYPE_CHECKING:
    from ..relay import Relay

log = logging.getLogger("ocpp_mqtt.proxy")

CLOSE_TRY_LATER = 1013


@dataclass(eq=False, slots=True)
class _Peer:
    """Proxy state of one charge point connection."""

    conn: Connection
    route: Route
    upstream: UpstreamLink | None = None
    secondary: UpstreamLink | None = None
    generation: int = 0  # of the upstream link: answers to an older one are dropped
    ctx: UpstreamCall = field(default_factory=lambda: UpstreamCall(0))
    sec_generation: int = 0
    # charge point CALLs sent upstream, awaiting its answer: id -> (action, payload)
    waiting: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)


class Proxy:
    def __init__(self, settings: Settings, relay: Relay) -> None:
        self.settings = settings
        self.relay = relay
        self.strict = settings.strict_compat
        self.client = UpstreamClient(settings.upstream_connect_timeout, settings.max_frame_size,
                                     settings.ping_interval or None, settings.compression)
        self.local_actions = frozenset(settings.local_actions)
        self.central = settings.upstream_outage == "central"
        self.local = LocalAnswers(settings) if (self.local_actions or self.central) else None
        self.peers: dict[Connection, _Peer] = {}
        self.gate = Gate(settings, self.client)  # the listener's: opens upstream at handshakes
        self._csms = emqx.Template(settings.prefix, settings.csms_topic)
        self.mirror_dropped = 0  # mirror messages dropped while the broker was away
        self._free: set[asyncio.Task[Any]] = set()  # closes of links no peer holds

    # ---- relay hooks ---------------------------------------------------------------------

    def attached(self, conn: Connection) -> None:
        opened = conn.upstream
        assert isinstance(opened, Opened)
        conn.upstream = None
        peer = self.peers[conn] = _Peer(conn, opened.route)
        if opened.link is not None:
            self._use_upstream(peer, opened.link)
        else:
            self._spawn(peer, self._reconnect(peer))
        if self.settings.secondary:
            self._spawn(peer, self._secondary_loop(peer))

    def detached(self, conn: Connection, reason: str) -> None:
        peer = self.peers.pop(conn, None)
        if peer is None:
            if isinstance(conn.upstream, Opened) and conn.upstream.link is not None:
                self._spawn_free(conn.upstream.link.close(1000, "charge point disconnected"))
            return
        for task in peer.tasks:
            task.cancel()
        for link in (peer.upstream, peer.secondary):
            if link is not None:
                self._spawn_free(link.close(1000, f"charge point disconnected: {reason}"[:120]))
        if self.local is not None and conn.identity not in self.relay.connections:
            self.local.forget(conn.identity)

    def on_text(self, conn: Connection, text: str) -> None:
        """A frame from the charge point (the relay has done its bookkeeping)."""
        peer = self.peers.get(conn)
        now = time.monotonic()
        events = conn.session.receive(text, now)
        rest: list[ev.Event] = []
        tracker = self.relay.tracker  # connector status for the admin API
        for event in events:
            kind = type(event)
            if kind is ev.UpCall and tracker is not None:
                call: ev.UpCall = event  # type: ignore[assignment]
                tracker.take(conn.identity, conn.version.value, call.action, call.payload,
                             self.relay.tap)
            if kind is ev.UpCall and peer is not None:
                self._cp_call(peer, event, text)  # type: ignore[arg-type]
            elif kind in (ev.UpResult, ev.UpError) and peer is not None and (
                    isinstance(event.ctx, ProxyCall)  # type: ignore[union-attr]
                    or getattr(event, "message_type", None) == CALLRESULTERROR):
                self._cp_answer(peer, event, text)  # type: ignore[arg-type]
            else:
                rest.append(event)
        self.relay.dispatch(conn, rest)
        self.relay.watch(conn)

    def on_event(self, conn: Connection, event: ev.Event) -> None:
        """Session events about a CSMS's CALL that the relay does not handle (timeouts, the end
        of the connection): refusals go back to that CSMS, the rest is logged."""
        if type(event) is not ev.Outcome:
            return
        outcome: ev.Outcome = event
        peer = self.peers.get(conn)
        ctx = outcome.ctx
        if outcome.status == ev.TIMEOUT:
            log.info("charge point did not answer a CSMS's CALL in time", extra={
                "cid": conn.identity, "id": outcome.unique_id, "action": outcome.action})
        if peer is None or outcome.status not in (ev.INVALID, ev.QUEUE_FULL):
            return
        if isinstance(ctx, UpstreamCall):
            link, uid = peer.upstream, outcome.unique_id
        elif isinstance(ctx, SecondaryCall):
            link, uid = peer.secondary, ctx.caller_id
        else:
            return
        if link is not None and uid is not None:
            link.send(error_frame(uid, error_code(conn.version, "GenericError"),
                                  outcome.reason))

    def stop(self) -> None:
        for conn in list(self.peers):
            self.detached(conn, "gateway shutting down")

    async def close(self) -> None:
        await self.client.close()
        if self.local is not None:
            self.local.close()

    # ---- charge point -> CSMS ------------------------------------------------------------

    def _cp_call(self, peer: _Peer, call: ev.UpCall, text: str) -> None:
        conn = peer.conn
        local = call.action in self.local_actions
        upstream = peer.upstream if peer.upstream is not None and peer.upstream.open else None
        to = "gateway" if local or (upstream is None and call.message_type == CALL) \
            else "upstream"
        self._mirror_cp(conn, self.relay.encode_call(conn, call, _now_ms()),
                        call.action, call.unique_id, call.message_type, to)
        if peer.secondary is not None and peer.secondary.open:
            peer.secondary.send(text)  # fan-out: the secondary sees what the CSMS sees
        if call.message_type == SEND:  # 2.1: never answered (FR-05)
            if upstream is not None:
                upstream.send(text)
            return
        if local:
            self._answer_locally(peer, call.unique_id, call.action, call.payload)
        elif upstream is not None:
            peer.waiting[call.unique_id] = (call.action, call.payload)
            upstream.send(text)
        elif self.central:
            self._answer_locally(peer, call.unique_id, call.action, call.payload)
        else:  # LC-01 is closing this charge point: it must not wait for an answer
            self._refuse(conn, call.unique_id, "upstream CSMS unreachable: try again later")

    def _cp_answer(self, peer: _Peer, event: ev.UpResult | ev.UpError, text: str) -> None:
        """The charge point's answer to a CSMS's CALL: to that CSMS, as sent (MID-03)."""
        conn = peer.conn
        ctx = event.ctx
        now_ms = _now_ms()
        if type(event) is ev.UpResult:
            body = emqx.encode_result(event, now_ms, self.strict)
            topic = self.relay._topic(conn, conn.topics.reply, event.action, event.unique_id, 3)
        else:
            assert type(event) is ev.UpError
            body = emqx.encode_error(event, now_ms, self.strict)
            topic = self.relay._topic(conn, conn.topics.error, event.action or "",
                                      event.unique_id, event.message_type)
        if isinstance(ctx, SecondaryCall):
            self._publish(topic, mirror.tagged(body, self.strict, "charge_point", "secondary"))
            link = peer.secondary
            if link is None or ctx.generation != peer.sec_generation:
                return
            # the secondary knows this CALL by its own id, not the gateway's
            if isinstance(event, ev.UpResult):
                link.send(result_frame(ctx.caller_id, event.raw_payload))
            else:
                link.send(error_frame(ctx.caller_id, event.code, event.description,
                                      event.details))
            return
        self._publish(topic, mirror.tagged(body, self.strict, "charge_point", "upstream"))
        stale = isinstance(ctx, UpstreamCall) and ctx.generation != peer.generation
        if peer.upstream is None or not peer.upstream.open or stale:
            log.info("answer for a CSMS connection that is gone: dropped", extra={
                "cid": conn.identity, "id": event.unique_id})
            return
        peer.upstream.send(text)

    # ---- CSMS -> charge point ------------------------------------------------------------

    def _from_upstream(self, peer: _Peer, text: str) -> None:
        conn = peer.conn
        if conn.detached:
            return
        frame = parse(text, conn.version)
        now = time.monotonic()
        kind = type(frame)
        if kind is Call:
            call: Call = frame  # type: ignore[assignment]
            self._mirror_csms(conn, call, None, "upstream")
            if call.message_type == SEND:
                conn.send(text)
                return
            self._dispatch(conn, conn.session.upstream_call(call.unique_id, call.action, text,
                                                            peer.ctx, now))
        elif kind is CallResult or kind is CallError:
            answer: CallResult | CallError = frame  # type: ignore[assignment]
            action = peer.waiting.pop(answer.unique_id, (None, None))[0]
            self._mirror_csms(conn, answer, action, "upstream")
            payload = answer.payload if type(answer) is CallResult else None
            mtype = answer.message_type if type(answer) is CallError else 3
            self._dispatch(conn, conn.session.upstream_answer(answer.unique_id, text, mtype,
                                                              payload, now))
        elif kind is BadFrame:
            bad: BadFrame = frame  # type: ignore[assignment]
            log.warning("bad frame from the upstream", extra={
                "cid": conn.identity, "reason": bad.problem, "id": bad.unique_id})
            if bad.reply is not None and peer.upstream is not None:
                peer.upstream.send(bad.reply)
        else:
            assert kind is Ignored
            log.info("frame from the upstream ignored", extra={
                "cid": conn.identity, "reason": frame.problem})  # type: ignore[union-attr]

    def _from_secondary(self, peer: _Peer, text: str) -> None:
        conn = peer.conn
        link = peer.secondary
        if conn.detached or link is None:
            return
        frame = parse(text, conn.version)
        if type(frame) is Call:
            self._mirror_csms(conn, frame, None, "secondary")
            if frame.message_type == SEND:
                return
            rule = self.settings.secondary_calls.get(frame.action,
                                                     self.settings.secondary_calls_default)
            if rule == "block":
                link.send(error_frame(frame.unique_id, error_code(conn.version, "NotSupported"),
                                      f"the gateway does not pass {frame.action} from this "
                                      "CSMS to the charge point"))
                log.info("secondary CSMS CALL blocked", extra={
                    "cid": conn.identity, "action": frame.action})
                return
            ctx = SecondaryCall(frame.unique_id, peer.sec_generation)
            self._dispatch(conn, conn.session.backend_call(None, frame.action, frame.payload,
                                                           ctx, time.monotonic()))
        elif type(frame) is CallResult or type(frame) is CallError:
            # only the primary's answers reach the charge point; this one is only seen
            self._mirror_csms(conn, frame, conn.session.pending_action(frame.unique_id),
                              "secondary")
        elif type(frame) is BadFrame and frame.reply is not None:
            link.send(frame.reply)

    # ---- upstream connections ------------------------------------------------------------

    def _use_upstream(self, peer: _Peer, link: UpstreamLink) -> None:
        peer.upstream = link
        peer.generation += 1
        peer.ctx = UpstreamCall(peer.generation)
        self._spawn(peer, self._read_upstream(peer, link))

    async def _read_upstream(self, peer: _Peer, link: UpstreamLink) -> None:
        reason = await link.read(lambda text: self._from_upstream(peer, text))
        conn = peer.conn
        if conn.detached or peer.upstream is not link:
            return
        log.warning("upstream connection lost", extra={"cid": conn.identity, "reason": reason,
                                                       "policy": self.settings.upstream_outage})
        peer.upstream = None
        if not self.central:  # LC-01: the charge point queues its messages until it is back
            conn.close(CLOSE_TRY_LATER, "upstream CSMS unreachable: try again later")
            return
        # What the CSMS will never answer now, the built-in central system answers.
        for uid, (action, payload) in list(peer.waiting.items()):
            if conn.session.pending_action(uid) is not None:
                self._answer_locally(peer, uid, action, payload)
        peer.waiting.clear()
        self._spawn(peer, self._reconnect(peer))

    async def _reconnect(self, peer: _Peer) -> None:
        """`upstream_outage` central: try again with back-off until the CSMS is back."""
        conn = peer.conn
        backoff = Backoff(self.settings.upstream_reconnect_min,
                          self.settings.upstream_reconnect_max)
        while not conn.detached:
            await asyncio.sleep(backoff())
            result = await self.client.connect(peer.route.url, conn.version,
                                               peer.route.authorization, peer.route.tls,
                                               "upstream")
            if isinstance(result, UpstreamLink):
                if conn.detached:
                    await result.close(1000, "charge point disconnected")
                    return
                log.info("upstream connection back", extra={"cid": conn.identity})
                self._use_upstream(peer, result)
                return
            log.info("upstream still unavailable", extra={
                "cid": conn.identity, "reason": result.reason})

    async def _secondary_loop(self, peer: _Peer) -> None:
        """The secondary CSMS: connected while the charge point is, never required by it."""
        conn = peer.conn
        backoff = Backoff(self.settings.upstream_reconnect_min,
                          self.settings.upstream_reconnect_max)
        route = self.gate.route(self.settings.secondary, conn.identity, peer.route.authorization
                           if self.settings.upstream_forward_auth else None)
        while not conn.detached:
            result = await self.client.connect(route.url, conn.version, route.authorization,
                                               route.tls, "secondary")
            if isinstance(result, UpstreamLink):
                backoff.reset()
                peer.secondary = result
                peer.sec_generation += 1
                reason = await result.read(lambda text: self._from_secondary(peer, text))
                peer.secondary = None
                if conn.detached:
                    return
                log.info("secondary CSMS connection lost", extra={
                    "cid": conn.identity, "reason": reason})
            else:
                log.info("secondary CSMS unavailable", extra={
                    "cid": conn.identity, "reason": result.reason})
            await asyncio.sleep(backoff())

    # ---- helpers -------------------------------------------------------------------------

    def _answer_locally(self, peer: _Peer, unique_id: str, action: str,
                        payload: dict[str, Any]) -> None:
        conn = peer.conn
        assert self.local is not None
        answer = self.local.answer(conn.identity, conn.cid_level, conn.version, action, payload)
        now = time.monotonic()
        if answer.error is not None:
            events = conn.session.backend_error(unique_id, answer.error[0], answer.error[1], {},
                                                None, now)
        else:
            assert answer.payload is not None
            events = conn.session.backend_result(unique_id, answer.payload, None, now)
            if not any(type(e) is ev.SendFrame for e in events):  # our answer failed its schema
                log.error("built-in answer refused by the session", extra={
                    "cid": conn.identity, "action": action})
                events = conn.session.backend_error(unique_id, "InternalError",
                                                    "the gateway's answer was invalid", {},
                                                    None, now)
        for event in events:
            if type(event) is ev.SendFrame:
                frame = parse(event.text, conn.version)
                if type(frame) is CallResult or type(frame) is CallError:
                    self._mirror_csms(conn, frame, action, "gateway")
        self.relay.dispatch(conn, [e for e in events if type(e) is not ev.Outcome])

    def _refuse(self, conn: Connection, unique_id: str, reason: str) -> None:
        events = conn.session.backend_error(unique_id, "InternalError", reason, {}, None,
                                            time.monotonic())
        self.relay.dispatch(conn, [e for e in events if type(e) is not ev.Outcome])

    def _dispatch(self, conn: Connection, events: list[ev.Event]) -> None:
        self.relay.dispatch(conn, events)
        self.relay.watch(conn)

    def _mirror_cp(self, conn: Connection, body: bytes, action: str, unique_id: str,
                   message_type: int, to: str) -> None:
        topics = conn.topics
        topic = self.relay._topic(conn, topics.overrides.get(action, topics.upstream), action,
                                  unique_id, message_type)
        self._publish(topic, mirror.tagged(body, self.strict, "charge_point", to))

    def _mirror_csms(self, conn: Connection, frame: Call | CallResult | CallError,
                     action: str | None, origin: str) -> None:
        body = mirror.frame_body(frame, action, _now_ms(), self.strict, origin)
        self._publish(self._csms.render(cid=conn.cid_level), body)

    def _publish(self, topic: str, body: bytes) -> None:
        """The mirror is for watching: while the broker is away it is dropped, so the charge
        point's traffic with its CSMS never waits for MQTT."""
        link = self.relay.link
        if link is not None and link.connected:
            link.publish(topic, body, self.relay.qos)
        else:
            self.mirror_dropped += 1

    def _spawn(self, peer: _Peer, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        peer.tasks.add(task)
        task.add_done_callback(peer.tasks.discard)

    def spawn(self, coro: Any) -> None:
        """A task no charge point owns (a subscription made when the broker is back)."""

        async def guarded() -> None:
            try:
                await coro
            except Exception as exc:  # e.g. the broker refused the subscription
                log.error("background task failed", extra={"error": str(exc)})

        self._spawn_free(guarded())

    def _spawn_free(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._free.add(task)
        task.add_done_callback(self._free.discard)


def _now_ms() -> int:
    return int(time.time() * 1000)
