"""Schemas: known actions per version (FR-06), ER-08 error mapping, customData (FR-12)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ocpp_mqtt.ocppj.validation import Schemas
from ocpp_mqtt.ocppj.versions import ERROR_CODES, Version

V16, V201, V21 = Version.V16, Version.V201, Version.V21
V2X = [V201, V21]

BOOT_16: dict[str, Any] = {"chargePointVendor": "V", "chargePointModel": "M"}
BOOT_2X: dict[str, Any] = {
    "reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}
}


# ---- known actions ------------------------------------------------------------------------

@pytest.mark.parametrize(("version", "count"), [(V16, 39), (V201, 64), (V21, 91)])
def test_known_action_counts(schemas: Schemas, version: Version, count: int) -> None:
    assert len(schemas.actions(version)) == count


def test_fr05_notifyperiodiceventstream_is_a_21_action(schemas: Schemas) -> None:
    assert schemas.is_action(V21, "NotifyPeriodicEventStream")
    assert not schemas.is_action(V201, "NotifyPeriodicEventStream")
    assert not schemas.is_action(V16, "NotifyPeriodicEventStream")


@pytest.mark.parametrize(
    ("version", "action", "known"),
    [
        (V16, "BootNotification", True),
        (V16, "SignCertificate", True),  # Security Whitepaper extension
        (V16, "SecurityEventNotification", True),
        (V16, "TransactionEvent", False),
        (V201, "TransactionEvent", True),
        (V201, "StartTransaction", False),
        (V201, "AFRRSignal", False),
        (V21, "AFRRSignal", True),
        (V21, "BootNotification", True),
    ],
)
def test_known_actions_per_version(
    schemas: Schemas, version: Version, action: str, known: bool
) -> None:
    assert schemas.is_action(version, action) is known


@pytest.mark.parametrize("version", list(Version))
@pytest.mark.parametrize(
    "action",
    ["heartbeat", "HEARTBEAT", "Heartbeat.req", "HeartbeatRequest", "HeartbeatResponse", "",
     "FooBar", "Heartbeat "],
)
def test_fr06_action_names_are_exact_and_case_sensitive(
    schemas: Schemas, version: Version, action: str
) -> None:
    assert schemas.is_action(version, "Heartbeat")
    assert not schemas.is_action(version, action)


# ---- ER-08 mapping ------------------------------------------------------------------------

_DELETE = object()


def _mutate(base: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    payload = copy.deepcopy(base)
    target = payload
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return payload


CASES_16 = [
    ("required", ("chargePointModel",), _DELETE, {"OccurenceConstraintViolation"}),
    ("type", ("chargePointVendor",), 5, {"TypeConstraintViolation"}),
    ("maxLength", ("chargePointVendor",), "x" * 21, {"PropertyConstraintViolation"}),
    ("additionalProperties", ("extra",), 1, {"FormationViolation"}),
]
CASES_2X = [
    ("required", ("reason",), _DELETE, {"OccurrenceConstraintViolation"}),
    ("nested required", ("chargingStation", "model"), _DELETE, {"OccurrenceConstraintViolation"}),
    ("type", ("reason",), 5, {"TypeConstraintViolation"}),
    ("enum", ("reason",), "Nope", {"PropertyConstraintViolation", "FormatViolation"}),
    ("maxLength", ("chargingStation", "model"), "x" * 21,
     {"PropertyConstraintViolation", "FormatViolation"}),
    ("additionalProperties", ("extra",), 1, {"FormatViolation"}),
]


@pytest.mark.parametrize(("rule", "path", "value", "codes"), CASES_16, ids=[c[0] for c in CASES_16])
def test_er08_mapping_16(
    schemas: Schemas, rule: str, path: tuple[str, ...], value: Any, codes: set[str]
) -> None:
    error = schemas.check(V16, "BootNotification", _mutate(BOOT_16, path, value), response=False)
    assert error is not None, rule
    assert error.code in codes
    assert error.code in ERROR_CODES[V16]  # ER-03: 1.6 spelling


def test_er08_enum_16(schemas: Schemas) -> None:
    error = schemas.check(V16, "Reset", {"type": "Medium"}, response=False)
    assert error is not None
    assert error.code == "PropertyConstraintViolation"


@pytest.mark.parametrize("version", V2X)
@pytest.mark.parametrize(("rule", "path", "value", "codes"), CASES_2X, ids=[c[0] for c in CASES_2X])
def test_er08_mapping_2x(
    schemas: Schemas,
    version: Version,
    rule: str,
    path: tuple[str, ...],
    value: Any,
    codes: set[str],
) -> None:
    error = schemas.check(version, "BootNotification", _mutate(BOOT_2X, path, value),
                          response=False)
    assert error is not None, rule
    assert error.code in codes
    assert error.code in ERROR_CODES[version]  # ER-03: 2.x spelling


@pytest.mark.parametrize(
    ("version", "payload"), [(V16, BOOT_16), (V201, BOOT_2X), (V21, BOOT_2X)]
)
def test_er07_valid_payload_passes(schemas: Schemas, version: Version, payload: Any) -> None:
    assert schemas.check(version, "BootNotification", payload, response=False) is None


@pytest.mark.parametrize("version", list(Version))
def test_er08_response_type_mapping(schemas: Schemas, version: Version) -> None:
    """The BootNotification response `interval` is an integer in every version."""
    bad = {"status": "Accepted", "currentTime": "2025-01-01T00:00:00Z", "interval": 1.5}
    error = schemas.check(version, "BootNotification", bad, response=True)
    assert error is not None
    assert error.code == "TypeConstraintViolation"
    good = dict(bad, interval=300)
    assert schemas.check(version, "BootNotification", good, response=True) is None


def test_er08_minimum_maps_to_propertyconstraintviolation(schemas: Schemas) -> None:
    payload = {"id": -1, "pending": 0, "basetime": "2025-01-01T00:00:00Z",
               "data": [{"t": 0, "v": "1"}]}
    error = schemas.check(V21, "NotifyPeriodicEventStream", payload, response=False)
    assert error is not None
    assert error.code in {"PropertyConstraintViolation", "FormatViolation"}


def test_er08_error_description_is_short(schemas: Schemas) -> None:
    error = schemas.check(V201, "BootNotification", {"reason": "x" * 5000}, response=False)
    assert error is not None
    assert len(error.describe()) <= 255


# ---- FR-12: customData ----------------------------------------------------------------------

@pytest.mark.parametrize("version", V2X)
def test_fr12_customdata_with_extra_properties_is_valid(schemas: Schemas, version: Version) -> None:
    custom = {"vendorId": "X", "foo": 1, "nested": {"a": [1, 2]}}
    payload = copy.deepcopy(BOOT_2X)
    payload["customData"] = custom
    payload["chargingStation"]["customData"] = custom
    assert schemas.check(version, "BootNotification", payload, response=False) is None


@pytest.mark.parametrize("version", V2X)
def test_fr12_customdata_needs_vendorid(schemas: Schemas, version: Version) -> None:
    payload = dict(BOOT_2X, customData={"foo": 1})
    error = schemas.check(version, "BootNotification", payload, response=False)
    assert error is not None
    assert error.code == "OccurrenceConstraintViolation"


# ---- 1.6 multipleOf 0.1 (§13 decimal gotcha) ------------------------------------------------

def _charging_profile(limit: float) -> dict[str, Any]:
    return {
        "connectorId": 1,
        "csChargingProfiles": {
            "chargingProfileId": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
            },
        },
    }


@pytest.mark.parametrize("limit", [21.4, 230.7, 16, 0.1, 6.0, 32.3])
def test_multipleof_01_accepts_one_decimal_floats_16(schemas: Schemas, limit: float) -> None:
    payload = _charging_profile(limit)
    assert schemas.check(V16, "SetChargingProfile", payload, response=False) is None


def test_multipleof_01_rejects_two_decimals_16(schemas: Schemas) -> None:
    error = schemas.check(V16, "SetChargingProfile", _charging_profile(4.11), response=False)
    assert error is not None
    assert error.code == "PropertyConstraintViolation"


# ---- SEND schema (2.1) and formats -----------------------------------------------------------

def test_fr05_send_schema_has_no_suffix_and_no_response(schemas: Schemas) -> None:
    good = {"id": 1, "pending": 0, "basetime": "2025-01-01T00:00:00Z",
            "data": [{"t": 0, "v": "1"}]}
    assert schemas.check(V21, "NotifyPeriodicEventStream", good, response=False) is None
    bad = {k: v for k, v in good.items() if k != "data"}
    error = schemas.check(V21, "NotifyPeriodicEventStream", bad, response=False)
    assert error is not None and error.code == "OccurrenceConstraintViolation"
    assert schemas.validator(V21, "NotifyPeriodicEventStream", response=True) is None


def test_formats_only_checked_when_enabled() -> None:
    bad = {"status": "Accepted", "currentTime": "not-a-date", "interval": 300}
    assert Schemas().check(V201, "BootNotification", bad, response=True) is None
    error = Schemas(validate_formats=True).check(V201, "BootNotification", bad, response=True)
    assert error is not None
    assert error.code in ERROR_CODES[V201]


def test_unknown_action_has_no_validator(schemas: Schemas) -> None:
    assert schemas.check(V201, "FooBar", {}, response=False) is None
    assert schemas.validator(V201, "FooBar", response=False) is None
