"""OCPP over MQTT: charge points that are MQTT clients (presence with a last will, frames on
an up/down topic pair), served by the same session core in every mode, JSON or protobuf."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
from gmqtt import Client, Message

from ocpp_mqtt.ocppj import protobuf
from ocpp_mqtt.ocppj.versions import Version
from tests.conftest import Backend, Mosquitto

from .csms import Csms
from .wsutil import until

_ids = itertools.count(1)
BOOT16 = {"chargePointVendor": "V", "chargePointModel": "M"}


class MqttChargePoint:
    """A charge point speaking OCPP over MQTT: its presence is retained, its last will says
    offline; it reads its down and session topics."""

    def __init__(self, port: int, prefix: str, cid: str, ocpp: str = "1.6",
                 encoding: str = "json") -> None:
        self.port, self.prefix, self.cid = port, prefix, cid
        self.ocpp, self.encoding = ocpp, encoding
        self.topic = f"{prefix}mqtt/{cid}/"
        will = Message(self.topic + "presence", orjson.dumps({"status": "offline"}), qos=1,
                       retain=True)
        self.client = Client(f"mqtt-cp-{os.getpid()}-{next(_ids)}", will_message=will)
        self.down: asyncio.Queue[str] = asyncio.Queue()
        self.session: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.raw_down: list[bytes] = []
        self.client.on_message = self._on_message

    def _on_message(self, client: Any, topic: str, payload: bytes, qos: int,
                    properties: Any) -> int:
        if topic == self.topic + "down":
            self.raw_down.append(payload)
            text = protobuf.to_text(payload) if self.encoding == "protobuf" else payload.decode()
            self.down.put_nowait(text)
        elif topic == self.topic + "session":
            self.session.put_nowait(orjson.loads(payload))
        return 0

    async def start(self, announce: bool = True) -> MqttChargePoint:
        await self.client.connect("127.0.0.1", self.port)
        self.client.subscribe(self.topic + "down", qos=1)
        self.client.subscribe(self.topic + "session", qos=1)
        await asyncio.sleep(0.2)  # the SUBACKs
        if announce:
            await self.announce()
        return self

    async def announce(self) -> dict[str, Any]:
        self.client.publish(self.topic + "presence", orjson.dumps(
            {"status": "online", "ocpp": self.ocpp, "encoding": self.encoding}),
            qos=1, retain=True)
        return await self.next_session()

    async def next_session(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.session.get(), 5)

    def send(self, text: str) -> None:
        payload = protobuf.from_text(text, Version.parse(self.ocpp)) \
            if self.encoding == "protobuf" else text.encode()
        self.client.publish(self.topic + "up", payload, qos=1)

    async def recv(self) -> list[Any]:
        return orjson.loads(await asyncio.wait_for(self.down.get(), 5))  # type: ignore[no-any-return]

    async def close(self, clean: bool = True) -> None:
        if clean:
            self.client.publish(self.topic + "presence", b"", qos=1, retain=True)
            await self.client.disconnect()
        else:  # the broker publishes the last will
            self.client._connection._transport.abort()


@pytest.fixture
async def charge_points(mosquitto: Mosquitto) -> AsyncIterator[Callable[..., Any]]:
    made: list[MqttChargePoint] = []

    async def make(gw: Any, cid: str, **kw: Any) -> MqttChargePoint:
        cp = MqttChargePoint(mosquitto.port, gw.prefix, cid, **kw)
        made.append(cp)
        return cp

    yield make
    for cp in made:
        if cp.client.is_connected:
            await cp.close()


async def test_relay_mode_json_round_trips_and_last_will(
        make_gateway: Callable[..., Any], backend: Backend,
        charge_points: Callable[..., Any]) -> None:
    gw = await make_gateway(mqtt_cp=True)
    await backend.subscribe(gw.prefix + "#")
    cp = await (await charge_points(gw, "MQ1")).start(announce=False)
    assert await cp.announce() == {"status": "accepted", "ocpp": "1.6"}
    presence = await backend.wait_for(gw.prefix + "presence/MQ1",
                                      where=lambda b: b["status"] == "online")
    assert presence["proto_ver"] == "1.6"
    cp.send(orjson.dumps([2, "b1", "BootNotification", BOOT16]).decode())
    call = await backend.wait_for(gw.prefix + "cp/MQ1")
    assert (call["UniqueId"], call["Action"], call["Payload"]) == ("b1", "BootNotification",
                                                                  BOOT16)
    backend.publish(gw.prefix + "cs/MQ1", {"MessageTypeId": 3, "UniqueId": "b1", "Payload": {
        "status": "Accepted", "currentTime": "2026-01-01T00:00:00Z", "interval": 60}})
    assert (await cp.recv())[:2] == [3, "b1"]
    # a command from MQTT, and the FR/ER rules of the core apply as on a WebSocket
    backend.publish(gw.prefix + "cs/MQ1", {"MessageTypeId": 2, "UniqueId": "r1",
                                           "Action": "Reset", "Payload": {"type": "Soft"}})
    assert await cp.recv() == [2, "r1", "Reset", {"type": "Soft"}]
    cp.send('[3,"r1",{"status":"Accepted"}]')
    reply = await backend.wait_for(gw.prefix + "cp/MQ1/Reply")
    assert reply["Payload"] == {"status": "Accepted"}
    cp.send('[2,"x","FooBar",{}]')
    assert (await cp.recv())[:3] == [4, "x", "NotImplemented"]  # ER-04
    await cp.close(clean=False)  # the last will ends the session (LC-02)
    offline = await backend.wait_for(gw.prefix + "presence/MQ1",
                                     where=lambda b: b["status"] == "offline")
    assert "last will" in offline["reason"] or "offline" in offline["reason"]


async def test_frames_without_a_session_are_refused_with_a_reason(
        make_gateway: Callable[..., Any], charge_points: Callable[..., Any]) -> None:
    gw = await make_gateway(mqtt_cp=True)
    cp = await (await charge_points(gw, "MQ2")).start(announce=False)
    cp.send('[2,"h","Heartbeat",{}]')
    status = await cp.next_session()
    assert status["status"] == "unknown" and "presence" in status["reason"]
    cp.client.publish(cp.topic + "presence", orjson.dumps(
        {"status": "online", "ocpp": "9.9"}), qos=1, retain=True)
    refused = await cp.next_session()
    assert (refused["status"], refused["code"]) == ("refused", 400)


async def test_central_mode_answers_an_mqtt_charge_point(
        make_gateway: Callable[..., Any], charge_points: Callable[..., Any],
        tmp_path: Any) -> None:
    gw = await make_gateway(mqtt_cp=True, mode="central", store=str(tmp_path / "s.sqlite3"),
                            trigger_after_connect=0)
    cp = await (await charge_points(gw, "MQ3", ocpp="2.0.1")).start()
    cp.send(orjson.dumps([2, "b", "BootNotification", {
        "reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}}]).decode())
    answer = await cp.recv()
    assert answer[:2] == [3, "b"] and answer[2]["status"] == "Accepted"


@pytest.mark.parametrize("encoding", ["json", "protobuf"])
async def test_proxy_mode_mqtt_charge_point_reaches_a_websocket_csms(
        make_gateway: Callable[..., Any], charge_points: Callable[..., Any],
        encoding: str) -> None:
    csms = await Csms().start()
    try:
        gw = await make_gateway(mqtt_cp=True, mode="proxy", upstream=csms.url)
        cp = await (await charge_points(gw, "MQ4", encoding=encoding)).start()
        await csms.connected("MQ4")
        text = '[2,"b1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'
        cp.send(text)
        await csms.wait_for(lambda f: f[1] == "b1")
        assert text in csms.raw  # the same text on the WebSocket
        assert (await cp.recv())[:2] == [3, "b1"]
        uid = await csms.call("MQ4", "Reset", {"type": "Soft"})
        assert await cp.recv() == [2, uid, "Reset", {"type": "Soft"}]
        cp.send(f'[3,"{uid}",{{"status":"Accepted"}}]')
        await csms.wait_for(lambda f: f[:2] == [3, uid])
        if encoding == "protobuf":
            assert cp.raw_down[0][:1] == b"\x08"  # field 1, varint: an envelope, not JSON
        await csms.stop()  # LC-01: the session is closed, the charge point told why
        closed = await cp.next_session()
        assert (closed["status"], closed["code"]) == ("closed", 1013)
    finally:
        await csms.stop()


async def test_proxy_refusal_reaches_the_mqtt_charge_point(
        make_gateway: Callable[..., Any], charge_points: Callable[..., Any]) -> None:
    csms = await Csms(identities={"SOMEONE"}).start()
    try:
        gw = await make_gateway(mqtt_cp=True, mode="proxy", upstream=csms.url)
        cp = await (await charge_points(gw, "MQ5")).start(announce=False)
        refused = await cp.announce()
        assert (refused["status"], refused["code"]) == ("refused", 404)
        await until(lambda: "MQ5" not in gw.gateway.relay.connections, 1, "not attached")
    finally:
        await csms.stop()


async def test_a_restarted_gateway_takes_the_charge_points_back_from_retained_presence(
        make_gateway: Callable[..., Any], backend: Backend,
        charge_points: Callable[..., Any]) -> None:
    first = await make_gateway(mqtt_cp=True)
    cp = await (await charge_points(first, "MQ6")).start()
    await first.gateway.stop()
    closed = await cp.next_session()
    assert (closed["status"], closed["code"]) == ("closed", 1001)
    second = await make_gateway(mqtt_cp=True, prefix=first.prefix)
    assert (await cp.next_session())["status"] == "accepted"  # its retained presence
    await backend.subscribe(second.prefix + "cp/MQ6")
    cp.send('[2,"h","Heartbeat",{}]')
    assert (await backend.wait_for(second.prefix + "cp/MQ6"))["UniqueId"] == "h"


async def test_frame_log_covers_mqtt_charge_points(
        make_gateway: Callable[..., Any], charge_points: Callable[..., Any],
        tmp_path: Any) -> None:
    log_file = tmp_path / "frames.log"
    gw = await make_gateway(mqtt_cp=True, frame_log="MQ7", frame_log_file=str(log_file),
                            mode="central", store=str(tmp_path / "s.sqlite3"),
                            trigger_after_connect=0)
    cp = await (await charge_points(gw, "MQ7")).start()
    cp.send('[2,"hb-logged","Heartbeat",{}]')
    assert (await cp.recv())[:2] == [3, "hb-logged"]
    await until(lambda: log_file.exists() and log_file.read_text().count("hb-logged") >= 2, 5,
                "both frames logged")
