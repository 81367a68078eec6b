"""ocpp2mqtt's state keys and payloads computed from a charge point message, and how its command
arguments and errors read. No I/O.

Key names are ocpp2mqtt's (`charge_point_vendor`, `status`, `energy_active_import_register`,
...); where ocpp2mqtt lost data (one meterValue entry only, phases overwriting each other,
firmware status overwriting the connector status) the fixes add keys and never rename one.
the README section "Replacing ocpp2mqtt" lists them all.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson

from ..modes.central import profile as pr
from ..modes.central import readings as rd
from ..modes.central.command_args import snake
from ..modes.central.profile import CommandResult
from ..modes.central.state import ChargePointState

Pairs = list[tuple[str, Any]]

_BOOT_16 = ("chargePointSerialNumber", "chargeBoxSerialNumber", "firmwareVersion", "iccid",
            "imsi", "meterType", "meterSerialNumber")
_STATUS_OPTIONAL = ("info", "timestamp", "vendorId", "vendorErrorCode")


def now_z(now: datetime | None = None) -> str:
    """The bridge's own timestamps: `2026-01-01T12:00:00Z` (ocpp2mqtt's format)."""
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def number_text(value: float) -> str:
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6f}".rstrip("0").rstrip(".")


def payload(value: Any) -> bytes | None:
    """A raw scalar as ocpp2mqtt published it: text as is, numbers as decimal text; lists and
    objects as JSON (ocpp2mqtt failed on those, bug 8); None is not published."""
    if value is None:
        return None
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        return number_text(value).encode()
    return orjson.dumps(value)


def snake_keys(value: Any) -> Any:
    """OCPP's camelCase keys at any depth in snake_case, as ocpp2mqtt's result dataclasses."""
    if isinstance(value, dict):
        return {snake(str(k)): snake_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [snake_keys(v) for v in value]
    return value


# ---- meter values ---------------------------------------------------------------------------

def _base(measurand: str) -> str:
    return measurand.replace(".", "_").lower()


def _combine(measurand: str, phased: list[rd.Sample]) -> float:
    """The unphased figure from phase values: power and energy add up L1-L3, current takes the
    highest phase, anything else (voltage, frequency, ...) the first phase sent."""
    if measurand.startswith("Current"):
        how = "max"
    elif measurand.startswith(("Power", "Energy")) and measurand != "Power.Factor":
        how = "sum"
    else:
        return phased[0].value
    combined = rd.combine_lines(phased, how)
    return phased[0].value if combined is None else combined


def _entry_keys(samples: list[rd.Sample]) -> dict[str, float]:
    # The location ocpp2mqtt's bare key stands for: the outlet (OCPP's default) when the entry
    # has it, else the first one sent (SoC comes from the EV, temperature from the body).
    primary: dict[str, str | None] = {}
    for item in samples:
        location = None if item.location in (None, rd.OUTLET) else item.location
        if item.measurand not in primary or location is None:
            primary[item.measurand] = location
    out: dict[str, float] = {}
    phased: dict[str, tuple[str, list[rd.Sample]]] = {}
    for item in samples:
        location = None if item.location in (None, rd.OUTLET) else item.location
        key = _base(item.measurand)
        if location != primary[item.measurand]:
            key += "_" + location.lower() if location else "_outlet"
        if item.phase:
            out[f"{key}_{item.phase.replace('-', '_').lower()}"] = item.value
            phased.setdefault(key, (item.measurand, []))[1].append(item)
        else:
            out[key] = item.value
    for key, (measurand, items) in phased.items():
        if key not in out:
            out[key] = _combine(measurand, items)
    return out


def meter_keys(meter_values: Any, v16: bool) -> dict[str, float]:
    """ocpp2mqtt's keys (`measurand.replace('.', '_').lower()`) of every meterValue entry, the
    latest reading of each key winning (ocpp2mqtt read entry 0 only, bug 4). Values in one unit
    per quantity (Wh, W, A, V, °C, %, Hz); a phase gets its own key (`current_import_l1`,
    `voltage_l1_n`) and the unphased key holds the total; a reading at a second location gets
    a suffix (`temperature_body`). A missing measurand is the energy register."""
    out: dict[str, float] = {}
    for _stamp, samples in rd.entries(meter_values, v16):
        out.update(_entry_keys(samples))
    return out


# ---- messages -------------------------------------------------------------------------------

def boot_pairs(cp: ChargePointState, request: dict[str, Any], v16: bool) -> Pairs:
    if v16:
        pairs: Pairs = [("charge_point_vendor", request.get("chargePointVendor")),
                        ("charge_point_model", request.get("chargePointModel"))]
        pairs += [(snake(k), request[k]) for k in _BOOT_16 if request.get(k) is not None]
        return pairs
    # 2.x BootNotification, as the state model maps it onto the 1.6 names
    pairs = [("charge_point_vendor", cp.vendor), ("charge_point_model", cp.model),
             ("charge_point_serial_number", cp.serial_number),
             ("firmware_version", cp.firmware_version), ("iccid", cp.iccid),
             ("imsi", cp.imsi)]
    return [(k, v) for k, v in pairs if v is not None]


def status_pairs(cp: ChargePointState, request: dict[str, Any], v16: bool,
                 connector: int) -> tuple[str | None, Pairs]:
    """(status, the keys of one StatusNotification except connection_state/last_seen)."""
    if v16:
        status = request.get("status")
        pairs: Pairs = [("error_code", request.get("errorCode")), ("status", status)]
    else:
        known = cp.connectors.get(connector)
        status = (known.status if known is not None else None) or request.get("connectorStatus")
        pairs = [("status", status)]
    pairs.append(("last_status_change", now_z()))
    pairs += [(snake(k), request[k]) for k in _STATUS_OPTIONAL if request.get(k) is not None]
    return (status if isinstance(status, str) else None), pairs


def authorize_status(response: dict[str, Any] | None) -> str | None:
    if not isinstance(response, dict):
        return None
    info = response.get("idTagInfo", response.get("idTokenInfo"))
    status = info.get("status") if isinstance(info, dict) else None
    return status if isinstance(status, str) else None


def data_transfer_pairs(request: dict[str, Any]) -> Pairs:
    return [(snake(name), request[name]) for name in ("vendorId", "messageId", "data")
            if request.get(name) is not None]


# ---- disconnect reasons ---------------------------------------------------------------------

_CLOSED = re.compile(r"closed by the charge point \(code (\d+)\)")
_REASONS = (
    ("replaced by a newer connection", "session_cancelled"),
    ("takeover", "session_cancelled"),
    ("gateway shutting down", "service_stopped"),
    ("gateway restarted", "service_restarted"),
    ("MQTT broker unreachable", "connection_closed_1013"),
    ("binary frame", "connection_closed_1003"),
    ("no pong", "connection_closed_1011"),
    ("too many frames waiting", "connection_closed_1008"),
    ("write to the charge point failed", "connection_error_1011"),
    ("WebSocket error", "connection_error_1006"),
)


def disconnect_reason(reason: str | None) -> str:
    """ocpp2mqtt's `disconnect_reason` value for the gateway's own reason text."""
    text = reason or ""
    closed = _CLOSED.fullmatch(text)
    if closed:
        code = int(closed.group(1))
        return "normal_closure" if code in (1000, 1001) else f"connection_closed_{code}"
    if text == "closed by the charge point":  # no close frame: WebSocket's 1006
        return "connection_closed_1006"
    for start, value in _REASONS:
        if text.startswith(start):
            return value
    return "unexpected_error"


# ---- commands -------------------------------------------------------------------------------

NOT_CONNECTED = "Charge point websocket is not connected"  # ocpp2mqtt's own words
_ON = frozenset({"ON", "TRUE", "1", "YES", "Y"})  # ocpp2mqtt's charging_enabled spellings
_OFF = frozenset({"OFF", "FALSE", "0", "NO", "N"})


def gate(args: Any) -> bool | None:
    """charging_enabled's argument, read as ocpp2mqtt read it (ON/TRUE/1/YES/Y, a boolean or a
    number); None for anything else, which ocpp2mqtt silently took for OFF."""
    if isinstance(args, dict):
        args = next((args[k] for k in ("enabled", "charging_enabled", "value") if k in args),
                    None)
    if isinstance(args, bool):
        return args
    if isinstance(args, int | float):
        return bool(args)
    if isinstance(args, str):
        text = args.strip().upper()
        if text in _ON:
            return True
        if text in _OFF:
            return False
    return None


def error_text(outcome: CommandResult | str, call_timeout: float) -> str:
    if isinstance(outcome, str):
        return outcome
    if outcome.status == pr.OFFLINE:
        return NOT_CONNECTED
    if outcome.status == pr.REJECTED and outcome.error:
        code, text = outcome.error.get("code", ""), outcome.error.get("description", "")
        return f"{code}: {text}" if text else str(code)
    if outcome.status == pr.TIMEOUT:
        return outcome.reason or f"no answer from the charge point within {call_timeout:g} s"
    return outcome.reason or outcome.status
