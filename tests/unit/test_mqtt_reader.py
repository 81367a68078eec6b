"""The MQTT packet reader (northbound/mqtt_reader.py) cuts packets out of whatever chunks the
socket delivers: every split of a byte stream must give the same packets, in order."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from gmqtt.mqtt.package import Package

from ocpp_mqtt.northbound.mqtt_reader import PacketReader


def packet(first: int, body: bytes) -> bytes:
    """Fixed header (MQTT's variable byte integer length) + body."""
    length, out = len(body), bytearray((first,))
    while True:
        byte = length & 0x7F
        length >>= 7
        out.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(out) + body


class FakeHandler:
    def __init__(self) -> None:
        self.current_connection: Any = None


class FakeConnection:
    """gmqtt's MQTTConnection as the reader uses it."""

    def __init__(self) -> None:
        self._handler = FakeHandler()
        self._handler.current_connection = self
        self._last_data_in = 0.0
        self.packages: list[tuple[int, bytes]] = []

    def put_package(self, pkg: Package) -> None:
        self.packages.append((pkg.cmd, pkg.data))


class FakeProtocol:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def eof_received(self) -> bool:
        self.calls.append(("eof", None))
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.calls.append(("lost", exc))

    def pause_writing(self) -> None:
        self.calls.append(("pause", None))

    def resume_writing(self) -> None:
        self.calls.append(("resume", None))


class FakeTransport:
    closed = False

    def close(self) -> None:
        self.closed = True


def make() -> tuple[PacketReader, list[tuple[int, bytes]], FakeConnection, FakeProtocol,
                    FakeTransport]:
    got: list[tuple[int, bytes]] = []
    conn, proto, transport = FakeConnection(), FakeProtocol(), FakeTransport()

    def publish(cmd: int, body: bytes) -> None:
        got.append((cmd, body))

    def puback(cmd: int, body: bytes) -> None:
        got.append((cmd, body))

    reader = PacketReader(proto, conn, {0x30: publish, 0x40: puback}, transport)  # type: ignore[arg-type]
    return reader, got, conn, proto, transport


STREAM = [
    (0x30, b"\x00\x05a/b/c" + b"x" * 3),  # PUBLISH QoS 0, short
    (0x32, b"\x00\x03t/1\x00\x07" + b"y" * 200),  # QoS 1, 2-byte length
    (0x40, b"\x00\x07"),  # PUBACK
    (0xD0, b""),  # PINGRESP: to gmqtt
    (0x90, b"\x00\x01\x00"),  # SUBACK: to gmqtt
    (0x31, b"\x00\x01r" + b"z" * 20000),  # retained, 3-byte length
    (0x40, b"\x01\x00"),
]
WIRE = b"".join(packet(cmd, body) for cmd, body in STREAM)
OURS = [(c, b) for c, b in STREAM if c & 0xF0 in (0x30, 0x40)]
GMQTT = [(c, b) for c, b in STREAM if c & 0xF0 not in (0x30, 0x40)]


def test_whole_stream_in_one_chunk() -> None:
    reader, got, conn, _, _ = make()
    reader.data_received(WIRE)
    assert got == OURS
    assert conn.packages == GMQTT
    assert reader._pending == b""
    assert conn._last_data_in > 0  # gmqtt's keepalive sees the traffic


@pytest.mark.parametrize("step", [1, 2, 3, 7, 130, 4096])
def test_any_chunking_gives_the_same_packets(step: int) -> None:
    reader, got, conn, _, _ = make()
    for start in range(0, len(WIRE), step):
        reader.data_received(WIRE[start : start + step])
    assert got == OURS
    assert conn.packages == GMQTT
    assert reader._pending == b""


def test_every_split_point_of_a_long_length() -> None:
    """A split inside the remaining-length bytes themselves."""
    wire = packet(0x30, b"\x00\x01t" + b"p" * 300_000)  # 3-byte length
    for cut in range(1, 6):
        reader, got, _, _, _ = make()
        reader.data_received(wire[:cut])
        assert got == []
        reader.data_received(wire[cut:])
        assert got == [(0x30, b"\x00\x01t" + b"p" * 300_000)]


def test_superseded_connection_is_ignored() -> None:
    reader, got, conn, _, _ = make()
    conn._handler.current_connection = object()  # gmqtt reconnected meanwhile
    reader.data_received(WIRE)
    assert got == [] and conn.packages == []


def test_malformed_length_closes_the_connection(caplog: pytest.LogCaptureFixture) -> None:
    reader, got, _, _, transport = make()
    with caplog.at_level(logging.ERROR, logger="ocpp_mqtt.mqtt"):
        reader.data_received(b"\x30\xff\xff\xff\xff\x01" + b"x" * 10)
    assert transport.closed
    assert got == []
    assert "malformed MQTT packet" in caplog.text


def test_a_failing_handler_does_not_stop_the_packets_after_it(
        caplog: pytest.LogCaptureFixture) -> None:
    conn, proto, transport = FakeConnection(), FakeProtocol(), FakeTransport()
    got: list[bytes] = []

    def publish(cmd: int, body: bytes) -> None:
        if body.endswith(b"boom"):
            raise ValueError("boom")
        got.append(body)

    reader = PacketReader(proto, conn, {0x30: publish}, transport)  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="ocpp_mqtt.mqtt"):
        reader.data_received(packet(0x30, b"\x00\x01aboom") + packet(0x30, b"\x00\x01aok"))
    assert got == [b"\x00\x01aok"]
    assert "cannot handle an MQTT packet" in caplog.text
    assert not transport.closed


def test_lifecycle_goes_to_gmqtts_protocol() -> None:
    reader, _, _, proto, _ = make()
    reader.data_received(WIRE[:5])  # a partial packet is dropped with the connection
    assert reader.eof_received() is True
    reader.pause_writing()
    reader.resume_writing()
    exc = ConnectionResetError("gone")
    reader.connection_lost(exc)
    assert proto.calls == [("eof", None), ("pause", None), ("resume", None), ("lost", exc)]
    assert reader._pending == b""
