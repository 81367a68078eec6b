"""Presence, connection events, takeover, reconnects, topic escaping (HS-12, LC-02, RC-*, ID-03)."""

from __future__ import annotations

import asyncio
from typing import Any

from .wsutil import connect, recv_json

EMQX_EVENT_KEYS = {"clientid", "username", "ipaddress", "sockport", "protocol", "proto_name",
                   "proto_ver", "connected_at", "keepalive", "clean_start", "expiry_interval",
                   "receive_maximum"}


async def test_lc02_presence_and_events_on_every_close(gateway: Any, backend: Any) -> None:
    p = gateway.prefix
    await backend.subscribe(p + "presence/P1")
    await backend.subscribe(p + "events/P1/#")
    async with connect(gateway.url("P1"), ["ocpp2.0.1"]):
        online = await backend.wait_for(p + "presence/P1")
        assert online["status"] == "online" and online["proto_ver"] == "2.0.1"
        assert online["clientid"] == "P1" and online["ipaddress"] == "127.0.0.1"
        connected = await backend.wait_for(p + "events/P1/connected")
        assert EMQX_EVENT_KEYS <= set(connected)
        assert connected["proto_name"] == "OCPP" and connected["protocol"] == "ocpp"
    offline = await backend.wait_for(p + "presence/P1")
    assert offline["status"] == "offline" and "charge point" in offline["reason"]
    gone = await backend.wait_for(p + "events/P1/disconnected")
    assert EMQX_EVENT_KEYS <= set(gone) and gone["reason"] and gone["disconnected_at"]


async def test_presence_is_retained(gateway: Any, backend: Any, mosquitto: Any) -> None:
    from tests.conftest import Backend

    async with connect(gateway.url("R1"), ["ocpp1.6"]):
        await asyncio.sleep(0.2)
        late = await Backend(mosquitto.port).connect()
        try:
            await late.subscribe(gateway.prefix + "presence/R1")
            assert (await late.wait_for(gateway.prefix + "presence/R1"))["status"] == "online"
            await late.subscribe(gateway.prefix + "gateway/test-gw/status")
            status = await late.wait_for(gateway.prefix + "gateway/test-gw/status")
            assert status["status"] == "online" and status["gateway"] == "test-gw"
        finally:
            await late.close()


async def test_hs12_newer_connection_replaces_older(gateway: Any, backend: Any) -> None:
    p = gateway.prefix
    await backend.subscribe(p + "events/H/#")
    await backend.subscribe(p + "presence/H")
    async with connect(gateway.url("H"), ["ocpp1.6"]) as first:
        await backend.wait_for(p + "events/H/connected")
        async with connect(gateway.url("H"), ["ocpp2.0.1"]) as second:
            await asyncio.wait_for(first.wait_closed(), 3)
            assert first.close_code == 1000
            gone = await backend.wait_for(p + "events/H/disconnected")
            assert "newer connection" in gone["reason"] and gone["proto_ver"] == "1.6"
            await backend.wait_for(p + "events/H/connected",
                                   where=lambda b: b["proto_ver"] == "2.0.1")
            # the retained presence ends as online (the old offline came first)
            states = []
            while True:
                try:
                    states.append((await backend.wait_for(p + "presence/H", 0.5))["status"])
                except AssertionError:
                    break
            assert states[-1] == "online"
            # commands now reach the newer connection
            backend.publish(p + "cs/H", {"MessageTypeId": 2, "UniqueId": "k", "Action":
                                         "ClearCache", "Payload": {}})
            assert (await recv_json(second))[:3] == [2, "k", "ClearCache"]


async def test_rc02_no_boot_needed(gateway: Any, backend: Any) -> None:
    await backend.subscribe(gateway.prefix + "cp/RC")
    async with connect(gateway.url("RC"), ["ocpp1.6"]) as ws:
        await ws.send('[2,"s","StatusNotification",{"connectorId":1,"errorCode":"NoError",'
                      '"status":"Available"}]')
        body = await backend.wait_for(gateway.prefix + "cp/RC")
        assert body["Action"] == "StatusNotification"


async def test_rc03_version_renegotiated_per_connection(gateway: Any) -> None:
    async with connect(gateway.url("RV"), ["ocpp1.6"]) as ws:
        await ws.send('[2,"m","BootNotification",{}]')
        assert (await recv_json(ws))[2] == "OccurenceConstraintViolation"
    async with connect(gateway.url("RV"), ["ocpp2.0.1"]) as ws:
        await ws.send('[2,"m","BootNotification",{}]')
        assert (await recv_json(ws))[2] == "OccurrenceConstraintViolation"


async def test_id03_identity_escaped_in_topics(gateway: Any, backend: Any) -> None:
    """`CP+1` (legal in identifierString) appears as `CP%2B1`, and commands round-trip."""
    p = gateway.prefix
    await backend.subscribe(p + "#")
    async with connect(gateway.url("CP%2B1"), ["ocpp2.0.1"]) as ws:
        await ws.send('[2,"h","Heartbeat",{}]')
        body = await backend.wait_for(p + "cp/CP%2B1")
        assert body["Action"] == "Heartbeat"
        backend.publish(p + "cs/CP%2B1", {"MessageTypeId": 2, "UniqueId": "z",
                                          "Action": "ClearCache", "Payload": {}})
        assert (await recv_json(ws))[1] == "z"
    await asyncio.sleep(0.2)
    topics = {t for t, _, _ in backend.messages}
    assert all("+" not in t and "#" not in t for t in topics), topics
    assert any(t.endswith("presence/CP%2B1") for t in topics)


async def test_1_6_identity_with_percent_encoded_specials(gateway: Any, backend: Any) -> None:
    """ID-02/ID-03: a 1.6 identity `a#b $c` stays one topic level."""
    p = gateway.prefix
    await backend.subscribe(p + "cp/+")
    async with connect(gateway.url("%24a%23b%20c"), ["ocpp1.6"]) as ws:
        await ws.send('[2,"h","Heartbeat",{}]')
        payload, _ = await backend.wait_raw(p + "cp/%24a%23b c")
        assert b'"UniqueId":"h"' in payload


async def test_identity_cannot_inject_placeholders(make_gateway: Any, backend: Any) -> None:
    """A 1.6 identity `CP${id}` must not turn into another charge point's topic `cp/CP001`."""
    gw = await make_gateway(upstream_topic="cp/${cid}/${id}")
    await backend.subscribe(gw.prefix + "cp/#")
    async with connect(gw.url("CP%24%7Bid%7D"), ["ocpp1.6"]) as ws:
        await ws.send('[2,"001","Heartbeat",{}]')
        payload, _ = await backend.wait_raw(gw.prefix + "cp/CP%24{id}/001")
        assert b'"UniqueId":"001"' in payload
    await backend.silence(gw.prefix + "cp/CP001/001", 0.1)


async def test_noncharacter_identity_keeps_the_broker_connection(gateway: Any,
                                                                 backend: Any) -> None:
    """U+FFFF in a topic makes Mosquitto drop the client: it must be escaped (ID-03)."""
    await backend.subscribe(gateway.prefix + "presence/+")
    async with connect(gateway.url("A%EF%BF%BF"), ["ocpp1.6"]):
        online = await backend.wait_for(gateway.prefix + "presence/A%EF%BF%BF")
        assert online["clientid"] == "A\uffff"
    async with connect(gateway.url("B1"), ["ocpp1.6"]):
        assert (await backend.wait_for(gateway.prefix + "presence/B1"))["status"] == "online"
    assert gateway.gateway.link.connected
