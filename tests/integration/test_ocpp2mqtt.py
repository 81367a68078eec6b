"""ocpp2mqtt drop-in: `ocpp-mqtt serve --compat ocpp2mqtt` started as a user runs it, with
ocpp2mqtt's environment variables, against a real Mosquitto and the python `ocpp` package's
1.6 ChargePoint. Each ocpp2mqtt bug (reference §8) that concerns its topics or the answers has a
test named after it; the README's command examples run with their results on cmd_result.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import websockets
from ocpp import v16
from ocpp.routing import on

from tests.conftest import Backend, Mosquitto, free_port

from .test_cli import first_line, start, stop
from .wsutil import recv_json

WAIT = 10.0
T0 = "2026-01-01T10:00:00Z"
_bases = itertools.count(1)


@dataclass
class Bridge:
    """A running `ocpp-mqtt serve --compat ocpp2mqtt` and what a test needs of it."""

    proc: asyncio.subprocess.Process
    port: int
    basepath: str
    env: dict[str, str]
    errors: list[bytes] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}/{path}"

    def topic(self, cid: str, rest: str) -> str:
        return f"{self.basepath}{cid}/{rest}"


async def launch(env: dict[str, str]) -> Bridge:
    proc = await start("--compat", "ocpp2mqtt", env=env)
    bridge = Bridge(proc, int(env["LISTEN_PORT"]), env["MQTT_BASEPATH"], env)
    line = await first_line(proc)
    assert f"ws://127.0.0.1:{bridge.port}/" in line, line

    async def drain() -> None:  # a full stderr pipe would block the gateway
        assert proc.stderr is not None
        while chunk := await proc.stderr.readline():
            bridge.errors.append(chunk)

    asyncio.get_running_loop().create_task(drain())
    return bridge


@pytest.fixture
async def bridge_env(mosquitto: Mosquitto, tmp_path: Path) -> dict[str, str]:
    n = next(_bases)
    return {
        "MQTT_HOSTNAME": "127.0.0.1", "MQTT_PORT": str(mosquitto.port),
        "LISTEN_ADDR": "127.0.0.1", "LISTEN_PORT": str(free_port()),
        "MQTT_BASEPATH": f"o2m{os.getpid()}x{n}/", "MQTT_USESTATIONNAME": "true",
        "AUTHORIZED_TAG_ID_LIST": '["tag1"]', "LOG_LEVEL": "WARNING",
        # ocpp2mqtt shared this id between chargers (bug 9); here it is the one connection's
        "MQTT_CLIENT_ID": f"o2m-{os.getpid()}-{n}",
        "OCPP_COMMAND_RETRY_ATTEMPTS": "1",
        "OCPP_MQTT_STORE": str(tmp_path / "gw.sqlite3"),
        "OCPP_MQTT_GATEWAY_ID": f"o2m{os.getpid()}x{n}",
    }


@pytest.fixture
async def bridge(bridge_env: dict[str, str]) -> AsyncIterator[Bridge]:
    running = await launch(bridge_env)
    yield running
    await stop(running.proc)


@pytest.fixture
async def mqtt(mosquitto: Mosquitto, bridge_env: dict[str, str]) -> AsyncIterator[Backend]:
    client = await Backend(mosquitto.port).connect()
    await client.subscribe(bridge_env["MQTT_BASEPATH"] + "#", qos=1)
    await client.subscribe("ocpp/gateway/#", qos=1)
    yield client
    await client.close()


class Charger(v16.ChargePoint):  # type: ignore[misc]
    """A 1.6 charge point that accepts what the README's commands ask."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handled: list[tuple[str, dict[str, Any]]] = []

    def _took(self, action: str, kwargs: dict[str, Any]) -> None:
        self.handled.append((action, kwargs))

    @on("ChangeAvailability")
    def change_availability(self, **kwargs: Any) -> Any:
        self._took("ChangeAvailability", kwargs)
        return v16.call_result.ChangeAvailability(status="Accepted")

    @on("RemoteStartTransaction")
    def remote_start(self, **kwargs: Any) -> Any:
        self._took("RemoteStartTransaction", kwargs)
        return v16.call_result.RemoteStartTransaction(status="Accepted")

    @on("RemoteStopTransaction")
    def remote_stop(self, **kwargs: Any) -> Any:
        self._took("RemoteStopTransaction", kwargs)
        return v16.call_result.RemoteStopTransaction(status="Accepted")

    @on("Reset")
    def reset(self, **kwargs: Any) -> Any:
        self._took("Reset", kwargs)
        return v16.call_result.Reset(status="Accepted")

    @on("UnlockConnector")
    def unlock(self, **kwargs: Any) -> Any:
        self._took("UnlockConnector", kwargs)
        return v16.call_result.UnlockConnector(status="Unlocked")

    @on("GetConfiguration")
    def get_configuration(self, **kwargs: Any) -> Any:
        self._took("GetConfiguration", kwargs)
        return v16.call_result.GetConfiguration(
            configuration_key=[{"key": "HeartbeatInterval", "readonly": False, "value": "10"}],
            unknown_key=["Nope"])

    @on("GetLocalListVersion")
    def get_local_list_version(self, **kwargs: Any) -> Any:
        self._took("GetLocalListVersion", kwargs)
        return v16.call_result.GetLocalListVersion(list_version=4)

    @on("TriggerMessage")
    def trigger(self, **kwargs: Any) -> Any:
        self._took("TriggerMessage", kwargs)
        return v16.call_result.TriggerMessage(status="Accepted")


@contextlib.asynccontextmanager
async def charger(bridge: Bridge, mqtt: Backend, path: str, cid: str,
                  subprotocols: list[str] | None = None) -> AsyncIterator[Charger]:
    """A Charger connected at `path`, returned once the bridge says CONNECTED (its command
    topic is subscribed by then)."""
    ws = await websockets.connect(bridge.url(path), open_timeout=WAIT,
                                  subprotocols=subprotocols or ["ocpp1.6"])  # type: ignore[arg-type]
    cp = Charger(cid, ws, response_timeout=WAIT)
    reader = asyncio.get_running_loop().create_task(cp.start())
    try:
        await until(mqtt, bridge.topic(cid, "state/connection_state"), b"CONNECTED")
        yield cp
    finally:
        await ws.close()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


async def until(mqtt: Backend, topic: str, expected: bytes, timeout: float = WAIT) -> bytes:
    """Read a retained raw topic until it says `expected`."""
    seen: list[bytes] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            payload, _ = await mqtt.wait_raw(topic, max(0.05, deadline - loop.time()))
        except AssertionError:
            raise AssertionError(f"{topic}: wanted {expected!r}, saw {seen}") from None
        seen.append(payload)
        if payload == expected:
            return payload


async def latest(mqtt: Backend, topic: str, timeout: float = WAIT) -> bytes:
    """The newest payload on `topic` (waiting for a first one)."""
    payload, _ = await mqtt.wait_raw(topic, timeout)
    while True:
        try:
            payload, _ = await mqtt.wait_raw(topic, 0.3)
        except AssertionError:
            return payload


async def command(bridge: Bridge, mqtt: Backend, cid: str, body: Any, sub: str = "",
                  field_: str = "status") -> dict[str, bytes]:
    """Publish on P/cmd[/sub], wait for cmd_result/<field_>; all result fields seen."""
    for topic, *_ in list(mqtt.messages):
        if "/cmd_result/" in topic:
            mqtt.messages.clear()
            break
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    mqtt.publish(bridge.topic(cid, "cmd" + sub), data, qos=1)
    payload, _ = await mqtt.wait_raw(bridge.topic(cid, f"cmd_result/{field_}"), WAIT)
    out = {field_: payload}
    head = bridge.topic(cid, "cmd_result/")
    for topic, body_, _ in list(mqtt.messages):
        if topic.startswith(head) and "/id/" not in topic:
            out[topic[len(head):]] = body_
    return out


def meter_value(samples: list[dict[str, Any]], at: str = T0) -> dict[str, Any]:
    return {"timestamp": at, "sampled_value": samples}


# ---- a whole session ----------------------------------------------------------------------------

async def test_session_boot_authorize_start_meter_values_stop(bridge: Bridge,
                                                              mqtt: Backend) -> None:
    """Bugs 1, 2, 4, 5, 6, 7, 10 and 13 along one charging session."""
    # bug 1: the identity is the last path segment, percent-decoded
    async with charger(bridge, mqtt, "ocpp/ws/charger%2D1", "charger-1") as cp:
        t = "charger-1"
        # bug 2: CONNECTED and last_connected before anything else was said
        last_connected = await latest(mqtt, bridge.topic(t, "state/last_connected"))
        assert last_connected.endswith(b"Z") and len(last_connected) == 20
        boot = await cp.call(v16.call.BootNotification(
            charge_point_vendor="United Chargers", charge_point_model="Grizzl-E",
            firmware_version="05.6"))
        assert boot.status == "Accepted" and boot.interval == 10
        assert boot.current_time.endswith("Z")  # bug 10
        await until(mqtt, bridge.topic(t, "state/charge_point_vendor"), b"United Chargers")
        await until(mqtt, bridge.topic(t, "state/firmware_version"), b"05.6")

        # bug 7: connector 0 and firmware status keep out of `status`
        for connector, status in ((0, "Available"), (1, "Preparing")):
            await cp.call(v16.call.StatusNotification(connector_id=connector,
                                                      error_code="NoError", status=status))
        await cp.call(v16.call.FirmwareStatusNotification(status="Idle"))
        await until(mqtt, bridge.topic(t, "state/firmware_status"), b"Idle")
        assert await latest(mqtt, bridge.topic(t, "state/status")) == b"Preparing"
        await until(mqtt, bridge.topic(t, "state/connector_0/status"), b"Available")

        # the automation switches charging on, as with ocpp2mqtt
        got = await command(bridge, mqtt, t, {"action": "charging_enabled", "args": "ON"})
        assert got["status"] == b"Accepted"
        await until(mqtt, bridge.topic(t, "state/charging_enabled"), b"ON")

        # bug 13: listed tag Accepted, unknown tag Invalid (not Blocked), at Start too
        auth = await cp.call(v16.call.Authorize(id_tag="tag1"))
        assert auth.id_tag_info["status"] == "Accepted"
        await until(mqtt, bridge.topic(t, "state/authorize"), b"Accepted")
        auth = await cp.call(v16.call.Authorize(id_tag="stranger"))
        assert auth.id_tag_info["status"] == "Invalid"
        await until(mqtt, bridge.topic(t, "state/authorize"), b"Invalid")

        start_tx = await cp.call(v16.call.StartTransaction(
            connector_id=1, id_tag="tag1", meter_start=12000, timestamp=T0))
        assert start_tx.id_tag_info["status"] == "Accepted"
        tx = start_tx.transaction_id
        await until(mqtt, bridge.topic(t, "state/transaction_id"), str(tx).encode())
        await until(mqtt, bridge.topic(t, "state/meter_start"), b"12000")
        await until(mqtt, bridge.topic(t, "state/meter_start_timestamp"), T0.encode())
        await cp.call(v16.call.StatusNotification(connector_id=1, error_code="NoError",
                                                  status="Charging"))

        # bug 4: every entry, phases apart, kWh in Wh, a missing measurand is the register
        phases = ("L1", "L2", "L3")
        await cp.call(v16.call.MeterValues(connector_id=1, transaction_id=tx, meter_value=[
            meter_value([{"value": "12.5", "unit": "kWh"}]),
            meter_value(
                [{"value": v, "measurand": "Current.Import", "phase": p, "unit": "A"}
                 for v, p in zip(("15.8", "16.1", "15.9"), phases, strict=True)]
                + [{"value": "3.6", "measurand": "Power.Active.Import", "phase": p,
                    "unit": "kW"} for p in phases]
                + [{"value": v, "measurand": "Voltage", "phase": p + "-N", "unit": "V"}
                   for v, p in zip(("229", "231", "230"), phases, strict=True)])]))
        state = {"energy_active_import_register": b"12500", "power_active_import": b"10800",
                 "power_active_import_l2": b"3600", "current_import": b"16.1",
                 "current_import_l1": b"15.8", "current_import_l3": b"15.9",
                 "voltage": b"229", "voltage_l2_n": b"231", "transaction_id": str(tx).encode()}
        for key, value in state.items():
            await until(mqtt, bridge.topic(t, f"state/{key}"), value)
            await until(mqtt, bridge.topic(t, f"state/connector_1/{key}"), value)

        # bug 5: a StopTransaction without `reason` is answered, and means Local
        stop_tx = await cp.call(v16.call.StopTransaction(
            meter_stop=24500, timestamp="2026-01-01T11:00:00Z", transaction_id=tx))
        assert stop_tx is not None
        await until(mqtt, bridge.topic(t, "state/meter_stop"), b"24500")
        await until(mqtt, bridge.topic(t, "state/meter_stop_reason"), b"Local")
        await cp.call(v16.call.StatusNotification(connector_id=1, error_code="NoError",
                                                  status="Finishing"))
        await until(mqtt, bridge.topic(t, "state/power_active_import"), b"0")
        await until(mqtt, bridge.topic(t, "state/current_import_l2"), b"0")

        # bug 6: the next transaction gets another id
        again = await cp.call(v16.call.StartTransaction(
            connector_id=1, id_tag="tag1", meter_start=24500, timestamp=T0))
        assert again.transaction_id != tx
    await until(mqtt, bridge.topic(t, "state/connection_state"), b"DISCONNECTED")
    assert await latest(mqtt, bridge.topic(t, "state/disconnect_reason")) == b"normal_closure"
    assert await latest(mqtt, bridge.topic(t, "state/current_import")) == b"0"


async def test_bug_3_data_transfer_answered(bridge: Bridge, mqtt: Backend) -> None:
    async with charger(bridge, mqtt, "DT1", "DT1") as cp:
        answer = await cp.call(v16.call.DataTransfer(vendor_id="com.unitedchargers",
                                                     message_id="state", data="x=1"))
        assert answer.status == "UnknownVendorId"
        await until(mqtt, bridge.topic("DT1", "state/vendor_id"), b"com.unitedchargers")
        await until(mqtt, bridge.topic("DT1", "state/data"), b"x=1")
        # the session goes on (ocpp2mqtt's ended here)
        await cp.call(v16.call.Heartbeat())
        await until(mqtt, bridge.topic("DT1", "state/heartbeat"), b"ON")


async def test_bug_15_security_extension_messages_answered(bridge: Bridge,
                                                           mqtt: Backend) -> None:
    async with charger(bridge, mqtt, "SEC1", "SEC1") as cp:
        event = await cp.call(v16.call.SecurityEventNotification(
            type="SettingSystemTime", timestamp=T0, tech_info="ntp"))
        assert event is not None  # {} instead of ocpp2mqtt's NotImplemented
        signed = await cp.call(v16.call.SignCertificate(csr="-----BEGIN CERTIFICATE-----"))
        assert signed.status == "Rejected"


async def test_bug_13_charging_enabled_gate_published_and_kept(
        bridge: Bridge, mqtt: Backend) -> None:
    async with charger(bridge, mqtt, "GATE1", "GATE1") as cp:
        got = await command(bridge, mqtt, "GATE1", {"action": "charging_enabled",
                                                    "args": "OFF"})
        assert got["status"] == b"Accepted"
        await until(mqtt, bridge.topic("GATE1", "state/charging_enabled"), b"OFF")
        auth = await cp.call(v16.call.Authorize(id_tag="tag1"))
        assert auth.id_tag_info["status"] == "Blocked"
        start_tx = await cp.call(v16.call.StartTransaction(
            connector_id=1, id_tag="tag1", meter_start=0, timestamp=T0))
        assert start_tx.id_tag_info["status"] == "Blocked"
    # not silently reset by a reconnect
    async with charger(bridge, mqtt, "GATE1", "GATE1") as cp:
        assert await latest(mqtt, bridge.topic("GATE1", "state/charging_enabled")) == b"OFF"
        auth = await cp.call(v16.call.Authorize(id_tag="tag1"))
        assert auth.id_tag_info["status"] == "Blocked"
        await command(bridge, mqtt, "GATE1", {"op": "charging_enabled", "message": True})
        await until(mqtt, bridge.topic("GATE1", "state/charging_enabled"), b"ON")
        auth = await cp.call(v16.call.Authorize(id_tag="tag1"))
        assert auth.id_tag_info["status"] == "Accepted"


# ---- commands -------------------------------------------------------------------------------

README_COMMANDS: list[tuple[dict[str, Any], str, dict[str, Any], bytes]] = [
    ({"action": "change_availability", "args": {"connector_id": 1, "type": "Operative"}},
     "ChangeAvailability", {"connector_id": 1, "type": "Operative"}, b"Accepted"),
    ({"action": "remote_start_transaction", "args": {"connector_id": 1, "id_tag": "tag"}},
     "RemoteStartTransaction", {"connector_id": 1, "id_tag": "tag"}, b"Accepted"),
    ({"action": "remote_stop_transaction", "args": {"transaction_id": 1}},
     "RemoteStopTransaction", {"transaction_id": 1}, b"Accepted"),
    ({"action": "reset", "args": {"type": "Soft"}}, "Reset", {"type": "Soft"}, b"Accepted"),
    ({"action": "unlock_connector", "args": {"connector_id": 1}},
     "UnlockConnector", {"connector_id": 1}, b"Unlocked"),
]


async def test_readme_commands_with_results_on_cmd_result(bridge: Bridge,
                                                          mqtt: Backend) -> None:
    async with charger(bridge, mqtt, "RM1", "RM1") as cp:
        for sub, (body, action, kwargs, status) in zip(
                ("", "/", "/anything", "", ""), README_COMMANDS, strict=True):
            got = await command(bridge, mqtt, "RM1", body, sub)
            assert got["status"] == status, (body, got)
            assert cp.handled[-1] == (action, kwargs)
            assert await latest(mqtt, bridge.topic("RM1", "cmd_result/action")) == \
                body["action"].encode()
        # the early form {"op", "message"}, and ocpp2mqtt's get_local_version
        got = await command(bridge, mqtt, "RM1", {"op": "reset", "message": {"type": "Hard"}})
        assert got["status"] == b"Accepted" and cp.handled[-1] == ("Reset", {"type": "Hard"})
        got = await command(bridge, mqtt, "RM1", {"action": "get_local_version", "args": {}},
                            field_="list_version")
        assert got["list_version"] == b"4"


async def test_bug_8_structured_results(bridge: Bridge, mqtt: Backend) -> None:
    async with charger(bridge, mqtt, "CFG1", "CFG1"):
        got = await command(bridge, mqtt, "CFG1", {"action": "get_configuration",
                                                   "args": {"key": ["HeartbeatInterval"]}})
        assert got["status"] == b"Accepted"
        key = await latest(mqtt, bridge.topic("CFG1", "cmd_result/configuration_key"))
        assert orjson.loads(key) == [{"key": "HeartbeatInterval", "readonly": False,
                                      "value": "10"}]
        unknown = await latest(mqtt, bridge.topic("CFG1", "cmd_result/unknown_key"))
        assert orjson.loads(unknown) == ["Nope"]


async def test_bug_12_correlated_results(bridge: Bridge, mqtt: Backend) -> None:
    async with charger(bridge, mqtt, "COR1", "COR1"):
        await mqtt.subscribe("o2m-replies/#")
        head = bridge.topic("COR1", "cmd_result/id/")
        mqtt.publish(bridge.topic("COR1", "cmd"), {"id": "a", "action": "reset",
                                                    "args": {"type": "Soft"}}, qos=1)
        mqtt.publish(bridge.topic("COR1", "cmd"), {"id": 2, "action": "get_configuration",
                                                    "args": {}}, qos=1)
        mqtt.publish(bridge.topic("COR1", "cmd"), {"action": "unlock_connector",
                                                    "args": {"connector_id": 1}}, qos=1,
                     response_topic="o2m-replies/x", correlation_data=b"c-3")
        first = await mqtt.wait_for(head + "a", WAIT)
        second = await mqtt.wait_for(head + "2", WAIT)
        assert first == {"id": "a", "action": "reset", "status": "Accepted"}
        assert second["id"] == 2 and second["configuration_key"][0]["key"] == \
            "HeartbeatInterval"
        payload, props = await mqtt.wait_raw("o2m-replies/x", WAIT)
        assert orjson.loads(payload) == {"action": "unlock_connector", "status": "Unlocked"}
        assert props["correlation_data"] == [b"c-3"]


async def test_errors_are_published_where_ocpp2mqtt_was_silent(
        bridge: Bridge, mqtt: Backend) -> None:
    async with charger(bridge, mqtt, "ERR1", "ERR1"):
        got = await command(bridge, mqtt, "ERR1", b"{not json")
        assert got["status"] == b"error"
        error = await latest(mqtt, bridge.topic("ERR1", "cmd_result/error"))
        assert error.startswith(b"the command is not valid JSON")
        got = await command(bridge, mqtt, "ERR1", {"action": "dance", "args": {}})
        assert got["status"] == b"error"
        error = await latest(mqtt, bridge.topic("ERR1", "cmd_result/error"))
        assert b"unknown command 'dance'" in error
        # the schema refuses what the charge point would: no tag to start with
        got = await command(bridge, mqtt, "ERR1", {"action": "remote_start_transaction"})
        assert got["status"] == b"error"


async def test_command_for_a_charge_point_away(bridge_env: dict[str, str],
                                               mqtt: Backend) -> None:
    bridge = await launch({**bridge_env, "EXPECTED_CHARGE_POINTS": '["AWAY1"]'})
    try:
        await until(mqtt, bridge.topic("AWAY1", "state/connection_state"), b"DISCONNECTED")
        stamp = await latest(mqtt, bridge.topic("AWAY1", "state/service_started"))
        assert stamp.endswith(b"Z")
        got = await command(bridge, mqtt, "AWAY1", {"action": "reset", "args": {"type": "Soft"}})
        assert got["status"] == b"error"
        error = await latest(mqtt, bridge.topic("AWAY1", "cmd_result/error"))
        assert error == b"Charge point websocket is not connected"
    finally:
        await stop(bridge.proc)


# ---- the gateway around the profile -----------------------------------------------------------

async def test_bug_9_one_mqtt_session_for_all_chargers(bridge: Bridge, mqtt: Backend) -> None:
    """MQTT_CLIENT_ID is set (see bridge_env): ocpp2mqtt's chargers kicked each other off the
    broker with it; here both are served over the gateway's one connection."""
    async with charger(bridge, mqtt, "TWO1", "TWO1") as one, \
            charger(bridge, mqtt, "TWO2", "TWO2") as two:
        for cid, cp in (("TWO1", one), ("TWO2", two)):
            got = await command(bridge, mqtt, cid, {"action": "reset", "args": {"type": "Soft"}})
            assert got["status"] == b"Accepted" and cp.handled == [("Reset", {"type": "Soft"})]
        await one.call(v16.call.Heartbeat())
        await two.call(v16.call.Heartbeat())
        await until(mqtt, bridge.topic("TWO1", "state/heartbeat"), b"ON")
        await until(mqtt, bridge.topic("TWO2", "state/heartbeat"), b"ON")


async def test_bug_11_crash_leaves_no_connected_behind(bridge_env: dict[str, str],
                                                       mqtt: Backend) -> None:
    bridge = await launch(bridge_env)
    status_topic = f"ocpp/gateway/{bridge_env['OCPP_MQTT_GATEWAY_ID']}/status"
    try:
        online = await mqtt.wait_for(status_topic, WAIT)
        assert online["status"] == "online"
        ws = await websockets.connect(bridge.url("CRASH1"), subprotocols=["ocpp1.6"])  # type: ignore[list-item]
        await until(mqtt, bridge.topic("CRASH1", "state/connection_state"), b"CONNECTED")
        bridge.proc.send_signal(signal.SIGKILL)  # no goodbye: the broker sends the will
        await bridge.proc.wait()
        offline = await mqtt.wait_for(status_topic, WAIT, where=lambda m: m["status"] ==
                                      "offline")
        assert offline["gateway"] == bridge_env["OCPP_MQTT_GATEWAY_ID"]
        await ws.close()
    finally:
        await stop(bridge.proc, signal.SIGKILL)
    restarted = await launch(bridge_env)
    try:
        await until(mqtt, bridge.topic("CRASH1", "state/connection_state"), b"DISCONNECTED")
        assert await latest(mqtt, bridge.topic("CRASH1", "state/disconnect_reason")) == \
            b"service_restarted"
    finally:
        await stop(restarted.proc)


async def test_bug_14_charger_without_subprotocol_gets_16(bridge: Bridge,
                                                          mqtt: Backend) -> None:
    async with websockets.connect(bridge.url("LEGACY1"), open_timeout=WAIT) as ws:
        assert ws.subprotocol is None
        await ws.send(orjson.dumps([2, "b1", "BootNotification", {
            "chargePointVendor": "Old", "chargePointModel": "Box"}]).decode())
        reply = await recv_json(ws, WAIT)
        assert reply[:2] == [3, "b1"] and reply[2]["status"] == "Accepted"  # type: ignore[index]
        await until(mqtt, bridge.topic("LEGACY1", "state/charge_point_vendor"), b"Old")
    # a charger that offers only 2.0.1 is not moved off 1.6 by the swap: refused (HS-06)
    async with websockets.connect(bridge.url("NEW1"), open_timeout=WAIT,
                                  subprotocols=["ocpp2.0.1"]) as ws:  # type: ignore[list-item]
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), WAIT)
        assert ws.close_code == 1002


async def test_graceful_stop_says_disconnected(bridge_env: dict[str, str],
                                               mqtt: Backend) -> None:
    bridge = await launch(bridge_env)
    try:
        ws = await websockets.connect(bridge.url("STOP1"), subprotocols=["ocpp1.6"])  # type: ignore[list-item]
        await until(mqtt, bridge.topic("STOP1", "state/connection_state"), b"CONNECTED")
        assert await stop(bridge.proc) == 0
        await until(mqtt, bridge.topic("STOP1", "state/connection_state"), b"DISCONNECTED")
        assert await latest(mqtt, bridge.topic("STOP1", "state/disconnect_reason")) == \
            b"service_stopped"
        await ws.close()
    finally:
        await stop(bridge.proc, signal.SIGKILL)
