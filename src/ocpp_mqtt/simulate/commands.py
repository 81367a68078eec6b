"""Answers to the central system's CALLs, per version: the reply payload and what the charge
point does afterwards (`Effect`s, carried out once the reply is written, as a real charger acts
after it answered). No I/O: tests call `answer` directly.

Known actions not handled here get `NotSupported`; unknown ones never get here (`rpc` answers
them `NotImplemented`, ER-04).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..ocppj.versions import Version
from .messages import timestamp
from .meter import NOMINAL_VOLTAGE
from .rpc import Reply
from .station import COMPONENTS, VARIABLES, Connector, Profile, Station, to_watts


@dataclass(frozen=True, slots=True)
class StartCharging:
    connector: int
    id_tag: str
    remote_start_id: int | None = None


@dataclass(frozen=True, slots=True)
class StopCharging:
    connector: int
    reason: str  # 1.6 reason / 2.x stoppedReason


@dataclass(frozen=True, slots=True)
class Reboot:
    hard: bool


@dataclass(frozen=True, slots=True)
class Trigger:
    message: str
    connector: int | None


@dataclass(frozen=True, slots=True)
class StatusChanged:
    connectors: tuple[int, ...]


Effect = StartCharging | StopCharging | Reboot | Trigger | StatusChanged

Answer = tuple[Reply, list[Effect]]
TRIGGERABLE = {
    Version.V16: frozenset({"BootNotification", "DiagnosticsStatusNotification",
                            "FirmwareStatusNotification", "Heartbeat", "MeterValues",
                            "StatusNotification"}),
    Version.V201: frozenset({"BootNotification", "FirmwareStatusNotification", "Heartbeat",
                             "LogStatusNotification", "MeterValues", "StatusNotification",
                             "TransactionEvent"}),
}
TRIGGERABLE[Version.V21] = TRIGGERABLE[Version.V201]


def ok(payload: dict[str, Any], *effects: Effect) -> Answer:
    return Reply(payload), list(effects)


def answer(station: Station, version: Version, action: str, payload: dict[str, Any]) -> Answer:
    handler = (_V16 if version is Version.V16 else _V2X).get(action) or _COMMON.get(action)
    if handler is None:
        return Reply(error="NotSupported",
                     description=f"{action} is not supported by this charge point"), []
    result: Answer = handler(station, version, payload)
    return result


# ---- both versions --------------------------------------------------------------------------

def _data_transfer(station: Station, version: Version, p: dict[str, Any]) -> Answer:
    if p.get("vendorId") == "ocpp-mqtt":  # our own vendor id: echo, handy for tests
        return ok({"status": "Accepted", "data": p.get("data", "")})
    return ok({"status": "UnknownVendorId"})


def _clear_cache(station: Station, version: Version, p: dict[str, Any]) -> Answer:
    return ok({"status": "Accepted"})


def _trigger(station: Station, version: Version, p: dict[str, Any]) -> Answer:
    message = p["requestedMessage"]
    connector = (p.get("connectorId") if version is Version.V16
                 else (p.get("evse") or {}).get("id"))
    if message not in TRIGGERABLE[version]:
        return ok({"status": "NotImplemented"})
    if connector not in (None, 0) and station.connector(connector) is None:
        return ok({"status": "Rejected"})
    return ok({"status": "Accepted"}, Trigger(message, connector or None))


def _set_profile(station: Station, version: Version, p: dict[str, Any]) -> Answer:
    if version is Version.V16:
        connector_id, profile = p["connectorId"], p["csChargingProfiles"]
        schedule = profile["chargingSchedule"]
        profile_id = profile["chargingProfileId"]
    else:
        connector_id, profile = p["evseId"], p["chargingProfile"]
        schedule = profile["chargingSchedule"][0]
        profile_id = profile["id"]
    purpose = profile["chargingProfilePurpose"]
    periods = schedule["chargingSchedulePeriod"]
    limit = periods[0].get("limit") if periods else None
    if limit is None:
        return ok({"status": "Rejected"})
    phases = periods[0].get("numberPhases", 3)
    target: dict[int, Profile]
    if connector_id == 0:
        if purpose == "TxProfile":  # a TxProfile needs a connector with a transaction
            return ok({"status": "Rejected"})
        target = station.station_profiles
    else:
        connector = station.connector(connector_id)
        if connector is None or (purpose == "TxProfile" and connector.transaction is None):
            return ok({"status": "Rejected"})
        target = connector.profiles
    target[profile_id] = Profile(profile_id, purpose, profile["stackLevel"],
                                 to_watts(float(limit), schedule["chargingRateUnit"], phases))
    station.apply_limits()
    return ok({"status": "Accepted"})


def _clear_profile(station: Station, version: Version, p: dict[str, Any]) -> Answer:
    if version is Version.V16:
        profile_id, where = p.get("id"), p.get("connectorId")
        purpose, level = p.get("chargingProfilePurpose"), p.get("stackLevel")
    else:
        criteria = p.get("chargingProfileCriteria") or {}
        profile_id, where = p.get("chargingProfileId"), criteria.get("evseId")
        purpose, level = criteria.get("chargingProfilePurpose"), criteria.get("stackLevel")
    tables = [(0, station.station_profiles)] + [(c.id, c.profiles) for c in station.connectors]
    removed = 0
    for number, table in tables:
        if where is not None and number != where:
            continue
        for key, profile in list(table.items()):
            if ((profile_id is None or profile.id == profile_id)
                    and (purpose is None or profile.purpose == purpose)
                    and (level is None or profile.stack_level == level)):
                del table[key]
                removed += 1
    station.apply_limits()
    return ok({"status": "Accepted" if removed else "Unknown"})


def _composite(station: Station, version: Version, p: dict[str, Any]) -> Answer:
    number = p["connectorId"] if version is Version.V16 else p["evseId"]
    unit = p.get("chargingRateUnit") or "A"
    if number == 0:
        limit_w = min((pr.limit_w for pr in station.station_profiles.values()),
                      default=station.max_power_w)
    else:
        connector = station.connector(number)
        if connector is None:
            return ok({"status": "Rejected"})
        limit_w = station.limit_w(connector) or station.max_power_w
    limit = limit_w if unit == "W" else limit_w / (NOMINAL_VOLTAGE * 3)
    periods = [{"startPeriod": 0, "limit": round(limit, 1)}]
    start = timestamp(datetime.now(UTC).replace(microsecond=0))
    if version is Version.V16:
        return ok({"status": "Accepted", "connectorId": number, "scheduleStart": start,
                   "chargingSchedule": {"duration": p["duration"], "chargingRateUnit": unit,
                                        "chargingSchedulePeriod": periods}})
    return ok({"status": "Accepted", "schedule": {
        "evseId": number, "duration": p["duration"], "scheduleStart": start,
        "chargingRateUnit": unit, "chargingSchedulePeriod": periods}})


def _availability(station: Station, connectors: list[Connector], operative: bool) -> Answer:
    scheduled = False
    changed: list[int] = []
    for connector in connectors:
        if connector.transaction is not None and not operative:
            connector.inoperative_after_transaction = True
            scheduled = True
            continue
        connector.inoperative_after_transaction = False
        if connector.operative != operative:
            connector.operative = operative
            connector.state = "Available" if operative else "Unavailable"
            changed.append(connector.id)
    reply = {"status": "Scheduled" if scheduled else "Accepted"}
    return ok(reply, StatusChanged(tuple(changed))) if changed else ok(reply)


def _targets(station: Station, number: int | None) -> list[Connector] | None:
    if not number:
        return list(station.connectors)
    connector = station.connector(number)
    return None if connector is None else [connector]


def _free_connector(station: Station, number: int | None) -> Connector | None:
    if number:
        connector = station.connector(number)
        return connector if connector is not None and connector.free else None
    return next((c for c in station.connectors if c.free), None)


# ---- OCPP 1.6 -------------------------------------------------------------------------------

def _remote_start_16(station: Station, version: Version, p: dict[str, Any]) -> Answer:
    connector = _free_connector(station, p.get("connectorId"))
    if connector is None:
        return ok({"status": "Rejected"})
    return ok({"status": "Accepted"}, StartCharging(connector.id, p["idTag"]))


def _remote_stop_16(station: Station, version: Version, p: dict[str, Any]) -> Answer:
    tx = station.transaction(p["transactionId"])
    if tx is None:
        return ok({"status": "Rejected"})
    return ok({"status": "Accepted"}, StopCharging(tx.connector, "Remote"))


def _get_configuration(station: Station, version: Version, p: dict[str, Any]) -> Answer:
    wanted = p.get("key")
    names = wanted or list(station.keys)
    known = [{"key": n, "readonly": station.keys[n].readonly, "value": station.keys[n].value}
             for n in names if n in station.keys]
    reply: dict[str, Any] = {"configurationKey": known} if known else {}
    unknown = [n for n in names if n not in station.keys]
    if unknown:
        reply["unknownKey"] = unknown
    return ok(reply)


def _change_configuration(station: Station, version: Version, p: dict[str, Any]) -> Answer:
    return ok({"status": station.set_key(p["key"], p["value"])})


def _reset_16(station: Station, version: Version, p: dict[str, Any]) -> Answer:
    return ok({"status": "Accepted"}, Reboot(p["type"] == "Hard"))


def _change_availability_16(station: Station, version: Version, p: dict[str, Any]) -> Answer:
    targets = _targets(station, p["connectorId"])
    if targets is None:
        return ok({"status": "Rejected"})
    return _availability(station, targets, p["type"] == "Operative")


def _unlock_16(station: Station, version: Version, p: dict[str, Any]) -> Answer:
    connector = station.connector(p["connectorId"])
    if connector is None:
        return ok({"status": "NotSupported"})
    if connector.transaction is not None:
        return ok({"status": "Unlocked"}, StopCharging(connector.id, "UnlockCommand"))
    return ok({"status": "Unlocked"})


def _local_list_version_16(station: Station, version: Version, p: dict[str, Any]) -> Answer:
    return ok({"listVersion": 0})


# ---- OCPP 2.0.1 / 2.1 -----------------------------------------------------------------------

def _request_start(station: Station, version: Version, p: dict[str, Any]) -> Answer:
    connector = _free_connector(station, p.get("evseId"))
    if connector is None:
        return ok({"status": "Rejected"})
    return ok({"status": "Accepted"},
              StartCharging(connector.id, p["idToken"]["idToken"], p["remoteStartId"]))


def _request_stop(station: Station, version: Version, p: dict[str, Any]) -> Answer:
    tx = station.transaction(p["transactionId"])
    if tx is None:
        return ok({"status": "Rejected"})
    return ok({"status": "Accepted"}, StopCharging(tx.connector, "Remote"))


def _variable_key(item: dict[str, Any]) -> tuple[str | None, str]:
    """The key behind a component/variable pair, or None with the attributeStatus to give."""
    component = item["component"]["name"]
    if component not in COMPONENTS:
        return None, "UnknownComponent"
    key = VARIABLES.get((component, item["variable"]["name"]))
    if key is None:
        return None, "UnknownVariable"
    return key, "Accepted"


def _get_variables(station: Station, version: Version, p: dict[str, Any]) -> Answer:
    results = []
    for item in p["getVariableData"]:
        key, status = _variable_key(item)
        kind = item.get("attributeType", "Actual")
        if key is not None and kind != "Actual":
            status = "NotSupportedAttributeType"
        result: dict[str, Any] = {"attributeStatus": status, "component": item["component"],
                                  "variable": item["variable"]}
        if "attributeType" in item:
            result["attributeType"] = kind
        if status == "Accepted" and key is not None:
            result["attributeValue"] = station.keys[key].value
        results.append(result)
    return ok({"getVariableResult": results})


def _set_variables(station: Station, version: Version, p: dict[str, Any]) -> Answer:
    results = []
    for item in p["setVariableData"]:
        key, status = _variable_key(item)
        if key is not None:
            outcome = station.set_key(key, item["attributeValue"])
            status = "Accepted" if outcome == "Accepted" else "Rejected"
        result: dict[str, Any] = {"attributeStatus": status, "component": item["component"],
                                  "variable": item["variable"]}
        if "attributeType" in item:
            result["attributeType"] = item["attributeType"]
        results.append(result)
    return ok({"setVariableResult": results})


def _reset_2x(station: Station, version: Version, p: dict[str, Any]) -> Answer:
    if p.get("evseId"):
        return ok({"status": "Rejected"})  # resetting one EVSE is not supported
    busy = any(c.transaction is not None for c in station.connectors)
    if p["type"] == "OnIdle" and busy:
        station.reset_when_idle = True
        return ok({"status": "Scheduled"})
    return ok({"status": "Accepted"}, Reboot(True))


def _change_availability_2x(station: Station, version: Version, p: dict[str, Any]) -> Answer:
    targets = _targets(station, (p.get("evse") or {}).get("id"))
    if targets is None:
        return ok({"status": "Rejected"})
    return _availability(station, targets, p["operationalStatus"] == "Operative")


def _unlock_2x(station: Station, version: Version, p: dict[str, Any]) -> Answer:
    connector = station.connector(p["evseId"])
    if connector is None or p["connectorId"] != 1:
        return ok({"status": "UnknownConnector"})
    if connector.transaction is not None:
        return ok({"status": "OngoingAuthorizedTransaction"})
    return ok({"status": "Unlocked"})


def _transaction_status(station: Station, version: Version, p: dict[str, Any]) -> Answer:
    # messagesInQueue is filled in by the charge point, which owns the queue
    reply: dict[str, Any] = {"messagesInQueue": False}
    if "transactionId" in p:
        reply["ongoingIndicator"] = station.transaction(p["transactionId"]) is not None
    return ok(reply)


def _local_list_version_2x(station: Station, version: Version, p: dict[str, Any]) -> Answer:
    return ok({"versionNumber": 0})


_Handler = Any
_COMMON: dict[str, _Handler] = {
    "DataTransfer": _data_transfer, "ClearCache": _clear_cache, "TriggerMessage": _trigger,
    "SetChargingProfile": _set_profile, "ClearChargingProfile": _clear_profile,
    "GetCompositeSchedule": _composite,
}
_V16: dict[str, _Handler] = {
    "RemoteStartTransaction": _remote_start_16, "RemoteStopTransaction": _remote_stop_16,
    "GetConfiguration": _get_configuration, "ChangeConfiguration": _change_configuration,
    "Reset": _reset_16, "ChangeAvailability": _change_availability_16,
    "UnlockConnector": _unlock_16, "GetLocalListVersion": _local_list_version_16,
}
_V2X: dict[str, _Handler] = {
    "RequestStartTransaction": _request_start, "RequestStopTransaction": _request_stop,
    "GetVariables": _get_variables, "SetVariables": _set_variables, "Reset": _reset_2x,
    "ChangeAvailability": _change_availability_2x, "UnlockConnector": _unlock_2x,
    "GetTransactionStatus": _transaction_status,
    "GetLocalListVersion": _local_list_version_2x,
}
SUPPORTED = {
    Version.V16: frozenset(_COMMON) | frozenset(_V16),
    Version.V201: frozenset(_COMMON) | frozenset(_V2X),
    Version.V21: frozenset(_COMMON) | frozenset(_V2X),
}
