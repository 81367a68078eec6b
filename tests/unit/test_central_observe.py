"""The central-mode state updater (modes/central/observe.py, readings.py): realistic 1.6 and
2.0.1 payloads in, ChargePointState out; junk never raises."""

from __future__ import annotations

import logging
import math
import random
from typing import Any

import orjson
import pytest

from ocpp_mqtt.modes.central import readings as rd
from ocpp_mqtt.modes.central.observe import connected, disconnected, observe
from ocpp_mqtt.modes.central.state import ChargePointState

NOW = "2026-11-22T10:00:00Z"
T0 = "2026-11-22T09:00:00Z"


def cp16() -> ChargePointState:
    cp = ChargePointState("CP1", "CP1")
    connected(cp, "1.6", "192.0.2.7", T0)
    return cp


def cp201() -> ChargePointState:
    cp = ChargePointState("CS1", "CS1")
    connected(cp, "2.0.1", "192.0.2.8", T0)
    return cp


def sv(value: str, measurand: str | None = None, **extra: str) -> dict[str, Any]:
    out: dict[str, Any] = {"value": value, **extra}
    if measurand:
        out["measurand"] = measurand
    return out


def sv2(value: float, measurand: str | None = None, unit: str | None = None,
        multiplier: int | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"value": value, **extra}
    if measurand:
        out["measurand"] = measurand
    if unit is not None or multiplier is not None:
        out["unitOfMeasure"] = {k: v for k, v in (("unit", unit), ("multiplier", multiplier))
                                if v is not None}
    return out


# ---- charge point level -----------------------------------------------------------------------

def test_boot_16_takes_every_field_and_the_registration() -> None:
    cp = cp16()
    changed = observe(cp, "1.6", "BootNotification", {
        "chargePointVendor": "United Chargers", "chargePointModel": "Grizzl-E",
        "chargePointSerialNumber": "GE-0001", "chargeBoxSerialNumber": "CB-0001",
        "firmwareVersion": "05.650.04", "iccid": "8944500102198304826", "imsi": "234507091",
        "meterType": "internal", "meterSerialNumber": "M-77"},
        {"status": "Accepted", "currentTime": NOW, "interval": 300}, NOW)
    assert changed == {0}
    assert (cp.vendor, cp.model, cp.serial_number, cp.charge_box_serial_number) == (
        "United Chargers", "Grizzl-E", "GE-0001", "CB-0001")
    assert (cp.firmware_version, cp.iccid, cp.imsi, cp.meter_type, cp.meter_serial_number) == (
        "05.650.04", "8944500102198304826", "234507091", "internal", "M-77")
    assert (cp.registration, cp.booted_at, cp.last_seen) == ("Accepted", NOW, NOW)
    # a new boot describes the charge point anew; a CALLERROR leaves the registration alone
    observe(cp, "1.6", "BootNotification",
            {"chargePointVendor": "United Chargers", "chargePointModel": "Grizzl-E"}, None, NOW)
    assert cp.firmware_version is None and cp.registration == "Accepted"


def test_boot_201_maps_charging_station_and_modem() -> None:
    cp = cp201()
    observe(cp, "2.0.1", "BootNotification", {
        "reason": "PowerUp", "chargingStation": {
            "vendorName": "Alfen BV", "model": "Eve Single Pro-line", "serialNumber": "ACE0001",
            "firmwareVersion": "6.4.0-4182", "modem": {"iccid": "8931", "imsi": "2041"}}},
        {"currentTime": NOW, "interval": 60, "status": "Pending"}, NOW)
    assert (cp.vendor, cp.model, cp.serial_number, cp.firmware_version) == (
        "Alfen BV", "Eve Single Pro-line", "ACE0001", "6.4.0-4182")
    assert (cp.iccid, cp.imsi, cp.boot_reason, cp.registration) == (
        "8931", "2041", "PowerUp", "Pending")


def test_heartbeat_and_last_seen() -> None:
    cp = cp16()
    assert observe(cp, "1.6", "Heartbeat", {}, {"currentTime": NOW}, NOW) == {0}
    assert cp.heartbeat_at == cp.last_seen == NOW
    # last_seen alone is no change: nothing to republish
    later = "2026-11-22T10:00:05Z"
    assert observe(cp, "1.6", "Authorize", {"idTag": "uc_default_auth"},
                   {"idTagInfo": {"status": "Accepted"}}, later) == set()
    assert observe(cp, "1.6", "DataTransfer", {"vendorId": "x"}, {"status": "Accepted"},
                   later) == set()
    assert cp.last_seen == later


def test_firmware_and_diagnostics_status_apart_from_connector_status() -> None:
    """ocpp2mqtt bug 7: connector 0, connector 1 and firmware/diagnostics status each keep
    their own field."""
    cp = cp16()
    observe(cp, "1.6", "StatusNotification",
            {"connectorId": 0, "errorCode": "NoError", "status": "Available"}, {}, NOW)
    observe(cp, "1.6", "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": "Preparing"}, {}, NOW)
    assert observe(cp, "1.6", "FirmwareStatusNotification", {"status": "Downloading"}, {},
                   NOW) == {0}
    observe(cp, "1.6", "DiagnosticsStatusNotification", {"status": "Uploading"}, {}, NOW)
    assert cp.connectors[0].status == "Available"
    assert cp.connectors[1].status == "Preparing"
    assert (cp.firmware_status, cp.diagnostics_status) == ("Downloading", "Uploading")
    observe(cp, "2.0.1", "LogStatusNotification", {"status": "Uploaded", "requestId": 3}, {}, NOW)
    observe(cp, "2.0.1", "SecurityEventNotification",
            {"type": "FirmwareUpdated", "timestamp": NOW}, {}, NOW)
    assert (cp.diagnostics_status, cp.last_security_event) == ("Uploaded", "FirmwareUpdated")
    assert cp.connectors[1].status == "Preparing"


def test_connected_and_disconnected_zero_power_and_current_but_keep_energy() -> None:
    cp = cp16()
    assert (cp.online, cp.version, cp.connected_at, cp.remote_address) == (
        True, "1.6", T0, "192.0.2.7")
    observe(cp, "1.6", "MeterValues", {"connectorId": 1, "meterValue": [{
        "timestamp": NOW, "sampledValue": [sv("1000"), sv("7200", "Power.Active.Import"),
                                           sv("31.5", "Current.Import")]}]}, {}, NOW)
    observe(cp, "1.6", "StatusNotification",
            {"connectorId": 2, "errorCode": "NoError", "status": "Available"}, {}, NOW)
    assert disconnected(cp, "connection_closed_1006", NOW) == {0, 1}
    c = cp.connectors[1]
    assert (c.power_w, c.current_a, c.energy_wh) == (0.0, 0.0, 1000.0)
    assert cp.connectors[2].power_w is None  # never reported: stays unknown
    assert (cp.online, cp.disconnected_at, cp.disconnect_reason) == (
        False, NOW, "connection_closed_1006")
    connected(cp, "1.6", "192.0.2.7", NOW)
    assert cp.online and cp.disconnect_reason == "connection_closed_1006"


# ---- status ----------------------------------------------------------------------------------

def test_status_16_connector_0_and_n_and_every_field() -> None:
    """ocpp2mqtt bug 7: connector 0 and connector 1 are kept apart."""
    cp = cp16()
    assert observe(cp, "1.6", "StatusNotification", {
        "connectorId": 1, "errorCode": "GroundFailure", "status": "Faulted",
        "info": "RCD tripped", "vendorErrorCode": "E42", "vendorId": "UC",
        "timestamp": "2026-11-22T09:59:58Z"}, {}, NOW) == {1}
    observe(cp, "1.6", "StatusNotification",
            {"connectorId": 0, "errorCode": "NoError", "status": "Available"}, {}, NOW)
    c, c0 = cp.connectors[1], cp.connectors[0]
    assert (c.status, c.ocpp_status, c.error_code, c.info, c.vendor_error_code, c.status_at) == (
        "Faulted", "Faulted", "GroundFailure", "RCD tripped", "E42", "2026-11-22T09:59:58Z")
    assert c.problem and not c0.problem
    assert (c0.status, c0.status_at) == ("Available", NOW)  # no timestamp: the gateway's
    # the next notification says everything about the connector: stale info goes
    observe(cp, "1.6", "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": "Available"}, {}, NOW)
    assert (c.status, c.info, c.vendor_error_code, c.problem) == (
        "Available", None, None, False)
    # the same notification again changes nothing
    assert observe(cp, "1.6", "StatusNotification",
                   {"connectorId": 1, "errorCode": "NoError", "status": "Available"},
                   {}, NOW) == set()


def test_status_16_leaving_charging_zeroes_power() -> None:
    cp = cp16()
    observe(cp, "1.6", "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": "Charging"}, {}, NOW)
    observe(cp, "1.6", "MeterValues", {"connectorId": 1, "meterValue": [{
        "timestamp": NOW, "sampledValue": [sv("11000", "Power.Active.Import", unit="W"),
                                           sv("16", "Current.Import", unit="A")]}]}, {}, NOW)
    assert cp.connectors[1].power_w == 11000
    observe(cp, "1.6", "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": "SuspendedEV"}, {}, NOW)
    assert (cp.connectors[1].power_w, cp.connectors[1].current_a) == (0.0, 0.0)
    assert cp.connectors[1].readings["Power.Active.Import"] == 11000  # as last reported


def test_status_201_occupied_reads_preparing_and_evse_0() -> None:
    cp = cp201()
    observe(cp, "2.0.1", "StatusNotification", {
        "timestamp": "2026-11-22T09:59:00Z", "connectorStatus": "Occupied", "evseId": 1,
        "connectorId": 1}, {}, NOW)
    c = cp.connectors[1]
    assert (c.status, c.ocpp_status, c.status_at, c.plugged) == (
        "Preparing", "Occupied", "2026-11-22T09:59:00Z", True)
    observe(cp, "2.0.1", "StatusNotification", {
        "timestamp": NOW, "connectorStatus": "Unavailable", "evseId": 0, "connectorId": 0}, {},
        NOW)
    assert cp.connectors[0].status == "Unavailable" and c.status == "Preparing"


def test_status_201_second_connector_of_an_evse_does_not_hide_the_first() -> None:
    cp = cp201()
    observe(cp, "2.0.1", "StatusNotification", {
        "timestamp": NOW, "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1}, {}, NOW)
    observe(cp, "2.0.1", "StatusNotification", {
        "timestamp": NOW, "connectorStatus": "Unavailable", "evseId": 1, "connectorId": 2}, {},
        NOW)
    c = cp.connectors[1]
    assert (c.status, c.ocpp_status, c.connector_statuses) == (
        "Preparing", "Occupied", {"1": "Occupied", "2": "Unavailable"})
    observe(cp, "2.0.1", "StatusNotification", {
        "timestamp": NOW, "connectorStatus": "Available", "evseId": 1, "connectorId": 1}, {}, NOW)
    observe(cp, "2.0.1", "StatusNotification", {
        "timestamp": NOW, "connectorStatus": "Available", "evseId": 1, "connectorId": 2}, {}, NOW)
    assert c.status == "Available"


def test_notify_event_availability_state_is_a_connector_status() -> None:
    cp = cp201()
    changed = observe(cp, "2.0.1", "NotifyEvent", {
        "generatedAt": NOW, "seqNo": 0, "eventData": [
            {"eventId": 1, "timestamp": NOW, "trigger": "Delta", "actualValue": "Faulted",
             "eventNotificationType": "HardWiredNotification",
             "component": {"name": "Connector", "evse": {"id": 2, "connectorId": 1}},
             "variable": {"name": "AvailabilityState"}},
            {"eventId": 2, "timestamp": NOW, "trigger": "Alerting", "actualValue": "true",
             "eventNotificationType": "HardWiredMonitor",
             "component": {"name": "ChargingStation"}, "variable": {"name": "Problem"}}]},
        {}, NOW)
    assert changed == {2} and cp.connectors[2].status == "Faulted"


# ---- meter values ----------------------------------------------------------------------------

def test_meter_values_16_three_phases_kept_apart() -> None:
    """ocpp2mqtt bug 4: phases are kept apart (L2 no longer overwrites L1), power is their sum,
    current the highest phase, voltage the first phase."""
    cp = cp16()
    observe(cp, "1.6", "MeterValues", {"connectorId": 1, "transactionId": 5, "meterValue": [{
        "timestamp": NOW, "sampledValue": [
            sv("15.2", "Current.Import", phase="L1", unit="A", context="Sample.Periodic"),
            sv("15.9", "Current.Import", phase="L2", unit="A"),
            sv("15.4", "Current.Import", phase="L3", unit="A"),
            sv("3.5", "Current.Import", phase="N", unit="A"),
            sv("230.1", "Voltage", phase="L1-N", unit="V"),
            sv("231.4", "Voltage", phase="L2-N", unit="V"),
            sv("229.8", "Voltage", phase="L3-N", unit="V"),
            sv("3.5", "Power.Active.Import", phase="L1", unit="kW"),
            sv("3.6", "Power.Active.Import", phase="L2", unit="kW"),
            sv("3.4", "Power.Active.Import", phase="L3", unit="kW"),
            sv("12.345", "Energy.Active.Import.Register", unit="kWh"),
            sv("16", "Current.Offered", unit="A"),
            sv("50.02", "Frequency"),
            sv("42", "Temperature", location="Body", unit="Celsius"),
            sv("67", "SoC", location="EV", unit="Percent")]}]}, {}, NOW)
    c = cp.connectors[1]
    assert c.readings["Current.Import.L1"] == 15.2
    assert c.readings["Current.Import.L2"] == 15.9
    assert c.readings["Current.Import.N"] == 3.5
    assert c.readings["Voltage.L2-N"] == 231.4
    assert c.readings["Power.Active.Import.L3"] == 3400
    assert c.readings["Temperature@Body"] == 42 and c.readings["SoC@EV"] == 67
    assert (c.current_a, c.voltage_v, c.power_w, c.energy_wh) == (15.9, 230.1, 10500, 12345)
    assert (c.current_offered_a, c.frequency_hz, c.temperature_c, c.soc) == (16, 50.02, 42, 67)
    assert c.readings_at == NOW


def test_meter_values_every_entry_in_time_order_and_missing_measurand() -> None:
    """ocpp2mqtt bug 4: every meterValue entry counts (the latest wins, even when sent out of
    order), and a sampledValue without measurand is the energy register in Wh."""
    cp = cp16()
    observe(cp, "1.6", "MeterValues", {"connectorId": 1, "meterValue": [
        {"timestamp": "2026-11-22T09:45:00Z", "sampledValue": [
            {"value": "2500"}, sv("3300", "Power.Active.Import")]},
        {"timestamp": "2026-11-22T09:30:00Z", "sampledValue": [
            {"value": "1900"}, sv("230", "Voltage")]},
        {"timestamp": "2026-11-22T09:15:00.000+00:00", "sampledValue": [{"value": "1200"}]}]},
        {}, NOW)
    c = cp.connectors[1]
    assert (c.energy_wh, c.power_w, c.voltage_v) == (2500, 3300, 230)
    assert c.readings["Energy.Active.Import.Register"] == 2500
    assert c.readings_at == "2026-11-22T09:45:00Z"


@pytest.mark.parametrize(("unit", "value", "wh"), [
    ("Wh", "12345", 12345), ("kWh", "12.345", 12345), ("kwh", "1.5", 1500),
    (None, "77", 77), ("kWh", "1,25", 1250)])
def test_energy_units_normalised(unit: str | None, value: str, wh: float) -> None:
    """ocpp2mqtt bug 4: Wh and kWh become Wh."""
    cp = cp16()
    item = sv(value, "Energy.Active.Import.Register") | ({"unit": unit} if unit else {})
    observe(cp, "1.6", "MeterValues",
            {"connectorId": 1, "meterValue": [{"timestamp": NOW, "sampledValue": [item]}]}, {},
            NOW)
    assert cp.connectors[1].energy_wh == wh


def test_units_of_every_quantity() -> None:
    assert rd.normalise(2.5, "kW") == (2500, "W")
    assert rd.normalise(1.5, "kvar") == (1500, "var")
    assert rd.normalise(3.0, "kvarh") == (3000, "varh")
    assert rd.normalise(212.0, "Fahrenheit") == (100, "°C")
    assert rd.normalise(300.15, "K") == (27, "°C")
    assert rd.normalise(21.0, "Celcius") == (21, "°C")
    assert rd.normalise(50.0, "Hertz") == (50, "Hz")
    assert rd.normalise(80.0, "Percent") == (80, "%")
    assert rd.normalise(7.0, "RPM") == (7, None)
    assert rd.normalise(2.0, "MWh") == (2e6, "Wh") and rd.normalise(2.0, "mW") == (2, None)
    assert rd.number("1e400") is None and rd.number(True) is None and rd.number("x") is None


def test_meter_values_201_multiplier_units_and_signed_values() -> None:
    cp = cp201()
    observe(cp, "2.0.1", "MeterValues", {"evseId": 1, "meterValue": [{
        "timestamp": NOW, "sampledValue": [
            sv2(1234567, "Energy.Active.Import.Register", "Wh", -3,  # 1234.567 Wh
                context="Sample.Periodic",
                signedMeterValue={"signedMeterData": "b64", "signingMethod": "ECDSA",
                                  "encodingMethod": "OCMF", "publicKey": "k"}),
            sv2(7.4, "Power.Active.Import", "kW"),
            sv2(32, "Current.Import", "A", phase="L1"),
            sv2(23, "Voltage", "V", 1, phase="L1-N"),  # 230 V
            sv2(55, "SoC", "Percent", location="EV"),
            sv2(50, "Frequency", "Hz"),
            sv2(2, "Current.Import", "A", location="Cable")]}]}, {}, NOW)
    c = cp.connectors[1]
    assert (c.energy_wh, c.power_w, c.current_a, c.voltage_v, c.soc, c.frequency_hz) == (
        1234.567, 7400, 32, 230, 55, 50)
    assert c.readings["Current.Import@Cable"] == 2
    # 1.6 signed data is a blob, not a number: skipped
    cp1 = cp16()
    observe(cp1, "1.6", "MeterValues", {"connectorId": 1, "meterValue": [{
        "timestamp": NOW, "sampledValue": [
            sv("AP;0;3;ALCV3ABBBISHMA2RYEGAZE3H", format="SignedData"),
            sv("99", format="Raw")]}]}, {}, NOW)
    assert cp1.connectors[1].readings == {"Energy.Active.Import.Register": 99}


def test_connector_0_readings_are_the_main_meter() -> None:
    cp = cp201()
    assert observe(cp, "2.0.1", "MeterValues", {"evseId": 0, "meterValue": [{
        "timestamp": NOW, "sampledValue": [
            sv2(98.7, "Energy.Active.Import.Register", "kWh", location="Inlet"),
            sv2(4100, "Power.Active.Import", "W", location="Inlet")]}]}, {}, NOW) == {0}
    c0 = cp.connectors[0]
    assert (c0.energy_wh, c0.power_w) == (98700, 4100)
    assert c0.readings == {"Energy.Active.Import.Register@Inlet": 98700,
                           "Power.Active.Import@Inlet": 4100}
    # on an outlet, an Inlet reading is only a reading
    observe(cp, "2.0.1", "MeterValues", {"evseId": 1, "meterValue": [{
        "timestamp": NOW, "sampledValue": [
            sv2(5, "Energy.Active.Import.Register", "kWh", location="Inlet")]}]}, {}, NOW)
    assert cp.connectors[1].energy_wh is None


# ---- 1.6 transactions ------------------------------------------------------------------------

def start16(cp: ChargePointState, status: str = "Accepted", tx: int = 42) -> set[int]:
    return observe(cp, "1.6", "StartTransaction", {
        "connectorId": 1, "idTag": "uc_default_auth", "meterStart": 10000,
        "timestamp": "2026-11-22T09:00:00Z", "reservationId": 3},
        {"transactionId": tx, "idTagInfo": {"status": status}}, NOW)


def test_session_active_through_a_pause_while_charging_follows_the_status() -> None:
    """The HA Charge switch reads `session_active`: a car that pauses (SuspendedEV) ends
    `charging` but not the session; only the StopTransaction does."""
    cp = cp16()
    c = cp.connectors.get(1)
    assert c is None or not c.session_active
    start16(cp)
    c = cp.connectors[1]
    seen = []
    for status in ("Charging", "SuspendedEV", "Charging"):
        observe(cp, "1.6", "StatusNotification", {"connectorId": 1, "status": status,
                                                  "errorCode": "NoError"}, {}, NOW)
        seen.append((c.to_json()["charging"], c.to_json()["session_active"]))
    assert seen == [(True, True), (False, True), (True, True)]
    observe(cp, "1.6", "StopTransaction", {"transactionId": 42, "meterStop": 17250,
                                           "timestamp": NOW}, {}, NOW)
    assert c.to_json()["session_active"] is False


def test_transaction_16_start_meter_values_stop_without_reason() -> None:
    """ocpp2mqtt bug 5: a StopTransaction without `reason` stops with reason Local."""
    cp = cp16()
    assert start16(cp) == {1}
    c = cp.connectors[1]
    assert (c.transaction_id, c.id_tag, c.session_started_at) == (
        "42", "uc_default_auth", "2026-11-22T09:00:00Z")
    assert (c.meter_start_wh, c.energy_wh, c.session_energy_wh, c.session_seconds) == (
        10000, 10000, 0, 0)
    observe(cp, "1.6", "MeterValues", {"connectorId": 1, "transactionId": 42, "meterValue": [{
        "timestamp": "2026-11-22T09:30:00Z", "sampledValue": [sv("13.5", unit="kWh")]}]}, {},
        NOW)
    assert (c.energy_wh, c.session_energy_wh, c.session_seconds) == (13500, 3500, 1800)
    changed = observe(cp, "1.6", "StopTransaction", {
        "transactionId": 42, "meterStop": 17250, "timestamp": "2026-11-22T10:00:00Z",
        "idTag": "uc_default_auth", "transactionData": [
            {"timestamp": "2026-11-22T09:59:59Z", "sampledValue": [
                sv("17250", context="Transaction.End"), sv("0", "Power.Active.Import")]}]},
        {"idTagInfo": {"status": "Accepted"}}, NOW)
    assert changed == {1}
    assert (c.transaction_id, c.stop_reason, c.session_stopped_at) == (
        None, "Local", "2026-11-22T10:00:00Z")
    assert (c.energy_wh, c.session_energy_wh, c.session_seconds) == (17250, 7250, 3600)
    assert c.id_tag == "uc_default_auth"  # whose the last session was


def test_transaction_16_stop_with_reason_and_unknown_transaction() -> None:
    cp = cp16()
    start16(cp)
    stop = {"transactionId": 99, "meterStop": 20000, "timestamp": NOW, "reason": "Remote"}
    assert observe(cp, "1.6", "StopTransaction", stop, {}, NOW) == set()
    assert cp.connectors[1].transaction_id == "42"
    observe(cp, "1.6", "StopTransaction", stop | {"transactionId": 42}, {}, NOW)
    assert cp.connectors[1].stop_reason == "Remote"


def test_transaction_16_refused_start_opens_nothing() -> None:
    cp = cp16()
    start16(cp, "Blocked")
    c = cp.connectors[1]
    assert (c.transaction_id, c.id_tag, c.meter_start_wh) == (None, "uc_default_auth", None)
    assert observe(cp, "1.6", "StopTransaction", {
        "transactionId": 42, "meterStop": 10000, "timestamp": NOW, "reason": "DeAuthorized"},
        {}, NOW) == set()


def test_transaction_16_meter_values_of_another_transaction_leave_the_session() -> None:
    cp = cp16()
    start16(cp)
    observe(cp, "1.6", "MeterValues", {"connectorId": 1, "transactionId": 7, "meterValue": [{
        "timestamp": NOW, "sampledValue": [sv("9000")]}]}, {}, NOW)
    c = cp.connectors[1]
    assert c.energy_wh == 9000 and c.session_energy_wh == 0  # never negative, never foreign


# ---- 2.x transactions ------------------------------------------------------------------------

def tx_event(event: str, seq: int, stamp: str, state: str | None = None,
             meter: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    info: dict[str, Any] = {"transactionId": "a1b2c3"}
    if state:
        info["chargingState"] = state
    out: dict[str, Any] = {"eventType": event, "timestamp": stamp, "seqNo": seq,
                           "triggerReason": "ChargingStateChanged", "transactionInfo": info,
                           **extra}
    if meter:
        out["meterValue"] = [{"timestamp": stamp, "sampledValue": meter}]
    return out


def test_transaction_201_lifecycle_and_status() -> None:
    cp = cp201()
    observe(cp, "2.0.1", "StatusNotification", {
        "timestamp": "2026-11-22T08:59:59Z", "connectorStatus": "Occupied", "evseId": 1,
        "connectorId": 1}, {}, NOW)
    c = cp.connectors[1]
    assert c.status == "Preparing"
    observe(cp, "2.0.1", "TransactionEvent", tx_event(
        "Started", 0, "2026-11-22T09:00:00Z", "EVConnected",
        [sv2(5.5, unit="kWh", context="Transaction.Begin")],
        triggerReason="CablePluggedIn", evse={"id": 1, "connectorId": 1},
        idToken={"idToken": "04A1B2C3", "type": "ISO14443"}),
        {"idTokenInfo": {"status": "Accepted"}}, NOW)
    assert (c.transaction_id, c.id_tag, c.session_started_at, c.meter_start_wh) == (
        "a1b2c3", "04A1B2C3", "2026-11-22T09:00:00Z", 5500)
    assert (c.status, c.session_energy_wh) == ("Preparing", 0)
    observe(cp, "2.0.1", "TransactionEvent", tx_event(
        "Updated", 1, "2026-11-22T09:10:00Z", "Charging",
        [sv2(6.5, unit="kWh"), sv2(11, "Power.Active.Import", "kW")]), {}, NOW)
    assert (c.status, c.charging, c.power_w, c.session_energy_wh, c.session_seconds) == (
        "Charging", True, 11000, 1000, 600)
    # a repeated Occupied does not undo what the transaction says
    observe(cp, "2.0.1", "StatusNotification", {
        "timestamp": NOW, "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1}, {}, NOW)
    assert c.status == "Charging"
    observe(cp, "2.0.1", "TransactionEvent", tx_event(
        "Updated", 2, "2026-11-22T09:20:00Z", "SuspendedEV"), {}, NOW)
    assert (c.status, c.power_w) == ("SuspendedEV", 0)
    observe(cp, "2.0.1", "TransactionEvent", tx_event(
        "Ended", 3, "2026-11-22T09:30:00Z", "EVConnected",
        [sv2(7.25, unit="kWh", context="Transaction.End")], triggerReason="StopAuthorized",
        idToken={"idToken": "OTHER", "type": "ISO14443"}), {}, NOW)
    assert (c.transaction_id, c.stop_reason, c.session_stopped_at) == (
        None, "Local", "2026-11-22T09:30:00Z")
    assert (c.status, c.session_energy_wh, c.session_seconds, c.id_tag) == (
        "Finishing", 1750, 1800, "04A1B2C3")
    observe(cp, "2.0.1", "StatusNotification", {
        "timestamp": NOW, "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1}, {}, NOW)
    assert c.status == "Finishing"
    observe(cp, "2.0.1", "StatusNotification", {
        "timestamp": NOW, "connectorStatus": "Available", "evseId": 1, "connectorId": 1}, {}, NOW)
    assert c.status == "Available"


def test_transaction_201_ended_idle_reason_and_meter_start_without_reading() -> None:
    cp = cp201()
    observe(cp, "2.0.1", "MeterValues", {"evseId": 1, "meterValue": [{
        "timestamp": T0, "sampledValue": [sv2(3000)]}]}, {}, NOW)
    c = cp.connectors[1]
    observe(cp, "2.0.1", "TransactionEvent", tx_event(
        "Started", 0, "2026-11-22T09:00:00Z", "Idle", triggerReason="Authorized",
        evse={"id": 1}, idToken={"idToken": "APP", "type": "Central"}), {}, NOW)
    assert (c.meter_start_wh, c.status) == (3000, "Preparing")
    observe(cp, "2.0.1", "TransactionEvent", tx_event(
        "Ended", 1, "2026-11-22T09:05:00Z", "Idle", [sv2(3000)],
        transactionInfo={"transactionId": "a1b2c3", "chargingState": "Idle",
                         "stoppedReason": "EVConnectTimeout"}), {}, NOW)
    # EVConnectTimeout is not in 2.0.1's list, but any text reads as the reason
    assert (c.status, c.stop_reason, c.session_energy_wh) == (
        "Available", "EVConnectTimeout", 0)


def test_transaction_201_faulted_stays_faulted() -> None:
    cp = cp201()
    observe(cp, "2.0.1", "StatusNotification", {
        "timestamp": NOW, "connectorStatus": "Faulted", "evseId": 1, "connectorId": 1}, {}, NOW)
    observe(cp, "2.0.1", "TransactionEvent", tx_event(
        "Started", 0, NOW, "SuspendedEVSE", evse={"id": 1}), {}, NOW)
    assert cp.connectors[1].status == "Faulted"


def test_transaction_201_updated_unknown_is_adopted_ended_unknown_is_not() -> None:
    cp = cp201()
    observe(cp, "2.0.1", "TransactionEvent", tx_event(
        "Updated", 7, NOW, "Charging", [sv2(20, unit="kWh")], evse={"id": 1}), {}, NOW)
    c = cp.connectors[1]
    assert (c.transaction_id, c.status, c.meter_start_wh, c.session_started_at) == (
        "a1b2c3", "Charging", 20000, None)
    other = tx_event("Ended", 3, NOW, "EVConnected", [sv2(21, unit="kWh")],
                     transactionInfo={"transactionId": "zzz"})
    observe(cp, "2.0.1", "TransactionEvent", other, {}, NOW)
    assert (c.transaction_id, c.energy_wh, c.stop_reason) == ("a1b2c3", 21000, None)


def test_transaction_21_uses_the_201_rules() -> None:
    cp = ChargePointState("CS21", "CS21")
    connected(cp, "2.1", "192.0.2.9", T0)
    observe(cp, "2.1", "TransactionEvent", tx_event(
        "Started", 0, NOW, "Charging", [sv2(1, unit="kWh")], evse={"id": 2, "connectorId": 1}),
        {}, NOW)
    assert cp.connectors[2].status == "Charging" and cp.connectors[2].meter_start_wh == 1000


# ---- robustness ------------------------------------------------------------------------------

def test_state_round_trips_through_json() -> None:
    cp = cp16()
    start16(cp)
    observe(cp, "1.6", "MeterValues", {"connectorId": 1, "meterValue": [{
        "timestamp": NOW, "sampledValue": [sv("3", "Current.Import", phase="L1")]}]}, {}, NOW)
    data = orjson.loads(orjson.dumps(cp.to_json()))
    assert ChargePointState.from_json(data).to_json() == cp.to_json()


def test_wrong_types_are_ignored() -> None:
    cp = cp16()
    observe(cp, "1.6", "BootNotification",
            {"chargePointVendor": 5, "chargePointModel": "M", "imsi": ["x"]}, {"status": 1}, NOW)
    assert (cp.vendor, cp.model, cp.imsi, cp.registration) == (None, "M", None, None)
    observe(cp, "1.6", "MeterValues", {"connectorId": 1, "meterValue": [{
        "timestamp": NOW, "sampledValue": [
            {"value": "5", "measurand": 3}, {"value": "6", "phase": {}},
            {"value": "7", "unit": 5}, {"value": True}, {"value": "8", "measurand": "a/#"},
            {"value": "9", "measurand": "Power.Active.Import", "unit": "W"}]}]}, {}, NOW)
    assert cp.connectors[1].readings == {"Power.Active.Import": 9}
    assert observe(cp, "1.6", "StatusNotification", {"connectorId": -1, "status": "Faulted"},
                   {}, NOW) == set()
    assert observe(cp, "1.6", "StatusNotification", {"connectorId": 10**30}, {}, NOW) == set()


SCALARS: list[Any] = [None, True, 0, 1, -1, 2**64, 10**400, 1e308, -0.5, float("nan"),
                      float("inf"), "", "1", "12.5", "-3", "Accepted", "Occupied", "Charging",
                      "Idle", "Started", "Ended", "L1", "L1-N", "kWh", "Fahrenheit", "Inlet",
                      "SignedData", "2026-11-22T09:00:00Z", "garbage-time", "x" * 300, "a1b2c3",
                      "Energy.Active.Import.Register", "Power.Active.Import", [], {}]

# realistic payloads of each action for each version, to be mutated
TEMPLATES_16: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M", "iccid": "1"},
     {"status": "Accepted", "currentTime": NOW, "interval": 60}),
    ("Heartbeat", {}, {"currentTime": NOW}),
    ("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging",
                            "info": "i", "timestamp": NOW}, {}),
    ("MeterValues", {"connectorId": 1, "transactionId": 42, "meterValue": [
        {"timestamp": NOW, "sampledValue": [
            sv("1.5", "Energy.Active.Import.Register", unit="kWh"),
            sv("230", "Voltage", phase="L1-N"), sv("16", "Current.Import", phase="L2"),
            sv("20", "Temperature", unit="Fahrenheit", location="Body")]},
        {"timestamp": T0, "sampledValue": [{"value": "3"}]}]}, {}),
    ("StartTransaction", {"connectorId": 1, "idTag": "t", "meterStart": 5, "timestamp": NOW},
     {"transactionId": 42, "idTagInfo": {"status": "Accepted"}}),
    ("StopTransaction", {"transactionId": 42, "meterStop": 9, "timestamp": NOW,
                         "transactionData": [{"timestamp": NOW, "sampledValue": [sv("8")]}]},
     {"idTagInfo": {"status": "Accepted"}}),
    ("FirmwareStatusNotification", {"status": "Installed"}, {}),
    ("SecurityEventNotification", {"type": "t", "timestamp": NOW}, {}),
]
TEMPLATES_2X: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("BootNotification", {"reason": "PowerUp", "chargingStation": {
        "vendorName": "V", "model": "M", "modem": {"iccid": "1", "imsi": "2"}}},
     {"status": "Accepted", "currentTime": NOW, "interval": 60}),
    ("StatusNotification", {"timestamp": NOW, "connectorStatus": "Occupied", "evseId": 1,
                            "connectorId": 2}, {}),
    ("MeterValues", {"evseId": 0, "meterValue": [{"timestamp": NOW, "sampledValue": [
        sv2(1.5, "Energy.Active.Import.Register", "kWh", 2, location="Inlet"),
        sv2(11, "Power.Active.Import", "kW", phase="L3")]}]}, {}),
    ("TransactionEvent", tx_event("Started", 0, NOW, "Charging", [sv2(3, unit="kWh")],
                                  evse={"id": 1, "connectorId": 1},
                                  idToken={"idToken": "x", "type": "Central"}), {}),
    ("TransactionEvent", tx_event("Ended", 1, NOW, "Idle", [sv2(4, unit="kWh")]), {}),
    ("NotifyEvent", {"generatedAt": NOW, "seqNo": 0, "eventData": [
        {"eventId": 1, "timestamp": NOW, "trigger": "Delta", "actualValue": "Faulted",
         "eventNotificationType": "HardWiredNotification",
         "component": {"name": "Connector", "evse": {"id": 2, "connectorId": 1}},
         "variable": {"name": "AvailabilityState"}}]}, {}),
    ("LogStatusNotification", {"status": "Uploading"}, {}),
    ("DataTransfer", {"vendorId": "v"}, {"status": "Accepted"}),
]


def mutate(rng: random.Random, value: Any) -> Any:
    """`value` with some of its parts (at any depth) replaced, dropped or duplicated."""
    roll = rng.random()
    if roll < 0.08:
        return rng.choice(SCALARS)
    if isinstance(value, dict):
        out = {k: mutate(rng, v) for k, v in value.items() if rng.random() > 0.1}
        if rng.random() < 0.1:
            out[rng.choice(list(value) or ["x"])] = rng.choice(SCALARS)
        return out
    if isinstance(value, list):
        out_list = [mutate(rng, v) for v in value if rng.random() > 0.1]
        return out_list + out_list[: rng.randrange(3)]
    return value


@pytest.mark.parametrize("version", ["1.6", "2.0.1", "2.1", "junk"])
def test_mutated_payloads_never_raise(version: str, caplog: pytest.LogCaptureFixture) -> None:
    """A seeded fuzz over realistic payloads with parts of every wrong type, missing or
    repeated, sent in random order; the state stays serialisable and bounded."""
    rng = random.Random(f"observe-{version}")
    templates = TEMPLATES_16 if version == "1.6" else TEMPLATES_2X
    cp = ChargePointState("FUZZ", "FUZZ")
    connected(cp, version, "192.0.2.1", T0)
    reached = 0
    with caplog.at_level(logging.ERROR):
        for _ in range(3000):
            action, request, response = rng.choice(templates)
            changed = observe(cp, version, action, mutate(rng, request), mutate(rng, response),
                              NOW)
            reached += bool(changed - {0})
            assert changed <= {0, *cp.connectors}
        disconnected(cp, "gone", NOW)
    assert not caplog.records, "a state update raised"
    if version != "junk":
        assert reached > 300, reached  # the mutations still reach the connector paths
    data = cp.to_json()
    orjson.dumps(data)
    for connector in cp.connectors.values():
        assert all(math.isfinite(v) for v in connector.readings.values())
        for name in ("energy_wh", "power_w", "current_a", "voltage_v", "temperature_c",
                     "session_energy_wh", "meter_start_wh"):
            value = getattr(connector, name)
            assert value is None or (isinstance(value, float | int) and math.isfinite(value))
        assert connector.session_energy_wh is None or connector.session_energy_wh >= 0
