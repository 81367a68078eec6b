"""ThingsBoard gateway API payloads, without I/O: what a charge point's state looks like as
ThingsBoard client attributes and telemetry, and how an RPC from ThingsBoard becomes a command.

One ThingsBoard device per charge point, named by its identity. Keys are camelCase, as
ThingsBoard's own examples are. Connector 1 (1.6) / EVSE 1 (2.x) carries the plain keys
(`status`, `power`, ...) and connector N the same keys suffixed `_N` (`status_2`, `power_0` for
what a 1.6 charger reports on connector 0): a dashboard made for a single-outlet charger then
works unchanged for every charger, and the charge point's attributes, its connectors and its
RPCs stay on one device, the one the user knows from the charger's label.

Values never go out as JSON null: ThingsBoard releases before 3.3 refuse a null and close the
gateway's whole connection over it. A text field that is cleared (the transaction id and idTag
when a transaction ends) goes out as "" so that dashboards do not keep showing it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from ..modes.central.state import ChargePointState, ConnectorState

CONNECT = "v1/gateway/connect"
DISCONNECT = "v1/gateway/disconnect"
TELEMETRY = "v1/gateway/telemetry"
ATTRIBUTES = "v1/gateway/attributes"
RPC = "v1/gateway/rpc"

# client attribute <- ChargePointState field
ATTRIBUTE_FIELDS = {
    "vendor": "vendor", "model": "model", "serialNumber": "serial_number",
    "chargeBoxSerialNumber": "charge_box_serial_number", "firmwareVersion": "firmware_version",
    "iccid": "iccid", "imsi": "imsi", "meterType": "meter_type",
    "meterSerialNumber": "meter_serial_number", "ocppVersion": "version",
    "registration": "registration", "bootReason": "boot_reason", "bootedAt": "booted_at",
    "connectedAt": "connected_at", "disconnectedAt": "disconnected_at",
    "disconnectReason": "disconnect_reason", "remoteAddress": "remote_address",
    "firmwareStatus": "firmware_status", "diagnosticsStatus": "diagnostics_status",
    "lastSecurityEvent": "last_security_event",
}
# telemetry key <- ConnectorState field, for values that come from meter readings (they carry
# the charge point's timestamp); kWh fields are converted from the state's Wh
READING_FIELDS = {
    "energy": "energy_wh", "power": "power_w", "current": "current_a", "voltage": "voltage_v",
    "soc": "soc", "temperature": "temperature_c", "frequency": "frequency_hz",
    "currentOffered": "current_offered_a", "powerOffered": "power_offered_w",
}
CONNECTOR_FIELDS = {
    "status": "status", "errorCode": "error_code", "vendorErrorCode": "vendor_error_code",
    "statusInfo": "info", "sessionEnergy": "session_energy_wh", "sessionTime": "session_seconds",
    "stopReason": "stop_reason", "currentLimit": "limit_a", "powerLimit": "limit_w",
}
CLEARED_TEXT = {"transactionId": "transaction_id", "idTag": "id_tag"}  # "" when None
KWH = frozenset({"energy", "sessionEnergy"})

Telemetry = dict[str, tuple[Any, int | None]]  # key -> (value, ts in ms or None)


def key_for(name: str, connector_id: int) -> str:
    return name if connector_id == 1 else f"{name}_{connector_id}"


def timestamp_ms(text: str | None) -> int | None:
    """The charge point's ISO 8601 time in ms since the epoch (UTC when it names no zone)."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _value(name: str, raw: Any) -> Any:
    if name in KWH and raw is not None:
        return round(raw / 1000, 3)
    return raw


def connector_telemetry(conn: ConnectorState, fresh: bool) -> Telemetry:
    """`fresh`: the readings are new since the last publication, so they carry the charge
    point's timestamp. Otherwise a changed value is the gateway's doing (power and current
    read 0 once charging stops) and must not be written at the old reading's time, where
    ThingsBoard would replace the real reading with it."""
    n = conn.connector_id
    out: Telemetry = {}
    ts = timestamp_ms(conn.readings_at) if fresh else None
    for name, attr in READING_FIELDS.items():
        value = getattr(conn, attr)
        if value is not None:
            out[key_for(name, n)] = (_value(name, value), ts)
    for name, attr in CONNECTOR_FIELDS.items():
        value = getattr(conn, attr)
        if value is not None:
            out[key_for(name, n)] = (_value(name, value), None)
    if n == 0:
        # The charge point as a whole (1.6 connector 0, or where a limit for all of it is
        # kept): it has no transactions and no plug, only perhaps a status.
        if conn.status is not None:
            out["problem_0"] = (conn.problem, None)
        return out
    for name, attr in CLEARED_TEXT.items():
        value = getattr(conn, attr)
        out[key_for(name, n)] = ("" if value is None else str(value), None)
    for name in ("charging", "plugged", "problem"):
        out[key_for(name, n)] = (getattr(conn, name), None)
    return out


def telemetry(cp: ChargePointState, fresh: set[int]) -> Telemetry:
    """Every telemetry value of the charge point; `fresh`: the connectors whose readings are
    new since the last publication."""
    out: Telemetry = {"online": (cp.online, None)}
    enabled = getattr(cp, "charging_enabled", None)  # the gateway-side gate
    if isinstance(enabled, bool):
        out["chargingEnabled"] = (enabled, None)
    for n, conn in cp.connectors.items():
        out.update(connector_telemetry(conn, n in fresh))
    return out


def attributes(cp: ChargePointState, gateway_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, attr in ATTRIBUTE_FIELDS.items():
        value = getattr(cp, attr)
        if value is not None:
            out[name] = value
    out["connectors"] = len(cp.outlets())
    out["gateway"] = gateway_id
    return out


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b  # True == 1 == 1.0 must still count as a change


def changed_attributes(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in new.items() if k not in old or not _same(old[k], v)}


def changed_telemetry(new: Telemetry, old: dict[str, Any]) -> Telemetry:
    """The keys whose value differs from what was last published (`old`: key -> value)."""
    return {k: vt for k, vt in new.items() if k not in old or not _same(old[k], vt[0])}


# ---- payloads --------------------------------------------------------------------------------

def connect_payload(device: str, device_type: str) -> bytes:
    return orjson.dumps({"device": device, "type": device_type})


def disconnect_payload(device: str) -> bytes:
    return orjson.dumps({"device": device})


def attributes_payload(device: str, values: dict[str, Any]) -> bytes:
    return orjson.dumps({device: values})


def telemetry_payload(device: str, values: Telemetry) -> bytes:
    """`{"CP1": [{"ts": ms, "values": {...}}, {...keys with no timestamp...}]}`; ThingsBoard
    takes an entry as timestamped only when it has both `ts` and `values`, and stamps the other
    entries with its own clock."""
    by_ts: dict[int | None, dict[str, Any]] = {}
    for key, (value, ts) in values.items():
        by_ts.setdefault(ts, {})[key] = value
    entries: list[dict[str, Any]] = [
        {"ts": ts, "values": vals} for ts, vals in sorted(
            ((t, v) for t, v in by_ts.items() if t is not None), key=lambda item: item[0])]
    if None in by_ts:
        entries.append(by_ts[None])
    return orjson.dumps({device: entries})


def rpc_reply(device: str, request_id: int, data: dict[str, Any]) -> bytes:
    return orjson.dumps({"device": device, "id": request_id, "data": data})


# ---- RPC ----------------------------------------------------------------------------------

@dataclass(slots=True)
class RpcRequest:
    device: str
    id: int
    method: str
    params: Any


class BadRpc(ValueError):
    """A request that cannot be run; `device` and `id` are set when a reply can say so."""

    def __init__(self, reason: str, device: str | None = None, request_id: int | None = None,
                 method: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.device = device
        self.id = request_id
        self.method = method


def parse_rpc(payload: bytes) -> RpcRequest | None:
    """A server-side RPC request, or None for what is no request (an RPC reply, which on a
    plain broker comes back to its publisher). Raises BadRpc for a broken request."""
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise BadRpc("not JSON") from None
    if not isinstance(body, dict):
        raise BadRpc("not a JSON object")
    data = body.get("data")
    if not isinstance(data, dict) or "method" not in data:
        if "id" in body and "device" in body:
            return None  # a reply: {"device", "id", "data"}
        raise BadRpc("expected {\"device\": ..., \"data\": {\"id\", \"method\", \"params\"}}")
    device = body.get("device")
    request_id = data.get("id")
    if not isinstance(request_id, int) or isinstance(request_id, bool):
        request_id = None
    if not isinstance(device, str) or not device:
        raise BadRpc("`device` must be the charge point's name", None, request_id)
    method = data["method"]
    if request_id is None:
        raise BadRpc("`data.id` must be an integer", device, None)
    if not isinstance(method, str) or not method:
        raise BadRpc("`data.method` must be a non-empty string", device, request_id)
    return RpcRequest(device, request_id, method, data.get("params"))


def parse_attribute_update(payload: bytes) -> tuple[str, dict[str, Any]] | None:
    """A shared-attribute update `{"device": "CP1", "data": {...}}`, or None (our own client
    attributes `{"CP1": {...}}` come back on a plain broker, and are no update)."""
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if (isinstance(body, dict) and isinstance(body.get("device"), str)
            and isinstance(body.get("data"), dict)):
        return body["device"], body["data"]
    return None


# ThingsBoard-style camelCase RPC method -> high-level command (README, "ThingsBoard")
ALIASES = {
    "remoteStart": "start_charging", "startCharging": "start_charging",
    "remoteStop": "stop_charging", "stopCharging": "stop_charging",
    "setCurrentLimit": "set_current_limit", "setMaxCurrent": "set_current_limit",
    "setPowerLimit": "set_power_limit", "clearLimit": "clear_limit",
    "setAvailable": "set_available", "reset": "reset",
    "unlock": "unlock", "unlockConnector": "unlock",
    "getConfiguration": "get_configuration", "changeConfiguration": "change_configuration",
    "trigger": "trigger", "triggerMessage": "trigger",
    "setChargingEnabled": "set_charging_enabled",
}
# what a bare (non-object) params value means, per command; dashboards' knob and switch
# widgets send `"params": 16` or `"params": true`
_SCALAR = {
    "start_charging": ("connector", int), "stop_charging": ("connector", int),
    "set_current_limit": ("amps", float), "set_power_limit": ("watts", float),
    "clear_limit": ("connector", int), "set_available": ("available", bool),
    "reset": ("type", str), "unlock": ("connector", int), "get_configuration": ("keys", list),
    "trigger": ("message", str), "set_charging_enabled": ("enabled", bool),
}
_PARAM_NAMES = {
    "connectorId": "connector", "evseId": "connector", "idTag": "id_tag",
    "transactionId": "transaction_id", "current": "amps", "maxCurrent": "amps",
    "power": "watts", "messageTrigger": "message", "requestedMessage": "message",
}
_OCPP_NAME = re.compile(r"[A-Z][A-Za-z0-9]*(-Signed)?")


def _rename(params: dict[str, Any]) -> dict[str, Any]:
    """ThingsBoard / OCPP camelCase parameter names to the commands' names."""
    return {_PARAM_NAMES.get(str(k), str(k)): v for k, v in params.items()}


def _scalar(name: str, value: Any) -> dict[str, Any]:
    key, kind = _SCALAR[name]
    if kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise BadRpc(f"params for {name} must be an object or a {kind.__name__} ({key})")
    return {key: value}


def map_method(method: str, params: Any) -> tuple[str, dict[str, Any] | None]:
    """(command name for Hub.command, its args). Raises BadRpc for params it cannot use."""
    if method.startswith("ocpp."):
        action = method[5:]
        if not _OCPP_NAME.fullmatch(action):
            raise BadRpc(f"{method!r}: expected ocpp.<Action> with the OCPP action name, "
                         "e.g. ocpp.RemoteStartTransaction")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise BadRpc(f"params of {method} must be the OCPP payload (a JSON object)")
        return action, params
    if method == "setCharging":  # a switch: true starts, false stops
        if isinstance(params, bool):
            return ("start_charging" if params else "stop_charging"), {}
        if isinstance(params, dict) and isinstance(params.get("charging"), bool):
            args = _rename({k: v for k, v in params.items() if k != "charging"})
            return ("start_charging" if params["charging"] else "stop_charging"), args
        raise BadRpc("params of setCharging must be true / false or {\"charging\": bool, "
                     "\"connector\": n}")
    name = ALIASES.get(method)
    if name is None:  # an OCPP, snake_case or high-level name: the hub knows them
        if params is not None and not isinstance(params, dict):
            raise BadRpc(f"params of {method} must be a JSON object")
        return method, params
    if params is None:
        return name, {}
    if not isinstance(params, dict):
        return name, _scalar(name, params)
    # the commands take camelCase and `value` too, and check what they are given
    return name, _rename(params)
