"""The ocpp2mqtt profile without a broker: the topics and payloads each trigger publishes, from
a state the real state updater (observe) keeps, and the command topic's results."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from ocpp_mqtt.config import load_settings
from ocpp_mqtt.modes.central import profile as pr
from ocpp_mqtt.modes.central.observe import connected, disconnected, observe
from ocpp_mqtt.modes.central.profile import CommandResult
from ocpp_mqtt.modes.central.state import ChargePointState
from ocpp_mqtt.northbound.ocpp2mqtt import Ocpp2MqttProfile
from ocpp_mqtt.northbound.ocpp2mqtt_keys import disconnect_reason, meter_keys

STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
T0 = "2026-01-01T10:00:00Z"


class FakeHub:
    """What the profile sees of central mode: states, the publisher, subscriptions and a
    command runner answering from a script."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.states: dict[str, ChargePointState] = {}
        self.published: list[tuple[str, bytes, int, bool, dict[str, Any]]] = []
        self.handlers: dict[str, Callable[[str, bytes, dict[str, Any]], None]] = {}
        self.commands: list[tuple[str, str, Any]] = []
        self.answer: Callable[[str, str, Any], CommandResult] = \
            lambda i, n, a: CommandResult(pr.ANSWERED, n, result={"status": "Accepted"})

    @property
    def mqtt(self) -> FakeHub:
        return self

    @property
    def gateway_status_topic(self) -> str:
        return "ocpp/gateway/gw/status"

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool = False,
                **props: Any) -> None:
        self.published.append((topic, payload, qos, retain, props))

    def durable(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.publish(topic, payload, qos, retain)

    async def subscribe(self, topic_filter: str, handler: Any, qos: int = 1) -> None:
        self.handlers[topic_filter] = handler

    async def command(self, identity: str, name: str, args: Any, *,
                      connector: int | None = None) -> CommandResult:
        self.commands.append((identity, name, args))
        return self.answer(identity, name, args)

    # helpers for the tests
    def last(self, topic: str) -> bytes:
        found = [p for t, p, *_ in self.published if t == topic]
        assert found, f"nothing on {topic}; seen {sorted({t for t, *_ in self.published})}"
        return found[-1]

    def topics(self) -> list[str]:
        return [t for t, *_ in self.published]

    def clear(self) -> None:
        self.published.clear()


async def make(**overrides: Any) -> tuple[Ocpp2MqttProfile, FakeHub]:
    values: dict[str, Any] = {"mode": "central", "profiles": "ocpp2mqtt",
                              "ocpp2mqtt_basepath": "ocpp/", "ocpp2mqtt_use_station_name": True,
                              "ocpp2mqtt_command_retries": 1}
    values.update(overrides)
    settings = load_settings(None, **values)
    hub = FakeHub(settings)
    profile = Ocpp2MqttProfile(settings)
    await profile.start(hub)  # type: ignore[arg-type]
    return profile, hub


async def plug(profile: Ocpp2MqttProfile, hub: FakeHub, identity: str = "CP1",
               version: str = "1.6") -> ChargePointState:
    cp = hub.states.setdefault(identity, ChargePointState(identity, identity))
    connected(cp, version, "127.0.0.1", T0)
    profile.online(cp)
    while profile._tasks:  # the command subscription, then CONNECTED
        await asyncio.gather(*profile._tasks)
    return cp


def feed(profile: Ocpp2MqttProfile, cp: ChargePointState, action: str, request: dict[str, Any],
         response: dict[str, Any] | None = None) -> None:
    """As the hub does: the state takes the message in, then the profile hears of it."""
    changed = observe(cp, cp.version or "1.6", action, request, response, T0)
    profile.message(cp, action, request, response)
    if changed:
        profile.changed(cp, changed)


def sample(value: str, measurand: str | None = None, **extra: str) -> dict[str, Any]:
    out: dict[str, Any] = {"value": value, **extra}
    if measurand is not None:
        out["measurand"] = measurand
    return out


# ---- connection ------------------------------------------------------------------------------

async def test_connect_publishes_connected_at_once_retained_qos0() -> None:
    # bug 2: ocpp2mqtt published these before its MQTT client existed, so never
    profile, hub = await make()
    await plug(profile, hub)
    assert hub.last("ocpp/CP1/state/connection_state") == b"CONNECTED"
    assert STAMP.fullmatch(hub.last("ocpp/CP1/state/last_connected").decode())
    assert hub.last("ocpp/CP1/state/charging_enabled") in (b"ON", b"OFF")
    assert all(qos == 0 and retain for _, _, qos, retain, _ in hub.published)


async def test_disconnect_zeroes_flow_and_says_why() -> None:
    profile, hub = await make()
    cp = await plug(profile, hub)
    feed(profile, cp, "MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": T0,
         "sampledValue": [sample("10", "Current.Import", phase=p, unit="A")
                          for p in ("L1", "L2", "L3")]}]})
    hub.clear()
    disconnected(cp, "closed by the charge point (code 1000)", T0)
    profile.offline(cp)
    assert hub.last("ocpp/CP1/state/connection_state") == b"DISCONNECTED"
    assert STAMP.fullmatch(hub.last("ocpp/CP1/state/last_disconnected").decode())
    assert hub.last("ocpp/CP1/state/disconnect_reason") == b"normal_closure"
    assert hub.last("ocpp/CP1/state/disconnect_detail") == b"closed by the charge point (code 1000)"
    for key in ("power_active_import", "current_import", "current_import_l1",
                "current_import_l3", "connector_1/current_import_l2",
                "connector_1/power_active_import"):
        assert hub.last(f"ocpp/CP1/state/{key}") == b"0", key


@pytest.mark.parametrize(("ours", "theirs"), [
    ("closed by the charge point (code 1000)", "normal_closure"),
    ("closed by the charge point (code 1001)", "normal_closure"),
    ("closed by the charge point (code 4000)", "connection_closed_4000"),
    ("closed by the charge point", "connection_closed_1006"),
    ("replaced by a newer connection with the same identity", "session_cancelled"),
    ("takeover: the charge point connected to gateway gw2", "session_cancelled"),
    ("gateway shutting down", "service_stopped"),
    ("gateway restarted", "service_restarted"),
    ("no pong: the charge point stopped answering pings", "connection_closed_1011"),
    ("WebSocket error: boom", "connection_error_1006"),
    ("something new", "unexpected_error"),
    (None, "unexpected_error"),
])
async def test_disconnect_reasons(ours: str | None, theirs: str) -> None:
    assert disconnect_reason(ours) == theirs


async def test_connected_waits_for_the_command_subscription() -> None:
    profile, hub = await make()
    cp = hub.states["CP1"] = ChargePointState("CP1", "CP1")
    connected(cp, "1.6", "", T0)
    profile.online(cp)
    assert hub.published == []  # not before commands can reach it
    disconnected(cp, "closed by the charge point (code 1000)", T0)
    profile.offline(cp)
    while profile._tasks:
        await asyncio.gather(*profile._tasks)
    assert "ocpp/CP1/cmd/#" in hub.handlers
    assert hub.last("ocpp/CP1/state/connection_state") == b"DISCONNECTED"  # not CONNECTED


async def test_start_marks_expected_and_known_charge_points_disconnected() -> None:
    settings = load_settings(None, mode="central", profiles="ocpp2mqtt",
                             ocpp2mqtt_basepath="ocpp/", ocpp2mqtt_use_station_name=True,
                             ocpp2mqtt_expected=["charger1"])
    hub = FakeHub(settings)
    hub.states["old"] = ChargePointState("old", "old")
    profile = Ocpp2MqttProfile(settings)
    await profile.start(hub)  # type: ignore[arg-type]
    for cid in ("charger1", "old"):
        assert hub.last(f"ocpp/{cid}/state/connection_state") == b"DISCONNECTED"
        assert STAMP.fullmatch(hub.last(f"ocpp/{cid}/state/service_started").decode())
    assert set(hub.handlers) == {"ocpp/charger1/cmd/#", "ocpp/old/cmd/#"}


async def test_base_path_is_concatenated_without_separator() -> None:
    profile, hub = await make(ocpp2mqtt_basepath="home/ev-")
    await plug(profile, hub, "left")
    assert hub.last("home/ev-left/state/connection_state") == b"CONNECTED"
    shared, hub2 = await make(ocpp2mqtt_basepath="ocpp/test", ocpp2mqtt_use_station_name=False)
    await plug(shared, hub2, "left")
    assert hub2.last("ocpp/test/state/connection_state") == b"CONNECTED"
    assert set(hub2.handlers) == {"ocpp/test/cmd/#"}


async def test_identity_is_escaped_as_one_topic_level() -> None:
    profile, hub = await make()
    hub.states["a+b"] = ChargePointState("a+b", "a%2Bb")
    await plug(profile, hub, "a+b")
    assert hub.last("ocpp/a%2Bb/state/connection_state") == b"CONNECTED"


# ---- charge point messages -------------------------------------------------------------------

async def test_boot_publishes_the_fields_present() -> None:
    profile, hub = await make()
    cp = await plug(profile, hub)
    hub.clear()
    feed(profile, cp, "BootNotification", {"chargePointVendor": "United Chargers",
         "chargePointModel": "Grizzl-E", "firmwareVersion": "5.6", "iccid": "8901"},
         {"status": "Accepted", "currentTime": T0, "interval": 10})
    assert hub.last("ocpp/CP1/state/charge_point_vendor") == b"United Chargers"
    assert hub.last("ocpp/CP1/state/charge_point_model") == b"Grizzl-E"
    assert hub.last("ocpp/CP1/state/firmware_version") == b"5.6"
    assert hub.last("ocpp/CP1/state/iccid") == b"8901"
    assert "ocpp/CP1/state/imsi" not in hub.topics()


async def test_heartbeat_and_authorize() -> None:
    profile, hub = await make()
    cp = await plug(profile, hub)
    feed(profile, cp, "Heartbeat", {}, {"currentTime": T0})
    assert hub.last("ocpp/CP1/state/heartbeat") == b"ON"
    assert STAMP.fullmatch(hub.last("ocpp/CP1/state/last_seen").decode())
    for status in ("Accepted", "Invalid", "Blocked"):
        feed(profile, cp, "Authorize", {"idTag": "x"}, {"idTagInfo": {"status": status}})
        assert hub.last("ocpp/CP1/state/authorize") == status.encode()


async def test_status_notification_keys_and_resets() -> None:
    profile, hub = await make()
    cp = await plug(profile, hub)
    feed(profile, cp, "StatusNotification", {"connectorId": 1, "errorCode": "NoError",
         "status": "Charging", "info": "ok", "timestamp": T0})
    assert hub.last("ocpp/CP1/state/status") == b"Charging"
    assert hub.last("ocpp/CP1/state/error_code") == b"NoError"
    assert hub.last("ocpp/CP1/state/connector_id") == b"1"
    assert hub.last("ocpp/CP1/state/connection_state") == b"CONNECTED"
    assert hub.last("ocpp/CP1/state/info") == b"ok"
    assert hub.last("ocpp/CP1/state/timestamp") == T0.encode()
    assert STAMP.fullmatch(hub.last("ocpp/CP1/state/last_status_change").decode())
    assert hub.last("ocpp/CP1/state/connector_1/status") == b"Charging"
    assert "ocpp/CP1/state/power_active_import" not in hub.topics()
    feed(profile, cp, "StatusNotification", {"connectorId": 1, "errorCode": "NoError",
         "status": "Finishing"})
    assert hub.last("ocpp/CP1/state/power_active_import") == b"0"
    assert hub.last("ocpp/CP1/state/current_import") == b"0"
    assert hub.last("ocpp/CP1/state/connector_1/current_import") == b"0"


async def test_bug_7_connector_0_and_firmware_keep_out_of_status() -> None:
    profile, hub = await make()
    cp = await plug(profile, hub)
    feed(profile, cp, "StatusNotification", {"connectorId": 1, "errorCode": "NoError",
         "status": "Preparing"})
    feed(profile, cp, "StatusNotification", {"connectorId": 0, "errorCode": "NoError",
         "status": "Available"})
    feed(profile, cp, "FirmwareStatusNotification", {"status": "Downloading"})
    feed(profile, cp, "DiagnosticsStatusNotification", {"status": "Uploading"})
    assert hub.last("ocpp/CP1/state/status") == b"Preparing"
    assert hub.last("ocpp/CP1/state/connector_0/status") == b"Available"
    assert hub.last("ocpp/CP1/state/connector_1/status") == b"Preparing"
    assert hub.last("ocpp/CP1/state/firmware_status") == b"Downloading"
    assert hub.last("ocpp/CP1/state/diagnostics_status") == b"Uploading"


async def test_connector_0_alone_feeds_status() -> None:
    profile, hub = await make()
    cp = await plug(profile, hub)
    feed(profile, cp, "StatusNotification", {"connectorId": 0, "errorCode": "NoError",
         "status": "Unavailable"})
    assert hub.last("ocpp/CP1/state/status") == b"Unavailable"


async def test_bug_4_meter_values_every_entry_phases_units() -> None:
    profile, hub = await make()
    cp = await plug(profile, hub)
    feed(profile, cp, "MeterValues", {"connectorId": 1, "transactionId": 7, "meterValue": [
        {"timestamp": "2026-01-01T10:00:00Z", "sampledValue": [sample("12.5", unit="kWh")]},
        {"timestamp": "2026-01-01T10:00:00Z", "sampledValue": [
            sample("7.2", "Power.Active.Import", unit="kW"),
            *[sample(v, "Current.Import", phase=p, unit="A")
              for v, p in (("10.1", "L1"), ("10.4", "L2"), ("9.9", "L3"))],
            *[sample(v, "Voltage", phase=p, unit="V")
              for v, p in (("230", "L1-N"), ("231", "L2-N"), ("229", "L3-N"))],
            sample("41", "Temperature", location="Body", unit="Celsius"),
            sample("55", "SoC", location="EV", unit="Percent")]}]})
    expect = {"transaction_id": b"7", "energy_active_import_register": b"12500",
              "power_active_import": b"7200", "current_import": b"10.4",
              "current_import_l1": b"10.1", "current_import_l2": b"10.4",
              "current_import_l3": b"9.9", "voltage": b"230", "voltage_l2_n": b"231",
              "temperature": b"41", "soc": b"55"}
    for key, value in expect.items():
        assert hub.last(f"ocpp/CP1/state/{key}") == value, key
        assert hub.last(f"ocpp/CP1/state/connector_1/{key}") == value, key


async def test_meter_keys_rules() -> None:
    # a missing measurand is the energy register; later entries win; the outlet owns the key
    keys = meter_keys([
        {"timestamp": "2026-01-01T10:00:00Z", "sampledValue": [{"value": "100"}]},
        {"timestamp": "2026-01-01T10:01:00Z", "sampledValue": [
            {"value": "150"},
            {"value": "30", "measurand": "Temperature", "location": "Body"},
            {"value": "25", "measurand": "Temperature"},
            {"value": "2", "measurand": "Power.Active.Import", "phase": "L1", "unit": "kW"},
            {"value": "3", "measurand": "Power.Active.Import", "phase": "L2", "unit": "kW"},
            {"value": "signed", "format": "SignedData"}]}], True)
    assert keys == {"energy_active_import_register": 150.0, "temperature": 25.0,
                    "temperature_body": 30.0, "power_active_import_l1": 2000.0,
                    "power_active_import_l2": 3000.0, "power_active_import": 5000.0}
    # 2.x: unitOfMeasure with a multiplier
    keys = meter_keys([{"timestamp": T0, "sampledValue": [
        {"value": 1.5, "unitOfMeasure": {"unit": "Wh", "multiplier": 3}}]}], False)
    assert keys == {"energy_active_import_register": 1500.0}


async def test_main_meter_feeds_plain_keys_only_without_connector_readings() -> None:
    profile, hub = await make()
    cp = await plug(profile, hub)
    feed(profile, cp, "MeterValues", {"connectorId": 0, "meterValue": [
        {"timestamp": T0, "sampledValue": [sample("500")]}]})
    assert hub.last("ocpp/CP1/state/energy_active_import_register") == b"500"
    feed(profile, cp, "MeterValues", {"connectorId": 1, "meterValue": [
        {"timestamp": T0, "sampledValue": [sample("100")]}]})
    feed(profile, cp, "MeterValues", {"connectorId": 0, "meterValue": [
        {"timestamp": T0, "sampledValue": [sample("600")]}]})
    assert hub.last("ocpp/CP1/state/energy_active_import_register") == b"100"
    assert hub.last("ocpp/CP1/state/connector_0/energy_active_import_register") == b"600"


async def test_transactions() -> None:
    profile, hub = await make()
    cp = await plug(profile, hub)
    feed(profile, cp, "StartTransaction", {"connectorId": 1, "idTag": "tag1", "meterStart": 1000,
         "timestamp": T0, "reservationId": 3},
         {"transactionId": 42, "idTagInfo": {"status": "Accepted"}})
    assert hub.last("ocpp/CP1/state/meter_start_timestamp") == T0.encode()
    assert hub.last("ocpp/CP1/state/meter_start") == b"1000"
    assert hub.last("ocpp/CP1/state/reservation_id") == b"3"
    assert hub.last("ocpp/CP1/state/transaction_id") == b"42"
    assert hub.last("ocpp/CP1/state/connector_1/transaction_id") == b"42"
    # bug 5: no reason means Local
    feed(profile, cp, "StopTransaction", {"transactionId": 42, "meterStop": 3000,
         "timestamp": "2026-01-01T11:00:00Z"}, {})
    assert hub.last("ocpp/CP1/state/meter_stop") == b"3000"
    assert hub.last("ocpp/CP1/state/meter_stop_reason") == b"Local"
    assert hub.last("ocpp/CP1/state/meter_stop_timestamp") == b"2026-01-01T11:00:00Z"
    assert hub.last("ocpp/CP1/state/connector_1/meter_stop_reason") == b"Local"


async def test_data_transfer_keys() -> None:
    profile, hub = await make()
    cp = await plug(profile, hub)
    feed(profile, cp, "DataTransfer", {"vendorId": "com.uc", "messageId": "m", "data": "x=1"},
         {"status": "UnknownVendorId"})
    assert hub.last("ocpp/CP1/state/vendor_id") == b"com.uc"
    assert hub.last("ocpp/CP1/state/message_id") == b"m"
    assert hub.last("ocpp/CP1/state/data") == b"x=1"


async def test_bug_13_charging_enabled_published_on_change() -> None:
    profile, hub = await make()
    cp = await plug(profile, hub)
    cp.charging_enabled = False
    profile.changed(cp, {0})
    assert hub.last("ocpp/CP1/state/charging_enabled") == b"OFF"
    hub.clear()
    profile.changed(cp, {0})
    assert hub.published == []  # only changes


async def test_republish_and_removed() -> None:
    profile, hub = await make()
    cp = await plug(profile, hub)
    feed(profile, cp, "Heartbeat", {}, {"currentTime": T0})
    hub.clear()
    profile.republish()
    assert "ocpp/CP1/state/heartbeat" in hub.topics()
    assert "ocpp/CP1/state/connection_state" in hub.topics()
    hub.clear()
    profile.removed(cp)
    assert hub.last("ocpp/CP1/state/heartbeat") == b""
    assert all(p == b"" for _, p, *_ in hub.published)


# ---- commands --------------------------------------------------------------------------------

async def command(profile: Ocpp2MqttProfile, hub: FakeHub, topic: str, body: Any,
                  properties: dict[str, Any] | None = None) -> None:
    await asyncio.sleep(0)  # subscriptions made by online() are in place
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    handler = next(h for f, h in hub.handlers.items() if topic.startswith(f[:-2]))
    handler(topic, data, properties or {})
    while profile._tasks:
        await asyncio.gather(*profile._tasks)


def results(hub: FakeHub, base: str = "ocpp/CP1") -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for topic, payload, *_ in hub.published:
        if topic.startswith(f"{base}/cmd_result/") and "/id/" not in topic:
            out[topic.rsplit("/", 1)[1]] = payload
    return {k: v for k, v in out.items() if v}


@pytest.mark.parametrize("body", [
    {"action": "reset", "args": {"type": "Soft"}},
    {"op": "reset", "message": {"type": "Soft"}},
    {"action": "reset", "args": {"type": "Soft"}, "op": "clear_cache", "message": {}},
])
async def test_both_command_forms_current_names_win(body: dict[str, Any]) -> None:
    profile, hub = await make()
    await plug(profile, hub)
    await command(profile, hub, "ocpp/CP1/cmd", body)
    assert hub.commands == [("CP1", "reset", {"type": "Soft"})]
    assert results(hub) == {"action": b"reset", "status": b"Accepted"}
    assert hub.topics()[-1] == "ocpp/CP1/cmd_result/status"  # status last


@pytest.mark.parametrize("topic", ["ocpp/CP1/cmd", "ocpp/CP1/cmd/", "ocpp/CP1/cmd/anything"])
async def test_any_sub_topic_of_cmd(topic: str) -> None:
    profile, hub = await make()
    await plug(profile, hub)
    await command(profile, hub, topic, {"action": "clear_cache"})
    assert hub.commands == [("CP1", "clear_cache", None)]


async def test_bug_8_structured_results_as_json_snake_case() -> None:
    profile, hub = await make()
    await plug(profile, hub)
    hub.answer = lambda i, n, a: CommandResult(pr.ANSWERED, "GetConfiguration", result={
        "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "10"}],
        "unknownKey": ["Foo"]})
    await command(profile, hub, "ocpp/CP1/cmd", {"action": "get_configuration",
                                           "args": {"key": ["HeartbeatInterval", "Foo"]}})
    got = results(hub)
    assert orjson.loads(got["configuration_key"]) == [
        {"key": "HeartbeatInterval", "readonly": False, "value": "10"}]
    assert orjson.loads(got["unknown_key"]) == ["Foo"]
    assert got["status"] == b"Accepted" and got["action"] == b"get_configuration"


async def test_errors_and_stale_fields_cleared() -> None:
    profile, hub = await make()
    await plug(profile, hub)
    hub.answer = lambda i, n, a: CommandResult(pr.ANSWERED, n, result={"listVersion": 3})
    await command(profile, hub, "ocpp/CP1/cmd", {"action": "get_local_version"})
    assert results(hub)["list_version"] == b"3"
    hub.answer = lambda i, n, a: CommandResult(pr.INVALID, n, reason="unknown command 'dance'")
    hub.clear()
    await command(profile, hub, "ocpp/CP1/cmd", {"action": "dance"})
    assert results(hub) == {"action": b"dance", "status": b"error",
                            "error": b"unknown command 'dance'"}
    assert hub.last("ocpp/CP1/cmd_result/list_version") == b""  # cleared
    hub.answer = lambda i, n, a: CommandResult(pr.REJECTED, n, error={
        "code": "NotImplemented", "description": "no"})
    await command(profile, hub, "ocpp/CP1/cmd", {"action": "reserve_now", "args": {}})
    assert hub.last("ocpp/CP1/cmd_result/error") == b"NotImplemented: no"


@pytest.mark.parametrize(("payload", "error"), [
    (b"{not json", b"the command is not valid JSON"),
    (b"[1, 2]", b'expected {"action"'),
    (b'{"args": {}}', b"no action"),
])
async def test_malformed_commands_answer_an_error(payload: bytes, error: bytes) -> None:
    profile, hub = await make()
    await plug(profile, hub)
    await command(profile, hub, "ocpp/CP1/cmd", payload)
    got = results(hub)
    assert got["status"] == b"error" and got["error"].startswith(error)
    assert "action" not in got
    assert hub.commands == []


async def test_offline_charge_point_waits_then_fails_with_ocpp2mqtt_text() -> None:
    profile, hub = await make(ocpp2mqtt_command_retries=3, ocpp2mqtt_command_retry_delay=0.01,
                        ocpp2mqtt_expected=["CP9"])
    await command(profile, hub, "ocpp/CP9/cmd", {"action": "reset", "args": {"type": "Hard"}})
    assert results(hub, "ocpp/CP9") == {"action": b"reset", "status": b"error",
                                         "error": b"Charge point websocket is not connected"}
    assert hub.commands == []


async def test_offline_charge_point_that_comes_back_within_the_retries() -> None:
    profile, hub = await make(ocpp2mqtt_command_retries=5, ocpp2mqtt_command_retry_delay=0.05,
                        ocpp2mqtt_expected=["CP9"])

    hub.handlers["ocpp/CP9/cmd/#"]("ocpp/CP9/cmd", b'{"action":"clear_cache"}', {})
    await asyncio.sleep(0.02)
    await plug(profile, hub, "CP9")
    while profile._tasks:
        await asyncio.gather(*profile._tasks)
    assert hub.commands == [("CP9", "clear_cache", None)]


async def test_bug_12_correlated_results() -> None:
    profile, hub = await make()
    await plug(profile, hub)
    await command(profile, hub, "ocpp/CP1/cmd", {"id": "r/1", "action": "reset",
                                           "args": {"type": "Soft"}},
            {"response_topic": ["me/reply"], "correlation_data": [b"c1"]})
    sent = {t: (p, q, r, props) for t, p, q, r, props in hub.published}
    body, qos, retain, _ = sent["ocpp/CP1/cmd_result/id/r%2F1"]
    assert orjson.loads(body) == {"id": "r/1", "action": "reset", "status": "Accepted"}
    assert (qos, retain) == (1, False)
    body, _, _, props = sent["me/reply"]
    assert orjson.loads(body)["id"] == "r/1" and props == {"correlation_data": b"c1"}


@pytest.mark.parametrize(("args", "enabled"), [("ON", True), ("off", False), (True, True),
                                               (0, False), ("yes", True), ("N", False),
                                               ({"enabled": True}, True)])
async def test_charging_enabled(args: Any, enabled: bool) -> None:
    profile, hub = await make()
    await plug(profile, hub)
    hub.answer = lambda i, n, a: CommandResult(pr.ANSWERED, n,
                                               result={"charging_enabled": a["enabled"]})
    await command(profile, hub, "ocpp/CP1/cmd", {"action": "charging_enabled", "args": args})
    assert hub.commands == [("CP1", "set_charging_enabled", {"enabled": enabled})]
    assert results(hub)["status"] == b"Accepted"


async def test_charging_enabled_refuses_nonsense_instead_of_reading_off() -> None:
    profile, hub = await make()
    await plug(profile, hub)
    await command(profile, hub, "ocpp/CP1/cmd", {"action": "charging_enabled", "args": "maybe"})
    assert hub.commands == []
    assert results(hub)["status"] == b"error"


async def test_shared_tree_routes_to_the_one_online_and_refuses_when_several() -> None:
    profile, hub = await make(ocpp2mqtt_basepath="ocpp/test", ocpp2mqtt_use_station_name=False)
    await plug(profile, hub, "A")
    await command(profile, hub, "ocpp/test/cmd", {"action": "clear_cache"})
    assert hub.commands == [("A", "clear_cache", None)]
    await plug(profile, hub, "B")
    hub.clear()
    await command(profile, hub, "ocpp/test/cmd", {"action": "clear_cache"})
    assert len(hub.commands) == 1
    got = results(hub, "ocpp/test")
    assert got["status"] == b"error" and b"MQTT_USESTATIONNAME=true" in got["error"]


async def test_shared_tree_warns_when_a_second_charge_point_connects(
        caplog: pytest.LogCaptureFixture) -> None:
    profile, hub = await make(ocpp2mqtt_basepath="ocpp/test", ocpp2mqtt_use_station_name=False)
    await plug(profile, hub, "A")
    assert "share one ocpp2mqtt topic tree" not in caplog.text
    await plug(profile, hub, "B")
    assert "share one ocpp2mqtt topic tree" in caplog.text
