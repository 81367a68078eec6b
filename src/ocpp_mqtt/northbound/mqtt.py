"""The gateway's one MQTT connection (gmqtt): publish, per-charge-point subscriptions, reconnects.

Subscriptions are tracked here in a dict rather than in gmqtt's list, whose removal is O(n) and
would make a reconnect storm of 10,000 charge points quadratic. After a reconnect without a
session every subscription is sent again.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable
from typing import Any

from gmqtt import Client, Message, Subscription
from gmqtt.mqtt.constants import MQTTv50, MQTTv311

from ..config import MqttTarget

log = logging.getLogger("ocpp_mqtt.mqtt")

MessageHandler = Callable[[str, bytes, dict[str, Any]], None]


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
    ) -> None:
        self.target = target
        # amqtt (the embedded broker) refuses any protocol level but 3.1.1.
        self.mqtt5 = version == "5" and not target.embedded
        self._keepalive = keepalive
        self._tls = tls
        self._handler = on_message
        self._on_reconnect = on_reconnect
        will_message = Message(will[0], will[1], qos=1, retain=True) if will else None
        self._client = Client(client_id, clean_session=True, will_message=will_message)
        if target.username:
            self._client.set_auth_credentials(target.username, target.password)
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._subscribed: dict[str, int] = {}  # topic -> qos
        self._suback: dict[int, asyncio.Future[None]] = {}
        self._connects = 0
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

    async def disconnect(self) -> None:
        if self._client.is_connected:
            await self._client.disconnect()

    # ---- publish / subscribe --------------------------------------------------------------

    def publish(
        self, topic: str, payload: bytes, qos: int, retain: bool = False, **props: Any
    ) -> None:
        if props and not self.mqtt5:
            props = {}
        self._client.publish(topic, payload, qos=qos, retain=retain, **props)

    async def subscribe(self, topic: str, qos: int = 1) -> None:
        """Subscribe and wait for the SUBACK, so a message published afterwards is delivered."""
        self._subscribed[topic] = qos
        if not self._client.is_connected:
            return  # sent again on (re)connect
        mid = self._client._connection.subscribe([Subscription(topic, qos=qos)])
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._suback[mid] = future
        try:
            await asyncio.wait_for(future, 10.0)
        except TimeoutError:
            log.warning("no SUBACK", extra={"topic": topic})
        finally:
            self._suback.pop(mid, None)

    def unsubscribe(self, topic: str) -> None:
        if self._subscribed.pop(topic, None) is not None and self._client.is_connected:
            self._client._connection.unsubscribe([topic])

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
        future = self._suback.get(mid)
        if future is not None and not future.done():
            future.set_result(None)

    def _on_connect(self, client: Any, flags: Any, rc: Any, properties: Any) -> None:
        self.connected = True
        self._connects += 1
        if self._connects > 1:
            self._set_nodelay()
            log.info("MQTT reconnected", extra={"broker": self.target.describe()})
            if self._subscribed:
                subs = [Subscription(t, qos=q) for t, q in self._subscribed.items()]
                for start in range(0, len(subs), 500):
                    self._client._connection.subscribe(subs[start : start + 500])
            if self._on_reconnect is not None:
                self._on_reconnect()

    def _on_disconnect(self, client: Any, packet: Any, exc: Any = None) -> None:
        if self.connected:
            log.warning("MQTT connection lost", extra={"broker": self.target.describe()})
        self.connected = False


def tls_context(ca: str | None, cert: str | None, key: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx
