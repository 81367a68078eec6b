"""Commands of central mode: names, argument case, every high-level command on 1.6 and 2.x
(each payload checked against the official schema), limit purposes and the limit rate limit.

The charge point is a scripted fake standing in for the injected `call`: it records each CALL,
validates its payload with the real OCPP JSON schemas and answers as the test says.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ocpp_mqtt.config import Settings, load_settings
from ocpp_mqtt.modes.central.command_args import BadCommand, as_bool, camel, camel_keys
from ocpp_mqtt.modes.central.commands import Limits, resolve, run_command
from ocpp_mqtt.modes.central.limits import PROFILE_ID_BASE
from ocpp_mqtt.modes.central.profile import (
    ANSWERED,
    INVALID,
    LIMITED,
    OFFLINE,
    REJECTED,
    CommandResult,
)
from ocpp_mqtt.modes.central.state import ChargePointState
from ocpp_mqtt.ocppj.validation import Schemas
from ocpp_mqtt.ocppj.versions import Version

SCHEMAS = Schemas(validate_formats=True)
Answer = dict[str, Any] | CommandResult


class FakeChargePoint:
    """The injected `call`: records (action, payload), answers from a per-action script
    (a list consumed in order; the last answer repeats; default {"status": "Accepted"})."""

    def __init__(self, version: str) -> None:
        self.version = Version.parse(version)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.script: dict[str, list[Answer]] = {}
        self.gate: asyncio.Event | None = None  # when set up, each call waits for it

    def answer(self, action: str, *answers: Answer) -> None:
        self.script[action] = list(answers)

    async def __call__(self, action: str, payload: dict[str, Any]) -> CommandResult:
        error = SCHEMAS.check(self.version, action, payload, response=False)
        assert error is None, f"{action} {payload} fails the schema: {error.describe()}"
        assert SCHEMAS.is_action(self.version, action)
        self.calls.append((action, payload))
        if self.gate is not None:
            await self.gate.wait()
        queue = self.script.get(action) or [{"status": "Accepted"}]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, CommandResult):
            return answer
        return CommandResult(ANSWERED, action, result=answer)

    def actions(self) -> list[str]:
        return [a for a, _ in self.calls]


class FakeClock:
    """time.monotonic and asyncio.sleep stand-ins: time moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        future = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + delay, future))
        await future

    async def advance(self, seconds: float) -> None:
        self.now += seconds
        for deadline, future in self._sleepers:
            if deadline <= self.now and not future.done():
                future.set_result(None)
        self._sleepers = [(d, f) for d, f in self._sleepers if not f.done()]
        await settle()


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def settings(**overrides: Any) -> Settings:
    return load_settings(None, **overrides)


def new_cp(version: str = "1.6") -> ChargePointState:
    cp = ChargePointState("CP1", "CP1", version=version, online=True)
    cp.connector(1).status = "Available"
    return cp


class Rig:
    def __init__(self, version: str = "1.6", **overrides: Any) -> None:
        self.version = version
        self.cp = new_cp(version)
        self.fake = FakeChargePoint(version)
        self.clock = FakeClock()
        self.limits = Limits(clock=self.clock, sleep=self.clock.sleep, first_request_id=41)
        overrides.setdefault("limit_min_interval", 10.0)
        self.settings = settings(**overrides)

    async def run(self, name: Any, args: Any = None, connector: int | None = None
                  ) -> CommandResult:
        return await run_command(name, args, cp=self.cp, version=self.version,
                                 settings=self.settings, call=self.fake, limits=self.limits,
                                 connector=connector)

    def start(self, name: str, args: Any = None) -> asyncio.Task[CommandResult]:
        return asyncio.ensure_future(self.run(name, args))

    @property
    def last(self) -> tuple[str, dict[str, Any]]:
        return self.fake.calls[-1]


VERSIONS = ("1.6", "2.0.1", "2.1")


# ---- names -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["RemoteStartTransaction", "remote_start_transaction",
                                  "REMOTE_START_TRANSACTION", "remoteStartTransaction"])
async def test_ocpp_names_in_any_case(name: str) -> None:
    rig = Rig()
    result = await rig.run(name, {"connector_id": 1, "id_tag": "tag"})
    assert result.status == ANSWERED and result.ok
    assert rig.last == ("RemoteStartTransaction", {"connectorId": 1, "idTag": "tag"})


async def test_get_local_version_alias() -> None:
    rig = Rig()
    rig.fake.answer("GetLocalListVersion", {"listVersion": 3})
    result = await rig.run("get_local_version")
    assert rig.last == ("GetLocalListVersion", {})
    assert result.result == {"listVersion": 3}


async def test_action_sent_by_charge_points() -> None:
    rig = Rig()
    for name in ("heartbeat", "BootNotification", "start_transaction"):
        result = await rig.run(name, {})
        assert result.status == INVALID and "sent by charge points" in result.reason
    assert rig.fake.calls == []


async def test_data_transfer_goes_both_ways() -> None:
    rig = Rig()
    await rig.run("data_transfer", {"vendor_id": "acme", "message_id": "x", "data": "1"})
    assert rig.last == ("DataTransfer", {"vendorId": "acme", "messageId": "x", "data": "1"})


async def test_unknown_name_suggests_close_matches() -> None:
    rig = Rig()
    result = await rig.run("start_chargin", {})
    assert result.status == INVALID and "start_charging" in result.reason
    result = await rig.run("remote_stop_transacton", {})
    assert "remote_stop_transaction" in result.reason
    result = await rig.run("make_coffee", {})
    assert result.status == INVALID and "unknown command 'make_coffee'" in result.reason
    for bad in ("", None, 5):
        assert (await rig.run(bad, {})).status == INVALID
    assert rig.fake.calls == []


async def test_version_specific_action_sets() -> None:
    rig = Rig("2.0.1")
    result = await rig.run("RemoteStartTransaction", {"idTag": "x"})
    assert result.status == INVALID
    assert "start_charging" in result.reason and "RequestStartTransaction" in result.reason
    rig16 = Rig("1.6")
    result = await rig16.run("request_stop_transaction", {"transaction_id": "1"})
    assert result.status == INVALID
    assert "stop_charging" in result.reason and "RemoteStopTransaction" in result.reason
    # reset exists in both, as a high-level command and an OCPP action
    assert (await rig.run("Reset", {"type": "Immediate"})).ok
    assert rig.last == ("Reset", {"type": "Immediate"})
    await rig.run("request_start_transaction",
                  {"id_token": {"id_token": "t", "type": "Central"}, "remote_start_id": 7})
    assert rig.last == ("RequestStartTransaction",
                        {"idToken": {"idToken": "t", "type": "Central"}, "remoteStartId": 7})


async def test_unknown_version_and_bad_args() -> None:
    rig = Rig()
    rig.version = "3.0"
    assert (await rig.run("reset", {})).status == INVALID
    rig = Rig()
    for args in ([1], "text", 3):
        result = await rig.run("reset", args)
        assert result.status == INVALID and "JSON object" in result.reason
    assert (await rig.run("clear_cache", None)).ok  # missing args are {}
    assert rig.last == ("ClearCache", {})


def test_resolve_prefers_high_level_for_shared_names() -> None:
    assert resolve("reset", Version.V16) == ("command", "reset")
    assert resolve("get_configuration", Version.V16) == ("command", "get_configuration")
    assert resolve("GetConfiguration", Version.V16) == ("action", "GetConfiguration")
    assert resolve("StartCharging", Version.V201) == ("command", "start_charging")
    assert resolve("charging_enabled", Version.V16) == ("command", "set_charging_enabled")
    with pytest.raises(BadCommand, match="sent by charge points"):
        resolve("get_15118_ev_certificate", Version.V201)
    assert resolve("install_certificate", Version.V201) == ("action", "InstallCertificate")


# ---- argument case ---------------------------------------------------------------------------
def test_camel_case_conversion() -> None:
    assert camel("connector_id") == "connectorId"
    assert camel("connectorId") == "connectorId"
    assert camel("limit_l2") == "limit_L2"
    assert camel("limit_L2") == "limit_L2"
    assert camel("discharge_limit_l3") == "dischargeLimit_L3"
    assert camel("e_price_level") == "ePriceLevel"
    assert camel_keys({"a_b": [{"c_d": {"e_f": 1}}, 2], "gH": {"i_j": None}}) == \
        {"aB": [{"cD": {"eF": 1}}, 2], "gH": {"iJ": None}}
    with pytest.raises(BadCommand, match="twice"):
        camel_keys({"connector_id": 1, "connectorId": 2})


async def test_nested_snake_and_camel_keys() -> None:
    rig = Rig()
    args = {"connector_id": 1, "cs_charging_profiles": {
        "charging_profile_id": 5, "stackLevel": 2, "charging_profile_purpose": "TxDefaultProfile",
        "chargingProfileKind": "Relative",
        "charging_schedule": {"charging_rate_unit": "A",
                              "charging_schedule_period": [{"start_period": 0, "limit": 8}]}}}
    assert (await rig.run("set_charging_profile", args)).ok
    assert rig.last == ("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": {
        "chargingProfileId": 5, "stackLevel": 2, "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {"chargingRateUnit": "A",
                             "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 8}]}}})


async def test_duplicate_keys_in_two_cases_are_invalid() -> None:
    rig = Rig()
    result = await rig.run("change_availability",
                           {"connector_id": 1, "connectorId": 1, "type": "Operative"})
    assert result.status == INVALID and "twice" in result.reason
    assert rig.fake.calls == []


# ---- ocpp2mqtt README examples ---------------------------------------------------------------
@pytest.mark.parametrize(("action", "args", "sent"), [
    ("change_availability", {"connector_id": 1, "type": "Operative"},
     ("ChangeAvailability", {"connectorId": 1, "type": "Operative"})),
    ("remote_start_transaction", {"connector_id": 1, "id_tag": "tag"},
     ("RemoteStartTransaction", {"connectorId": 1, "idTag": "tag"})),
    ("remote_stop_transaction", {"transaction_id": 1},
     ("RemoteStopTransaction", {"transactionId": 1})),
    ("reset", {"type": "Soft"}, ("Reset", {"type": "Soft"})),
    ("unlock_connector", {"connector_id": 1}, ("UnlockConnector", {"connectorId": 1})),
    ("get_configuration", {"key": ["HeartbeatInterval"]},
     ("GetConfiguration", {"key": ["HeartbeatInterval"]})),
    ("change_configuration", {"key": "HeartbeatInterval", "value": "60"},
     ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"})),
    ("trigger_message", {"requested_message": "StatusNotification", "connector_id": 1},
     ("TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 1})),
])
async def test_ocpp2mqtt_readme_examples(action: str, args: dict[str, Any],
                                         sent: tuple[str, dict[str, Any]]) -> None:
    rig = Rig()
    result = await rig.run(action, args)
    assert result.status == ANSWERED and result.ok
    assert rig.fake.calls == [sent]


async def test_ocpp2mqtt_charging_enabled_with_scalar_args() -> None:
    rig = Rig()
    result = await rig.run("charging_enabled", "OFF")
    assert result.status == ANSWERED and result.result == {"charging_enabled": False}
    assert rig.cp.charging_enabled is False
    assert (await rig.run("charging_enabled", True)).result == {"charging_enabled": True}
    assert rig.fake.calls == []


# ---- high-level commands ---------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
async def test_start_charging(version: str) -> None:
    rig = Rig(version, remote_start_id_tag="house")
    assert (await rig.run("start_charging")).ok
    if version == "1.6":
        assert rig.last == ("RemoteStartTransaction", {"connectorId": 1, "idTag": "house"})
    else:
        assert rig.last == ("RequestStartTransaction", {
            "evseId": 1, "idToken": {"idToken": "house", "type": "Central"},
            "remoteStartId": 42})
    await rig.run("start_charging", {"connector": "2", "id_tag": "card7"})
    payload = rig.fake.calls[-1][1]
    if version == "1.6":
        assert payload == {"connectorId": 2, "idTag": "card7"}
    else:
        assert payload["evseId"] == 2 and payload["idToken"]["idToken"] == "card7"
        assert payload["remoteStartId"] == 43  # unique per request
    await rig.run("start_charging", {}, connector=3)  # connector from the topic
    assert rig.last[1].get("connectorId", rig.last[1].get("evseId")) == 3
    assert (await rig.run("start_charging", {"connector": 0})).status == INVALID


async def test_start_charging_refused_while_charging_is_disabled() -> None:
    rig = Rig()
    await rig.run("set_charging_enabled", {"enabled": "off"})
    result = await rig.run("start_charging")
    assert result.status == INVALID and "disabled" in result.reason
    assert rig.fake.calls == []


@pytest.mark.parametrize("version", VERSIONS)
async def test_stop_charging(version: str) -> None:
    rig = Rig(version)
    result = await rig.run("stop_charging")
    assert result.status == INVALID
    assert result.reason == "no transaction in progress on connector 1"
    rig.cp.connector(2).transaction_id = "17" if version == "1.6" else "a7f3-17"
    assert (await rig.run("stop_charging", {"connector": 2})).ok
    if version == "1.6":
        assert rig.last == ("RemoteStopTransaction", {"transactionId": 17})
    else:
        assert rig.last == ("RequestStopTransaction", {"transactionId": "a7f3-17"})
    await rig.run("stop_charging", {"transaction_id": "99"})
    assert rig.last[1] == {"transactionId": 99 if version == "1.6" else "99"}


@pytest.mark.parametrize("version", VERSIONS)
async def test_set_available(version: str) -> None:
    rig = Rig(version)
    await rig.run("set_available", {"available": "OFF"})
    await rig.run("set_available", {"value": "ON"}, connector=2)
    if version == "1.6":
        assert rig.fake.calls == [
            ("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}),
            ("ChangeAvailability", {"connectorId": 2, "type": "Operative"})]
    else:
        assert rig.fake.calls == [
            ("ChangeAvailability", {"operationalStatus": "Inoperative"}),
            ("ChangeAvailability", {"operationalStatus": "Operative", "evse": {"id": 2}})]
    result = await rig.run("set_available", {"available": "maybe"})
    assert result.status == INVALID and "ON/OFF" in result.reason
    assert (await rig.run("set_available", {})).status == INVALID


@pytest.mark.parametrize("version", VERSIONS)
async def test_reset(version: str) -> None:
    rig = Rig(version)
    for given in (None, {"type": "soft"}, {"type": "HARD"}, {"value": "PRESS"}):
        assert (await rig.run("reset", given)).ok
    types = [p["type"] for _, p in rig.fake.calls]
    if version == "1.6":
        assert types == ["Soft", "Soft", "Hard", "Soft"]
    else:
        assert types == ["OnIdle", "OnIdle", "Immediate", "OnIdle"]
    assert (await rig.run("reset", {"type": "sideways"})).status == INVALID
    result = await rig.run("reset", {"type": "hard", "connector": 2})
    if version == "1.6":
        assert result.status == INVALID and "whole charge point" in result.reason
    else:
        assert rig.last == ("Reset", {"type": "Immediate", "evseId": 2})


@pytest.mark.parametrize("version", VERSIONS)
async def test_unlock(version: str) -> None:
    rig = Rig(version)
    await rig.run("unlock")
    await rig.run("unlock", {"value": "PRESS"}, connector=2)
    if version == "1.6":
        assert [p for _, p in rig.fake.calls] == [{"connectorId": 1}, {"connectorId": 2}]
    else:
        assert [p for _, p in rig.fake.calls] == [{"evseId": 1, "connectorId": 1},
                                                  {"evseId": 2, "connectorId": 1}]
    rig.fake.answer("UnlockConnector", {"status": "Unlocked"})
    assert (await rig.run("unlock")).ok


@pytest.mark.parametrize("version", VERSIONS)
async def test_get_configuration(version: str) -> None:
    rig = Rig(version)
    await rig.run("get_configuration")
    if version == "1.6":
        await rig.run("get_configuration",
                      {"keys": ["HeartbeatInterval", "MeterValueSampleInterval"]})
        await rig.run("get_configuration", {"keys": "HeartbeatInterval"})
        assert rig.fake.calls == [
            ("GetConfiguration", {}),
            ("GetConfiguration", {"key": ["HeartbeatInterval", "MeterValueSampleInterval"]}),
            ("GetConfiguration", {"key": ["HeartbeatInterval"]})]
        return
    assert rig.fake.calls == [("GetBaseReport", {"requestId": 42,
                                                 "reportBase": "ConfigurationInventory"})]
    await rig.run("get_configuration",
                  {"keys": ["OCPPCommCtrlr.HeartbeatInterval", "EVSE[1].Power[max]"]})
    assert rig.last == ("GetVariables", {"getVariableData": [
        {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
        {"component": {"name": "EVSE", "instance": "1"},
         "variable": {"name": "Power", "instance": "max"}}]})
    result = await rig.run("get_configuration", {"keys": ["HeartbeatInterval"]})
    assert result.status == INVALID and "Component.Variable" in result.reason


@pytest.mark.parametrize("version", VERSIONS)
async def test_change_configuration(version: str) -> None:
    rig = Rig(version)
    key = "HeartbeatInterval" if version == "1.6" else "OCPPCommCtrlr.HeartbeatInterval"
    await rig.run("change_configuration", {"key": key, "value": 60})
    await rig.run("change_configuration", {"key": key, "value": True})
    if version == "1.6":
        assert [p for _, p in rig.fake.calls] == [
            {"key": "HeartbeatInterval", "value": "60"},
            {"key": "HeartbeatInterval", "value": "true"}]
    else:
        assert rig.fake.calls[0] == ("SetVariables", {"setVariableData": [{
            "attributeValue": "60", "component": {"name": "OCPPCommCtrlr"},
            "variable": {"name": "HeartbeatInterval"}}]})
        assert rig.last[1]["setVariableData"][0]["attributeValue"] == "true"
    assert (await rig.run("change_configuration", {"key": key})).status == INVALID
    assert (await rig.run("change_configuration", {"value": 1})).status == INVALID


@pytest.mark.parametrize("version", VERSIONS)
async def test_trigger(version: str) -> None:
    rig = Rig(version)
    await rig.run("trigger", {"message": "boot_notification"})
    await rig.run("trigger", {"message": "StatusNotification", "connector": 1})
    if version == "1.6":
        assert [p for _, p in rig.fake.calls] == [
            {"requestedMessage": "BootNotification"},
            {"requestedMessage": "StatusNotification", "connectorId": 1}]
        result = await rig.run("trigger", {"message": "TransactionEvent"})
        assert result.status == INVALID and "DiagnosticsStatusNotification" in result.reason
    else:
        assert [p for _, p in rig.fake.calls] == [
            {"requestedMessage": "BootNotification"},
            {"requestedMessage": "StatusNotification", "evse": {"id": 1}}]
        assert (await rig.run("trigger", {"message": "transaction_event"})).ok
    assert (await rig.run("trigger", {})).status == INVALID


async def test_set_charging_enabled_values() -> None:
    rig = Rig()
    for value, expected in (("OFF", False), ("on", True), (0, False), ("yes", True),
                            ("no", False), (1, True), ("false", False), (True, True)):
        result = await rig.run("set_charging_enabled", {"enabled": value})
        assert result.result == {"charging_enabled": expected}
        assert rig.cp.charging_enabled is expected
    assert (await rig.run("set_charging_enabled", {"enabled": "perhaps"})).status == INVALID
    assert rig.fake.calls == []


def test_as_bool_forms() -> None:
    assert [as_bool(v, "x") for v in ("ON", "off", "1", "0", "YES", "No", 1, 0)] == \
        [True, False, True, False, True, False, True, False]
    with pytest.raises(BadCommand):
        as_bool(2, "x")


async def test_unknown_argument_is_refused() -> None:
    rig = Rig()
    result = await rig.run("set_current_limit", {"amp": 16})
    assert result.status == INVALID and "amp" in result.reason and "amps" in result.reason
    assert rig.fake.calls == []


# ---- limits ----------------------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
async def test_current_limit_payloads(version: str) -> None:
    rig = Rig(version)
    result = await rig.run("set_current_limit", {"amps": "16"})
    assert result.ok and result.action == "SetChargingProfile"
    _, payload = rig.last
    if version == "1.6":
        assert payload == {"connectorId": 0, "csChargingProfiles": {
            "chargingProfileId": 2000, "stackLevel": 0, "chargingProfileKind": "Relative",
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingSchedule": {"chargingRateUnit": "A",
                                 "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}]}}}
    else:
        assert payload == {"evseId": 0, "chargingProfile": {
            "id": 2000, "stackLevel": 0, "chargingProfileKind": "Relative",
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingSchedule": [{"id": 2000, "chargingRateUnit": "A",
                                  "chargingSchedulePeriod": [{"startPeriod": 0,
                                                              "limit": 16.0}]}]}}
    assert rig.cp.connectors[0].limit_a == 16.0 and rig.cp.connectors[0].limit_w is None
    await rig.clock.advance(10)
    assert (await rig.run("set_power_limit", {"watts": 7360.04})).ok
    assert _schedule(rig.last[1])["chargingRateUnit"] == "W"
    assert _schedule(rig.last[1])["chargingSchedulePeriod"][0]["limit"] == 7360.0
    assert rig.cp.connectors[0].limit_w == 7360.0 and rig.cp.connectors[0].limit_a is None


def _schedule(payload: dict[str, Any]) -> dict[str, Any]:
    if "csChargingProfiles" in payload:
        return payload["csChargingProfiles"]["chargingSchedule"]  # type: ignore[no-any-return]
    return payload["chargingProfile"]["chargingSchedule"][0]  # type: ignore[no-any-return]


def _purpose(payload: dict[str, Any]) -> str:
    profile = payload.get("csChargingProfiles") or payload["chargingProfile"]
    return profile["chargingProfilePurpose"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("version", VERSIONS)
async def test_purpose_fallback(version: str) -> None:
    rig = Rig(version)
    rig.fake.answer("SetChargingProfile", {"status": "Rejected"}, {"status": "Accepted"})
    result = await rig.run("set_current_limit", {"amps": 10})
    assert result.status == ANSWERED and result.ok
    max_name = "ChargePointMaxProfile" if version == "1.6" else "ChargingStationMaxProfile"
    assert [_purpose(p) for _, p in rig.fake.calls] == ["TxDefaultProfile", max_name]
    assert [s["purpose"] for s in result.steps] == ["TxDefaultProfile", "ChargePointMaxProfile"]
    assert [s["result"]["status"] for s in result.steps] == ["Rejected", "Accepted"]
    assert "ChargePointMaxProfile" in result.reason
    # the max profile is Absolute from a start in the past, on connector 0 only
    payload = rig.last[1]
    assert _schedule(payload)["startSchedule"] == "2020-01-01T00:00:00Z"
    assert rig.limits.accepted_purpose("CP1") == "ChargePointMaxProfile"
    # next time the accepted purpose goes first
    await rig.clock.advance(10)
    rig.fake.calls.clear()
    assert (await rig.run("set_current_limit", {"amps": 12})).ok
    assert [_purpose(p) for _, p in rig.fake.calls] == [max_name]
    assert rig.cp.connectors[0].limit_a == 12


async def test_rejected_by_every_purpose() -> None:
    rig = Rig()
    rig.fake.answer("SetChargingProfile", {"status": "Rejected"}, {"status": "NotSupported"})
    result = await rig.run("set_current_limit", {"amps": 10})
    assert result.status == ANSWERED and not result.ok
    assert result.result == {"status": "NotSupported"}
    assert "TxDefaultProfile (Rejected)" in result.reason
    assert "ChargePointMaxProfile (NotSupported)" in result.reason
    assert len(result.steps) == 2 and rig.cp.connector(0).limit_a is None


async def test_callerror_tries_next_purpose_but_offline_stops() -> None:
    rig = Rig()
    error = CommandResult(REJECTED, "SetChargingProfile",
                          error={"code": "PropertyConstraintViolation", "description": ""})
    rig.fake.answer("SetChargingProfile", error, {"status": "Accepted"})
    assert (await rig.run("set_current_limit", {"amps": 10})).ok
    assert len(rig.fake.calls) == 2
    rig2 = Rig()
    rig2.fake.answer("SetChargingProfile", CommandResult(OFFLINE, "SetChargingProfile"))
    result = await rig2.run("set_current_limit", {"amps": 10})
    assert result.status == OFFLINE and len(rig2.fake.calls) == 1


@pytest.mark.parametrize("version", VERSIONS)
async def test_tx_profile_needs_a_transaction(version: str) -> None:
    rig = Rig(version, limit_purposes=["TxProfile", "TxDefaultProfile"])
    assert (await rig.run("set_current_limit", {"amps": 8}, connector=1)).ok
    assert [_purpose(p) for _, p in rig.fake.calls] == ["TxDefaultProfile"]
    tx = "5" if version == "1.6" else "tx-5"
    rig.cp.connector(1).transaction_id = tx
    rig.fake.calls.clear()
    await rig.clock.advance(10)
    result = await rig.run("set_current_limit", {"amps": 9}, connector=1)
    assert result.ok and "TxProfile" in result.reason
    _, payload = rig.fake.calls[0]
    profile = payload.get("csChargingProfiles") or payload["chargingProfile"]
    assert profile["chargingProfilePurpose"] == "TxProfile"
    assert profile["transactionId"] == (5 if version == "1.6" else "tx-5")
    assert profile.get("chargingProfileId", profile.get("id")) == PROFILE_ID_BASE["TxProfile"] + 1
    # the TxDefaultProfile of 8 A would still be there: it is cleared
    assert rig.fake.calls[1] == ("ClearChargingProfile", {"id": 2001} if version == "1.6"
                                 else {"chargingProfileId": 2001})


async def test_no_purpose_applies() -> None:
    rig = Rig(limit_purposes=["ChargePointMaxProfile"])
    result = await rig.run("set_current_limit", {"amps": 8, "connector": 1})
    assert result.status == INVALID and "only on connector 0" in result.reason
    assert rig.fake.calls == []


async def test_limit_values_checked() -> None:
    rig = Rig()
    assert (await rig.run("set_current_limit", {"amps": -1})).status == INVALID
    assert (await rig.run("set_current_limit", {"amps": "lots"})).status == INVALID
    assert (await rig.run("set_current_limit", {})).status == INVALID
    assert (await rig.run("set_current_limit", {"amps": 6, "connector": 1000})).status == INVALID
    assert rig.fake.calls == []
    assert (await rig.run("set_current_limit", {"amps": 0})).ok  # 0 A: pause, not refused
    assert _schedule(rig.last[1])["chargingSchedulePeriod"][0]["limit"] == 0.0


async def test_rate_limit_newest_value_wins() -> None:
    rig = Rig()
    first = await rig.run("set_current_limit", {"amps": 6})
    assert first.ok and len(rig.fake.calls) == 1
    await rig.clock.advance(3)
    second = rig.start("set_current_limit", {"amps": 7})
    await settle()
    third = rig.start("set_current_limit", {"amps": 8})
    await settle()
    assert second.done() and not third.done()
    assert second.result().status == LIMITED
    assert "superseded" in second.result().reason
    assert len(rig.fake.calls) == 1  # nothing sent inside the interval
    await rig.clock.advance(6.9)
    assert not third.done()
    await rig.clock.advance(0.2)
    assert third.done() and third.result().ok
    assert len(rig.fake.calls) == 2
    assert _schedule(rig.last[1])["chargingSchedulePeriod"][0]["limit"] == 8.0
    assert rig.cp.connectors[0].limit_a == 8.0


async def test_rate_limit_unchanged_value_answered_at_once() -> None:
    rig = Rig()
    assert (await rig.run("set_current_limit", {"amps": 16})).ok
    again = await rig.run("set_current_limit", {"amps": "16.0"})
    assert again.status == ANSWERED and again.ok and "unchanged" in again.reason
    assert again.action == "set_current_limit" and len(rig.fake.calls) == 1
    # a pending different value is superseded by a return to the value the charger has
    pending = rig.start("set_current_limit", {"amps": 10})
    await settle()
    back = await rig.run("set_current_limit", {"amps": 16})
    await settle()
    assert pending.result().status == LIMITED and "unchanged" in back.reason
    assert len(rig.fake.calls) == 1
    # when the hub forgets the limit (state reset), the same value is sent again
    rig.cp.connectors[0].limit_a = None
    await rig.clock.advance(10)
    assert "unchanged" not in (await rig.run("set_current_limit", {"amps": 16})).reason
    assert len(rig.fake.calls) == 2


async def test_rate_limit_after_interval_sends_at_once() -> None:
    rig = Rig(limit_min_interval=5)
    await rig.run("set_current_limit", {"amps": 6})
    await rig.clock.advance(5)
    task = rig.start("set_current_limit", {"amps": 7})
    await settle()
    assert task.done() and task.result().ok and len(rig.fake.calls) == 2


async def test_rate_limit_is_per_connector_and_interval_zero() -> None:
    rig = Rig()
    await rig.run("set_current_limit", {"amps": 6, "connector": 1})
    assert (await rig.run("set_current_limit", {"amps": 6, "connector": 2})).ok
    assert len(rig.fake.calls) == 2
    fast = Rig(limit_min_interval=0)
    for amps in (6, 7, 8):
        assert (await fast.run("set_current_limit", {"amps": amps})).ok
    assert len(fast.fake.calls) == 3


async def test_offline_does_not_use_up_the_interval() -> None:
    rig = Rig()
    rig.fake.answer("SetChargingProfile", CommandResult(OFFLINE, "SetChargingProfile"),
                    {"status": "Accepted"})
    assert (await rig.run("set_current_limit", {"amps": 6})).status == OFFLINE
    task = rig.start("set_current_limit", {"amps": 6})
    await settle()
    assert task.done() and task.result().ok


async def test_new_value_waits_for_a_send_in_flight() -> None:
    rig = Rig(limit_min_interval=0)
    rig.fake.gate = asyncio.Event()
    first = rig.start("set_current_limit", {"amps": 6})
    await settle()
    second = rig.start("set_current_limit", {"amps": 7})
    third = rig.start("set_current_limit", {"amps": 8})
    await settle()
    assert len(rig.fake.calls) == 1 and second.done() and second.result().status == LIMITED
    rig.fake.gate.set()
    await settle()
    assert first.result().ok and third.result().ok
    assert [_schedule(p)["chargingSchedulePeriod"][0]["limit"] for _, p in rig.fake.calls] \
        == [6.0, 8.0]


async def test_cancelled_waiter_leaves_the_slot_clean() -> None:
    rig = Rig()
    await rig.run("set_current_limit", {"amps": 6})
    task = rig.start("set_current_limit", {"amps": 7})
    await settle()
    task.cancel()
    await settle()
    await rig.clock.advance(10)
    assert (await rig.run("set_current_limit", {"amps": 8})).ok
    assert len(rig.fake.calls) == 2


@pytest.mark.parametrize("version", VERSIONS)
async def test_clear_limit(version: str) -> None:
    rig = Rig(version)
    # nothing known (e.g. after a restart): every id we may have used on the connector
    result = await rig.run("clear_limit")
    expected = [{"id": 1000}, {"id": 2000}] if version == "1.6" else \
        [{"chargingProfileId": 1000}, {"chargingProfileId": 2000}]
    assert rig.fake.calls == [("ClearChargingProfile", p) for p in expected]
    assert result.ok and len(result.steps) == 2
    # cleared twice: the second is unchanged
    assert "unchanged" in (await rig.run("clear_limit")).reason
    assert len(rig.fake.calls) == 2
    # after a limit, only its profile
    await rig.clock.advance(10)
    await rig.run("set_current_limit", {"amps": 10, "connector": 1})
    await rig.clock.advance(10)
    rig.fake.calls.clear()
    result = await rig.run("clear_limit", {"connector": 1})
    assert rig.fake.calls == [("ClearChargingProfile",
                               {"id": 2001} if version == "1.6" else {"chargingProfileId": 2001})]
    assert result.ok and rig.cp.connectors[1].limit_a is None


async def test_clear_limit_unknown_is_answered_honestly() -> None:
    rig = Rig()
    rig.fake.answer("ClearChargingProfile", {"status": "Unknown"})
    result = await rig.run("clear_limit", {"connector": 2})
    assert result.status == ANSWERED and result.result == {"status": "Unknown"}
    assert [p for _, p in rig.fake.calls] == [{"id": 2002}, {"id": 3002}]


async def test_raw_charging_profile_commands_forget_what_we_know() -> None:
    rig = Rig()
    await rig.run("set_current_limit", {"amps": 16})
    await rig.run("ClearChargingProfile", {})
    rig.cp.connectors[0].limit_a = 16  # the hub did not reset it: still sent again
    await rig.clock.advance(10)
    result = await rig.run("set_current_limit", {"amps": 16})
    assert "unchanged" not in result.reason
    assert rig.fake.actions() == ["SetChargingProfile", "ClearChargingProfile",
                                  "SetChargingProfile"]


async def test_every_high_level_payload_is_schema_valid_on_every_version() -> None:
    """A sweep: each command with typical arguments, on each version; the fake checks the
    schema of every call (a failure raises inside `call`)."""
    commands: list[tuple[str, dict[str, Any]]] = [
        ("start_charging", {}), ("set_current_limit", {"amps": 13.3}),
        ("set_power_limit", {"watts": 3680}), ("clear_limit", {}),
        ("set_available", {"available": True}), ("reset", {"type": "hard"}),
        ("unlock", {}), ("trigger", {"message": "MeterValues", "connector": 1}),
    ]
    for version in VERSIONS:
        rig = Rig(version, limit_min_interval=0)
        rig.cp.connector(1).transaction_id = "3"
        for name, args in [*commands, ("stop_charging", {})]:
            result = await rig.run(name, args)
            assert result.status == ANSWERED, (version, name, result)

