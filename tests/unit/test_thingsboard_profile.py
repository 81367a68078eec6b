"""ThingsBoard gateway API profile without a broker: payload shapes (home-automation.md Part B),
changed-only telemetry, RPC parsing and method mapping, bad requests, shared attributes."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
import pytest

from ocpp_mqtt.config import ConfigError, load_settings
from ocpp_mqtt.modes.central.profile import ANSWERED, INVALID, OFFLINE, CommandResult
from ocpp_mqtt.modes.central.state import ChargePointState
from ocpp_mqtt.northbound import thingsboard_format as fmt
from ocpp_mqtt.northbound.thingsboard import ThingsBoardProfile, _TokenTarget


class FakeMqtt:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any, int, bool]] = []

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool = False,
                **props: Any) -> None:
        self.sent.append((topic, orjson.loads(payload), qos, retain))

    def take(self) -> list[tuple[str, Any]]:
        out = [(t, p) for t, p, _q, _r in self.sent]
        self.sent.clear()
        return out


class FakeHub:
    gateway_status_topic = "ocpp/gateway/gw/status"

    def __init__(self, **overrides: Any) -> None:
        self.settings = load_settings(None, mode="central", gateway_id="gw", **overrides)
        self.states: dict[str, ChargePointState] = {}
        self.mqtt = FakeMqtt()
        self.handlers: dict[str, Any] = {}
        self.commands: list[tuple[str, str, dict[str, Any] | None]] = []
        self.result = CommandResult(ANSWERED, "RemoteStartTransaction",
                                    result={"status": "Accepted"})

    def durable(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        raise AssertionError("the ThingsBoard profile publishes nothing durable")

    async def subscribe(self, topic_filter: str, handler: Any, qos: int = 1) -> None:
        self.handlers[topic_filter] = handler

    async def command(self, identity: str, name: str, args: dict[str, Any] | None,
                      *, connector: int | None = None) -> CommandResult:
        self.commands.append((identity, name, args))
        return self.result

    def deliver(self, topic: str, body: Any) -> None:
        payload = body if isinstance(body, bytes) else orjson.dumps(body)
        self.handlers[topic](topic, payload, {})


def charge_point(identity: str = "CP1") -> ChargePointState:
    cp = ChargePointState(identity, identity, version="1.6", online=True,
                          connected_at="2026-11-21T10:00:00Z", vendor="SimVendor",
                          model="SimModel", serial_number="SN1", firmware_version="1.2.3",
                          registration="Accepted")
    conn = cp.connector(1)
    conn.status, conn.error_code = "Available", "NoError"
    return cp


async def started(**overrides: Any) -> tuple[ThingsBoardProfile, FakeHub]:
    hub = FakeHub(**overrides)
    profile = ThingsBoardProfile(hub.settings)
    await profile.start(hub)  # type: ignore[arg-type]
    return profile, hub


def no_nulls(value: Any) -> bool:
    if isinstance(value, dict):
        return all(no_nulls(v) for v in value.values())
    if isinstance(value, list):
        return all(no_nulls(v) for v in value)
    return value is not None


# ---- devices, attributes, telemetry ------------------------------------------------------

async def test_subscribes_rpc_and_shared_attributes_on_the_main_broker() -> None:
    _profile, hub = await started()
    assert set(hub.handlers) == {"v1/gateway/rpc", "v1/gateway/attributes"}


async def test_online_announces_device_then_attributes_then_telemetry() -> None:
    profile, hub = await started(thingsboard_device_type="ev-charger")
    cp = charge_point()
    hub.states[cp.identity] = cp
    profile.online(cp)
    sent = hub.mqtt.take()
    assert [t for t, _ in sent] == ["v1/gateway/connect", "v1/gateway/attributes",
                                    "v1/gateway/telemetry"]
    assert sent[0][1] == {"device": "CP1", "type": "ev-charger"}
    assert sent[1][1] == {"CP1": {
        "vendor": "SimVendor", "model": "SimModel", "serialNumber": "SN1",
        "firmwareVersion": "1.2.3", "ocppVersion": "1.6", "registration": "Accepted",
        "connectedAt": "2026-11-21T10:00:00Z", "connectors": 1, "gateway": "gw"}}
    values = {"online": True, "status": "Available", "errorCode": "NoError",
              "transactionId": "", "idTag": "", "charging": False, "plugged": False,
              "problem": False}
    if hasattr(cp, "charging_enabled"):  # the gateway-side gate (set_charging_enabled)
        values["chargingEnabled"] = True
    assert sent[2][1] == {"CP1": [values]}
    assert all(qos == 1 and not retain for _t, _p, qos, retain in hub.mqtt.sent)


async def test_only_changed_values_are_published() -> None:
    profile, hub = await started()
    cp = charge_point()
    hub.states[cp.identity] = cp
    profile.online(cp)
    hub.mqtt.take()
    conn = cp.connectors[1]
    conn.power_w, conn.energy_wh = 7200.0, 12345.0
    conn.readings_at = "2023-11-14T22:13:20Z"
    profile.changed(cp, {1})
    assert hub.mqtt.take() == [("v1/gateway/telemetry", {"CP1": [
        {"ts": 1700000000000, "values": {"energy": 12.345, "power": 7200.0}}]})]
    # the same readings again, later: nothing new for ThingsBoard
    conn.readings_at = "2023-11-14T22:14:20Z"
    profile.changed(cp, {1})
    assert hub.mqtt.take() == []
    conn.power_w = 3600.0
    conn.readings_at = "2023-11-14T22:15:00.500+00:00"
    profile.changed(cp, {1})
    assert hub.mqtt.take() == [("v1/gateway/telemetry", {"CP1": [
        {"ts": 1700000100500, "values": {"power": 3600.0}}]})]
    cp.firmware_version = "1.3.0"
    profile.changed(cp, {0})
    assert hub.mqtt.take() == [("v1/gateway/attributes", {"CP1": {"firmwareVersion": "1.3.0"}})]


async def test_values_the_gateway_changes_never_take_an_old_readings_timestamp() -> None:
    profile, hub = await started()
    cp = charge_point()
    conn = cp.connectors[1]
    conn.power_w, conn.readings_at = 7200.0, "2023-11-14T22:13:20Z"  # kept in the store
    hub.states[cp.identity] = cp
    profile.online(cp)  # may have been published before a restart: no ts
    assert dict(hub.mqtt.take())["v1/gateway/telemetry"]["CP1"][0]["power"] == 7200.0
    conn.power_w, conn.readings_at = 7000.0, "2023-11-14T22:14:20Z"
    profile.changed(cp, {1})
    assert hub.mqtt.take() == [("v1/gateway/telemetry", {"CP1": [
        {"ts": 1700000060000, "values": {"power": 7000.0}}]})]
    # charging stops: the gateway reads power 0 with no new reading; writing that at the
    # reading's time would replace the real 7000 W in ThingsBoard
    conn.power_w, conn.status = 0.0, "Finishing"
    profile.changed(cp, {1})
    assert hub.mqtt.take() == [("v1/gateway/telemetry", {"CP1": [
        {"power": 0.0, "status": "Finishing", "plugged": True}]})]


async def test_status_without_timestamp_and_readings_with_theirs_in_one_message() -> None:
    profile, hub = await started()
    cp = charge_point()
    hub.states[cp.identity] = cp
    profile.online(cp)
    hub.mqtt.take()
    conn = cp.connectors[1]
    conn.status, conn.transaction_id, conn.id_tag = "Charging", "42", "TAG1"
    conn.session_energy_wh, conn.session_seconds = 1500.0, 60
    conn.current_a, conn.readings_at = 16.0, "2023-11-14T22:13:20"  # no zone: UTC
    profile.changed(cp, {1})
    ((topic, body),) = hub.mqtt.take()
    assert topic == "v1/gateway/telemetry"
    assert body == {"CP1": [
        {"ts": 1700000000000, "values": {"current": 16.0}},
        {"status": "Charging", "sessionEnergy": 1.5, "sessionTime": 60, "transactionId": "42",
         "idTag": "TAG1", "charging": True, "plugged": True}]}
    # the transaction ends: the id is cleared with "", never null
    conn.status, conn.transaction_id, conn.id_tag = "Finishing", None, None
    profile.changed(cp, {1})
    ((_, body),) = hub.mqtt.take()
    assert body == {"CP1": [{"status": "Finishing", "transactionId": "", "idTag": "",
                             "charging": False}]}


async def test_second_connector_and_connector_zero_keys_are_suffixed() -> None:
    profile, hub = await started()
    cp = charge_point()
    hub.states[cp.identity] = cp
    profile.online(cp)
    hub.mqtt.take()
    cp.connector(2).status = "Faulted"
    cp.connectors[2].error_code = "GroundFailure"
    cp.connector(0).status = "Available"
    profile.changed(cp, {0, 2})
    sent = dict(hub.mqtt.take())
    assert sent["v1/gateway/attributes"] == {"CP1": {"connectors": 2}}
    values = sent["v1/gateway/telemetry"]["CP1"][0]
    assert values["status_2"] == "Faulted" and values["errorCode_2"] == "GroundFailure"
    assert values["problem_2"] is True and values["status_0"] == "Available"
    assert "status" not in values  # connector 1 did not change
    assert values["problem_0"] is False  # connector 0 has a status, but no plug or sessions
    assert not {"charging_0", "plugged_0", "transactionId_0", "idTag_0"} & set(values)


async def test_a_limit_for_the_whole_charger_is_connector_zero() -> None:
    profile, hub = await started()
    cp = charge_point()
    hub.states[cp.identity] = cp
    profile.online(cp)
    hub.mqtt.take()
    cp.connector(0).limit_a = 10.0
    profile.changed(cp, {0})
    assert hub.mqtt.take() == [("v1/gateway/telemetry", {"CP1": [{"currentLimit_0": 10.0}]})]


async def test_invalid_reading_timestamp_is_left_to_thingsboards_clock() -> None:
    profile, hub = await started()
    cp = charge_point()
    cp.connectors[1].power_w, cp.connectors[1].readings_at = 11.0, "yesterday"
    hub.states[cp.identity] = cp
    profile.online(cp)
    body = dict(hub.mqtt.take())["v1/gateway/telemetry"]
    assert body["CP1"][0]["power"] == 11.0 and "ts" not in body["CP1"][0]


async def test_offline_sends_online_false_then_disconnect() -> None:
    profile, hub = await started()
    cp = charge_point()
    hub.states[cp.identity] = cp
    profile.online(cp)
    hub.mqtt.take()
    cp.online, cp.disconnect_reason = False, "closed by the charge point"
    profile.offline(cp)
    assert hub.mqtt.take() == [
        ("v1/gateway/attributes", {"CP1": {"disconnectReason": "closed by the charge point"}}),
        ("v1/gateway/telemetry", {"CP1": [{"online": False}]}),
        ("v1/gateway/disconnect", {"device": "CP1"})]
    profile.changed(cp, {0})  # nothing more for a device ThingsBoard let go
    assert hub.mqtt.take() == []
    cp.online = True
    profile.online(cp)
    assert hub.mqtt.take() == [("v1/gateway/connect", {"device": "CP1", "type": "default"}),
                               ("v1/gateway/telemetry", {"CP1": [{"online": True}]})]


async def test_republish_sends_connect_attributes_and_latest_telemetry_again() -> None:
    profile, hub = await started()
    cp, gone = charge_point(), charge_point("CP2")
    hub.states.update(CP1=cp, CP2=gone)
    profile.online(cp)
    profile.online(gone)
    gone.online = False
    profile.offline(gone)
    hub.mqtt.take()
    profile.republish()
    sent = hub.mqtt.take()
    online = [(t, p) for t, p in sent if "CP1" in p or p.get("device") == "CP1"]
    assert [t for t, _ in online] == ["v1/gateway/connect", "v1/gateway/attributes",
                                      "v1/gateway/telemetry"]
    assert online[2][1]["CP1"][0]["online"] is True
    assert online[2][1]["CP1"][0]["status"] == "Available"  # in full
    # the one that left says so again (the main broker's publisher drops while it is down),
    # without its old readings
    gone_sent = [(t, p) for t, p in sent if (t, p) not in online]
    assert gone_sent[1:] == [("v1/gateway/telemetry", {"CP2": [{"online": False}]}),
                             ("v1/gateway/disconnect", {"device": "CP2"})]
    assert gone_sent[0][0] == "v1/gateway/attributes" and "vendor" in gone_sent[0][1]["CP2"]


async def test_removed_disconnects_and_stop_says_offline() -> None:
    profile, hub = await started()
    cp, other = charge_point(), charge_point("CP 2/ü")
    hub.states.update({"CP1": cp, "CP 2/ü": other})
    profile.online(cp)
    profile.online(other)
    hub.mqtt.take()
    profile.removed(cp)
    assert hub.mqtt.take() == [("v1/gateway/disconnect", {"device": "CP1"})]
    await profile.stop()
    assert hub.mqtt.take() == [("v1/gateway/telemetry", {"CP 2/ü": [{"online": False}]}),
                               ("v1/gateway/disconnect", {"device": "CP 2/ü"})]


async def test_no_value_is_ever_null() -> None:
    profile, hub = await started()
    cp = ChargePointState("bare", "bare", online=True)  # nothing known yet
    cp.connector(1)
    hub.states["bare"] = cp
    profile.online(cp)
    assert all(no_nulls(body) for _t, body in hub.mqtt.take())


# ---- RPC ---------------------------------------------------------------------------------

def rpc(method: str, params: Any = None, device: str = "CP1", rid: int = 7) -> dict[str, Any]:
    data: dict[str, Any] = {"id": rid, "method": method}
    if params is not None:
        data["params"] = params
    return {"device": device, "data": data}


async def run_rpc(body: Any, hub: FakeHub) -> list[Any]:
    hub.mqtt.take()
    hub.deliver("v1/gateway/rpc", body)
    for _ in range(5):
        await asyncio.sleep(0)
    return [p for t, p in hub.mqtt.take() if t == "v1/gateway/rpc"]


async def test_rpc_becomes_a_command_and_its_result_the_reply() -> None:
    _profile, hub = await started()
    hub.states["CP1"] = charge_point()
    replies = await run_rpc(rpc("remoteStart", {"connectorId": 2, "idTag": "TAG"}), hub)
    assert hub.commands == [("CP1", "start_charging", {"connector": 2, "id_tag": "TAG"})]
    assert replies == [{"device": "CP1", "id": 7, "data": {
        "status": "answered", "action": "RemoteStartTransaction",
        "result": {"status": "Accepted"}}}]


@pytest.mark.parametrize(("method", "params", "command"), [
    ("remoteStart", None, ("start_charging", {})),
    ("startCharging", 2, ("start_charging", {"connector": 2})),
    ("remoteStop", {"transactionId": 42}, ("stop_charging", {"transaction_id": 42})),
    ("stopCharging", {"connector": 1}, ("stop_charging", {"connector": 1})),
    ("setCharging", True, ("start_charging", {})),
    ("setCharging", {"charging": False, "connectorId": 2}, ("stop_charging", {"connector": 2})),
    ("setCurrentLimit", 16, ("set_current_limit", {"amps": 16})),
    ("setMaxCurrent", {"maxCurrent": 10.5, "connector": 1},
     ("set_current_limit", {"amps": 10.5, "connector": 1})),
    ("setCurrentLimit", {"value": 8}, ("set_current_limit", {"value": 8})),
    ("setPowerLimit", {"watts": 7400}, ("set_power_limit", {"watts": 7400})),
    ("clearLimit", None, ("clear_limit", {})),
    ("setAvailable", False, ("set_available", {"available": False})),
    ("reset", "Hard", ("reset", {"type": "Hard"})),
    ("reset", {"type": "soft"}, ("reset", {"type": "soft"})),
    ("unlock", 1, ("unlock", {"connector": 1})),
    ("unlockConnector", {"connectorId": 2}, ("unlock", {"connector": 2})),
    ("getConfiguration", ["HeartbeatInterval"],
     ("get_configuration", {"keys": ["HeartbeatInterval"]})),
    ("changeConfiguration", {"key": "HeartbeatInterval", "value": "60"},
     ("change_configuration", {"key": "HeartbeatInterval", "value": "60"})),
    ("triggerMessage", "StatusNotification", ("trigger", {"message": "StatusNotification"})),
    ("trigger", {"requestedMessage": "MeterValues", "connectorId": 1},
     ("trigger", {"message": "MeterValues", "connector": 1})),
    ("setChargingEnabled", False, ("set_charging_enabled", {"enabled": False})),
    ("ocpp.RemoteStartTransaction", {"connectorId": 1, "idTag": "X"},
     ("RemoteStartTransaction", {"connectorId": 1, "idTag": "X"})),
    ("ocpp.ClearCache", None, ("ClearCache", {})),
    ("DataTransfer", {"vendorId": "v"}, ("DataTransfer", {"vendorId": "v"})),
    ("get_configuration", None, ("get_configuration", None)),
])
def test_method_mapping(method: str, params: Any, command: tuple[str, Any]) -> None:
    assert fmt.map_method(method, params) == command


@pytest.mark.parametrize(("method", "params"), [
    ("setCurrentLimit", "sixteen"), ("setCurrentLimit", True), ("unlock", 1.5),
    ("setAvailable", "yes"), ("setCharging", "ON"), ("ocpp.Reset", ["Hard"]),
    ("ocpp.reset", {}), ("ocpp.", {}), ("RemoteStartTransaction", 3),
])
def test_unusable_params_are_refused(method: str, params: Any) -> None:
    with pytest.raises(fmt.BadRpc):
        fmt.map_method(method, params)


async def test_bad_params_get_an_invalid_reply_and_no_command() -> None:
    _profile, hub = await started()
    hub.states["CP1"] = charge_point()
    replies = await run_rpc(rpc("setCurrentLimit", "sixteen"), hub)
    assert hub.commands == []
    assert replies[0]["id"] == 7 and replies[0]["data"]["status"] == INVALID
    assert "amps" in replies[0]["data"]["reason"]


async def test_unknown_device_gets_an_error_reply() -> None:
    _profile, hub = await started()
    replies = await run_rpc(rpc("reset", "soft", device="CP9", rid=3), hub)
    assert hub.commands == []
    assert replies == [{"device": "CP9", "id": 3, "data": {
        "status": "invalid", "action": "reset",
        "reason": "unknown device 'CP9': no charge point of that identity"}}]


async def test_offline_charge_point_reply_carries_the_hubs_result() -> None:
    _profile, hub = await started()
    hub.states["CP1"] = charge_point()
    hub.result = CommandResult(OFFLINE, "UnlockConnector", "not connected")
    replies = await run_rpc(rpc("unlock", 1), hub)
    assert replies[0]["data"] == {"status": "offline", "action": "UnlockConnector",
                                  "reason": "not connected"}


async def test_get_state_answers_from_the_gateway() -> None:
    _profile, hub = await started()
    hub.states["CP1"] = charge_point()
    replies = await run_rpc(rpc("getState"), hub)
    assert hub.commands == []
    assert replies[0]["data"]["result"]["vendor"] == "SimVendor"


async def test_replies_and_noise_on_the_rpc_topic_are_not_requests(
        caplog: pytest.LogCaptureFixture) -> None:
    _profile, hub = await started()
    hub.states["CP1"] = charge_point()
    # our own reply, as a plain broker delivers it back
    assert await run_rpc({"device": "CP1", "id": 7, "data": {"status": "answered"}}, hub) == []
    with caplog.at_level(logging.WARNING, "ocpp_mqtt.thingsboard"):
        assert await run_rpc(b"not json", hub) == []
        assert await run_rpc([1, 2], hub) == []
        assert await run_rpc({"data": {"id": 1, "method": "reset"}}, hub) == []  # no device
        assert await run_rpc({"device": "CP1", "data": {"method": "reset"}}, hub) == []  # no id
    assert hub.commands == []
    assert len([r for r in caplog.records if "ignored" in r.getMessage()]) == 4


async def test_request_with_a_bad_method_gets_an_invalid_reply() -> None:
    _profile, hub = await started()
    hub.states["CP1"] = charge_point()
    replies = await run_rpc({"device": "CP1", "data": {"id": 5, "method": 12}}, hub)
    assert replies[0]["id"] == 5 and replies[0]["data"]["status"] == "invalid"


def test_parse_rpc_request_shape() -> None:
    body = orjson.dumps(rpc("remoteStart", {"connectorId": 1}, rid=12))
    assert fmt.parse_rpc(body) == fmt.RpcRequest("CP1", 12, "remoteStart", {"connectorId": 1})


# ---- shared attributes -----------------------------------------------------------------------

async def test_shared_attributes_set_the_current_limit_and_the_gate() -> None:
    _profile, hub = await started()
    hub.states["CP1"] = charge_point()
    hub.deliver("v1/gateway/attributes", {"device": "CP1", "data": {
        "maxCurrent": 16, "currentLimit_2": 10, "chargingEnabled": False, "colour": "red"}})
    hub.deliver("v1/gateway/attributes", {"CP1": {"vendor": "X"}})  # our own, echoed back
    hub.deliver("v1/gateway/attributes", {"device": "CP9", "data": {"maxCurrent": 6}})
    for _ in range(5):
        await asyncio.sleep(0)
    assert sorted(hub.commands, key=str) == sorted([
        ("CP1", "set_current_limit", {"connector": 0, "amps": 16}),
        ("CP1", "set_current_limit", {"connector": 2, "amps": 10}),
        ("CP1", "set_charging_enabled", {"enabled": False})], key=str)


# ---- configuration and the token -----------------------------------------------------------

@pytest.mark.parametrize("url", ["http://TOKEN@tb", "mqtt://tb.example.com:1883", "embedded",
                                 "mqtt://TOKEN@tb:70000", "TOKEN@tb"])
def test_bad_thingsboard_url_is_a_config_error_naming_the_key(url: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(None, mode="central", thingsboard_url=url)
    assert str(err.value).startswith("thingsboard_url: ")
    assert "TOKEN" not in str(err.value).replace("ACCESS_TOKEN", "")


def test_thingsboard_url_accepted_forms() -> None:
    settings = load_settings(None, mode="central", profiles="native,thingsboard", thingsboard_url="mqtts://s3cr3t@tb.local")
    assert settings.thingsboard_url == "mqtts://s3cr3t@tb.local"
    with pytest.raises(ConfigError, match="thingsboard_device_type"):
        load_settings(None, mode="central", thingsboard_device_type=" ")


def test_logs_never_show_the_token() -> None:
    profile = ThingsBoardProfile(load_settings(
        None, mode="central", profiles="thingsboard", thingsboard_url="mqtts://s3cr3t@tb.local"))
    link = profile._new_link()
    assert isinstance(link.target, _TokenTarget)
    assert link.target.username == "s3cr3t" and link.target.port == 8883 and not link.mqtt5
    assert "s3cr3t" not in link.target.describe()
