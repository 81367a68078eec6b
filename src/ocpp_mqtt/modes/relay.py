"""Relay mode: every charge point message goes to an MQTT backend, which answers over MQTT.

This module wires sessions to MQTT: it owns the registry of live connections (one per identity,
the newer replaces the older, HS-12), turns session events into EMQX-profile publishes and
backend messages into session inputs, reports outcomes on the ack topic, publishes presence,
and runs the one timer that applies call timeouts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from ..config import Settings
from ..limitlog import OncePerMinute
from ..northbound import emqx
from ..northbound.mqtt import MqttLink, SubscriptionRefused
from ..ocppj import events as ev
from ..ocppj.identity import unescape_topic_level
from ..ocppj.session import Policy
from ..ocppj.versions import CALL, CALLRESULT
from ..transport.connection import Connection
from ..transport.recent import Quiet, RecentFrames, Tap
from .calls import LocalCall
from .connectors import ConnectorTracker
from .fleet import RESPONDER, Fleet
from .proxy.calls import ProxyCall
from .repeats import Repeats
from .topics import TopicPlan, Topics

if TYPE_CHECKING:
    from ..security_events import SecurityEvents
    from ..transport.mqtt_cp import MqttChargePoints
    from .central.mode import Central
    from .proxy.mode import Proxy

log = logging.getLogger("ocpp_mqtt.relay")


def policy_from(settings: Settings) -> Policy:
    return Policy(
        max_queue=settings.max_queue,
        call_timeout=settings.call_timeout,
        validate_cp_calls=settings.validate_cp_calls,
        validate_cp_results=settings.validate_cp_results,
        validate_mqtt_calls=settings.validate_mqtt_calls,
        validate_mqtt_results=settings.validate_mqtt_results,
        relay_signed=settings.relay_signed,
        check_direction=settings.check_direction,
        own_ids=settings.mode == "proxy",  # MID-06: MQTT's CALLs never reuse a CSMS's ids
        rate_limit=settings.rate_limit,
        rate_burst=settings.rate_burst,
        rate_limit_close=settings.rate_limit_action == "close",
    )


class Relay:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.link: MqttLink | None = None
        self.strict = settings.strict_compat
        self.qos = settings.qos
        self.repeats = Repeats(settings.repeat_actions, settings.repeat_window,
                               settings.repeat_memory)
        self.connections: dict[str, Connection] = {}
        self._spawned: set[asyncio.Task[None]] = set()
        self.problems = OncePerMinute(log)  # bad frames, limits: one line a minute per kind
        self.security: SecurityEvents | None = None  # set by the gateway
        # Exact topics handled outside the charge points' (e.g. credential provisioning).
        self.handlers: dict[str, Callable[[str, bytes, dict[str, Any]], None]] = {}
        self._by_topic: dict[str, Connection] = {}
        self._busy: set[Connection] = set()
        self.plan = TopicPlan(settings)
        self._ticker: asyncio.Task[None] | None = None
        self.fleet = Fleet(self)
        self.tick = min(0.25, settings.call_timeout / 10)
        # Set while the broker has been unreachable past the grace period: charge point CALLs
        # get a CALLERROR instead of waiting for a backend that cannot hear them (LC-01).
        self.outage: str | None = None
        self.central: Central | None = None  # central mode: answers CALLs, keeps state
        self.proxy: Proxy | None = None  # proxy mode: an upstream CSMS answers
        self.tap: Tap = Quiet()  # live frames and events for the admin API's stream
        # relay mode's connector status for the admin API (central mode keeps its own state)
        self.tracker: ConnectorTracker | None = None
        self.mqtt_cps: MqttChargePoints | None = None  # charge points that speak OCPP over MQTT

    # ---- lifecycle ----------------------------------------------------------------------

    async def start(self, link: MqttLink) -> None:
        self.link = link
        self._ticker = asyncio.get_running_loop().create_task(self._tick_loop())
        await self.fleet.start(link)

    async def stop(self, wait: float = 0.0) -> None:
        """Close every charge point with "going away", after waiting (at most `wait` s) for
        the calls in progress to be answered."""
        for _ in range(int(wait / 0.05)):  # polled: answers come from MQTT or time out
            if all(c.session.idle for c in self.connections.values()):
                break
            await asyncio.sleep(0.05)
        for conn in list(self.connections.values()):
            conn.close(1001, "gateway shutting down")
        for _ in range(50):
            if not self.connections:
                break
            await asyncio.sleep(0.02)
        for conn in list(self.connections.values()):
            self.detach(conn, "gateway shutting down")
        if self._ticker is not None:
            self._ticker.cancel()
        self.fleet.stop()

    def broker_outage(self, policy: str) -> None:
        """The broker stayed unreachable past the grace period (LC-01)."""
        self.outage = policy
        if policy == "close":  # the charge points queue their messages until they reconnect
            reason = "MQTT broker unreachable: try again later"
            for conn in list(self.connections.values()):
                conn.close(1013, reason)
                # Detached now: its reader stays paused until the link is back, but its offline
                # presence and outcomes are queued in order and it no longer counts as here.
                self.detach(conn, reason)

    def broker_back(self) -> None:
        self.outage = None

    def _refuse_calls(self, conn: Connection, events: list[ev.Event],
                      now: float) -> list[ev.Event]:
        """During an outage: answer each CALL with InternalError rather than relay it."""
        out: list[ev.Event] = []
        central = self.central
        for event in events:
            if type(event) is ev.UpCall and event.message_type == CALL and (
                    central is None or not central.answers_locally(event.action)):
                out += [e for e in conn.session.backend_error(
                    event.unique_id, "InternalError",
                    "MQTT broker unreachable: the message was not relayed; try again later",
                    {}, None, now) if type(e) is ev.SendFrame]
                log.info("CALL refused: MQTT broker unreachable", extra={
                    "cid": conn.identity, "id": event.unique_id, "action": event.action})
            else:
                out.append(event)
        return out

    def topics_for(self, cid: str) -> Topics:
        return self.plan.for_cp(cid)

    def local(self, level: str) -> Connection | None:
        """The connection here of the charge point with this (escaped) topic level."""
        return self._by_topic.get(self.plan.render("dnstream_topic", level))

    # ---- connections --------------------------------------------------------------------

    async def attach(self, conn: Connection) -> None:
        conn.topics = topics = self.topics_for(conn.cid_level)
        conn.recent = RecentFrames(conn.identity, self.settings.admin_frames, self.tap)
        old = self.connections.get(conn.identity)
        self.connections[conn.identity] = conn
        self._by_topic[topics.dnstream] = conn
        if topics.action_prefix:
            self._by_topic[topics.action_prefix] = conn
        if old is not None:  # HS-12: the newer connection replaces the older
            old.close(1000, "replaced by a newer connection with the same identity")
            self._finish(old, "takeover: a newer connection with the same identity")
        assert self.link is not None
        try:
            if not self.fleet.covers_all:
                subscribing = [self.link.subscribe(topics.dnstream, 1)]
                if topics.action_prefix:
                    subscribing.append(self.link.subscribe(topics.action_prefix + "+", 1))
                if (self.proxy is not None or self.central is not None) \
                        and not self.link.connected:
                    # Answered without MQTT (its CSMS, or the gateway itself): it must not wait
                    # for the broker; the subscriptions are made when the link is back.
                    for coro in subscribing:
                        self._spawn(coro)
                else:
                    for coro in subscribing:
                        await coro
        except SubscriptionRefused as exc:
            log.error("cannot receive commands for this charge point: closing it",
                      extra={"cid": conn.identity, "error": str(exc)})
            conn.close(1011, "the MQTT broker refused the command subscription")
            return
        if conn.detached:
            return
        conn.ready = True
        # Online is published after the SUBACK: from then on, commands reach the charge point.
        now_ms = _now_ms()
        info = conn.info(self.settings.gateway_id)
        self.link.publish(topics.presence, emqx.presence(info, True, None, now_ms), 1, True)
        self.link.publish(topics.connected, emqx.connection_event(info, "connected", None,
                                                                  now_ms), 1)
        log.info("charge point connected", extra={
            "cid": conn.identity, "version": conn.version.value, "ip": conn.remote_ip})
        if self.tap.watching:
            self.tap.event("connected", conn.identity, info)
        if self.central is not None:
            self.central.attached(conn)
        if self.proxy is not None:
            self.proxy.attached(conn)
        self.fleet.deliver_held(conn.cid_level)

    def _spawn(self, coro: Any) -> None:
        """A subscription no charge point waits for (made when the broker is back)."""

        async def guarded() -> None:
            try:
                await coro
            except Exception as exc:  # e.g. the broker refused the subscription
                log.error("subscription failed", extra={"error": str(exc)})

        task = asyncio.get_running_loop().create_task(guarded())
        self._spawned.add(task)
        task.add_done_callback(self._spawned.discard)

    def republish_presence(self) -> None:
        """After an MQTT reconnect: the broker may have lost retained messages (a restart
        without persistence) or the gateway may have lost unacknowledged ones."""
        assert self.link is not None
        now_ms = _now_ms()
        for conn in self.connections.values():
            info = conn.info(self.settings.gateway_id)
            self.link.publish(conn.topics.presence, emqx.presence(info, True, None, now_ms), 1,
                              True)

    def detach(self, conn: Connection, reason: str) -> None:
        """The socket is gone: publish offline unless a newer connection already took over."""
        if conn.detached:
            return
        current = self.connections.get(conn.identity) is conn
        if current:
            del self.connections[conn.identity]
            if self.tracker is not None:
                self.tracker.forget(conn.identity)
            self._by_topic.pop(conn.topics.dnstream, None)
            self._by_topic.pop(conn.topics.action_prefix, None)
        self._finish(conn, conn.close_reason or reason)
        if current:  # after the offline presence: see Fleet on who answers what comes now
            assert self.link is not None
            self.link.unsubscribe(conn.topics.dnstream)
            if conn.topics.action_prefix:
                self.link.unsubscribe(conn.topics.action_prefix + "+")

    def _finish(self, conn: Connection, reason: str) -> None:
        conn.detached = True
        self._busy.discard(conn)
        self.dispatch(conn, conn.session.close())
        if self.central is not None and conn.ready:
            self.central.detached(conn, reason)
        if self.proxy is not None:
            self.proxy.detached(conn, reason)
        now_ms = _now_ms()
        info = conn.info(self.settings.gateway_id)
        assert self.link is not None
        topics = conn.topics
        if self.connections.get(conn.identity) is None and conn.taken_over_by is None:
            self.link.publish(topics.presence, emqx.presence(info, False, reason, now_ms), 1, True)
        self.link.publish(topics.disconnected,
                          emqx.connection_event(info, "disconnected", reason, now_ms), 1)
        log.info("charge point disconnected", extra={"cid": conn.identity, "reason": reason})
        if self.tap.watching:
            self.tap.event("disconnected", conn.identity, {**info, "reason": reason})

    def on_text(self, conn: Connection, text: str) -> None:
        if conn.detached:  # replaced by a newer connection, its socket not yet closed
            return
        now = time.monotonic()
        conn.last_rx = now
        conn.frames_in += 1
        conn.recent.add(True, text, now)
        if self.proxy is not None:
            self.proxy.on_text(conn, text)
            return
        events = conn.session.receive(text, now)
        if self.outage is not None:
            events = self._refuse_calls(conn, events, now)
        self.dispatch(conn, events)
        if not conn.session.idle:
            self._busy.add(conn)

    # ---- MQTT side ----------------------------------------------------------------------

    def on_mqtt(self, topic: str, payload: bytes, properties: dict[str, Any]) -> None:
        if self.handlers and topic in self.handlers:
            self.handlers[topic](topic, payload, properties)
            return
        if self.mqtt_cps is not None and self.mqtt_cps.on_mqtt(topic, payload, properties):
            return
        if self.central is not None and self.central.on_mqtt(topic, payload, properties):
            return
        conn = self._by_topic.get(topic)
        action = None
        if conn is None:
            head, _, action = topic.rpartition("/")
            conn = self._by_topic.get(head + "/")
        if RESPONDER in (properties.get("subscription_identifier") or ()):
            # The fleet's shared copy: ours to answer only if the charge point is connected
            # nowhere. One attaching here gets it only if published before its own SUBACK.
            if conn is None or conn.detached:
                self.fleet.unclaimed(topic, payload, properties)
                return
            assert self.link is not None
            if self.link.active(conn.topics.dnstream):
                return  # its own subscription delivers this message
        elif conn is None or conn.detached:
            if not self.fleet.on_message(topic, payload, properties):
                self.fleet.left(topic, payload, properties)
            return
        self.deliver(conn, action, payload, properties)

    def deliver(self, conn: Connection, action: str | None, payload: bytes,
                properties: dict[str, Any]) -> None:
        """A message from MQTT to this charge point (EMQX envelope, or the payload of a
        per-Action CALL topic when `action` is set)."""
        ctx = _response_ctx(properties) if "response_topic" in properties else None
        if properties.get("retain"):
            # A retained command would be replayed at every reconnect of the charge point.
            self.dispatch(conn, [ev.Outcome(
                None, ev.INVALID, "retained messages are not delivered to charge points "
                "(they would be replayed at every reconnect); publish without retain",
                None, None, ctx)])
            return
        if action is not None:  # a per-Action topic: the payload is the OCPP payload itself
            self._action_call(conn, unescape_topic_level(action), payload, ctx)
            return
        try:
            down = emqx.decode_downstream(payload)
        except emqx.DecodeError as exc:
            self.dispatch(conn, [ev.Outcome(exc.unique_id, ev.INVALID, str(exc), None,
                                            exc.message_type, ctx)])
            return
        session = conn.session
        now = time.monotonic()
        if down.message_type == CALL:
            events = session.backend_call(down.unique_id, down.action, down.payload, ctx, now)
        elif self.proxy is not None:  # the upstream CSMS answers the charge point's CALLs
            events = [ev.Outcome(down.unique_id, ev.INVALID, "in proxy mode the upstream CSMS "
                                 "answers the charge point's CALLs; MQTT may only send CALLs",
                                 session.pending_action(down.unique_id or ""),
                                 down.message_type, ctx)]
        elif down.message_type == CALLRESULT:
            assert down.unique_id is not None
            events = session.backend_result(down.unique_id, down.payload, ctx, now)
        else:
            assert down.unique_id is not None
            events = session.backend_error(down.unique_id, down.code, down.description,
                                           down.details, ctx, now, down.message_type)
        self.dispatch(conn, events)
        if self.central is not None and down.message_type != CALL and any(
                type(e) is ev.SendFrame for e in events):
            assert down.unique_id is not None
            self.central.backend_answered(
                conn, down.unique_id, down.payload if down.message_type == CALLRESULT else None)
        if not session.idle:
            self._busy.add(conn)

    def _action_call(self, conn: Connection, action: str, payload: bytes, ctx: Any) -> None:
        try:
            body = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            self.dispatch(conn, [ev.Outcome(None, ev.INVALID, f"payload is not valid JSON: {exc}",
                                            action, CALL, ctx)])
            return
        session = conn.session
        self.dispatch(conn, session.backend_call(None, action, body, ctx, time.monotonic()))
        if not session.idle:
            self._busy.add(conn)

    # ---- events -> edges ----------------------------------------------------------------

    def dispatch(self, conn: Connection, events: list[ev.Event]) -> None:
        link = self.link
        assert link is not None
        topics: Topics = conn.topics
        now_ms = _now_ms()
        for event in events:
            try:
                self._dispatch_one(conn, link, topics, event, now_ms)
            except Exception:  # one event that cannot be delivered must not end the session
                log.exception("cannot deliver an event", extra={
                    "cid": conn.identity, "event": type(event).__name__})

    def _dispatch_one(self, conn: Connection, link: MqttLink, topics: Topics, event: ev.Event,
                      now_ms: int) -> None:
        kind = type(event)
        if kind is ev.SendFrame:
            conn.send(event.text)  # type: ignore[union-attr]
        elif kind is ev.UpCall:
            call: ev.UpCall = event  # type: ignore[assignment]
            if call.action == "SecurityEventNotification" and self.security is not None:
                self.security.cp_notification(conn.identity, call.payload)
            if self.central is not None:
                self.central.cp_call(conn, call)
                return
            if self.tracker is not None:
                self.tracker.take(conn.identity, conn.version.value, call.action,
                                  call.payload, self.tap)
            topic = self._topic(conn, topics.overrides.get(call.action, topics.upstream),
                                call.action, call.unique_id, call.message_type)
            link.publish(topic, self.encode_call(conn, call, now_ms), self.qos)
        elif isinstance(getattr(event, "ctx", None), ProxyCall):
            assert self.proxy is not None
            self.proxy.on_event(conn, event)  # about a CSMS's CALL: not for MQTT's topics
        elif type(getattr(event, "ctx", None)) is LocalCall:
            event.ctx.resolve(event)  # type: ignore[union-attr]  # the gateway's own CALL
        elif kind is ev.Outcome:
            self._outcome(conn, event, now_ms)  # type: ignore[arg-type]
        elif kind is ev.UpResult:
            result: ev.UpResult = event  # type: ignore[assignment]
            body = emqx.encode_result(result, now_ms, self.strict)
            link.publish(self._topic(conn, topics.reply, result.action, result.unique_id, 3),
                         body, self.qos)
            self.respond(result.ctx, body)
        elif kind is ev.UpError:
            error: ev.UpError = event  # type: ignore[assignment]
            body = emqx.encode_error(error, now_ms, self.strict)
            link.publish(self._topic(conn, topics.error, error.action or "",
                                     error.unique_id, error.message_type), body, self.qos)
            self.respond(error.ctx, body)
        elif kind is ev.Problem:
            problem: ev.Problem = event  # type: ignore[assignment]
            self.problems.warning(problem.event, conn.identity,
                                  f"{problem.event}: {problem.detail}",
                                  cid=conn.identity, id=problem.unique_id)
        elif kind is ev.Close:
            close: ev.Close = event  # type: ignore[assignment]
            conn.close(close.code, close.reason)
        elif kind is ev.KeepaliveChanged:
            conn.keepalive = event.interval  # type: ignore[union-attr]

    def encode_call(self, conn: Connection, call: ev.UpCall, now_ms: int) -> bytes:
        """The EMQX envelope of a charge point CALL, keyed when it is a transaction message."""
        extra = b"" if self.strict else self.repeats.mark(conn.identity, call.action,
                                                          call.payload, now_ms)
        return emqx.encode_call(call, now_ms, self.strict, extra)

    @staticmethod
    def _topic(conn: Connection, topic: str | emqx.Template, action: str, unique_id: str,
               message_type: int) -> str:
        if type(topic) is str:
            return topic
        assert isinstance(topic, emqx.Template)
        return topic.for_message(conn.cid_level, action, unique_id, message_type)

    def _outcome(self, conn: Connection, outcome: ev.Outcome, now_ms: int) -> None:
        assert self.link is not None
        body = emqx.encode_outcome(outcome, now_ms)
        self.link.publish(conn.topics.ack, body, self.settings.ack_qos)
        if outcome.final and outcome.status != ev.ANSWERED:
            self.respond(outcome.ctx, body)
        if outcome.status not in (ev.SENT, ev.ANSWERED):
            log.info("downstream message not delivered", extra={
                "cid": conn.identity, "id": outcome.unique_id, "status": outcome.status,
                "reason": outcome.reason})

    def respond(self, ctx: Any, body: bytes) -> None:
        """MQTT 5 request/response: the answer also goes to the request's response topic."""
        if ctx is None:
            return
        assert self.link is not None
        topic, correlation = ctx
        props: dict[str, Any] = {}
        if correlation is not None:
            props["correlation_data"] = correlation
        self.link.publish(topic, body, 1, False, **props)

    def watch(self, conn: Connection) -> None:
        """Apply call timeouts to this connection until its session is idle again."""
        if not conn.session.idle:
            self._busy.add(conn)

    # ---- timers -------------------------------------------------------------------------

    async def _tick_loop(self) -> None:
        keepalive_every = 1.0
        next_keepalive = time.monotonic() + keepalive_every
        while True:
            await asyncio.sleep(self.tick)
            now = time.monotonic()
            for conn in list(self._busy):
                if conn.detached:
                    self._busy.discard(conn)
                    continue
                events = conn.session.expire(now)
                if events:
                    self.dispatch(conn, events)
                if conn.session.idle:
                    self._busy.discard(conn)
            if self.central is not None:
                self.central.tick(now)
            if self.settings.keepalive_check and now >= next_keepalive:
                next_keepalive = now + keepalive_every
                self._check_keepalive(now)

    def _check_keepalive(self, now: float) -> None:
        """EMQX's keepalive rule (opt-in): close a charge point silent for too long."""
        backoff = self.settings.heartbeat_checking_times_backoff
        for conn in list(self.connections.values()):
            if conn.keepalive > 0 and now - conn.last_rx > conn.keepalive * (backoff + 0.5):
                conn.close(1000, "keepalive_timeout")


def _response_ctx(properties: dict[str, Any]) -> tuple[str, bytes | None] | None:
    topics = properties.get("response_topic") if properties else None
    if not topics:
        return None
    correlation = properties.get("correlation_data")
    return topics[0], correlation[0] if correlation else None


def _now_ms() -> int:
    return int(time.time() * 1000)
