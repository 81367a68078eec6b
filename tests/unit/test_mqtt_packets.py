"""The gateway builds its own MQTT PUBLISH packets (northbound/mqtt.py): check them against the
MQTT 3.1.1 / 5.0 layout (fixed header, variable byte integer, topic, packet id, properties)."""

from __future__ import annotations

import pytest

from ocpp_mqtt.config import MqttTarget
from ocpp_mqtt.northbound.mqtt import MqttLink


def decode(packet: bytes, mqtt5: bool) -> tuple[int, int, bool, str, int | None, bytes]:
    first = packet[0]
    assert first >> 4 == 3, "PUBLISH"
    qos, retain = (first >> 1) & 3, bool(first & 1)
    remaining, multiplier, pos = 0, 1, 1
    while True:
        byte = packet[pos]
        remaining += (byte & 0x7F) * multiplier
        multiplier *= 128
        pos += 1
        if not byte & 0x80:
            break
    assert len(packet) - pos == remaining, "remaining length covers the rest exactly"
    tlen = int.from_bytes(packet[pos : pos + 2], "big")
    topic = packet[pos + 2 : pos + 2 + tlen].decode()
    pos += 2 + tlen
    mid = None
    if qos:
        mid = int.from_bytes(packet[pos : pos + 2], "big")
        pos += 2
    if mqtt5:
        assert packet[pos] == 0, "empty property list"
        pos += 1
    return first, qos, retain, topic, mid, packet[pos:]


@pytest.mark.parametrize("mqtt5", [False, True])
@pytest.mark.parametrize("size", [0, 10, 120, 127, 200, 16383, 20000, 2_100_000])
@pytest.mark.parametrize(("qos", "retain"), [(0, False), (1, False), (1, True), (2, False)])
async def test_publish_packet_layout(mqtt5: bool, size: int, qos: int, retain: bool) -> None:
    target = MqttTarget(False, "127.0.0.1", 1883, False, None, None)
    link = MqttLink(target, client_id="t", version="5" if mqtt5 else "3.1.1", keepalive=60,
                    will=None, tls=None, on_message=lambda *a: None)
    payload = b"x" * size
    topic = "ocpp/cp/CP%2B1/é"
    link._send_publish(topic, payload, qos, retain, {})
    packet = link._wbuf[-1]
    _, got_qos, got_retain, got_topic, mid, got_payload = decode(packet, mqtt5)
    assert (got_qos, got_retain, got_topic, got_payload) == (qos, retain, topic, payload)
    assert (mid is not None) == (qos > 0)
