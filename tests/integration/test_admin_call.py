"""The admin API's synchronous CALL against a live gateway: every outcome and its HTTP status,
and the one-outstanding-CALL rule shared with MQTT commands (SY-01, SY-02)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from .admin_client import admin
from .wsutil import connect, no_frame, recv_json

CALL = "/api/v1/charge-points/{}/call"


async def test_answered_and_rejected(gateway: Any, backend: Any) -> None:
    await backend.subscribe(gateway.prefix + "cp/#")
    await backend.subscribe(gateway.prefix + "cs/+/Ack")
    async with connect(gateway.url("C1"), ["ocpp1.6"]) as ws, admin(gateway.admin_url) as api:
        task = asyncio.ensure_future(api.post(CALL.format("C1"), {
            "action": "Reset", "payload": {"type": "Soft"}, "unique_id": "api-1"}))
        assert await recv_json(ws) == [2, "api-1", "Reset", {"type": "Soft"}]
        await ws.send('[3,"api-1",{"status":"Accepted"}]')
        reply = await task
        assert reply.status == 200, reply.text
        assert reply.body["status"] == "answered" and reply.body["result"] == {
            "status": "Accepted"}
        assert reply.body["unique_id"] == "api-1" and reply.body["elapsed_ms"] >= 0

        task = asyncio.ensure_future(api.post(CALL.format("C1"), {"action": "ClearCache"}))
        frame = await recv_json(ws)
        assert frame[2:] == ["ClearCache", {}] and len(str(frame[1])) == 36  # a UUID (MID-02)
        await ws.send(orjson.dumps([4, frame[1], "NotSupported", "no cache", {"x": 1}]).decode())
        reply = await task
        assert reply.status == 200
        assert reply.body["status"] == "rejected"
        assert reply.body["error"] == {"code": "NotSupported", "description": "no cache",
                                       "details": {"x": 1}}
        # answered to the API only: nothing of it on the MQTT Reply and Ack topics
        await backend.silence(gateway.prefix + "cp/C1/Reply", 0.3)
        await backend.silence(gateway.prefix + "cs/C1/Ack", 0.01)


async def test_refusals_before_sending(gateway: Any) -> None:
    async with connect(gateway.url("C2"), ["ocpp1.6"]) as ws, admin(gateway.admin_url) as api:
        schema = await api.post(CALL.format("C2"), {"action": "Reset",
                                                    "payload": {"type": "Sideways"}})
        assert schema.status == 422 and schema.body["error"] == "invalid"
        assert "does not match its schema" in schema.body["reason"]
        assert "Sideways" in schema.body["reason"]  # the validator's message
        unknown = await api.post(CALL.format("C2"), {"action": "Explode", "payload": {}})
        assert unknown.status == 422 and "unknown action 'Explode'" in unknown.body["reason"]
        direction = await api.post(CALL.format("C2"), {"action": "Heartbeat", "payload": {}})
        assert direction.status == 422 and "sent by charge points" in direction.body["reason"]
        for body, word in (({"payload": {}}, "action"), ({"action": "Reset", "payload": []},
                                                         "payload"),
                           ({"action": "Reset", "Payload": {}}, "unknown key"),
                           ({"action": "Reset", "unique_id": "x" * 37}, "unique_id")):
            bad = await api.post(CALL.format("C2"), body)
            assert bad.status == 400 and word in bad.body["reason"], (body, bad.body)
        not_json = await api.request("POST", CALL.format("C2"), data=b"{nope")
        assert not_json.status == 400 and "not valid JSON" in not_json.body["reason"]
        await no_frame(ws, 0.2)  # nothing of it reached the charge point
    async with admin(gateway.admin_url) as api:
        gone = await api.post(CALL.format("C2"), {"action": "Reset", "payload": {"type": "Soft"}})
        assert gone.status == 404 and gone.body["error"] == "not_connected"


async def test_timeout_is_504(make_gateway: Any) -> None:
    gw = await make_gateway(call_timeout=0.5)
    async with connect(gw.url("C3"), ["ocpp1.6"]) as ws, admin(gw.admin_url) as api:
        task = asyncio.ensure_future(api.post(CALL.format("C3"), {"action": "ClearCache"}))
        await recv_json(ws)  # and never answer (SY-03)
        reply = await task
        assert reply.status == 504 and reply.body["error"] == "timeout"
        assert "within 0.5 s" in reply.body["reason"]


async def test_disconnect_while_waiting_is_409(gateway: Any) -> None:
    async with admin(gateway.admin_url) as api:
        async with connect(gateway.url("C4"), ["ocpp1.6"]) as ws:
            task = asyncio.ensure_future(api.post(CALL.format("C4"), {"action": "ClearCache"}))
            await recv_json(ws)
        reply = await task
        assert reply.status == 409 and reply.body["error"] == "offline"


async def test_invalid_answer_is_502(gateway: Any) -> None:
    async with connect(gateway.url("C5"), ["ocpp1.6"]) as ws, admin(gateway.admin_url) as api:
        task = asyncio.ensure_future(api.post(CALL.format("C5"), {"action": "ClearCache"}))
        frame = await recv_json(ws)
        await ws.send(orjson.dumps([3, frame[1], {"status": "Maybe"}]).decode())
        reply = await task
        assert reply.status == 502 and reply.body["error"] == "invalid"
        assert reply.body["result"] == {"status": "Maybe"}


async def test_waits_behind_an_mqtt_command_and_queue_full(make_gateway: Any,
                                                           backend: Any) -> None:
    """SY-01/SY-02: the API's CALL waits until the MQTT command in flight is answered; with
    max_queue 1 a third CALL is refused 429 (queue_full), never sent."""
    gw = await make_gateway(max_queue=1)
    await backend.subscribe(gw.prefix + "cs/Q1/Ack")
    async with connect(gw.url("Q1"), ["ocpp1.6"]) as ws, admin(gw.admin_url) as api:
        backend.publish(gw.prefix + "cs/Q1", {"MessageTypeId": 2, "UniqueId": "mqtt-1",
                                              "Action": "ClearCache", "Payload": {}})
        assert await recv_json(ws) == [2, "mqtt-1", "ClearCache", {}]
        waiting = asyncio.ensure_future(api.post(CALL.format("Q1"), {
            "action": "Reset", "payload": {"type": "Hard"}, "unique_id": "api-2"}))
        await no_frame(ws, 0.4)  # queued behind mqtt-1: not sent yet
        detail = (await api.get("/api/v1/charge-points/Q1")).body
        assert detail["queue_length"] == 1
        assert detail["pending"]["to_charge_point"]["unique_id"] == "mqtt-1"
        assert detail["pending"]["queued"] == [{"unique_id": "api-2", "action": "Reset"}]
        full = await api.post(CALL.format("Q1"), {"action": "ClearCache"})
        assert full.status == 429 and full.body["error"] == "queue_full"
        assert int(full.headers["Retry-After"]) >= 1
        assert not waiting.done()
        await ws.send('[3,"mqtt-1",{"status":"Accepted"}]')
        ack = await backend.wait_for(gw.prefix + "cs/Q1/Ack",
                                     where=lambda b: b["Status"] == "answered")
        assert ack["UniqueId"] == "mqtt-1"
        assert await recv_json(ws) == [2, "api-2", "Reset", {"type": "Hard"}]
        await ws.send('[3,"api-2",{"status":"Accepted"}]')
        reply = await waiting
        assert reply.status == 200 and reply.body["result"] == {"status": "Accepted"}
        assert reply.body["elapsed_ms"] >= 300


async def test_call_in_central_mode(make_gateway: Any, tmp_path: Any) -> None:
    gw = await make_gateway(mode="central", store=str(tmp_path / "c.sqlite3"),
                            trigger_after_connect=0)
    async with connect(gw.url("C6"), ["ocpp2.0.1"]) as ws, admin(gw.admin_url) as api:
        task = asyncio.ensure_future(api.post(CALL.format("C6"), {
            "action": "GetVariables", "payload": {"getVariableData": [
                {"component": {"name": "OCPPCommCtrlr"},
                 "variable": {"name": "HeartbeatInterval"}}]}}))
        frame = await recv_json(ws)
        assert frame[2] == "GetVariables"
        result = {"getVariableResult": [{"attributeStatus": "Accepted",
                                         "attributeValue": "300",
                                         "component": {"name": "OCPPCommCtrlr"},
                                         "variable": {"name": "HeartbeatInterval"}}]}
        await ws.send(orjson.dumps([3, frame[1], result]).decode())
        reply = await task
        assert reply.status == 200 and reply.body["result"] == result


async def test_call_in_proxy_mode_waits_behind_the_csms_call(make_gateway: Any) -> None:
    """Proxy mode: the API's CALL is an injected one (MID-06: a gateway-drawn id), queued
    behind the upstream CSMS's CALL in flight (SY-01), answered to the API only."""
    from .csms import Csms

    csms = await Csms().start()
    try:
        gw = await make_gateway(mode="proxy", upstream=csms.url)
        async with connect(gw.url("P1"), ["ocpp1.6"]) as ws, admin(gw.admin_url) as api:
            await csms.send("P1", '[2,"csms-1","ClearCache",{}]')
            assert (await recv_json(ws))[1] == "csms-1"
            task = asyncio.ensure_future(api.post(CALL.format("P1"), {
                "action": "Reset", "payload": {"type": "Soft"}, "unique_id": "api-p"}))
            await no_frame(ws, 0.3)
            await ws.send('[3,"csms-1",{"status":"Accepted"}]')
            frame = await recv_json(ws)
            assert frame[2:] == ["Reset", {"type": "Soft"}] and frame[1] != "api-p"
            await ws.send(orjson.dumps([3, frame[1], {"status": "Accepted"}]).decode())
            reply = await task
            assert reply.status == 200 and reply.body["result"] == {"status": "Accepted"}
            assert not [f for f in csms.raw if frame[1] in f]  # never shown to the CSMS
    finally:
        await csms.stop()
