"""Every payload the simulator builds, and every answer it gives to the central system's CALLs,
validates against the official OCPP schemas of its version (the gateway's `Schemas`)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from ocpp_mqtt.ocppj.validation import Schemas
from ocpp_mqtt.ocppj.versions import Version
from ocpp_mqtt.simulate import commands, messages
from ocpp_mqtt.simulate.meter import Meter
from ocpp_mqtt.simulate.station import Connector, Station, Transaction, default_keys

SCHEMAS = Schemas()
V2X = (Version.V201, Version.V21)


def valid(version: Version, action: str, payload: dict[str, Any], *, response: bool) -> None:
    problem = SCHEMAS.check(version, action, payload, response=response)
    assert problem is None, f"{version.value} {action}{' response' if response else ''}: " \
        f"{problem.describe()} in {payload}"


def charging_meter() -> Meter:
    meter = Meter(random.Random(1))
    meter.plug_in()
    meter.charging = True
    meter.advance(0)
    meter.advance(60)
    return meter


def station(connectors: int = 2) -> Station:
    rng = random.Random(2)
    return Station([Connector(i + 1, Meter(rng)) for i in range(connectors)],
                   default_keys(connectors, 60, 30), 11_000.0)


@pytest.mark.parametrize("version", list(Version))
def test_charge_point_messages_validate(version: Version) -> None:
    meter = charging_meter()
    valid(version, "BootNotification", messages.boot(version, "SIM0001"), response=False)
    valid(version, "Heartbeat", {}, response=False)
    valid(version, "Authorize", messages.authorize(version, "TAG1"), response=False)
    for state in ("Available", "Preparing", "Charging", "SuspendedEV", "Finishing",
                  "Unavailable", "Faulted"):
        valid(version, "StatusNotification", messages.status(version, 1, state), response=False)
    if version is Version.V16:
        valid(version, "StatusNotification", messages.status(version, 0, "Available"),
              response=False)
        valid(version, "StartTransaction", messages.start_transaction(1, "TAG1", 1234),
              response=False)
        valid(version, "MeterValues", messages.meter_values_16(1, 17, meter), response=False)
        valid(version, "MeterValues", messages.meter_values_16(1, None, meter, "Trigger"),
              response=False)
        for reason in ("Local", "EVDisconnected", "Remote", "HardReset", "SoftReset",
                       "UnlockCommand", "DeAuthorized"):
            valid(version, "StopTransaction",
                  messages.stop_transaction(17, 2345, reason, "TAG1"), response=False)
        for what in ("DiagnosticsStatusNotification", "FirmwareStatusNotification"):
            valid(version, what, {"status": "Idle"}, response=False)
        return
    valid(version, "MeterValues", messages.meter_values_2x(version, 1, meter), response=False)
    for what in ("LogStatusNotification", "FirmwareStatusNotification"):
        valid(version, what, {"status": "Idle"}, response=False)
    tx = "0e3b5c1d-7f0a-4b1c-8d2e-3f4a5b6c7d8e"
    for event, trigger, extra in (
            ("Started", "Authorized", {"id_tag": "TAG1", "charging_state": "Charging",
                                       "context": "Transaction.Begin"}),
            ("Started", "RemoteStart", {"id_tag": "TAG1", "charging_state": "Charging",
                                        "remote_start_id": 7, "offline": True}),
            ("Updated", "MeterValuePeriodic", {"charging_state": "Charging"}),
            ("Updated", "Trigger", {"context": "Trigger"}),
            ("Ended", "StopAuthorized", {"charging_state": "Idle", "stopped_reason": "Local",
                                         "context": "Transaction.End"}),
            ("Ended", "RemoteStop", {"stopped_reason": "Remote"}),
            ("Ended", "ResetCommand", {"stopped_reason": "ImmediateReset"}),
            ("Ended", "EVCommunicationLost", {"stopped_reason": "EVDisconnected"}),
            ("Ended", "UnlockCommand", {"stopped_reason": "Other"}),
            ("Ended", "Deauthorized", {"stopped_reason": "DeAuthorized"})):
        payload = messages.transaction_event(event, transaction_id=tx, seq_no=3,
                                             trigger=trigger, evse=1, meter=meter,
                                             version=version, **extra)
        valid(version, "TransactionEvent", payload, response=False)


def test_meter_values_carry_every_phase_and_soc() -> None:
    """Energy register, power, current and voltage per phase (L1-L3), SoC while charging."""
    meter = charging_meter()
    samples = messages.sampled_values(Version.V201, meter, "Sample.Periodic")
    keys = {(s["measurand"], s.get("phase")) for s in samples}
    assert keys == {("Energy.Active.Import.Register", None), ("Power.Active.Import", None),
                    ("Current.Import", "L1"), ("Current.Import", "L2"),
                    ("Current.Import", "L3"), ("Voltage", "L1-N"), ("Voltage", "L2-N"),
                    ("Voltage", "L3-N"), ("SoC", None)}
    samples16 = messages.sampled_values(Version.V16, meter, "Sample.Periodic")
    assert all(isinstance(s["value"], str) for s in samples16)  # 1.6 values are strings
    assert {s["unit"] for s in samples16} == {"Wh", "W", "A", "V", "Percent"}


# (action, request, expected status or None) per version; every request is itself valid
PROFILE16 = {"chargingProfileId": 5, "stackLevel": 1, "chargingProfilePurpose":
             "TxDefaultProfile", "chargingProfileKind": "Absolute",
             "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [
                 {"startPeriod": 0, "limit": 10.0}]}}
PROFILE2X = {"id": 5, "stackLevel": 1, "chargingProfilePurpose": "TxDefaultProfile",
             "chargingProfileKind": "Absolute", "chargingSchedule": [
                 {"id": 1, "chargingRateUnit": "W", "chargingSchedulePeriod": [
                     {"startPeriod": 0, "limit": 4000.0}]}]}
CASES_16: list[tuple[str, dict[str, Any], Any]] = [
    ("RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 1}, "Accepted"),
    ("RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 9}, "Rejected"),
    ("RemoteStopTransaction", {"transactionId": 99}, "Rejected"),
    ("GetConfiguration", {}, None),
    ("GetConfiguration", {"key": ["HeartbeatInterval", "Nope"]}, None),
    ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "120"}, "Accepted"),
    ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "soon"}, "Rejected"),
    ("ChangeConfiguration", {"key": "NumberOfConnectors", "value": "4"}, "Rejected"),
    ("ChangeConfiguration", {"key": "Nope", "value": "1"}, "NotSupported"),
    ("Reset", {"type": "Soft"}, "Accepted"),
    ("TriggerMessage", {"requestedMessage": "MeterValues", "connectorId": 1}, "Accepted"),
    ("TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 7},
     "Rejected"),
    ("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": PROFILE16}, "Accepted"),
    ("GetCompositeSchedule", {"connectorId": 1, "duration": 3600}, "Accepted"),
    ("GetCompositeSchedule", {"connectorId": 1, "duration": 60, "chargingRateUnit": "W"},
     "Accepted"),
    ("ClearChargingProfile", {"id": 5}, "Accepted"),
    ("ClearChargingProfile", {"id": 5}, "Unknown"),
    ("ChangeAvailability", {"connectorId": 2, "type": "Inoperative"}, "Accepted"),
    ("ChangeAvailability", {"connectorId": 0, "type": "Operative"}, "Accepted"),
    ("UnlockConnector", {"connectorId": 1}, "Unlocked"),
    ("DataTransfer", {"vendorId": "acme"}, "UnknownVendorId"),
    ("DataTransfer", {"vendorId": "ocpp-mqtt", "data": "ping"}, "Accepted"),
    ("ClearCache", {}, "Accepted"),
    ("GetLocalListVersion", {}, None),
]
CASES_2X: list[tuple[str, dict[str, Any], Any]] = [
    ("RequestStartTransaction", {"idToken": {"idToken": "T1", "type": "Central"},
                                 "remoteStartId": 4, "evseId": 1}, "Accepted"),
    ("RequestStopTransaction", {"transactionId": "nope"}, "Rejected"),
    ("GetVariables", {"getVariableData": [
        {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
        {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "Nope"}},
        {"component": {"name": "Nope"}, "variable": {"name": "Nope"}},
        {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"},
         "attributeType": "Target"}]}, None),
    ("SetVariables", {"setVariableData": [
        {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"},
         "attributeValue": "90"},
        {"component": {"name": "SmartChargingCtrlr"}, "variable": {"name": "RateUnit"},
         "attributeValue": "A"}]}, None),
    ("Reset", {"type": "OnIdle"}, "Accepted"),
    ("Reset", {"type": "Immediate", "evseId": 1}, "Rejected"),
    ("TriggerMessage", {"requestedMessage": "TransactionEvent", "evse": {"id": 1}},
     "Accepted"),
    ("TriggerMessage", {"requestedMessage": "SignV2GCertificate"}, "NotImplemented"),
    ("SetChargingProfile", {"evseId": 1, "chargingProfile": PROFILE2X}, "Accepted"),
    ("GetCompositeSchedule", {"evseId": 1, "duration": 600}, "Accepted"),
    ("ClearChargingProfile", {"chargingProfileCriteria": {"evseId": 1}}, "Accepted"),
    ("ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 2}},
     "Accepted"),
    ("UnlockConnector", {"evseId": 1, "connectorId": 1}, "Unlocked"),
    ("UnlockConnector", {"evseId": 5, "connectorId": 1}, "UnknownConnector"),
    ("DataTransfer", {"vendorId": "acme"}, "UnknownVendorId"),
    ("ClearCache", {}, "Accepted"),
    ("GetTransactionStatus", {}, None),
    ("GetLocalListVersion", {}, None),
]


@pytest.mark.parametrize("version", list(Version))
def test_answers_to_remote_commands_validate(version: Version) -> None:
    st = station()
    cases = CASES_16 if version is Version.V16 else CASES_2X
    for action, request, expected in cases:
        valid(version, action, request, response=False)
        reply, _effects = commands.answer(st, version, action, request)
        assert not reply.error, (action, reply)
        assert reply.payload is not None
        valid(version, action, reply.payload, response=True)
        if expected is not None:
            assert reply.payload["status"] == expected, (action, request, reply.payload)
    assert commands.SUPPORTED[version] >= {a for a, _, _ in cases}


def test_remote_start_and_stop_effects_16() -> None:
    st = station()
    reply, effects = commands.answer(st, Version.V16, "RemoteStartTransaction",
                                     {"idTag": "TAG9"})
    assert reply.payload == {"status": "Accepted"}
    assert effects == [commands.StartCharging(1, "TAG9")]  # the first free connector
    st.connectors[0].transaction = Transaction(1, "TAG9", 42, 0)
    reply, effects = commands.answer(st, Version.V16, "RemoteStopTransaction",
                                     {"transactionId": 42})
    assert reply.payload == {"status": "Accepted"}
    assert effects == [commands.StopCharging(1, "Remote")]
    # a busy connector cannot take a remote start; ChangeAvailability waits for the end
    reply, _ = commands.answer(st, Version.V16, "RemoteStartTransaction",
                               {"idTag": "T", "connectorId": 1})
    assert reply.payload == {"status": "Rejected"}
    reply, _ = commands.answer(st, Version.V16, "ChangeAvailability",
                               {"connectorId": 1, "type": "Inoperative"})
    assert reply.payload == {"status": "Scheduled"}
    assert st.connectors[0].inoperative_after_transaction


def test_charging_profile_limits_the_meter() -> None:
    st = station(1)
    meter = st.connectors[0].meter
    meter.plug_in()
    meter.ev_max_w = 11_000.0
    meter.soc = 20.0
    meter.charging = True
    commands.answer(st, Version.V16, "SetChargingProfile",
                    {"connectorId": 1, "csChargingProfiles": PROFILE16})  # 10 A, 3 phases
    meter.advance(10)
    assert 0 < meter.power_w <= 10 * 230 * 3
    assert max(meter.current_a) <= 10.5
    commands.answer(st, Version.V16, "ClearChargingProfile", {})
    meter.advance(10)
    assert meter.power_w > 10 * 230 * 3


def test_unsupported_known_action_is_not_supported() -> None:
    """ER-04: a known action the charge point does not implement gets NotSupported."""
    reply, effects = commands.answer(station(), Version.V16, "ReserveNow", {})
    assert reply.error == "NotSupported" and not effects
    reply, _ = commands.answer(station(), Version.V201, "GetConfiguration", {})
    assert reply.error == "NotSupported"  # a 1.6 action on a 2.0.1 charge point


def test_reset_on_idle_waits_for_the_transaction() -> None:
    st = station(1)
    st.connectors[0].transaction = Transaction(1, "T", "abc", 0)
    reply, effects = commands.answer(st, Version.V201, "Reset", {"type": "OnIdle"})
    assert reply.payload == {"status": "Scheduled"} and not effects
    assert st.reset_when_idle
