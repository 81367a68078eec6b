"""gmqtt's client as the MQTT link needs it, the reconnect back-off, and the TLS context."""

from __future__ import annotations

import asyncio
import random
import ssl
from collections.abc import Callable
from typing import Any

from gmqtt import Client

from .mqtt_reader import PacketHandler, install


class _Client(Client):  # type: ignore[misc]
    """gmqtt's client with four changes. It tells the link each time an acknowledgement frees
    a packet id. The clean-start flag is the link's choice per connection (gmqtt always
    reconnects with clean_session=False). Unacknowledged publishes are never dropped or
    resent by gmqtt: after a reconnect without a session gmqtt would drop them (data loss), so
    the link resends them itself, in order, whether or not the broker kept the session. And
    with `packet_handlers` set, each connection's packets are read by `mqtt_reader`."""

    on_ack: Callable[[], None] | None = None
    clean_start = True
    next_delay: Callable[[], float] | None = None
    # packet type -> handler, read straight off the socket (mqtt_reader); None: gmqtt reads
    packet_handlers: dict[int, PacketHandler] | None = None

    async def _create_connection(
        self, host: str, port: int, ssl: Any, clean_session: bool, keepalive: int
    ) -> Any:
        connection = await super()._create_connection(host, port, ssl, self.clean_start,
                                                      keepalive)
        if self.packet_handlers is not None:
            install(connection, self.packet_handlers)
        return connection

    async def reconnect(self, delay: bool = False) -> None:
        if delay and self.next_delay is not None:  # exponential back-off with jitter
            self.reconnect_delay = self.next_delay()
        try:
            await super().reconnect(delay)
        except asyncio.CancelledError:
            # Cancelled by a disconnect during the back-off: gmqtt's done-callback would log
            # the cancellation as a failed reconnect.
            return

    async def _resend_qos_messages(self) -> None:
        return None

    def _clear_resend_qos_queue(self) -> None:
        return None

    def _remove_message_from_queue(self, mid: int) -> None:
        super()._remove_message_from_queue(mid)
        if self.on_ack is not None:
            self.on_ack()


class Backoff:
    """Reconnect delays: `low`, doubling up to `high`, each with up to 20% random jitter so a
    fleet of gateways does not reconnect in step."""

    def __init__(self, low: float, high: float) -> None:
        self.low = low
        self.high = max(low, high)
        self._next = low

    def __call__(self) -> float:
        delay = self._next
        self._next = min(self.high, self._next * 2)
        return delay * (1 + random.random() * 0.2)

    def reset(self) -> None:
        self._next = self.low


def tls_context(ca: str | None, cert: str | None, key: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx
