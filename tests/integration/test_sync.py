"""One outstanding CALL per direction, queueing, timeouts and acknowledgements (SY-*, MID-*)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from .wsutil import connect, no_frame, recv_json


def call(uid: str | None, action: str = "ClearCache", payload: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"MessageTypeId": 2, "Action": action, "Payload": payload or {}}
    if uid is not None:
        body["UniqueId"] = uid
    return body


async def test_sy01_second_call_waits_for_first_result(gateway: Any, backend: Any) -> None:
    cs, ack = gateway.prefix + "cs/S1", gateway.prefix + "cs/S1/Ack"
    await backend.subscribe(ack)
    async with connect(gateway.url("S1"), ["ocpp1.6"]) as ws:
        backend.publish(cs, call("c1"))
        backend.publish(cs, call("c2"))
        assert (await recv_json(ws))[1] == "c1"
        await no_frame(ws, 0.3)  # c2 is held while c1 is outstanding
        await ws.send('[3,"c1",{"status":"Accepted"}]')
        assert (await recv_json(ws))[1] == "c2"
        first = await backend.wait_for(ack, where=lambda b: b["Status"] == "answered")
        assert first["UniqueId"] == "c1" and first["Action"] == "ClearCache"


async def test_sy02_calls_to_different_cps_run_concurrently(gateway: Any, backend: Any) -> None:
    async with connect(gateway.url("A"), ["ocpp1.6"]) as a, \
            connect(gateway.url("B"), ["ocpp2.0.1"]) as b:
        backend.publish(gateway.prefix + "cs/A", call("a1"))
        backend.publish(gateway.prefix + "cs/B", call("b1"))
        assert (await recv_json(a))[1] == "a1"
        assert (await recv_json(b))[1] == "b1"


async def test_sy03_timeout_reported_then_next_sent(make_gateway: Any, backend: Any) -> None:
    gw = await make_gateway(call_timeout=0.5)
    cs, ack = gw.prefix + "cs/T1", gw.prefix + "cs/T1/Ack"
    await backend.subscribe(ack)
    async with connect(gw.url("T1"), ["ocpp1.6"]) as ws:
        backend.publish(cs, call("t1"))
        backend.publish(cs, call("t2"))
        assert (await recv_json(ws))[1] == "t1"
        timeout = await backend.wait_for(ack, where=lambda b: b["Status"] == "timeout")
        assert timeout["UniqueId"] == "t1" and "0.5" in timeout["Reason"]
        assert (await recv_json(ws))[1] == "t2"  # sent once t1 timed out
        await ws.send('[3,"t1",{"status":"Accepted"}]')  # too late: logged and dropped
        late = await backend.wait_for(ack, where=lambda b: b["UniqueId"] == "t2"
                                      and b["Status"] == "sent")
        assert late["Action"] == "ClearCache"


async def test_queue_full(make_gateway: Any, backend: Any) -> None:
    gw = await make_gateway(max_queue=1)
    cs, ack = gw.prefix + "cs/Q1", gw.prefix + "cs/Q1/Ack"
    await backend.subscribe(ack)
    async with connect(gw.url("Q1"), ["ocpp1.6"]):
        for uid in ("q1", "q2", "q3"):  # q1 outstanding, q2 queued, q3 refused
            backend.publish(cs, call(uid))
        full = await backend.wait_for(ack, where=lambda b: b["Status"] == "queue_full")
        assert full["UniqueId"] == "q3"


async def test_sy04_crossing_calls(gateway: Any, backend: Any) -> None:
    await backend.subscribe(gateway.prefix + "cp/X")
    async with connect(gateway.url("X"), ["ocpp1.6"]) as ws:
        backend.publish(gateway.prefix + "cs/X", call("g1"))
        assert (await recv_json(ws))[1] == "g1"
        await ws.send('[2,"cp1","Heartbeat",{}]')  # while g1 is outstanding
        body = await backend.wait_for(gateway.prefix + "cp/X")
        backend.publish(gateway.prefix + "cs/X", {
            "MessageTypeId": 3, "UniqueId": body["UniqueId"],
            "Payload": {"currentTime": "2024-01-01T00:00:00Z"}})
        assert (await recv_json(ws)) == [3, "cp1", {"currentTime": "2024-01-01T00:00:00Z"}]


async def test_mid05_duplicate_pending_id(gateway: Any) -> None:
    async with connect(gateway.url("D"), ["ocpp2.0.1"]) as ws:
        await ws.send('[2,"dup","Heartbeat",{}]')
        await ws.send('[2,"dup","Heartbeat",{}]')
        frame = await recv_json(ws)
        assert frame[0] == 4 and frame[1] == "dup" and frame[2] == "RpcFrameworkError"


async def test_mid02_generated_ids_are_uuid4(gateway: Any, backend: Any) -> None:
    ack = gateway.prefix + "cs/G/Ack"
    await backend.subscribe(ack)
    async with connect(gateway.url("G"), ["ocpp1.6"]) as ws:
        backend.publish(gateway.prefix + "cs/G", call(None))
        frame = await recv_json(ws)
        assert uuid.UUID(frame[1]).version == 4
        sent = await backend.wait_for(ack)
        assert sent["UniqueId"] == frame[1] and sent["Status"] == "sent"


async def test_acks_for_bad_downstream_messages(gateway: Any, backend: Any) -> None:
    cs, ack = gateway.prefix + "cs/B", gateway.prefix + "cs/B/Ack"
    await backend.subscribe(ack)
    async with connect(gateway.url("B"), ["ocpp2.0.1"]) as ws:
        cases = [
            (call("u1", "NoSuchAction"), "invalid", "unknown action"),
            (call("u2", "BootNotification", {"reason": "PowerUp", "chargingStation": {
                "model": "M", "vendorName": "V"}}), "invalid", "sent by charge points"),
            (call("u3", "GetVariables", {"getVariableData": "x"}), "invalid", "schema"),
            (call("u4", "ChangeAvailability", {"operationalStatus": "Operative", "evse": None}),
             "invalid", "null"),  # FR-08
            ({"MessageTypeId": 3, "UniqueId": "u5", "Payload": {}}, "not_pending", "late"),
            ({"MessageTypeId": 9, "UniqueId": "u6"}, "invalid", "MessageTypeId"),
            ({"MessageTypeId": 2, "UniqueId": 7, "Action": "ClearCache", "Payload": {}},
             "invalid", "string"),
        ]
        for message, _status, _reason in cases:
            backend.publish(cs, message)
        for message, status, reason in cases:
            uid = message["UniqueId"] if isinstance(message["UniqueId"], str) else None
            body = await backend.wait_for(ack, where=lambda b, u=uid: b["UniqueId"] == u)
            assert body["Status"] == status, body
            assert reason in body["Reason"], body
        await no_frame(ws, 0.2)  # nothing invalid reached the charge point


async def test_offline_outcome_when_cp_leaves(gateway: Any, backend: Any) -> None:
    cs, ack = gateway.prefix + "cs/O", gateway.prefix + "cs/O/Ack"
    await backend.subscribe(ack)
    async with connect(gateway.url("O"), ["ocpp1.6"]) as ws:
        backend.publish(cs, call("o1"))
        backend.publish(cs, call("o2"))
        await recv_json(ws)
    for uid in ("o1", "o2"):
        body = await backend.wait_for(ack, where=lambda b, u=uid: b["UniqueId"] == u
                                      and b["Status"] == "offline")
        assert "disconnected" in body["Reason"]


async def test_backend_silence_answered_with_internal_error(make_gateway: Any) -> None:
    """ER-11: a CP CALL the backend never answers gets a CALLERROR, not silence."""
    gw = await make_gateway(call_timeout=0.4)
    async with connect(gw.url("N"), ["ocpp1.6"]) as ws:
        await ws.send('[2,"n1","Heartbeat",{}]')
        frame = await recv_json(ws, 3)
        assert frame[:3] == [4, "n1", "InternalError"]


async def test_many_qos2_publishes_respect_broker_window(make_gateway: Any,
                                                         backend: Any) -> None:
    """Mosquitto grants MQTT 5 clients a receive maximum of 20: 300 QoS 2 publishes in one
    burst must all arrive, in order, without OverflowError (DESIGN gotcha: QoS 1 id wrap)."""
    gw = await make_gateway(qos=2)
    topic = gw.prefix + "cp/W"
    await backend.subscribe(topic, qos=2)
    async with connect(gw.url("W"), ["ocpp1.6"]) as ws:
        for i in range(300):
            await ws.send(f'[2,"w{i}","Heartbeat",{{}}]')
        ids = []
        for _ in range(300):
            ids.append((await backend.wait_for(topic, 10))["UniqueId"])
        assert ids == [f"w{i}" for i in range(300)]
        await asyncio.sleep(0)


async def test_retained_command_not_replayed_on_connect(gateway: Any, backend: Any) -> None:
    """A retained command on cs/{cid} would replay at every reconnect: refused with a reason."""
    cs, ack = gateway.prefix + "cs/RET", gateway.prefix + "cs/RET/Ack"
    await backend.subscribe(ack)
    backend.publish(cs, call("r1"), qos=1, retain=True)
    try:
        # published while the charge point is connected nowhere: answered offline at once
        assert (await backend.wait_for(ack))["Status"] == "offline"
        async with connect(gateway.url("RET"), ["ocpp1.6"]) as ws:
            body = await backend.wait_for(ack)
            assert body["Status"] == "invalid" and "retain" in body["Reason"]
            await no_frame(ws, 0.3)
            backend.publish(cs, call("r2"))  # live messages still pass
            assert (await recv_json(ws))[1] == "r2"
    finally:
        backend.publish(cs, b"", qos=1, retain=True)  # clear the retained message


async def test_large_compressed_frame_then_small_ones_in_order(gateway: Any,
                                                               backend: Any) -> None:
    """A frame big enough to be compressed off the loop (permessage-deflate) must not lose or
    reorder the frames sent behind it."""
    cs = gateway.prefix + "cs/BIG"
    async with connect(gateway.url("BIG"), ["ocpp1.6"], compression="deflate") as ws:
        for i in range(3):
            await ws.send(f'[2,"h{i}","Heartbeat",{{}}]')
        await asyncio.sleep(0.2)
        backend.publish(cs, call("big", "DataTransfer", {"vendorId": "V", "data": "x" * 40000}))
        for i in range(3):
            backend.publish(cs, {"MessageTypeId": 3, "UniqueId": f"h{i}",
                                 "Payload": {"currentTime": "2024-01-01T00:00:00Z"}})
        first = await recv_json(ws)
        assert first[:3] == [2, "big", "DataTransfer"] and len(first[3]["data"]) == 40000
        for i in range(3):
            assert (await recv_json(ws))[:2] == [3, f"h{i}"]


async def test_per_action_downstream_topic(make_gateway: Any, backend: Any) -> None:
    """Opt-in `dnstream_action_topic`: publish the OCPP payload alone on .../call/<Action>."""
    gw = await make_gateway(dnstream_action_topic="cs/${cid}/call/${action}")
    p = gw.prefix
    await backend.subscribe(p + "cs/PA/Ack")
    await backend.subscribe(p + "cp/PA/Reply")
    async with connect(gw.url("PA"), ["ocpp1.6"]) as ws:
        backend.publish(p + "cs/PA/call/ChangeAvailability",
                        {"connectorId": 0, "type": "Inoperative"})
        frame = await recv_json(ws)
        assert frame[0] == 2 and frame[2:] == ["ChangeAvailability",
                                               {"connectorId": 0, "type": "Inoperative"}]
        assert uuid.UUID(frame[1]).version == 4
        await ws.send(f'[3,"{frame[1]}",{{"status":"Accepted"}}]')
        reply = await backend.wait_for(p + "cp/PA/Reply")
        assert reply["UniqueId"] == frame[1] and reply["Action"] == "ChangeAvailability"
        backend.publish(p + "cs/PA/call/NoSuchAction", {})
        bad = await backend.wait_for(p + "cs/PA/Ack", where=lambda b: b["Status"] == "invalid")
        assert "unknown action" in bad["Reason"]
        # the EMQX topic keeps working beside it
        backend.publish(p + "cs/PA", call("e1"))
        assert (await recv_json(ws))[1] == "e1"
