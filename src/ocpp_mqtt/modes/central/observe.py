"""The state updater of central mode: what a charge point says, taken into its
:class:`ChargePointState`. Pure functions, no I/O; none raises, whatever the payload.

Every call returns the ids whose state changed: 0 for charge-point-level fields (and for
connector 0, which holds what a 1.6 charge point reports for itself and the main meter),
N for connector/EVSE N. `last_seen` alone is not a change: it moves with every frame.

Decisions where OCPP leaves room (the full list: README, "How central mode reads what a
charge point says"):

- A field of the wrong type is ignored, but a sampled value with a measurand, phase or location
  of the wrong type is dropped whole: reading it with the defaults would file an L1 value as the
  total, or a stray number as the energy register.
- A StatusNotification describes the connector fully: `info` / `vendor_error_code` it leaves
  out are cleared, and without a timestamp `status_at` is the gateway's time.
- Power and current read 0 (if they had been reported) when a connector's status becomes anything
  but Charging, when its transaction ends, and on disconnect: nothing flows then, and dashboards
  built on ocpp2mqtt rely on it. Energy and the other readings keep their last value.
- After a transaction, `id_tag` keeps the tag that started it (with `session_energy_wh`,
  `session_seconds`, `stop_reason`, `session_stopped_at`) until the next one starts; only
  `transaction_id` returns to None.
- 2.x status: `Occupied` reads Preparing, or what the transaction says (Charging, SuspendedEV,
  SuspendedEVSE; Finishing once it has ended with the EV still plugged). TransactionEvent's
  chargingState sets the status: EVConnected and Idle (authorised, not plugged in yet) read
  Preparing; at Ended, Idle reads Available and anything else Finishing, as 1.6 chargers report
  it. A Faulted connector stays Faulted whatever the transaction says.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from . import readings as rd
from .changes import CP_FIELDS, Touched, changes, snapshot
from .state import PLUGGED_STATUSES, STATUSES, ChargePointState, ConnectorState

log = logging.getLogger("ocpp_mqtt.central")

MAX_CONNECTOR_ID = 1000  # no charger has more; a broken one must not create a million
MAX_EVSE_CONNECTORS = 16

_REGISTRATION = ("Accepted", "Pending", "Rejected")
_STATUSES_2X = ("Available", "Occupied", "Reserved", "Unavailable", "Faulted")
# which connector of an EVSE speaks for it: one in use beats one that is faulted, and so on
_EVSE_PRIORITY = {status: rank for rank, status in enumerate(
    ("Occupied", "Faulted", "Reserved", "Available", "Unavailable"))}
_IN_TRANSACTION = ("Charging", "SuspendedEV", "SuspendedEVSE")
_CHARGING_STATE = {"Charging": "Charging", "SuspendedEV": "SuspendedEV",
                   "SuspendedEVSE": "SuspendedEVSE", "EVConnected": "Preparing",
                   "Idle": "Preparing"}
_KEEP = object()  # to _set_text: leave the field as it is

# a message about the charge point changes its own fields only; one about connectors changes
# only the connectors its handler takes through the Touched (changes.py)
Handler = Callable[[ChargePointState, dict[str, Any], dict[str, Any] | None, str], None]
T = TypeVar("T")
ConnectorHandler = Callable[[Touched, dict[str, Any], dict[str, Any] | None, str], None]


def observe(cp: ChargePointState, version: str, action: str, request: dict[str, Any],
            response: dict[str, Any] | None, now: str) -> set[int]:
    """Take in one charge point CALL (request payload) and the answer it got (response payload,
    None when it got a CALLERROR/no answer). Returns the connector ids whose state changed
    (0 = charge-point-level fields). `now` is the gateway's ISO 8601 UTC time ('...Z')."""
    cp.last_seen = now
    if not isinstance(action, str):
        return set()
    v16 = isinstance(version, str) and version.startswith("1.")
    req = request if isinstance(request, dict) else {}
    res = response if isinstance(response, dict) else None
    about_cp = (_V16 if v16 else _V2X).get(action)
    if about_cp is not None:
        before = CP_FIELDS(cp)
        _run(about_cp, cp, req, res, now, cp, action)
        return {0} if CP_FIELDS(cp) != before else set()
    about_connectors = (_V16_CONNECTORS if v16 else _V2X_CONNECTORS).get(action)
    if about_connectors is None:
        return set()
    touched = Touched(cp)
    _run(about_connectors, touched, req, res, now, cp, action)
    return touched.changes()


def _run(handler: Callable[[T, dict[str, Any], dict[str, Any] | None, str], None], target: T,
         req: dict[str, Any], res: dict[str, Any] | None, now: str, cp: ChargePointState,
         action: str) -> None:
    try:
        handler(target, req, res, now)
    except Exception:  # a bug in bookkeeping must not cost the charge point its answer
        log.exception("state update for %s %s failed; state may be incomplete",
                      cp.identity, action)


def connected(cp: ChargePointState, version: str, remote_address: str, now: str) -> set[int]:
    """The charge point's WebSocket is up. The last disconnect's time and reason stay."""
    before = snapshot(cp)
    cp.online, cp.version, cp.connected_at = True, version, now
    cp.remote_address = remote_address
    return changes(before, cp)


def disconnected(cp: ChargePointState, reason: str, now: str) -> set[int]:
    """The WebSocket is gone: offline, and power and current of every connector read 0."""
    before = snapshot(cp)
    cp.online, cp.disconnected_at, cp.disconnect_reason = False, now, reason
    for connector in cp.connectors.values():
        _zero_flow(connector)
    return changes(before, cp)


# ---- payload access: a wrong type reads as absent -------------------------------------------

def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _integer(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _connector_id(data: dict[str, Any], key: str) -> int | None:
    value = _integer(data, key)
    return value if value is not None and 0 <= value <= MAX_CONNECTOR_ID else None


def _meter(data: dict[str, Any], key: str) -> float | None:
    """A 1.6 meterStart/meterStop (integer Wh)."""
    value = data.get(key)
    return rd.number(value) if isinstance(value, int | float) else None


def _set_text(target: object, name: str, value: Any) -> None:
    """Absent (None) clears the field, text sets it, anything else leaves it."""
    if value is None or isinstance(value, str):
        setattr(target, name, value)


# ---- charge point level ---------------------------------------------------------------------

def _describe(cp: ChargePointState, values: dict[str, Any], response: dict[str, Any] | None,
              now: str) -> None:
    for name, value in values.items():
        _set_text(cp, name, value)
    cp.booted_at = now
    status = _text(response or {}, "status")
    if status in _REGISTRATION:
        cp.registration = status


def _boot_16(cp: ChargePointState, req: dict[str, Any], res: dict[str, Any] | None,
             now: str) -> None:
    names = {"vendor": "chargePointVendor", "model": "chargePointModel",
             "serial_number": "chargePointSerialNumber",
             "charge_box_serial_number": "chargeBoxSerialNumber",
             "firmware_version": "firmwareVersion", "iccid": "iccid", "imsi": "imsi",
             "meter_type": "meterType", "meter_serial_number": "meterSerialNumber"}
    values = {name: req.get(key) for name, key in names.items()}
    _describe(cp, {**values, "boot_reason": None}, res, now)


def _boot_2x(cp: ChargePointState, req: dict[str, Any], res: dict[str, Any] | None,
             now: str) -> None:
    station = req.get("chargingStation")
    values: dict[str, Any] = {"boot_reason": req.get("reason")}
    if isinstance(station, dict):
        values.update(
            vendor=station.get("vendorName"), model=station.get("model"),
            serial_number=station.get("serialNumber"),
            firmware_version=station.get("firmwareVersion"), iccid=None, imsi=None,
            # 1.6 only: a station that moved to 2.x no longer has them
            charge_box_serial_number=None, meter_type=None, meter_serial_number=None)
        modem = station.get("modem")
        if isinstance(modem, dict):
            values.update(iccid=modem.get("iccid"), imsi=modem.get("imsi"))
        elif modem is not None:
            values.update(iccid=_KEEP, imsi=_KEEP)
    _describe(cp, values, res, now)


def _heartbeat(cp: ChargePointState, req: dict[str, Any], res: dict[str, Any] | None,
               now: str) -> None:
    cp.heartbeat_at = now


def _status_field(name: str, key: str) -> Handler:
    def handler(cp: ChargePointState, req: dict[str, Any], res: dict[str, Any] | None,
                now: str) -> None:
        value = _text(req, key)
        if value is not None:
            setattr(cp, name, value)
    return handler


# ---- connector status -----------------------------------------------------------------------

def _zero_flow(c: ConnectorState) -> None:
    """Power and current read 0, if they were ever reported."""
    if c.power_w:
        c.power_w = 0.0
    if c.current_a:
        c.current_a = 0.0


def _set_status(c: ConnectorState, status: str) -> None:
    c.status = status
    if status != "Charging" and c.connector_id >= 1:
        _zero_flow(c)  # connector 0's meter may still see other connectors draw


def _status_16(t: Touched, req: dict[str, Any], res: dict[str, Any] | None,
               now: str) -> None:
    connector_id = _connector_id(req, "connectorId")
    if connector_id is None:
        return
    c = t.connector(connector_id)
    status = _text(req, "status")
    if status is not None:
        c.ocpp_status = status
        if status in STATUSES:
            _set_status(c, status)
    c.error_code = _text(req, "errorCode")
    c.info = _text(req, "info")
    c.vendor_error_code = _text(req, "vendorErrorCode")
    c.status_at = _text(req, "timestamp") or now


def _from_2x(c: ConnectorState, raw: str) -> str | None:
    """The status a 2.x connector status reads as, given the EVSE's transaction."""
    if raw == "Occupied":
        if c.transaction_id is not None and c.status in _IN_TRANSACTION:
            return c.status
        if c.transaction_id is None and c.status == "Finishing":
            return c.status
        return "Preparing"
    return raw if raw in _STATUSES_2X else None


def _evse_status(t: Touched, evse_id: int, connector_id: int | None, raw: str,
                 at: str) -> None:
    c = t.connector(evse_id)
    if connector_id is None or not 0 <= connector_id <= MAX_CONNECTOR_ID:
        c.connector_statuses.clear()  # said of the EVSE as a whole
        evse_raw = raw
    else:
        key = str(connector_id)
        if key in c.connector_statuses or len(c.connector_statuses) < MAX_EVSE_CONNECTORS:
            c.connector_statuses[key] = raw
        evse_raw = min(c.connector_statuses.values() or [raw],
                       key=lambda status: _EVSE_PRIORITY.get(status, len(_EVSE_PRIORITY)))
    c.ocpp_status, c.status_at = evse_raw, at
    status = _from_2x(c, evse_raw)
    if status is not None:
        _set_status(c, status)


def _status_2x(t: Touched, req: dict[str, Any], res: dict[str, Any] | None,
               now: str) -> None:
    evse_id, raw = _connector_id(req, "evseId"), _text(req, "connectorStatus")
    if evse_id is not None and raw is not None:
        _evse_status(t, evse_id, _integer(req, "connectorId"), raw,
                     _text(req, "timestamp") or now)


def _notify_event(t: Touched, req: dict[str, Any], res: dict[str, Any] | None,
                  now: str) -> None:
    """2.x stations may report connector status as the Connector component's AvailabilityState
    variable instead of StatusNotification (2.1 prefers it)."""
    events = req.get("eventData")
    for event in events if isinstance(events, list) else []:
        event = _dict(event)
        component, variable = _dict(event.get("component")), _dict(event.get("variable"))
        if component.get("name") != "Connector" or variable.get("name") != "AvailabilityState":
            continue
        evse = _dict(component.get("evse"))
        evse_id, raw = _connector_id(evse, "id"), _text(event, "actualValue")
        if evse_id is not None and raw is not None and raw in _STATUSES_2X:
            _evse_status(t, evse_id, _integer(evse, "connectorId"), raw,
                         _text(event, "timestamp") or now)


# ---- meter values and transactions ----------------------------------------------------------

def _take(t: Touched, connector_id: int, meter_values: Any, v16: bool, now: str,
          session: bool = True) -> None:
    batch = rd.batch(meter_values, v16)
    if batch:  # a connector appears only once it has something to show
        rd.take(t.connector(connector_id), batch, now, session)


def _end(c: ConnectorState, reason: str, at: str) -> None:
    c.stop_reason, c.session_stopped_at, c.transaction_id = reason, at, None
    _zero_flow(c)


def _meter_values_16(t: Touched, req: dict[str, Any], res: dict[str, Any] | None,
                     now: str) -> None:
    connector_id = _connector_id(req, "connectorId")
    if connector_id is None:
        return
    known = t.cp.connectors.get(connector_id)
    transaction_id = _integer(req, "transactionId")
    # readings of another transaction than the one we track say nothing about its session
    session = transaction_id is None or (
        known is not None and known.transaction_id == str(transaction_id))
    _take(t, connector_id, req.get("meterValue"), True, now, session)


def _meter_values_2x(t: Touched, req: dict[str, Any], res: dict[str, Any] | None,
                     now: str) -> None:
    evse_id = _connector_id(req, "evseId")
    if evse_id is not None:
        _take(t, evse_id, req.get("meterValue"), False, now)


def _start_16(t: Touched, req: dict[str, Any], res: dict[str, Any] | None,
              now: str) -> None:
    """Only an Accepted start opens the transaction: a charger stops a refused one at once
    (its StopTransaction then matches nothing). The tag is recorded either way."""
    connector_id = _connector_id(req, "connectorId")
    if not connector_id:
        return
    c = t.connector(connector_id)
    id_tag = _text(req, "idTag")
    if id_tag is not None:
        c.id_tag = id_tag
    answer = _dict(res)
    transaction_id = _integer(answer, "transactionId")
    if transaction_id is None or _text(_dict(answer.get("idTagInfo")), "status") != "Accepted":
        return
    c.transaction_id = str(transaction_id)
    c.session_started_at = _text(req, "timestamp") or now
    c.session_stopped_at = c.stop_reason = None
    c.meter_start_wh = _meter(req, "meterStart")
    if c.meter_start_wh is not None:
        rd.set_register(c, c.meter_start_wh)
    c.session_energy_wh, c.session_seconds = 0.0, 0


def _stop_16(t: Touched, req: dict[str, Any], res: dict[str, Any] | None,
             now: str) -> None:
    transaction_id = _integer(req, "transactionId")
    c = next((c for c in t.cp.connectors.values()
              if transaction_id is not None and c.transaction_id == str(transaction_id)), None)
    if c is None:
        return  # not a transaction we opened (refused, or from before central mode)
    t.hold(c)
    at = _text(req, "timestamp") or now
    _take(t, c.connector_id, req.get("transactionData"), True, now)
    meter_stop = _meter(req, "meterStop")
    if meter_stop is not None:
        rd.set_register(c, meter_stop)
    rd.update_session(c, at)
    _end(c, _text(req, "reason") or "Local", at)


def _begin(c: ConnectorState, transaction_id: str, started_at: str | None) -> None:
    c.transaction_id, c.session_started_at = transaction_id, started_at
    c.id_tag = c.session_stopped_at = c.stop_reason = c.meter_start_wh = None
    c.session_energy_wh, c.session_seconds = 0.0, (0 if started_at else None)


def _charging_status(c: ConnectorState, event: str, charging_state: str | None) -> str | None:
    if event != "Ended":
        return _CHARGING_STATE.get(charging_state) if charging_state else None
    if charging_state == "Idle":
        return "Available"  # the EV is gone
    if charging_state in _CHARGING_STATE or c.status in PLUGGED_STATUSES:
        return "Finishing"
    return None


def _transaction_event(t: Touched, req: dict[str, Any], res: dict[str, Any] | None,
                       now: str) -> None:
    """Started opens the transaction on `evse.id` (meter start: its first energy register
    reading, else the current one). An Updated for a transaction we do not know is adopted
    (its start time is then unknown). An Ended for one we do not know only takes the readings
    and the status in."""
    info = _dict(req.get("transactionInfo"))
    transaction_id, event = _text(info, "transactionId"), _text(req, "eventType")
    if not transaction_id or event not in ("Started", "Updated", "Ended"):
        return
    at = _text(req, "timestamp") or now
    evse_id = _connector_id(_dict(req.get("evse")), "id")
    cp = t.cp
    owner = next((c for c in cp.connectors.values() if c.transaction_id == transaction_id),
                 None)
    if evse_id:
        c = t.connector(evse_id)
    elif owner is not None:
        c = t.hold(owner)
    elif len(cp.outlets()) == 1 or not cp.outlets():
        c = t.hold(cp.outlets()[0]) if cp.outlets() else t.connector(1)
    else:
        return  # which EVSE? the first event of a transaction must say
    known = c.transaction_id == transaction_id
    if not known and event != "Ended":
        _begin(c, transaction_id, at if event == "Started" else None)
        known = True
    token = _text(_dict(req.get("idToken")), "idToken")
    if token and event != "Ended":  # the tag that ends a transaction is not whose it was
        c.id_tag = token
    _take(t, c.connector_id, req.get("meterValue"), False, now, session=known)
    status = _charging_status(c, event, _text(info, "chargingState"))
    if status is not None and c.ocpp_status != "Faulted":
        _set_status(c, status)
        c.status_at = at
    if not known:
        return
    if c.meter_start_wh is None:
        c.meter_start_wh = c.energy_wh
    rd.update_session(c, at)
    if event == "Ended":
        _end(c, _text(info, "stoppedReason") or "Local", at)


_V16: dict[str, Handler] = {
    "BootNotification": _boot_16,
    "Heartbeat": _heartbeat,
    "FirmwareStatusNotification": _status_field("firmware_status", "status"),
    "SignedFirmwareStatusNotification": _status_field("firmware_status", "status"),
    "DiagnosticsStatusNotification": _status_field("diagnostics_status", "status"),
    "LogStatusNotification": _status_field("diagnostics_status", "status"),
    "SecurityEventNotification": _status_field("last_security_event", "type"),
}
_V2X: dict[str, Handler] = {
    "BootNotification": _boot_2x,
    "Heartbeat": _heartbeat,
    "FirmwareStatusNotification": _status_field("firmware_status", "status"),
    "LogStatusNotification": _status_field("diagnostics_status", "status"),
    "SecurityEventNotification": _status_field("last_security_event", "type"),
}
_V16_CONNECTORS: dict[str, ConnectorHandler] = {
    "StatusNotification": _status_16,
    "MeterValues": _meter_values_16,
    "StartTransaction": _start_16,
    "StopTransaction": _stop_16,
}
_V2X_CONNECTORS: dict[str, ConnectorHandler] = {
    "StatusNotification": _status_2x,
    "MeterValues": _meter_values_2x,
    "TransactionEvent": _transaction_event,
    "NotifyEvent": _notify_event,
}
