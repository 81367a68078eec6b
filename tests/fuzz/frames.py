"""Hostile and half-valid OCPP-J frames from a seed: valid messages of each version, then
mutated (keys dropped, types swapped, ids too long or not strings, JSON cut short, padding,
deep nesting, huge numbers, unicode), so most frames reach the session's deeper checks."""

from __future__ import annotations

import random
from typing import Any

import orjson

from ocpp_mqtt.ocppj.versions import Version

T0 = "2026-11-21T10:00:00Z"

VALID: dict[Version, list[tuple[str, dict[str, Any]]]] = {
    Version.V16: [
        ("BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"}),
        ("Heartbeat", {}),
        ("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"}),
        ("Authorize", {"idTag": "TAG1"}),
        ("StartTransaction", {"connectorId": 1, "idTag": "TAG1", "meterStart": 0,
                              "timestamp": T0}),
        ("MeterValues", {"connectorId": 1, "transactionId": 1, "meterValue": [
            {"timestamp": T0, "sampledValue": [{"value": "12.5", "measurand": "Power.Active.Import",
                                                "phase": "L1", "unit": "W"}]}]}),
        ("StopTransaction", {"transactionId": 1, "meterStop": 10, "timestamp": T0}),
        ("DataTransfer", {"vendorId": "v", "messageId": "m", "data": "x"}),
        ("FirmwareStatusNotification", {"status": "Idle"}),
        ("SecurityEventNotification", {"type": "StartupOfTheDevice", "timestamp": T0}),
    ],
    Version.V201: [
        ("BootNotification", {"chargingStation": {"model": "m", "vendorName": "v"},
                              "reason": "PowerUp"}),
        ("Heartbeat", {}),
        ("StatusNotification", {"timestamp": T0, "connectorStatus": "Available", "evseId": 1,
                                "connectorId": 1}),
        ("Authorize", {"idToken": {"idToken": "TAG1", "type": "ISO14443"}}),
        ("TransactionEvent", {"eventType": "Started", "timestamp": T0, "triggerReason":
                              "Authorized", "seqNo": 0, "transactionInfo": {"transactionId": "t1"},
                              "evse": {"id": 1, "connectorId": 1}}),
        ("MeterValues", {"evseId": 1, "meterValue": [{"timestamp": T0, "sampledValue": [
            {"value": 12.5, "measurand": "Power.Active.Import"}]}]}),
        ("NotifyEvent", {"generatedAt": T0, "seqNo": 0, "eventData": [{
            "eventId": 1, "timestamp": T0, "trigger": "Alerting", "actualValue": "x",
            "eventNotificationType": "HardWiredNotification",
            "component": {"name": "C"}, "variable": {"name": "V"}}]}),
        ("DataTransfer", {"vendorId": "v"}),
    ],
}
VALID[Version.V21] = VALID[Version.V201] + [
    ("NotifyPeriodicEventStream", {"id": 1, "pending": 0, "basetime": T0, "data": [
        {"t": 0, "v": "1"}]}),
]
ODD_VALUES: list[Any] = [None, True, 0, -1, 2**53 + 1, 2**63 - 1, -(2**63), 1.5e308, -0.0, "",
                         "x" * 300, "\u0000", "\ud7ff\ue000", "💡" * 10, [], {}, [[[[]]]],
                         {"a": {"b": {}}}]
ODD_IDS: list[Any] = ["", "-1", "x" * 36, "x" * 37, 1, None, [], {}, "\u0000", "id with space",
                      "💡"]
ODD_ACTIONS = ["", "heartbeat", "FooBar", "Heartbeat ", "BootNotification-Signed", "💡", 7, None,
               "Reset", "RequestStartTransaction", "x" * 1000]


def _value(rng: random.Random, depth: int = 0) -> Any:
    if depth > 3 or rng.random() < 0.5:
        return rng.choice(ODD_VALUES)
    if rng.random() < 0.5:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(3))]
    return {rng.choice(["a", "status", "idTag", "", "💡"]): _value(rng, depth + 1)
            for _ in range(rng.randrange(3))}


def _mutate_payload(rng: random.Random, payload: dict[str, Any]) -> Any:
    payload = orjson.loads(orjson.dumps(payload))
    choice = rng.randrange(6)
    if choice == 0 and payload:
        payload.pop(rng.choice(list(payload)))
    elif choice == 1 and payload:
        payload[rng.choice(list(payload))] = rng.choice(ODD_VALUES)
    elif choice == 2:
        payload[rng.choice(["extra", "", "💡"])] = _value(rng)
    elif choice == 3:
        return rng.choice(ODD_VALUES)
    elif choice == 4:
        nested: Any = payload
        for _ in range(rng.choice([10, 100, 200])):  # orjson writes at most 254 levels
            nested = {"n": nested}
        return nested
    return payload


def frame(rng: random.Random, version: Version, number: int) -> str:
    action, payload = rng.choice(VALID[version])
    unique_id: Any = f"f{number}"
    kind = 2
    roll = rng.random()
    if roll < 0.25:
        return orjson.dumps([2, unique_id, action, payload]).decode()  # valid
    if roll < 0.55:
        return orjson.dumps([2, unique_id, action, _mutate_payload(rng, payload)]).decode()
    if roll < 0.65:
        unique_id = rng.choice(ODD_IDS)
    elif roll < 0.72:
        action = rng.choice(ODD_ACTIONS)
    elif roll < 0.80:
        kind = rng.choice([0, 1, 3, 4, 5, 6, 7, -1, 2**31, "2", 2.0, None, True])
    body: list[Any] = [kind, unique_id, action, payload]
    if kind in (3, 5):
        body = [kind, unique_id, payload]
    elif kind == 4:
        body = [kind, unique_id, "GenericError", "x", {}]
    text = orjson.dumps(body).decode()
    roll = rng.random()
    if roll < 0.10:
        return text[: rng.randrange(len(text))]  # cut short: corrupt JSON
    if roll < 0.15:
        return rng.choice([" ", "\n", "\ufeff", "\t"]) + text + " "
    if roll < 0.20:
        return text[:-1] + ',' + orjson.dumps(_value(rng)).decode() + "]"  # extra element
    if roll < 0.24:
        return rng.choice(["null", "{}", "[]", '"x"', "2", "[2]", '[2,"a"]', "[2,", "NaN",
                           '[2,"a","Heartbeat",{}] [3]', '[2,"a","Heartbeat",{"a":1,"a":2}]',
                           '[2,"b","Heartbeat",{"a":1e400}]',
                           '[2,"c","Heartbeat",{"a":123456789012345678901234567890}]'])
    return text
