"""Commands for charge points that are not connected (issue 6, point 3): exactly one instance
answers `offline`, or holds a message with an MQTT 5 expiry until the charge point connects."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest
from gmqtt.mqtt.constants import MQTTv311

from tests.conftest import Backend, free_port

from .wsutil import connect, recv_json


def call(uid: str, action: str = "ClearCache", payload: Any = None) -> dict[str, Any]:
    return {"MessageTypeId": 2, "UniqueId": uid, "Action": action, "Payload": payload or {}}


async def acks(backend: Backend, topic: str, seconds: float) -> list[Any]:
    """Every ack that arrives on `topic` within `seconds`."""
    await asyncio.sleep(seconds)
    return [await backend.wait_for(topic, 0.1)
            for _ in range(sum(1 for t, _, _ in backend.messages if t == topic))]


async def test_never_connected_charge_point_gets_exactly_one_offline_answer(
        make_gateway: Any, backend: Backend) -> None:
    a = await make_gateway(gateway_id="gw-a")
    await make_gateway(gateway_id="gw-b", prefix=a.prefix)
    await make_gateway(gateway_id="gw-c", prefix=a.prefix)
    ack = a.prefix + "cs/NOBODY/Ack"
    await backend.subscribe(ack)
    for i in range(6):
        backend.publish(a.prefix + "cs/NOBODY", call(f"n{i}"), qos=1)
    got = await acks(backend, ack, 1.0)
    assert sorted(b["UniqueId"] for b in got) == [f"n{i}" for i in range(6)]  # once each
    assert {b["Status"] for b in got} == {"offline"}
    assert all(b["Action"] == "ClearCache" and "not connected" in b["Reason"] for b in got)


async def test_a_charge_point_at_another_instance_gets_no_offline_answer(
        make_gateway: Any, backend: Backend) -> None:
    a = await make_gateway(gateway_id="gw-a")
    b = await make_gateway(gateway_id="gw-b", prefix=a.prefix)
    ack = a.prefix + "cs/HERE/Ack"
    await backend.subscribe(ack)
    async with connect(b.url("HERE"), ["ocpp1.6"]) as ws:
        await asyncio.sleep(0.2)  # gw-a learns from the retained presence where HERE is
        for i in range(4):  # the shared copy lands on gw-a or gw-b: neither answers offline
            backend.publish(a.prefix + "cs/HERE", call(f"h{i}"), qos=1)
            frame = await recv_json(ws, 5)
            assert frame[:2] == [2, f"h{i}"]
            await ws.send(f'[3,"h{i}",{{"status":"Accepted"}}]')
        got = await acks(backend, ack, 0.5)
    assert [(m["UniqueId"], m["Status"]) for m in got] == [
        (f"h{i}", status) for i in range(4) for status in ("sent", "answered")]


async def test_charge_point_online_at_a_dead_instance_counts_as_offline(
        make_gateway: Any, backend: Backend) -> None:
    a = await make_gateway(gateway_id="gw-a")
    backend.publish(a.prefix + "presence/GHOST", {"status": "online", "gateway": "gw-dead",
                                                  "connected_at": 1}, qos=1, retain=True)
    backend.publish(a.prefix + "gateway/gw-dead/status", {"status": "offline",
                                                          "gateway": "gw-dead"}, qos=1,
                    retain=True)
    ack = a.prefix + "cs/GHOST/Ack"
    await backend.subscribe(ack)
    try:
        await asyncio.sleep(0.2)
        backend.publish(a.prefix + "cs/GHOST", call("g1"), qos=1)
        assert (await backend.wait_for(ack))["Status"] == "offline"
        backend.publish(a.prefix + "gateway/gw-dead/status", {"status": "online"}, qos=1,
                        retain=True)
        await asyncio.sleep(0.2)
        backend.publish(a.prefix + "cs/GHOST", call("g2"), qos=1)
        await backend.silence(ack, 0.5)  # alive again: that instance answers, not this one
    finally:
        for topic in ("presence/GHOST", "gateway/gw-dead/status"):
            backend.publish(a.prefix + topic, b"", qos=1, retain=True)


async def test_restarted_instance_clears_the_presence_it_left_behind(
        make_gateway: Any, backend: Backend) -> None:
    prefix = "stale-" + str(time.monotonic_ns()) + "/"
    presence = prefix + "presence/LEFT"
    backend.publish(presence, {"clientid": "LEFT", "status": "online", "gateway": "gw-r",
                               "connected_at": 1000}, qos=1, retain=True)
    await asyncio.sleep(0.1)
    await backend.subscribe(presence)
    assert (await backend.wait_for(presence))["status"] == "online"
    try:
        await make_gateway(gateway_id="gw-r", prefix=prefix)
        body = await backend.wait_for(presence, 5)
        assert body["status"] == "offline" and "gateway restarted" in body["reason"]
        assert body["clientid"] == "LEFT" and body["gateway"] == "gw-r"
    finally:
        backend.publish(presence, b"", qos=1, retain=True)


async def test_per_action_topic_for_an_offline_charge_point(
        make_gateway: Any, backend: Backend) -> None:
    gw = await make_gateway(dnstream_action_topic="cs/${cid}/call/${action}")
    ack = gw.prefix + "cs/PA/Ack"
    await backend.subscribe(ack)
    backend.publish(gw.prefix + "cs/PA/call/Reset", {"type": "Soft"}, qos=1)
    body = await backend.wait_for(ack)
    assert (body["Status"], body["Action"], body["MessageTypeId"]) == ("offline", "Reset", 2)


async def test_message_with_expiry_is_held_and_delivered_when_the_charge_point_connects(
        make_gateway: Any, backend: Backend) -> None:
    a = await make_gateway(gateway_id="gw-a")
    b = await make_gateway(gateway_id="gw-b", prefix=a.prefix)
    ack, reply = a.prefix + "cs/LATER/Ack", a.prefix + "reply/LATER"
    await backend.subscribe(ack)
    await backend.subscribe(reply)
    for i in range(3):
        backend.publish(a.prefix + "cs/LATER", call(f"k{i}"), qos=1,
                        message_expiry_interval=60, response_topic=reply,
                        correlation_data=f"corr-{i}".encode())
        held = await backend.wait_for(ack)
        assert (held["UniqueId"], held["Status"]) == (f"k{i}", "held")
        assert held["ExpiresAt"] - held["Timestamp"] == 60_000
    await backend.silence(reply, 0.2)  # "held" is not final: nothing on the response topic
    async with connect(b.url("LATER"), ["ocpp1.6"]) as ws:
        for i in range(3):  # oldest first, one outstanding CALL at a time
            assert (await recv_json(ws, 5))[:3] == [2, f"k{i}", "ClearCache"]
            await ws.send(f'[3,"k{i}",{{"status":"Accepted"}}]')
            payload, props = await backend.wait_raw(reply, 5)
            assert orjson.loads(payload)["UniqueId"] == f"k{i}"
            assert props["correlation_data"] == [f"corr-{i}".encode()]
        statuses = [(m["UniqueId"], m["Status"]) for m in await acks(backend, ack, 0.3)]
        assert statuses == [(f"k{i}", s) for i in range(3) for s in ("sent", "answered")]
    # Delivered once: cleared from the broker, and not delivered again on a reconnect.
    late = await Backend(backend.port).connect()
    try:
        await late.subscribe(a.prefix + "held/#")
        await late.silence(a.prefix + "held/LATER", 0.3)
        assert not [t for t, p, _ in late.messages if p]
    finally:
        await late.close()
    async with connect(a.url("LATER"), ["ocpp1.6"]) as ws:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.5)
    assert not a.gateway.relay.fleet.held and not b.gateway.relay.fleet.held


async def test_held_message_expires_with_an_expired_answer(
        make_gateway: Any, backend: Backend) -> None:
    gw = await make_gateway()
    ack = gw.prefix + "cs/NEVER/Ack"
    await backend.subscribe(ack)
    backend.publish(gw.prefix + "cs/NEVER", call("e1"), qos=1, message_expiry_interval=1)
    assert (await backend.wait_for(ack))["Status"] == "held"
    expired = await backend.wait_for(ack, 5)
    assert (expired["UniqueId"], expired["Status"], expired["Action"]) == (
        "e1", "expired", "ClearCache")
    async with connect(gw.url("NEVER"), ["ocpp1.6"]) as ws:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.5)  # never delivered after its expiry


async def test_a_stopped_instance_leaves_the_shared_subscription(
        make_gateway: Any, backend: Backend) -> None:
    """A graceful stop ends the MQTT session: the broker must not keep handing offline answers
    to an instance that is gone (they would wait for it until the session expires)."""
    a = await make_gateway(gateway_id="gw-a")
    b = await make_gateway(gateway_id="gw-b", prefix=a.prefix)
    await b.gateway.stop()
    ack = a.prefix + "cs/GONE/Ack"
    await backend.subscribe(ack)
    for i in range(6):
        backend.publish(a.prefix + "cs/GONE", call(f"s{i}"), qos=1)
    got = await acks(backend, ack, 1.0)
    assert sorted(m["UniqueId"] for m in got) == [f"s{i}" for i in range(6)]


async def test_embedded_broker_answers_offline_with_one_wildcard_subscription(
        make_gateway: Any) -> None:
    port = free_port()
    gw = await make_gateway(mqtt="embedded", embedded_listen=f"127.0.0.1:{port}")
    assert gw.gateway.relay.fleet.covers_all
    backend = await Backend(port, MQTTv311).connect()
    try:
        ack = gw.prefix + "cs/E/Ack"
        await backend.subscribe(ack)
        backend.publish(gw.prefix + "cs/E", call("x1"), qos=1)
        assert (await backend.wait_for(ack))["Status"] == "offline"
        async with connect(gw.url("E"), ["ocpp1.6"]) as ws:
            backend.publish(gw.prefix + "cs/E", call("x2"), qos=1)
            assert (await recv_json(ws, 5))[:2] == [2, "x2"]
            assert (await backend.wait_for(ack))["Status"] == "sent"
    finally:
        await backend.close()


async def test_mqtt311_answers_only_what_arrives_after_a_charge_point_left(
        make_gateway: Any, backend: Backend) -> None:
    gw = await make_gateway(mqtt_version="3.1.1")
    assert gw.gateway.relay.fleet.responder == "off"
    ack = gw.prefix + "cs/OLD/Ack"
    await backend.subscribe(ack)
    backend.publish(gw.prefix + "cs/OLD", call("o1"), qos=1)
    await backend.silence(ack, 0.5)  # no subscription identifiers: no shared responder
