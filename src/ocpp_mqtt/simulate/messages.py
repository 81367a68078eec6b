"""Payloads a charge point sends, per OCPP version; pure functions (no I/O, no clock reads
except through `timestamp`). Every payload built here validates against the official schemas
(tests/unit/test_simulate_messages.py checks each one)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..ocppj.versions import Version
from .meter import Meter

VENDOR = "ocpp-mqtt"
MODEL = "simulator"
FIRMWARE = "sim-1.0"

Payload = dict[str, Any]


def timestamp(when: datetime | None = None) -> str:
    """UTC with milliseconds and `Z`, as most charge points write it."""
    return (when or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def boot(version: Version, serial: str, reason: str = "PowerUp") -> Payload:
    if version is Version.V16:
        return {"chargePointVendor": VENDOR, "chargePointModel": MODEL,
                "chargePointSerialNumber": serial[:25], "firmwareVersion": FIRMWARE}
    return {"reason": reason, "chargingStation": {
        "model": MODEL, "vendorName": VENDOR, "serialNumber": serial[:25],
        "firmwareVersion": FIRMWARE}}


def status(version: Version, connector: int, state: str, error: str = "NoError") -> Payload:
    """`state` in the 1.6 vocabulary (Available, Preparing, Charging, SuspendedEV, Finishing,
    Unavailable, Faulted); 2.x gets its connectorStatus (Available, Occupied, Unavailable,
    Faulted), 1.6 connector 0 is the charge point itself."""
    if version is Version.V16:
        return {"connectorId": connector, "errorCode": error, "status": state,
                "timestamp": timestamp()}
    status_2x = {"Preparing": "Occupied", "Charging": "Occupied", "SuspendedEV": "Occupied",
                 "SuspendedEVSE": "Occupied", "Finishing": "Occupied"}.get(state, state)
    return {"timestamp": timestamp(), "connectorStatus": status_2x, "evseId": connector,
            "connectorId": 1}


def authorize(version: Version, id_tag: str) -> Payload:
    if version is Version.V16:
        return {"idTag": id_tag}
    return {"idToken": id_token(id_tag)}


def id_token(id_tag: str, kind: str = "ISO14443") -> Payload:
    return {"idToken": id_tag, "type": kind}


def sampled_values(version: Version, meter: Meter, context: str) -> list[Payload]:
    """Energy register, power, current and voltage per phase, and SoC while an EV charges."""
    rows: list[tuple[str, str | None, str, float, str]] = [
        ("Energy.Active.Import.Register", None, "Wh", round(meter.energy_wh, 1), "Outlet"),
        ("Power.Active.Import", None, "W", round(meter.power_w, 1), "Outlet"),
    ]
    for i in range(meter.phases):
        rows.append(("Current.Import", f"L{i + 1}", "A", round(meter.current_a[i], 2), "Outlet"))
    for i in range(meter.phases):
        rows.append(("Voltage", f"L{i + 1}-N", "V", round(meter.voltage_v[i], 1), "Outlet"))
    if meter.charging:
        rows.append(("SoC", None, "Percent", round(meter.soc, 1), "EV"))
    out: list[Payload] = []
    for measurand, phase, unit, value, location in rows:
        sample: Payload
        if version is Version.V16:
            sample = {"value": f"{value}", "context": context, "measurand": measurand,
                      "location": location, "unit": unit}
        else:
            sample = {"value": value, "context": context, "measurand": measurand,
                      "location": location, "unitOfMeasure": {"unit": unit}}
        if phase is not None:
            sample["phase"] = phase
        out.append(sample)
    return out


def meter_value(version: Version, meter: Meter, context: str) -> Payload:
    return {"timestamp": timestamp(), "sampledValue": sampled_values(version, meter, context)}


# ---- OCPP 1.6 transactions -----------------------------------------------------------------

def start_transaction(connector: int, id_tag: str, meter_start: int) -> Payload:
    return {"connectorId": connector, "idTag": id_tag, "meterStart": meter_start,
            "timestamp": timestamp()}


def meter_values_16(connector: int, transaction_id: int | None, meter: Meter,
                    context: str = "Sample.Periodic") -> Payload:
    payload: Payload = {"connectorId": connector,
                        "meterValue": [meter_value(Version.V16, meter, context)]}
    if transaction_id is not None:
        payload["transactionId"] = transaction_id
    return payload


def stop_transaction(transaction_id: int, meter_stop: int, reason: str,
                     id_tag: str | None) -> Payload:
    payload: Payload = {"transactionId": transaction_id, "meterStop": meter_stop,
                        "timestamp": timestamp(), "reason": reason}
    if id_tag is not None:
        payload["idTag"] = id_tag
    return payload


# ---- OCPP 2.0.1 / 2.1 transactions ---------------------------------------------------------

def transaction_event(event: str, *, transaction_id: str, seq_no: int, trigger: str,
                      evse: int, charging_state: str | None = None,
                      id_tag: str | None = None, meter: Meter | None = None,
                      context: str = "Sample.Periodic", stopped_reason: str | None = None,
                      remote_start_id: int | None = None, offline: bool = False,
                      version: Version = Version.V201) -> Payload:
    info: Payload = {"transactionId": transaction_id}
    if charging_state is not None:
        info["chargingState"] = charging_state
    if stopped_reason is not None:
        info["stoppedReason"] = stopped_reason
    if remote_start_id is not None:
        info["remoteStartId"] = remote_start_id
    payload: Payload = {"eventType": event, "timestamp": timestamp(), "triggerReason": trigger,
                        "seqNo": seq_no, "transactionInfo": info}
    if offline:
        payload["offline"] = True
    if event == "Started":
        payload["evse"] = {"id": evse, "connectorId": 1}
    if id_tag is not None:
        payload["idToken"] = id_token(id_tag)
    if meter is not None:
        payload["meterValue"] = [meter_value(version, meter, context)]
    return payload


def meter_values_2x(version: Version, evse: int, meter: Meter,
                    context: str = "Trigger") -> Payload:
    """A MeterValues CALL outside a transaction (2.x sends transaction readings in
    TransactionEvent), e.g. when the central system triggers one."""
    return {"evseId": evse, "meterValue": [meter_value(version, meter, context)]}
