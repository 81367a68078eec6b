"""README "Topics and payloads", example by example, against a running gateway and Mosquitto.

Each JSON example is read out of README.md (tests/readme_examples.py) and compared key by key,
type by type, with what the gateway publishes for the same frames; the downstream table is
published row by row and the frames compared with the README's. Editing an example or the
gateway alone fails here."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import orjson

from tests.readme_examples import assert_same_shape, block_after, json_objects, section

from .wsutil import connect, recv_json

TOPICS = "Topics and payloads"



def _without(value: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in value.items() if k not in keys}


async def test_from_charge_points_examples(make_gateway: Any, backend: Any) -> None:
    """The CALL, CALLRESULT and CALLERROR envelopes of "From charge points", for the README's
    own frames: equal to the examples but for the time of receipt."""
    text = section("From charge points (published by the gateway, QoS `qos`)")
    call_frame = re.search(r"A CALL `(\[2,.*?\])`", text)
    result_frame = re.search(r"A CALLRESULT `(\[3,.*?\])`", text)
    error_frame = re.search(r"A CALLERROR `(\[4,.*?\])`", text)
    assert call_frame and result_frame and error_frame
    examples = [json_objects(block)[0] for block in re.findall(r"```json\n(.*?)```", text,
                                                              re.DOTALL)[:3]]
    gw = await make_gateway(gateway_id="gw-1", qos=2)
    await backend.subscribe(gw.prefix + "cp/#", qos=2)
    async with connect(gw.url("CP001"), ["ocpp1.6"]) as ws:
        await ws.send(call_frame.group(1))
        raw, _ = await backend.wait_raw(gw.prefix + "cp/CP001")
        call = orjson.loads(raw)
        # "The payload is the charge point's text, byte for byte."
        assert orjson.dumps(orjson.loads(call_frame.group(1))[3]) in raw
        for example, frame, action in ((examples[1], result_frame, "RemoteStartTransaction"),
                                       (examples[2], error_frame, "ClearCache")):
            payload = {"idTag": "TAG1", "connectorId": 1} if action.startswith("Remote") else {}
            backend.publish(gw.prefix + "cs/CP001", {
                "MessageTypeId": 2, "UniqueId": example["UniqueId"], "Action": action,
                "Payload": payload})
            assert (await recv_json(ws))[1] == example["UniqueId"]
            await ws.send(frame.group(1))
            reply = await backend.wait_for(gw.prefix + "cp/CP001/Reply")
            assert_same_shape(example, reply)
            assert _without(reply, "ReceivedAt") == _without(example, "ReceivedAt")
    assert_same_shape(examples[0], call)
    assert _without(call, "ReceivedAt") == _without(examples[0], "ReceivedAt")


async def test_message_key_example(make_gateway: Any, backend: Any) -> None:
    """A StopTransaction sent twice: the repeat carries MessageKey, Duplicate and FirstSeenAt as
    in "Repeated transaction messages"."""
    example = json_objects(block_after(TOPICS, "A repeat\nthat this instance published"))[0]
    gw = await make_gateway()
    await backend.subscribe(gw.prefix + "cp/#")
    async with connect(gw.url("CP001"), ["ocpp1.6"]) as ws:
        # the charge point never saw the answer to its first copy, sent under another id
        await ws.send(orjson.dumps([2, "a1", example["Action"], example["Payload"]]).decode())
        first = await backend.wait_for(gw.prefix + "cp/CP001")
        backend.publish(gw.prefix + "cs/CP001",
                        {"MessageTypeId": 3, "UniqueId": "a1", "Payload": {}})
        assert (await recv_json(ws))[1] == "a1"
        await ws.send(orjson.dumps([2, example["UniqueId"], example["Action"],
                                    example["Payload"]]).decode())
        repeat = await backend.wait_for(gw.prefix + "cp/CP001")
    assert "Duplicate" not in first and first["MessageKey"] == repeat["MessageKey"]
    assert_same_shape(example, repeat)
    assert len(repeat["MessageKey"]) == len(example["MessageKey"]), repeat["MessageKey"]


async def test_to_charge_points_table(make_gateway: Any, backend: Any) -> None:
    """Each row of "To charge points": published as shown, the frame the README says."""
    rows = re.findall(r"^\| `(\{.*?\})` \| `(\[.*?\])` \|$",
                      section("To charge points (published by backends on `ocpp/cs/{cid}`)"),
                      re.MULTILINE)
    assert len(rows) == 3
    gw = await make_gateway()
    async with connect(gw.url("CP001"), ["ocpp1.6"]) as ws:
        # the CALLs the CALLRESULT and CALLERROR rows answer
        for row, _ in rows:
            message = orjson.loads(row)
            if message["MessageTypeId"] == 3:
                await ws.send(orjson.dumps([2, message["UniqueId"], "BootNotification", {
                    "chargePointVendor": "v", "chargePointModel": "m"}]).decode())
            elif message["MessageTypeId"] == 4:
                await ws.send(orjson.dumps([2, message["UniqueId"], "Heartbeat", {}]).decode())
        await asyncio.sleep(0.2)
        for row, frame in rows:
            backend.publish(gw.prefix + "cs/CP001", row.encode())
            assert await recv_json(ws) == orjson.loads(frame), row


async def test_per_action_topic_example(make_gateway: Any, backend: Any) -> None:
    text = section("Per-Action CALL topics (opt-in)")
    template = re.search(r'dnstream_action_topic = "(.*?)"', text)
    topic = re.search(r"publish\s+just the OCPP payload on `(.*?)`", text)
    assert template and topic
    payload = json_objects(block_after("Per-Action CALL topics (opt-in)", "`:"))[0]
    gw = await make_gateway(dnstream_action_topic=template.group(1))
    await backend.subscribe(gw.prefix + "cs/CP001/Ack")
    async with connect(gw.url("CP001"), ["ocpp1.6"]) as ws:
        backend.publish(gw.prefix + topic.group(1).removeprefix("ocpp/"), payload)
        frame = await recv_json(ws)
    assert frame[0] == 2 and frame[2] == "ChangeAvailability" and frame[3] == payload
    ack = await backend.wait_for(gw.prefix + "cs/CP001/Ack")
    assert ack["UniqueId"] == frame[1] and ack["Status"] == "sent"


async def test_ack_examples(make_gateway: Any, backend: Any) -> None:
    """`sent` then `answered`, with the README's keys and types; every Status of the table is
    one the gateway can send."""
    text = section("Acknowledgements: `ocpp/cs/{cid}/Ack` (QoS 1)")
    sent, answered = json_objects(block_after("Acknowledgements: `ocpp/cs/{cid}/Ack` (QoS 1)",
                                              "a final one"))
    gw = await make_gateway()
    await backend.subscribe(gw.prefix + "cs/CP001/Ack")
    async with connect(gw.url("CP001"), ["ocpp1.6"]) as ws:
        backend.publish(gw.prefix + "cs/CP001", {
            "MessageTypeId": 2, "UniqueId": sent["UniqueId"], "Action": sent["Action"],
            "Payload": {"idTag": "TAG1", "connectorId": 1}})
        await recv_json(ws)
        await ws.send(f'[3,"{sent["UniqueId"]}",{{"status":"Accepted"}}]')
        acks = [await backend.wait_for(gw.prefix + "cs/CP001/Ack") for _ in range(2)]
    for example, ack in zip((sent, answered), acks, strict=True):
        assert_same_shape(example, ack)
        assert _without(ack, "Timestamp") == _without(example, "Timestamp")
    from ocpp_mqtt.ocppj import events

    documented = re.findall(r"^\| `(\w+)` \|", text, re.MULTILINE)[1:]  # under `Status`
    statuses = {value for name, value in vars(events).items()
                if name.isupper() and isinstance(value, str)}
    assert sorted(documented) == sorted(statuses), "the README's Status table != ocppj/events.py"


async def test_presence_events_and_gateway_status_examples(make_gateway: Any,
                                                           backend: Any) -> None:
    text = "Presence and events"
    online, offline = json_objects(block_after(text, "`ocpp/presence/{cid}`"))
    event = json_objects(block_after(text, "`ocpp/events/{cid}/connected`"))[0]
    status_online, status_offline = json_objects(block_after(text, "`ocpp/gateway/"))
    gw = await make_gateway(gateway_id="gw-1")
    await backend.subscribe(gw.prefix + "presence/CP001")
    await backend.subscribe(gw.prefix + "events/CP001/+")
    await backend.subscribe(gw.prefix + "gateway/gw-1/status")
    async with connect(gw.url("CP001"), ["ocpp2.0.1"]):
        connected = await backend.wait_for(gw.prefix + "events/CP001/connected")
        presence = await backend.wait_for(gw.prefix + "presence/CP001",
                                          where=lambda b: b["status"] == "online")
    disconnected = await backend.wait_for(gw.prefix + "events/CP001/disconnected")
    gone = await backend.wait_for(gw.prefix + "presence/CP001",
                                  where=lambda b: b["status"] == "offline")
    assert presence["proto_ver"] == gone["proto_ver"] == online["proto_ver"]
    assert_same_shape(online, presence)
    assert_same_shape(offline, gone)
    # the example is a disconnected event; a connected one has neither reason nor time of it
    assert_same_shape(event, disconnected, nullable=frozenset({"username"}))
    assert_same_shape(_without(event, "reason", "disconnected_at"), connected,
            nullable=frozenset({"username"}))
    status = await backend.wait_for(gw.prefix + "gateway/gw-1/status",
                                    where=lambda b: b["status"] == "online")
    assert_same_shape(status_online, status)
    await gw.gateway.stop()
    status = await backend.wait_for(gw.prefix + "gateway/gw-1/status",
                                    where=lambda b: b["status"] == "offline")
    assert_same_shape(status_offline, status)


async def test_security_event_example(make_gateway: Any, backend: Any, tmp_path: Any) -> None:
    """A wrong password on a profile 1 listener: the README's auth_failed event."""
    from tests.conftest import basic_auth

    from .security_util import PASSWORD, secure_gateway, status_of

    example = json_objects(block_after("Security events", "`security` component:"))[0]
    gw = await secure_gateway(make_gateway, tmp_path, [{"address": "127.0.0.1:0",
                                                        "profile": 1}], gateway_id="gw-1")
    assert gw.gateway.guard.store is not None
    gw.gateway.guard.store.set("CP001", "password", PASSWORD)
    await backend.subscribe(gw.prefix + "security/CP001")
    url = f"ws://127.0.0.1:{gw.gateway.ws_ports[0]}/ocpp/CP001"
    status, _ = await status_of(url, headers={"Authorization": basic_auth("CP001", "wrong!")})
    assert status == 401
    event = await backend.wait_for(gw.prefix + "security/CP001")
    assert_same_shape(example, event)
    same = ("event", "identity", "gateway", "profile", "status", "reason")
    assert {k: event[k] for k in same} == {k: example[k] for k in same}


def _mirror_lines() -> list[tuple[str, dict[str, Any]]]:
    """The proxy mirror example: (topic, envelope) with `{...}`/`...` read as placeholders."""
    block = block_after("Proxy mode: keep the vendor's CSMS, see and steer on MQTT",
                        "**Mirror.**", lang="")
    found = []
    for line in block.strip().splitlines():
        topic, text = line.split(None, 1)
        text = text.replace("{...}", "{}").replace(":...", ":0")
        found.append((topic, orjson.loads(text)))
    return found


async def test_proxy_mirror_example(make_gateway: Any, backend: Any) -> None:
    """The four mirrored frames of "Mirror": same topics, same keys, same origins."""
    from .csms import Csms

    lines = _mirror_lines()
    assert len(lines) == 4
    csms = await Csms().start()
    try:
        gw = await make_gateway(mode="proxy", upstream=csms.url)
        await backend.subscribe(gw.prefix + "#")
        async with connect(gw.url("CP1"), ["ocpp1.6"]) as ws:
            await ws.send('[2,"19","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":'
                          '"2026-01-01T10:00:00Z","sampledValue":[{"value":"1"}]}]}]')
            assert (await recv_json(ws))[:2] == [3, "19"]
            await csms.send("CP1", '[2,"a7c1","ChangeConfiguration",{"key":"K","value":"1"}]')
            await recv_json(ws)
            await ws.send('[3,"a7c1",{"status":"Accepted"}]')
            await csms.wait_for(lambda f: f[:2] == [3, "a7c1"])
        seen: list[tuple[str, dict[str, Any]]] = []
        for topic, example in lines:
            real = gw.prefix + topic.removeprefix("ocpp/")
            message = await backend.wait_for(
                real, where=lambda b, e=example: (b["MessageTypeId"], b.get("Origin")) == (
                    e["MessageTypeId"], e["Origin"]))
            seen.append((topic, message))
            assert set(message) == set(example), (topic, message, example)
            assert {k: message[k] for k in ("Origin", "Action") if k in example} == {
                k: example[k] for k in ("Origin", "Action")}
            assert message.get("To") == example.get("To")
    finally:
        await csms.stop()
