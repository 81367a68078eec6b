"""The EMQX profile: acceptance checks of emqx-ocpp-gateway.md §10.4, against a real Mosquitto."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from .wsutil import connect, recv_json

BOOT16 = '{"chargePointVendor":"vendor1","chargePointModel":"model1"}'


async def test_upstream_call_envelope_and_override(make_gateway: Any, backend: Any) -> None:
    gw = await make_gateway(
        upstream_topic_override_mapping={"BootNotification": "cp/${cid}/Notify/${action}"})
    await backend.subscribe(gw.prefix + "cp/#")
    async with connect(gw.url("CP001"), ["ocpp1.6"]) as ws:
        await ws.send(f'[2,"1200012677","BootNotification",{BOOT16}]')
        raw, _ = await backend.wait_raw(gw.prefix + "cp/CP001/Notify/BootNotification")
        body = orjson.loads(raw)
        assert body["MessageTypeId"] == 2 and body["UniqueId"] == "1200012677"
        assert body["Action"] == "BootNotification"
        assert body["Payload"] == {"chargePointVendor": "vendor1", "chargePointModel": "model1"}
        assert isinstance(body["ReceivedAt"], int)
        await ws.send('[2,"h1","Heartbeat",{}]')
        body = await backend.wait_for(gw.prefix + "cp/CP001")
        assert (body["Action"], body["UniqueId"]) == ("Heartbeat", "h1")


async def test_strict_compat_emits_exactly_emqx_keys(make_gateway: Any, backend: Any) -> None:
    gw = await make_gateway(strict_compat=True)
    await backend.subscribe(gw.prefix + "cp/#")
    cs = gw.prefix + "cs/S1"
    async with connect(gw.url("S1"), ["ocpp1.6"]) as ws:
        await ws.send(f'[2,"b1","BootNotification",{BOOT16}]')
        call = await backend.wait_for(gw.prefix + "cp/S1")
        assert set(call) == {"MessageTypeId", "UniqueId", "Action", "Payload"}
        backend.publish(cs, {"MessageTypeId": 2, "UniqueId": "cs-42", "Action": "GetConfiguration",
                             "Payload": {}})
        assert await recv_json(ws) == [2, "cs-42", "GetConfiguration", {}]
        await ws.send('[3,"cs-42",{"configurationKey":[]}]')
        result = await backend.wait_for(gw.prefix + "cp/S1/Reply")
        assert result == {"MessageTypeId": 3, "UniqueId": "cs-42",
                          "Payload": {"configurationKey": []}}
        backend.publish(cs, {"MessageTypeId": 2, "UniqueId": "cs-43", "Action": "ClearCache",
                             "Payload": {}})
        assert (await recv_json(ws))[1] == "cs-43"
        await ws.send('[4,"cs-43","NotSupported","Unknown action",{"x":1}]')
        error = await backend.wait_for(gw.prefix + "cp/S1/Reply")
        assert error == {"MessageTypeId": 4, "UniqueId": "cs-43", "ErrorCode": "NotSupported",
                         "ErrorDescription": "Unknown action"}


async def test_extras_action_and_error_details(gateway: Any, backend: Any) -> None:
    """FR-10: results carry the Action of the CALL they answer; ErrorDetails is kept."""
    await backend.subscribe(gateway.prefix + "cp/X1/Reply")
    cs = gateway.prefix + "cs/X1"
    async with connect(gateway.url("X1"), ["ocpp1.6"]) as ws:
        await asyncio.sleep(0.05)
        backend.publish(cs, {"MessageTypeId": 2, "UniqueId": "a1", "Action": "ClearCache",
                             "Payload": {}})
        await recv_json(ws)
        await ws.send('[4,"a1","InternalError","boom",{"why":"x"}]')
        error = await backend.wait_for(gateway.prefix + "cp/X1/Reply")
        assert error["Action"] == "ClearCache" and error["ErrorDetails"] == {"why": "x"}


async def test_three_downstream_forms(gateway: Any, backend: Any) -> None:
    """§10.4 check 3: each downstream form yields exactly its frame; invalid yields none."""
    await backend.subscribe(gateway.prefix + "cs/D1/Ack")
    cs = gateway.prefix + "cs/D1"
    async with connect(gateway.url("D1"), ["ocpp1.6"]) as ws:
        await ws.send(f'[2,"1200012677","BootNotification",{BOOT16}]')
        await ws.send('[2,"1200012678","Heartbeat",{}]')
        await asyncio.sleep(0.1)
        backend.publish(cs, {"MessageTypeId": 3, "UniqueId": "1200012677", "Action": "ignored",
                             "Payload": {"currentTime": "2023-12-01T14:20:39+00:00",
                                         "interval": 300, "status": "Accepted"}})
        assert await recv_json(ws) == [3, "1200012677", {
            "currentTime": "2023-12-01T14:20:39+00:00", "interval": 300, "status": "Accepted"}]
        backend.publish(cs, {"MessageTypeId": 2, "UniqueId": "cs-42",
                             "Action": "RemoteStartTransaction",
                             "Payload": {"idTag": "TAG1", "connectorId": 1}})
        assert await recv_json(ws) == [2, "cs-42", "RemoteStartTransaction",
                                       {"idTag": "TAG1", "connectorId": 1}]
        backend.publish(cs, {"MessageTypeId": 4, "UniqueId": "1200012678",
                             "ErrorCode": "NotImplemented", "ErrorDescription": "nope",
                             "ErrorDetails": {"a": 1}})
        # unlike EMQX, ErrorDetails are kept
        assert await recv_json(ws) == [4, "1200012678", "NotImplemented", "nope", {"a": 1}]
        backend.publish(cs, b"not json")
        ack = await backend.wait_for(gateway.prefix + "cs/D1/Ack",
                                     where=lambda b: b["Status"] == "invalid")
        assert "JSON" in ack["Reason"]
        backend.publish(cs, {"MessageTypeId": 2, "UniqueId": "z", "Payload": {}})
        ack = await backend.wait_for(gateway.prefix + "cs/D1/Ack",
                                     where=lambda b: b["Status"] == "invalid")
        assert ack["UniqueId"] == "z" and "Action" in ack["Reason"]


async def test_keepalive_from_accepted_boot_and_silent_cp(make_gateway: Any,
                                                          backend: Any) -> None:
    """§10.4 checks 4-5: keepalive 60 -> interval of the accepted Boot; a silent CP is dropped
    after 1-2 intervals (keepalive_check on) and `disconnected` is published."""
    gw = await make_gateway(keepalive_check=True, ping_interval=0)
    events = gw.prefix + "events/K1/disconnected"
    await backend.subscribe(events)
    async with connect(gw.url("K1"), ["ocpp1.6"], ping_interval=None) as ws:
        await ws.send(f'[2,"b","BootNotification",{BOOT16}]')
        await asyncio.sleep(0.1)
        backend.publish(gw.prefix + "cs/K1", {"MessageTypeId": 3, "UniqueId": "b", "Payload": {
            "currentTime": "2024-01-01T00:00:00Z", "interval": 1, "status": "Accepted"}})
        await recv_json(ws)
        started = asyncio.get_running_loop().time()
        await asyncio.wait_for(ws.wait_closed(), 5)
        silent_for = asyncio.get_running_loop().time() - started
    event = await backend.wait_for(events)
    assert event["reason"] == "keepalive_timeout" and event["keepalive"] == 1
    assert 1.0 <= silent_for <= 3.0


async def test_twenty_results_each_in_own_frame(gateway: Any, backend: Any) -> None:
    """§10.4 check 7 (EMQX #15822): 20 results published one at a time all reach the CP."""
    async with connect(gateway.url("T20"), ["ocpp1.6"]) as ws:
        for i in range(20):
            await ws.send(f'[2,"h{i}","Heartbeat",{{}}]')
        await asyncio.sleep(0.2)
        for i in range(20):
            backend.publish(gateway.prefix + "cs/T20", {
                "MessageTypeId": 3, "UniqueId": f"h{i}",
                "Payload": {"currentTime": "2024-01-01T00:00:00Z"}})
        for i in range(20):
            assert await recv_json(ws) == [3, f"h{i}", {"currentTime": "2024-01-01T00:00:00Z"}]


START16 = ('{"connectorId":1,"idTag":"TAG1","meterStart":100,'
           '"timestamp":"2026-11-21T10:00:00Z"}')


async def test_repeated_transaction_message_keyed_and_flagged(make_gateway: Any,
                                                              backend: Any) -> None:
    """A StartTransaction sent again under a new id (its answer was lost) carries the same
    MessageKey and Duplicate: true; a message outside repeat_actions carries no key."""
    gw = await make_gateway()
    await backend.subscribe(gw.prefix + "cp/#")
    async with connect(gw.url("R1"), ["ocpp1.6"]) as ws:
        await ws.send(f'[2,"s1","StartTransaction",{START16}]')
        first = await backend.wait_for(gw.prefix + "cp/R1")
    async with connect(gw.url("R1"), ["ocpp1.6"]) as ws:  # reconnected, same message again
        reordered = orjson.dumps(dict(reversed(list(orjson.loads(START16).items())))).decode()
        await ws.send(f'[2,"s2","StartTransaction",{reordered}]')
        again = await backend.wait_for(gw.prefix + "cp/R1")
        await ws.send('[2,"h1","Heartbeat",{}]')
        heartbeat = await backend.wait_for(gw.prefix + "cp/R1")
    assert first["UniqueId"] == "s1" and "Duplicate" not in first
    assert len(first["MessageKey"]) == 24
    assert again["UniqueId"] == "s2" and again["MessageKey"] == first["MessageKey"]
    assert again["Duplicate"] is True and again["FirstSeenAt"] <= again["ReceivedAt"]
    assert "MessageKey" not in heartbeat


async def test_strict_compat_has_no_message_key(make_gateway: Any, backend: Any) -> None:
    gw = await make_gateway(strict_compat=True)
    await backend.subscribe(gw.prefix + "cp/#")
    async with connect(gw.url("R2"), ["ocpp1.6"]) as ws:
        await ws.send(f'[2,"s1","StartTransaction",{START16}]')
        call = await backend.wait_for(gw.prefix + "cp/R2")
    assert set(call) == {"MessageTypeId", "UniqueId", "Action", "Payload"}
