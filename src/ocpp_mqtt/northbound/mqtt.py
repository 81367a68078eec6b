"""The gateway's one MQTT connection (gmqtt): publish, per-charge-point subscriptions, reconnects.

Flow control: every QoS 1/2 publish, subscribe and unsubscribe takes a packet id, and at most
`receive_maximum - 1` may be in flight (Mosquitto announces 20 to MQTT 5 clients; past the limit
gmqtt raises OverflowError). Packets that find no room wait, in order, in a backlog that drains
as acknowledgements arrive; while the backlog is long, `blocked` tells the charge point side to
stop reading (back-pressure instead of loss or a crash).

Subscriptions are tracked here in a dict rather than in gmqtt's list, whose removal is O(n) and
would make a reconnect storm of 10,000 charge points quadratic. After a reconnect without a
session every subscription is sent again.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections import deque
from collections.abc import Callable
from typing import Any

from gmqtt import Message, Subscription
from gmqtt.mqtt.constants import MQTTv50, MQTTv311

from ..config import MqttTarget
from .client import Backoff, _Client

log = logging.getLogger("ocpp_mqtt.mqtt")

MessageHandler = Callable[[str, bytes, dict[str, Any]], None]

_FIRST_BYTE = [[bytes((0x30 | (qos << 1) | retain,)) for retain in (0, 1)] for qos in (0, 1, 2)]


def _varint(value: int) -> bytes:
    """MQTT's variable byte integer."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


HIGH_WATER = 10_000  # backlog length at which charge point sockets stop being read
LOW_WATER = 1_000


class SubscriptionRefused(Exception):
    """The broker answered a SUBSCRIBE with a failure code (e.g. an ACL refusal)."""


class MqttLink:
    def __init__(
        self,
        target: MqttTarget,
        *,
        client_id: str,
        version: str,
        keepalive: int,
        will: tuple[str, bytes] | None,
        tls: ssl.SSLContext | None,
        on_message: MessageHandler,
        on_reconnect: Callable[[], None] | None = None,
        on_down: Callable[[], None] | None = None,
        max_inflight: int = 1000,
        session_expiry: int = 0,
        reconnect_delay: tuple[float, float] = (1.0, 30.0),
    ) -> None:
        self.target = target
        # amqtt (the embedded broker) refuses any protocol level but 3.1.1.
        self.mqtt5 = version == "5" and not target.embedded
        self._keepalive = keepalive
        self._tls = tls
        self._handler = on_message
        self._on_reconnect = on_reconnect
        self._on_down = on_down
        will_message = Message(will[0], will[1], qos=1, retain=True) if will else None
        # The first connection starts clean (no commands or subscriptions left over from an
        # earlier run); later ones resume the session when `session_expiry` is set, so that
        # commands published while the link was down are delivered after it.
        self.session_expiry = session_expiry
        extra = {"session_expiry_interval": session_expiry} if self.mqtt5 and session_expiry else {}
        self.client_id = client_id
        self._client = _Client(client_id, clean_session=True, will_message=will_message, **extra)
        self._client.on_ack = self._flush
        self.backoff = Backoff(*reconnect_delay)
        self._client.next_delay = self.backoff
        self.max_inflight = max_inflight
        self._backlog: deque[tuple[Any, ...]] = deque()
        self._wbuf: list[bytes] = []
        self._topics: dict[str, bytes] = {}
        self._props = b"\x00" if self.mqtt5 else b""  # MQTT 5: an empty property list
        self._props_len = len(self._props)
        self._write_scheduled = False
        self._writable = asyncio.Event()
        self._writable.set()
        self.blocked = False
        # packet id -> token of a tracked publish (publish_tracked): `on_confirm(token)` runs
        # when the broker has it (PUBACK), which is when the outbox may forget it
        self._tokens: dict[int, int] = {}
        self.on_confirm: Callable[[int], None] | None = None
        # token of a tracked publish about to be written to the socket (the outbox's mark)
        self.on_sent: Callable[[int], None] | None = None
        if target.username:
            self._client.set_auth_credentials(target.username, target.password)
        self._client.on_message = self._on_message
        self._install_fast_inbound()
        self._client.on_subscribe = self._on_subscribe
        # gmqtt frees the packet id only after these callbacks: flush once it has
        self._client.on_unsubscribe = self._on_unsubscribe
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._subscribed: dict[str, int] = {}  # topic -> qos
        self._sub_ids: dict[str, int] = {}  # topic -> MQTT 5 subscription identifier
        self._active: set[str] = set()  # subscriptions the broker acknowledged (SUBACK seen)
        # Subscription identifiers of shared subscriptions whose copy of a message is dropped
        # when one of our own subscriptions (the same topic, SUBACK seen) delivers it too.
        self.redundant_ids: set[int] = set()
        self._suback: dict[int, tuple[str, asyncio.Future[None]]] = {}
        self._unsuback: dict[int, str] = {}  # UNSUBSCRIBEs in flight
        self.session_present = False
        self.resent = 0  # publishes sent again after reconnects
        self._connects = 0
        self._closing = False
        self.connected = False

    async def connect(self, wait: float = 10.0) -> None:
        self._client.set_config({"reconnect_retries": -1, "reconnect_delay": 2})
        await asyncio.wait_for(
            self._client.connect(
                self.target.host,
                self.target.port,
                ssl=self._tls or False,
                keepalive=self._keepalive,
                version=MQTTv50 if self.mqtt5 else MQTTv311,
            ),
            wait,
        )
        self._set_nodelay()

    def _set_nodelay(self) -> None:
        # Nagle on the MQTT socket turns sub-millisecond QoS 1 round trips into 25-50 ms.
        transport = getattr(getattr(self._client, "_connection", None), "_transport", None)
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def drain(self, wait: float = 3.0) -> None:
        """Wait (bounded) until every queued and in-flight packet is acknowledged."""
        ids = self._client._package_handler.id_generator
        deadline = asyncio.get_running_loop().time() + wait
        while (self._backlog or ids._used_ids) and self.connected:
            if asyncio.get_running_loop().time() > deadline:
                log.warning("MQTT packets still unacknowledged at shutdown",
                            extra={"backlog": len(self._backlog), "in_flight": len(ids._used_ids)})
                return
            await asyncio.sleep(0.01)

    async def disconnect(self) -> None:
        """Leave for good: the session ends with the connection, so the broker stops queueing
        messages for it (shared-subscription messages would otherwise wait for an instance
        that is gone, until the session expires)."""
        self._write_out()
        self._closing = True
        if self._client.is_connected:
            if self.mqtt5 and self.session_expiry:
                await self._client.disconnect(session_expiry_interval=0)
            else:
                await self._client.disconnect()

    # ---- publish / subscribe --------------------------------------------------------------

    def _room(self) -> int:
        ids = self._client._package_handler.id_generator
        return int(min(self.max_inflight, ids._max - 1) - len(ids._used_ids))

    @property
    def in_flight(self) -> int:
        """Packet ids in use: QoS 1/2 publishes and (un)subscriptions awaiting their ack."""
        return len(self._client._package_handler.id_generator._used_ids)

    @property
    def window(self) -> int:
        """The most packets that may be in flight (mqtt_max_inflight, capped by the broker)."""
        ids = self._client._package_handler.id_generator
        return int(min(self.max_inflight, ids._max - 1))

    def _send_publish(
        self, topic: str, payload: bytes, qos: int, retain: bool, props: dict[str, Any],
        token: int | None = None,
    ) -> None:
        if token is not None and self.on_sent is not None:
            self.on_sent(token)
        if token is not None and qos == 0:  # nothing will confirm it: written is all there is
            assert self.on_confirm is not None
            self.on_confirm(token)
            token = None
        if props:  # rare (MQTT 5 response topics): gmqtt builds the properties
            self._write_out()
            self._client.publish(topic, payload, qos=qos, retain=retain, **props)
            return
        # The common case is built here and coalesced with the other packets of this loop
        # iteration into one socket write: gmqtt's builder and one write per packet cost
        # several times the rest of a round trip.
        name = self._topics.get(topic)
        if name is None:  # the length-prefixed topic, cached: a charge point uses a few
            if len(self._topics) > 100_000:
                self._topics.clear()
            encoded = topic.encode()
            name = self._topics[topic] = len(encoded).to_bytes(2, "big") + encoded
        remaining = len(name) + len(payload) + (2 if qos else 0) + self._props_len
        if remaining < 16384:
            length = (bytes((remaining,)) if remaining < 128
                      else bytes(((remaining & 0x7F) | 0x80, remaining >> 7)))
        else:
            length = _varint(remaining)
        first = _FIRST_BYTE[qos][retain]
        if qos:
            mid = self._client._package_handler.id_generator.next_id()
            if token is not None:
                self._tokens[mid] = token
            packet = b"".join((first, length, name, mid.to_bytes(2, "big"), self._props,
                               payload))
            self._client._persistent_storage.push_message(mid, packet)
        else:
            packet = b"".join((first, length, name, self._props, payload))
        self._queue_write(packet)

    def _queue_write(self, packet: bytes) -> None:
        self._wbuf.append(packet)
        if not self._write_scheduled:
            self._write_scheduled = True
            asyncio.get_running_loop().call_soon(self._write_out)

    def _install_fast_inbound(self) -> None:
        """Handle the common inbound PUBLISH (QoS 0/1, no properties) without gmqtt's generic
        path, which inspects the callback and parses properties for every message; its PUBACK
        is coalesced with our other writes. Anything unusual goes through gmqtt unchanged."""
        handler = self._client._package_handler
        generic = handler._handle_publish_packet
        on_message = self._on_message

        def fast(cmd: int, raw: bytes) -> None:
            qos = (cmd >> 1) & 3
            if qos == 2 or len(raw) < 3:
                return generic(cmd, raw)  # type: ignore[no-any-return]
            end = 2 + int.from_bytes(raw[:2], "big")
            topic = raw[2:end]
            mid = b""
            if qos:
                mid = raw[end : end + 2]
                end += 2
            shared = 0
            if self.mqtt5:
                if end >= len(raw):
                    return generic(cmd, raw)  # type: ignore[no-any-return]
                if raw[end] == 0:
                    end += 1
                elif raw[end] == 2 and len(raw) > end + 2 and raw[end + 1] == 0x0B \
                        and 0 < raw[end + 2] < 0x80:
                    # One subscription identifier (< 128), nothing else: the copy a shared
                    # subscription delivers beside our own subscription's.
                    shared = raw[end + 2]
                    end += 3
                else:  # other properties: let gmqtt parse them
                    return generic(cmd, raw)  # type: ignore[no-any-return]
            try:
                topic_text = topic.decode()
            except UnicodeDecodeError:
                return generic(cmd, raw)  # type: ignore[no-any-return]
            if not topic_text:
                return generic(cmd, raw)  # type: ignore[no-any-return]
            if qos:
                self._queue_write(b"\x40\x02" + mid)  # PUBACK, success, no properties
            if shared:
                if shared in self.redundant_ids and topic_text in self._active:
                    # Our own subscription to exactly this topic delivers the same message:
                    # this copy carries nothing new (about a quarter of a round trip's CPU).
                    return None
                on_message(None, topic_text, raw[end:], qos,
                           {"retain": cmd & 1, "subscription_identifier": [shared]})
                return None
            on_message(None, topic_text, raw[end:], qos, {"retain": cmd & 1})
            return None

        handler._handle_publish_packet = fast

        ids = handler.id_generator
        stored = self._client._persistent_storage

        def puback(cmd: int, packet: bytes) -> None:
            # PUBACK of one of our QoS 1 publishes: free its id, forget the stored copy, and
            # send what waits for room (gmqtt's handler does the same, with more overhead).
            mid = int.from_bytes(packet[:2], "big")
            ids._used_ids.discard(mid)
            stored.remove_message_by_mid(mid)
            if self._tokens:
                token = self._tokens.pop(mid, None)
                if token is not None and self.on_confirm is not None:
                    self.on_confirm(token)
            if self._backlog:
                self._flush()

        handler._handle_puback_packet = puback
        # Both read straight off the socket, without gmqtt's reader task (mqtt_reader).
        self._client.packet_handlers = {0x30: fast, 0x40: puback}

    def _write_out(self) -> None:
        self._write_scheduled = False
        if not self._wbuf:
            return
        data = b"".join(self._wbuf)
        self._wbuf.clear()
        self._client._connection._protocol.write_data(data)

    @property
    def backlog(self) -> int:
        return len(self._backlog)

    def publish(
        self, topic: str, payload: bytes, qos: int, retain: bool = False, **props: Any
    ) -> None:
        if props and not self.mqtt5:
            props = {}
        if self.connected and not self._backlog and (qos == 0 or self._room() > 0):
            self._send_publish(topic, payload, qos, retain, props)
            return
        self._backlog.append(("pub", topic, payload, qos, retain, props))
        if len(self._backlog) >= HIGH_WATER and not self.blocked:
            self.blocked = True
            self._writable.clear()
            log.warning("MQTT backlog full: pausing charge point sockets",
                        extra={"backlog": len(self._backlog)})

    def publish_tracked(self, topic: str, payload: bytes, qos: int, retain: bool,
                        token: int) -> None:
        """Publish (QoS 1 or 0, no properties) and call `on_confirm(token)` once the broker
        acknowledged it (QoS 0: once written), after reconnects if need be."""
        if self.connected and not self._backlog and (qos == 0 or self._room() > 0):
            self._send_publish(topic, payload, qos, retain, {}, token)
            return
        self._backlog.append(("pub", topic, payload, qos, retain, {}, token))

    async def wait_writable(self) -> None:
        await self._writable.wait()

    def release_reads(self) -> None:
        """Read charge points again although the link is down (they get answered locally)."""
        if self.blocked and len(self._backlog) < HIGH_WATER:
            self.blocked = False
            self._writable.set()

    async def subscribe(self, topic: str, qos: int = 1, identifier: int | None = None) -> None:
        """Subscribe and wait for the SUBACK, so a message published afterwards is delivered.
        With MQTT 5, `identifier` comes back in the `subscription_identifier` property of each
        message this subscription delivers.

        Raises SubscriptionRefused when the broker refuses it."""
        self._subscribed[topic] = qos
        if identifier is not None and self.mqtt5:
            self._sub_ids[topic] = identifier
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._backlog.append(("sub", topic, qos, future))
        self._flush()
        try:
            await asyncio.wait_for(asyncio.shield(future), 10.0)
        except TimeoutError:
            log.warning("no SUBACK within 10 s", extra={"topic": topic})

    def active(self, topic: str) -> bool:
        """Whether the broker acknowledged this subscription: every message published from
        then on reaches it. True from the SUBACK on, before its waiter resumes."""
        return topic in self._active

    def unsubscribe(self, topic: str) -> None:
        self._sub_ids.pop(topic, None)
        self._active.discard(topic)
        if self._subscribed.pop(topic, None) is not None:
            self._backlog.append(("unsub", topic))
            self._flush()

    def _flush(self) -> None:
        """Send what waits, in order, while packet ids are free."""
        backlog = self._backlog
        client = self._client
        while backlog and self.connected:
            item = backlog[0]
            kind = item[0]
            if kind == "pub" and item[3] == 0:
                backlog.popleft()
                self._send_publish(item[1], item[2], 0, item[4], item[5], *item[6:])
                continue
            if self._room() <= 0:
                break
            backlog.popleft()
            if kind == "pub":
                self._send_publish(item[1], item[2], item[3], item[4], item[5], *item[6:])
            elif kind == "sub":
                if item[1] not in self._subscribed:  # unsubscribed while waiting
                    item[3].set_result(None)
                    continue
                self._write_out()
                identifier = self._sub_ids.get(item[1])
                extra = {"subscription_identifier": identifier} if identifier else {}
                mid = client._connection.subscribe([Subscription(item[1], qos=item[2])],
                                                   **extra)
                self._suback[mid] = (item[1], item[3])
            else:
                self._write_out()
                self._unsuback[client._connection.unsubscribe([item[1]])] = item[1]
        if self.blocked and self.connected and len(backlog) <= LOW_WATER:
            self.blocked = False
            self._writable.set()

    # ---- gmqtt callbacks ------------------------------------------------------------------

    def _on_message(
        self, client: Any, topic: str, payload: bytes, qos: int, properties: dict[str, Any]
    ) -> int:
        try:
            self._handler(topic, payload, properties)
        except Exception:  # one bad message must not stop the MQTT loop
            log.exception("failed to handle an MQTT message", extra={"topic": topic})
        return 0

    def _on_subscribe(self, client: Any, mid: int, qos: Any, properties: Any) -> None:
        entry = self._suback.pop(mid, None)
        if entry is not None and not entry[1].done():
            topic, future = entry
            if any(code >= 0x80 for code in qos):
                self._subscribed.pop(topic, None)
                future.set_exception(SubscriptionRefused(
                    f"the broker refused the subscription to {topic} (code {max(qos):#x})"))
            else:
                if topic in self._subscribed:
                    self._active.add(topic)
                future.set_result(None)
        self._flush_soon()

    def _on_unsubscribe(self, client: Any, mid: int, *args: Any) -> None:
        self._unsuback.pop(mid, None)
        self._flush_soon()

    def _flush_soon(self) -> None:
        asyncio.get_running_loop().call_soon(self._flush)

    def _on_connect(self, client: Any, flags: Any, rc: Any, properties: Any) -> None:
        self.connected = True
        self._connects += 1
        self.session_present = bool(flags)
        self.backoff.reset()
        if self._connects > 1:
            self._set_nodelay()
            log.info("MQTT reconnected", extra={"broker": self.target.describe(),
                                                "session_present": self.session_present})
            self._restore(self.session_present)
            if self._on_reconnect is not None:
                self._on_reconnect()
        self._client.clean_start = self.session_expiry == 0
        if self.blocked and len(self._backlog) <= LOW_WATER:
            self.blocked = False
            self._writable.set()
        self._flush()

    def _restore(self, session_present: bool) -> None:
        """After a reconnect: send again, first and in their original order, the publishes the
        broker never acknowledged; then the subscriptions the new connection lacks.

        With the session kept, the broker still has our subscriptions and packet ids, so
        publishes go again with the same ids and DUP set (MQTT-3.3.1-1) and only SUBSCRIBEs
        and UNSUBSCRIBEs that were in flight are repeated. Without it, every subscription is
        sent again ahead of the backlog (whoever waits for a SUBACK now waits for the new
        one), and queued unsubscribes are dropped: they are pointless on a clean session and
        could follow, and undo, a new subscription to the same topic."""
        storage = self._client._persistent_storage
        stored = storage.get_all()
        ids = self._client._package_handler.id_generator._used_ids
        ids.clear()
        ids.update(mid for mid, _ in stored)
        for mid, packet in stored:
            if session_present and not packet[0] & 0x08:
                packet = bytes((packet[0] | 0x08,)) + packet[1:]
                storage.push_message(mid, packet)
            self._queue_write(packet)
        self.resent += len(stored)
        if stored:
            log.info("MQTT publishes sent again after the reconnect",
                     extra={"packets": len(stored)})
        loop = asyncio.get_running_loop()
        in_flight_unsubs = list(self._unsuback.values())
        self._unsuback.clear()
        if session_present:
            redo: list[tuple[Any, ...]] = [
                ("sub", topic, self._subscribed[topic], future)
                for topic, future in self._suback.values() if topic in self._subscribed]
            redo += [("unsub", topic) for topic in in_flight_unsubs
                     if topic not in self._subscribed]
            self._suback.clear()
            self._backlog.extendleft(reversed(redo))
            return
        self._active.clear()  # a new session: nothing is subscribed until its SUBACK
        waiting = {i[1]: i[3] for i in self._backlog if i[0] == "sub"}
        waiting.update(self._suback.values())
        self._suback.clear()
        pending = [i for i in self._backlog if i[0] == "pub"]
        self._backlog.clear()
        for topic, qos in self._subscribed.items():
            future = waiting.pop(topic, None) or loop.create_future()
            self._backlog.append(("sub", topic, qos, future))
        for future in waiting.values():  # unsubscribed meanwhile
            if not future.done():
                future.set_result(None)
        self._backlog.extend(pending)

    def _on_disconnect(self, client: Any, packet: Any, exc: Any = None) -> None:
        # What was built for the lost connection: QoS 1/2 publishes stay stored and are sent
        # again after the reconnect; QoS 0 publishes and PUBACKs are gone (the broker sends
        # an unacknowledged message again when the session was kept).
        lost = sum(1 for p in self._wbuf if p[0] & 0xF6 == 0x30)
        self._wbuf.clear()
        if lost:
            log.warning("MQTT QoS 0 packets lost with the connection", extra={"packets": lost})
        was_connected = self.connected
        self.connected = False
        if was_connected and not self._closing:
            log.warning("MQTT connection lost", extra={"broker": self.target.describe()})
            # Stop reading charge points until the link is back: their frames wait in the
            # sockets instead of piling up here.
            self.blocked = True
            self._writable.clear()
            if self._on_down is not None:
                self._on_down()
