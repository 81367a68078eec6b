"""The gateway builds its own MQTT PUBLISH packets (northbound/mqtt.py): check them against the
MQTT 3.1.1 / 5.0 layout (fixed header, variable byte integer, topic, packet id, properties)."""

from __future__ import annotations

import asyncio

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


def inbound(topic: str, payload: bytes, qos: int, properties: bytes) -> tuple[int, bytes]:
    """The (command byte, body) pair gmqtt hands to its PUBLISH handler."""
    name = topic.encode()
    body = len(name).to_bytes(2, "big") + name + (b"\x00\x07" if qos else b"") \
        + bytes((len(properties),)) + properties + payload
    return 0x30 | (qos << 1), body


@pytest.mark.parametrize("qos", [0, 1])
async def test_inbound_shared_copy_dropped_only_when_own_subscription_delivers(qos: int) -> None:
    """A $share subscription's copy (subscription identifier 1) of a message that our own
    subscription to the same topic also delivers is dropped before any decoding; any other copy
    reaches on_message with the identifier, exactly as gmqtt's own parser would give it."""
    got: list[tuple[str, bytes, dict[str, object]]] = []
    target = MqttTarget(False, "127.0.0.1", 1883, False, None, None)
    link = MqttLink(target, client_id="t", version="5", keepalive=60, will=None, tls=None,
                    on_message=lambda topic, payload, props: got.append((topic, payload, props)))
    handle = link._client._package_handler._handle_publish_packet
    link.redundant_ids.add(1)
    link._active.add("ocpp/cs/CP1")
    sub_id_1 = b"\x0b\x01"
    handle(*inbound("ocpp/cs/CP1", b'{"a":1}', qos, sub_id_1))  # redundant: dropped
    assert got == []
    handle(*inbound("ocpp/cs/CP2", b'{"a":2}', qos, sub_id_1))  # nobody else delivers it
    handle(*inbound("ocpp/cs/CP1", b'{"a":3}', qos, b""))  # our own subscription's copy
    link.redundant_ids.clear()
    handle(*inbound("ocpp/cs/CP1", b'{"a":4}', qos, sub_id_1))  # not declared redundant
    assert [(t, p, props.get("subscription_identifier")) for t, p, props in got] == [
        ("ocpp/cs/CP2", b'{"a":2}', [1]), ("ocpp/cs/CP1", b'{"a":3}', None),
        ("ocpp/cs/CP1", b'{"a":4}', [1])]
    # every QoS 1 copy is acknowledged, the dropped one included
    assert link._wbuf.count(b"\x40\x02\x00\x07") == (4 if qos else 0)


async def test_inbound_other_properties_go_through_gmqtt() -> None:
    """A message with properties the fast path does not read (here a response topic beside the
    identifier) is parsed by gmqtt, and nothing is lost."""
    got: list[dict[str, object]] = []
    target = MqttTarget(False, "127.0.0.1", 1883, False, None, None)
    link = MqttLink(target, client_id="t", version="5", keepalive=60, will=None, tls=None,
                    on_message=lambda topic, payload, props: got.append(props))
    link.redundant_ids.add(1)
    link._active.add("ocpp/cs/CP1")
    response = b"\x08\x00\x05reply"
    link._client._package_handler._handle_publish_packet(
        *inbound("ocpp/cs/CP1", b"{}", 0, b"\x0b\x01" + response))
    await asyncio.sleep(0)
    assert len(got) == 1 and got[0]["response_topic"] == ["reply"]
    assert got[0]["subscription_identifier"] == [1]
