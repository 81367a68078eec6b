"""What one gateway instance knows of the others, through MQTT alone, and the answers for
charge points that are connected to no instance.

- Presence (retained, `presence_topic`): which charge point is online at which instance. A
  newer connection at another instance closes ours (HS-12 across instances).
- Gateway status (retained, with a last will): which instances are alive. A charge point
  shown online at an instance that died counts as connected nowhere.
- Offline answers: the downstream topics of every charge point are also subscribed through
  one shared subscription (`$share/<shared_group>/...`, tagged with the MQTT 5 subscription
  identifier RESPONDER), so the broker hands each message to exactly one instance. When the
  charge point is connected nowhere, that instance answers `offline`, or, when the message
  carries an MQTT 5 message expiry, holds it: a retained message under `held_topic` that the
  instance the charge point connects to next delivers and clears, or that the holding
  instance reports `expired`.
- With the embedded broker the instance is alone: one plain wildcard subscription replaces
  the per-charge-point ones and the shared one.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from ..northbound import emqx
from ..northbound.mqtt import MqttLink, SubscriptionRefused
from ..ocppj import events as ev
from ..ocppj.identity import escape_topic_level, unescape_topic_level
from ..ocppj.versions import CALL

if TYPE_CHECKING:
    from .relay import Relay

log = logging.getLogger("ocpp_mqtt.fleet")

RESPONDER = 1  # MQTT 5 subscription identifier of the shared offline-answer subscriptions


@dataclass(slots=True)
class Held:
    level: str  # the charge point's (escaped) topic level
    envelope: bytes  # an EMQX downstream message
    props: dict[str, Any]  # response topic and correlation data, for the answers
    timer: asyncio.TimerHandle | None = None  # set on the instance that holds it


class Fleet:
    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.settings = settings = relay.settings
        self.plan = relay.plan
        self.me = settings.gateway_id
        self._my_key = "-" + escape_topic_level(self.me)
        # charge point level -> (instance it is online at, its connected_at), as the retained
        # presence says, in the broker's order (this instance's own presence included)
        self.online: dict[str, tuple[str, int]] = {}
        self.dead: set[str] = set()  # instances whose retained status is offline
        self.held: dict[str, Held] = {}  # retained topic -> message held there
        self.responder = "off"  # "shared", "all" (embedded broker: alone) or "off"
        self.started_ms = 0
        self.announced_at = 0  # `started_at` of this instance's status, once published
        self._seq = itertools.count()
        self.link: MqttLink | None = None

    @property
    def covers_all(self) -> bool:
        """One wildcard subscription delivers every charge point's messages here."""
        return self.responder == "all"

    async def start(self, link: MqttLink) -> None:
        self.link = link
        self.started_ms = _now_ms()
        settings, plan = self.settings, self.plan
        subs: list[tuple[str, int | None]] = []
        if settings.cluster_takeover or settings.answer_offline:
            for name in ("presence_topic", "gateway_status_topic"):
                watch = plan.wildcard(name)
                if watch is not None:
                    subs.append((watch, None))
        filters = [plan.wildcard("dnstream_topic")]
        if plan.action_topics:
            filters.append(plan.action_wildcard())
        if settings.answer_offline and None not in filters:
            if link.target.embedded:
                self.responder = "all"
                subs += [(f, None) for f in filters if f is not None]
            elif link.mqtt5:
                self.responder = "shared"
                link.redundant_ids.add(RESPONDER)  # Relay.on_mqtt would drop them anyway
                group = f"$share/{settings.shared_group}/"
                subs += [(group + f, RESPONDER) for f in filters if f is not None]
                held = plan.wildcard("held_topic")
                if held is not None:
                    subs.append((held + "/+", None))
        elif settings.answer_offline:
            log.warning("answer_offline needs dnstream_topic (and dnstream_action_topic) with "
                        "${cid} as a whole topic level: messages for charge points connected "
                        "nowhere get no answer")
        for topic, identifier in subs:
            try:
                await link.subscribe(topic, 1, identifier)
            except SubscriptionRefused as exc:
                if topic.startswith("$share/"):
                    self.responder = "off"
                log.warning("the broker refused a fleet subscription: messages for charge "
                            "points connected nowhere may get no answer",
                            extra={"topic": topic, "error": str(exc)})

    # ---- what other instances publish -----------------------------------------------------

    def on_message(self, topic: str, payload: bytes, properties: dict[str, Any]) -> bool:
        """A presence, gateway status or held message; False if `topic` is none of them."""
        plan = self.plan
        level = plan.cid_level("presence_topic", topic)
        if level is not None:
            self._on_presence(level, payload)
            return True
        gateway = plan.cid_level("gateway_status_topic", topic)
        if gateway is not None:
            self._on_status(gateway, payload)
            return True
        head, _, key = topic.rpartition("/")
        level = plan.cid_level("held_topic", head) if key else None
        if level is not None:
            self._on_held(topic, level, key, payload, properties)
            return True
        return False

    def _on_presence(self, level: str, payload: bytes) -> None:
        try:
            body = orjson.loads(payload)
            other, status = str(body.get("gateway")), body.get("status")
            connected_at = int(body.get("connected_at") or 0)
        except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
            return
        if status == "online":
            self.online[level] = (other, connected_at)
        else:
            self.online.pop(level, None)
        conn = self.relay.local(level)
        if conn is None or conn.detached:
            if status == "online" and other == self.me and connected_at < self.started_ms:
                self._clear_stale(level, body)
            return
        # A charge point that reconnected through another instance (behind a load balancer)
        # is closed here. Its retained presence is then the other instance's to keep.
        if (self.settings.cluster_takeover and status == "online" and other != self.me
                and connected_at >= conn.connected_at_ms):
            conn.taken_over_by = other
            conn.close(1000, f"takeover: the charge point connected to gateway {other}")

    def _clear_stale(self, level: str, body: dict[str, Any]) -> None:
        """Online here, from before this instance started (it crashed or was killed): the
        charge point is not connected here any more."""
        assert self.link is not None
        self.online.pop(level, None)
        body.update(status="offline", disconnected_at=_now_ms(),
                    reason="gateway restarted: the connection was lost with it")
        self.link.publish(self.plan.render("presence_topic", level), orjson.dumps(body), 1, True)
        log.info("stale presence cleared", extra={"cid": unescape_topic_level(level)})

    def _on_status(self, gateway: str, payload: bytes) -> None:
        try:
            body = orjson.loads(payload)
            alive = body.get("status") != "offline"
            started_at = body.get("started_at")
        except (orjson.JSONDecodeError, AttributeError):
            alive, started_at = True, None
        if (gateway == self.me and alive and self.announced_at
                and started_at not in (None, self.announced_at)):
            log.error("another gateway instance runs with this gateway_id: give each instance "
                      "its own gateway_id (and MQTT client id); they push each other off the "
                      "broker and mix up their charge points' presence",
                      extra={"gateway_id": self.me, "other_started_at": started_at})
        if alive:
            self.dead.discard(gateway)
        else:
            self.dead.add(gateway)

    def holder(self, level: str, include_me: bool = False) -> str | None:
        """The live instance the charge point is connected to, as far as the presence seen
        so far says (this one only if `include_me`, and only for a connection of this run)."""
        gateway, connected_at = self.online.get(level, ("", 0))
        if not gateway or gateway in self.dead:
            return None
        if gateway == self.me:
            return gateway if include_me and connected_at >= self.started_ms else None
        return gateway

    # ---- messages for charge points that are not here -----------------------------------

    # Who answers a message for a charge point that is not here is decided on the presence
    # each instance has seen, which arrives in the broker's order with the message itself:
    # - the instance that receives the shared copy answers, unless the charge point is online
    #   (at any live instance, this one included) when the copy arrives;
    # - an instance that still gets copies on the charge point's own topic after it left
    #   answers those that arrive before its own offline presence comes back to it. It ends
    #   that subscription only after publishing the offline presence, so every message routed
    #   before the presence reaches it, and every message routed after finds it offline.

    def left(self, topic: str, payload: bytes, properties: dict[str, Any]) -> None:
        """A message from this instance's own subscription for a charge point that is no
        longer here (it left, or its copy was queued in the MQTT session during an outage)."""
        if self.responder != "shared":
            self.unclaimed(topic, payload, properties)
            return
        target = self._target(topic, payload)
        if target is not None and self.holder(target[0], include_me=True) == self.me:
            self._settle(target[0], target[1], properties)

    def unclaimed(self, topic: str, payload: bytes, properties: dict[str, Any]) -> None:
        """A message for a charge point not connected here: answered unless it is online at
        a live instance, which got the message too."""
        target = self._target(topic, payload)
        if target is None:
            return
        level, envelope = target
        if self.holder(level, include_me=self.responder == "shared") is not None:
            return
        self._settle(level, envelope, properties)

    def _settle(self, level: str, envelope: bytes, properties: dict[str, Any]) -> None:
        """Answer `offline`, or hold the message when it has an MQTT 5 expiry."""
        mtype: int | None
        try:
            down = emqx.decode_downstream(envelope)
            uid, action, mtype = down.unique_id, down.action or None, down.message_type
        except emqx.DecodeError as exc:
            down, uid, action, mtype = None, exc.unique_id, None, exc.message_type
        ctx = _answer_props(properties)
        expiry = (properties.get("message_expiry_interval") or [None])[0]
        if down is not None and expiry and self.responder == "shared":
            now_ms = _now_ms()
            self._hold(level, envelope, ctx, int(expiry), now_ms, ev.Outcome(
                uid, ev.HELD, f"the charge point is not connected: held for {expiry} s and "
                "delivered when it connects", action, mtype, None, final=False,
                extra={"ExpiresAt": now_ms + int(expiry) * 1000}))
            return
        self._answer(level, ev.Outcome(
            uid, ev.OFFLINE, "the charge point is not connected to any gateway instance",
            action, mtype, None), ctx)
        log.info("message for a charge point that is not connected", extra={
            "cid": unescape_topic_level(level), "id": uid})

    def _target(self, topic: str, payload: bytes) -> tuple[str, bytes] | None:
        """(charge point level, EMQX envelope) of a downstream message."""
        level = self.plan.cid_level("dnstream_topic", topic)
        if level is not None:
            return level, payload
        target = self.plan.action_target(topic)
        if target is None:
            return None
        level, action = target
        try:
            orjson.loads(payload)
        except orjson.JSONDecodeError:
            payload = b"null"  # answered as invalid where it is delivered
        return level, b'{"MessageTypeId":%d,"Action":%b,"Payload":%b}' % (
            CALL, orjson.dumps(unescape_topic_level(action)), payload)

    def _answer(self, level: str, outcome: ev.Outcome, ctx: dict[str, Any],
                now_ms: int | None = None) -> None:
        assert self.link is not None
        body = emqx.encode_outcome(outcome, now_ms or _now_ms())
        self.link.publish(self.plan.render("ack_topic", level), body, self.settings.ack_qos)
        if outcome.final and ctx.get("response_topic"):
            self.relay.respond((ctx["response_topic"], ctx.get("correlation_data")), body)

    # ---- held messages --------------------------------------------------------------------

    def _hold(self, level: str, envelope: bytes, ctx: dict[str, Any], expiry: int,
              now_ms: int, outcome: ev.Outcome) -> None:
        assert self.link is not None
        key = f"{now_ms:013d}-{next(self._seq) % 1_000_000:06d}{self._my_key}"
        topic = f"{self.plan.render('held_topic', level)}/{key}"
        self.link.publish(topic, envelope, 1, True, message_expiry_interval=expiry, **ctx)
        self._answer(level, outcome, ctx, now_ms)
        log.info("message held for a charge point that is not connected", extra={
            "cid": unescape_topic_level(level), "id": outcome.unique_id, "expiry_s": expiry})

    def _on_held(self, topic: str, level: str, key: str, payload: bytes,
                 properties: dict[str, Any]) -> None:
        old = self.held.pop(topic, None)
        if old is not None and old.timer is not None:
            old.timer.cancel()
        if not payload:  # cleared: delivered, or expired
            return
        held = Held(level, payload, _answer_props(properties))
        expiry = (properties.get("message_expiry_interval") or [None])[0]
        if key.endswith(self._my_key) and expiry is not None:
            held.timer = asyncio.get_running_loop().call_later(
                float(expiry), self._expire, topic)
        self.held[topic] = held
        conn = self.relay.local(level)
        if conn is not None and conn.ready and not conn.detached:
            self.deliver_held(level)

    def deliver_held(self, level: str) -> None:
        """The charge point is connected here: hand it what was held, oldest first."""
        topics = sorted(t for t, h in self.held.items() if h.level == level)
        conn = self.relay.local(level)
        if not topics or conn is None:
            return
        assert self.link is not None
        for topic in topics:
            held = self.held.pop(topic)
            if held.timer is not None:
                held.timer.cancel()
            self.link.publish(topic, b"", 1, True)
            log.info("held message delivered", extra={"cid": conn.identity, "topic": topic})
            self.relay.deliver(conn, None, held.envelope, {
                "response_topic": [held.props["response_topic"]],
                "correlation_data": [held.props.get("correlation_data")],
            } if "response_topic" in held.props else {})

    def _expire(self, topic: str) -> None:
        held = self.held.pop(topic, None)
        if held is None:
            return
        assert self.link is not None
        self.link.publish(topic, b"", 1, True)
        try:
            down = emqx.decode_downstream(held.envelope)
            uid, action, mtype = down.unique_id, down.action or None, down.message_type
        except emqx.DecodeError:
            uid, action, mtype = None, None, None
        self._answer(held.level, ev.Outcome(
            uid, ev.EXPIRED, "held until its expiry, and the charge point did not connect",
            action, mtype, None), held.props)
        log.info("held message expired", extra={"cid": unescape_topic_level(held.level),
                                                "id": uid})

    def stop(self) -> None:
        for held in self.held.values():
            if held.timer is not None:
                held.timer.cancel()


def _answer_props(properties: dict[str, Any]) -> dict[str, Any]:
    """The MQTT 5 request/response properties of a message, as publish() takes them."""
    out: dict[str, Any] = {}
    topics = properties.get("response_topic") if properties else None
    if topics:
        out["response_topic"] = topics[0]
        correlation = properties.get("correlation_data")
        if correlation and correlation[0] is not None:
            out["correlation_data"] = correlation[0]
    return out


def _now_ms() -> int:
    return int(time.time() * 1000)
