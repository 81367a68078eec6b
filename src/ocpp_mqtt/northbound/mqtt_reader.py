"""Inbound MQTT bytes to packets, without gmqtt's stream reader.

gmqtt feeds every chunk the socket delivers to an asyncio StreamReader, wakes a task that
copies it onto a buffer, cuts packets out of it, wraps each in a `Package` and passes it
through three layers of dispatch. Under load that was a task switch per chunk and a handful of
calls per packet, for every command, result and PUBACK. `PacketReader` takes gmqtt's place as
the transport's protocol: it cuts packets out of each chunk itself and calls the link's own
PUBLISH and PUBACK handlers directly. Every other packet (CONNACK, SUBACK, PINGRESP, ...) still
goes to gmqtt as a `Package`, and gmqtt's protocol still sees the connection's end.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from gmqtt.mqtt.package import Package

log = logging.getLogger("ocpp_mqtt.mqtt")

PacketHandler = Callable[[int, bytes], None]

# MQTT's remaining length is at most 4 bytes of 7 bits (268,435,455 bytes).
_MAX_LENGTH_BYTES = 4


class PacketReader(asyncio.Protocol):
    """The transport's protocol for one MQTT connection. `handlers` maps a packet type (the
    high nibble of the first byte, e.g. 0x30 for PUBLISH) to a function of (first byte, body)."""

    def __init__(self, protocol: Any, connection: Any, handlers: dict[int, PacketHandler],
                 transport: asyncio.BaseTransport) -> None:
        self._protocol = protocol  # gmqtt's MQTTProtocol: writes, and the connection's end
        self._connection = connection  # gmqtt's MQTTConnection: keepalive and other packets
        self._handlers = handlers
        self._transport = transport
        self._pending = b""  # the start of a packet whose end has not arrived yet

    def data_received(self, data: bytes) -> None:
        conn = self._connection
        if conn._handler.current_connection is not conn:
            return  # superseded by a newer connection: gmqtt drops its packets too
        conn._last_data_in = time.monotonic()
        buf = self._pending + data if self._pending else data
        size = len(buf)
        pos = 0
        handlers = self._handlers
        while size - pos >= 2:
            length = 0
            shift = 0
            i = pos + 1
            while True:
                if i >= size:
                    self._pending = buf[pos:]
                    return  # the length itself is not complete yet
                byte = buf[i]
                i += 1
                length |= (byte & 0x7F) << shift
                if byte < 0x80:
                    break
                shift += 7
                if shift >= 7 * _MAX_LENGTH_BYTES:
                    self._malformed("a remaining length longer than 4 bytes")
                    return
            end = i + length
            if end > size:
                break
            cmd = buf[pos]
            body = buf[i:end]
            pos = end
            handler = handlers.get(cmd & 0xF0)
            try:
                if handler is not None:
                    handler(cmd, body)
                else:
                    conn.put_package(Package(cmd, body))
            except Exception:  # one bad packet must not end the connection's reading
                log.exception("cannot handle an MQTT packet", extra={"type": hex(cmd)})
        self._pending = buf[pos:] if pos < size else b""

    def _malformed(self, what: str) -> None:
        log.error("malformed MQTT packet from the broker: closing the connection",
                  extra={"error": what})
        self._pending = b""
        self._transport.close()  # gmqtt reconnects, as after any lost connection

    # The connection's end and flow control are gmqtt's business.

    def eof_received(self) -> bool | None:
        return self._protocol.eof_received()  # type: ignore[no-any-return]

    def connection_lost(self, exc: Exception | None) -> None:
        self._pending = b""
        self._protocol.connection_lost(exc)

    def pause_writing(self) -> None:
        self._protocol.pause_writing()

    def resume_writing(self) -> None:
        self._protocol.resume_writing()


def install(connection: Any, handlers: dict[int, PacketHandler]) -> PacketReader:
    """Put a PacketReader between the transport and gmqtt's protocol of a new connection.
    Called before CONNECT is sent, so no byte can have reached gmqtt's reader yet."""
    transport = connection._transport
    reader = PacketReader(connection._protocol, connection, handlers, transport)
    transport.set_protocol(reader)
    return reader
