"""The built-in central system: the answer to each charge point CALL, per OCPP version.

Every charge-point-initiated action gets an answer valid against its response schema: the
messages central mode acts on (Boot, Authorize, transactions, DataTransfer) get a considered
one; notifications whose response is empty get `{}`; the few requests a small central system
cannot serve (certificate signing, ISO 15118 certificates) get the response status that says
no. An action with a required response nothing here can fill gets the CALLERROR NotSupported
(ER-04), never a crash.
"""

from __future__ import annotations

import importlib.resources
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from ...config import Settings
from ...ocppj.versions import Version
from .authz import IdTags
from .state import ChargePointState
from .store import Store, Transaction

# Requests a small central system declines with the response's own "no" (2.x unless noted)
_DECLINED: dict[str, dict[str, Any]] = {
    "SignCertificate": {"status": "Rejected"},  # 1.6 security extension too: no CA here
    "Get15118EVCertificate": {"status": "Failed", "exiResponse": ""},
    "GetCertificateStatus": {"status": "Failed"},
    "NotifyEVChargingNeeds": {"status": "Rejected"},  # no schedule will follow
    "NotifyEVChargingSchedule": {"status": "Accepted"},
    "OpenPeriodicEventStream": {"status": "Rejected"},
    "PullDynamicScheduleUpdate": {"status": "Rejected"},
}


@dataclass(slots=True)
class Answer:
    """The CALLRESULT payload, or a CALLERROR (`error` = (code, description))."""

    payload: dict[str, Any] | None = None
    error: tuple[str, str] | None = None
    # a transaction this message started or ended: published on the transactions topic
    transaction: Transaction | None = None
    transaction_event: str | None = None  # "started" | "ended"


def iso_now(now: datetime) -> str:
    """UTC with a `Z` and milliseconds: what every OCPP dateTime wants (ocpp2mqtt bug 10)."""
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


class Answerer:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.id_tags = IdTags(settings.id_tags, settings.unknown_id_tag,
                              settings.remote_start_id_tag)
        self._allowed = set(settings.boot_allowed)

    def answer(self, cp: ChargePointState, version: Version, action: str,
               request: dict[str, Any], now: datetime) -> Answer:
        handler = getattr(self, f"_{action}", None)
        if handler is not None:
            result: Answer = handler(cp, version, request, now)
            return result
        declined = _DECLINED.get(action)
        if declined is not None:
            return Answer(dict(declined))
        if action == "VatNumberValidation":
            return Answer({"vatNumber": str(request.get("vatNumber", "")), "status": "Rejected"})
        if not _required_response_fields(version.value, action):
            return Answer({})  # a notification: nothing to say but "received"
        return Answer(error=("NotSupported", f"{action} is not handled by the built-in central "
                             "system; route it to a backend with `answer`"))

    # ---- both versions -------------------------------------------------------------------

    def _BootNotification(self, cp: ChargePointState, version: Version,
                          request: dict[str, Any], now: datetime) -> Answer:
        policy = self.settings.boot_policy
        if policy == "accept" or (policy == "listed" and cp.identity in self._allowed):
            status = "Accepted"
        elif policy == "pending":
            status = "Pending"
        else:
            status = "Rejected"
        return Answer({"status": status, "currentTime": iso_now(now),
                       "interval": self.settings.heartbeat_interval})

    def _Heartbeat(self, cp: ChargePointState, version: Version, request: dict[str, Any],
                   now: datetime) -> Answer:
        return Answer({"currentTime": iso_now(now)})

    def _Authorize(self, cp: ChargePointState, version: Version, request: dict[str, Any],
                   now: datetime) -> Answer:
        if version is Version.V16:
            return Answer({"idTagInfo": self.id_tags.id_tag_info(
                _text(request.get("idTag")), now, cp.charging_enabled)})
        token = request.get("idToken")
        value = _text(token.get("idToken")) if isinstance(token, dict) else None
        if isinstance(token, dict) and token.get("type") == "NoAuthorization":
            return Answer({"idTokenInfo": {"status": "Accepted" if cp.charging_enabled
                                           else "Blocked"}})
        return Answer({"idTokenInfo": self.id_tags.id_token_info(value, now,
                                                                 cp.charging_enabled)})

    def _DataTransfer(self, cp: ChargePointState, version: Version, request: dict[str, Any],
                      now: datetime) -> Answer:
        # Always answered (ocpp2mqtt crashed here, its bug 3); what the vendor data means is
        # for a backend: route DataTransfer with `answer` to give a vendor-specific answer.
        return Answer({"status": self.settings.data_transfer_status})

    # ---- OCPP 1.6 transactions -----------------------------------------------------------

    def _StartTransaction(self, cp: ChargePointState, version: Version,
                          request: dict[str, Any], now: datetime) -> Answer:
        tag = _text(request.get("idTag"))
        connector = _int(request.get("connectorId"), 0)
        tx, new = self.store.start_transaction(cp.identity, connector, tag,
                                               _text(request.get("timestamp")),
                                               _number(request.get("meterStart")))
        # The tag list counts here too (ocpp2mqtt only looked at its charging switch, bug 13).
        info = self.id_tags.id_tag_info(tag, now, cp.charging_enabled)
        return Answer({"transactionId": tx.id, "idTagInfo": info},
                      transaction=tx if new else None, transaction_event="started")

    def _StopTransaction(self, cp: ChargePointState, version: Version, request: dict[str, Any],
                         now: datetime) -> Answer:
        tx_id = _int(request.get("transactionId"), -1)
        payload: dict[str, Any] = {}
        tag = _text(request.get("idTag"))
        if tag is not None:
            payload["idTagInfo"] = self.id_tags.id_tag_info(tag, now)
        tx = self.store.find_transaction(cp.identity, tx_id)
        # `reason` is optional and means Local when absent (ocpp2mqtt failed on it, bug 5).
        reason = _text(request.get("reason")) or "Local"
        meter_stop = _number(request.get("meterStop"))
        stopped_at = _text(request.get("timestamp"))
        if tx is None:  # not ours (started against another central system): still recorded
            tx = Transaction(tx_id, cp.identity, 0, None, tag, None, None, stopped_at,
                             meter_stop, reason)
        else:
            self.store.stop_transaction(tx, stopped_at, meter_stop, reason)
        return Answer(payload, transaction=tx, transaction_event="ended")

    # ---- OCPP 2.x transactions -----------------------------------------------------------

    def _TransactionEvent(self, cp: ChargePointState, version: Version,
                          request: dict[str, Any], now: datetime) -> Answer:
        info = request.get("transactionInfo")
        ocpp_id = _text(info.get("transactionId")) if isinstance(info, dict) else None
        evse = request.get("evse")
        connector = _int(evse.get("id"), 0) if isinstance(evse, dict) else 0
        token = request.get("idToken")
        tag = _text(token.get("idToken")) if isinstance(token, dict) else None
        payload: dict[str, Any] = {}
        if tag is not None:
            payload["idTokenInfo"] = self.id_tags.id_token_info(tag, now, cp.charging_enabled)
        if ocpp_id is None:
            return Answer(payload)
        event = request.get("eventType")
        energy = energy_register_wh(request.get("meterValue"))
        tx = self.store.find_transaction(cp.identity, ocpp_id=ocpp_id)
        started = tx is None
        if tx is None:  # Started, or the first event we see of one begun while offline
            tx, _ = self.store.start_transaction(cp.identity, connector, tag,
                                                 _text(request.get("timestamp")), energy,
                                                 ocpp_id)
        else:
            late: dict[str, Any] = {}
            if tx.id_tag is None and tag is not None:
                late["id_tag"] = tag
            if tx.meter_start is None and energy is not None and event != "Ended":
                late["meter_start"] = energy
            self.store.update_transaction(tx, **late)
        if event == "Ended":
            reason = (_text(info.get("stoppedReason")) if isinstance(info, dict) else None)
            self.store.stop_transaction(tx, _text(request.get("timestamp")), energy,
                                        reason or "Local")
            return Answer(payload, transaction=tx, transaction_event="ended")
        if started:
            return Answer(payload, transaction=tx, transaction_event="started")
        return Answer(payload)


def energy_register_wh(meter_values: Any) -> float | None:
    """The last Energy.Active.Import.Register in a 2.x meterValue list, in Wh."""
    found: float | None = None
    if not isinstance(meter_values, list):
        return None
    for entry in meter_values:
        samples = entry.get("sampledValue") if isinstance(entry, dict) else None
        for sample in samples if isinstance(samples, list) else ():
            if not isinstance(sample, dict):
                continue
            measurand = sample.get("measurand", "Energy.Active.Import.Register")
            value = sample.get("value")
            if measurand != "Energy.Active.Import.Register" or sample.get("phase"):
                continue
            if not isinstance(value, int | float) or isinstance(value, bool):
                continue
            unit = sample.get("unitOfMeasure")
            unit = unit if isinstance(unit, dict) else {}
            multiplier = unit.get("multiplier", 0)
            scale = 1000.0 if unit.get("unit") == "kWh" else 1.0
            found = float(value) * scale * 10.0 ** (multiplier if type(multiplier) is int else 0)
    return found


@cache
def _required_response_fields(version: str, action: str) -> tuple[str, ...]:
    folder = {"1.6": "v16", "2.0.1": "v201", "2.1": "v21"}[version]
    path = importlib.resources.files("ocpp") / folder / "schemas" / f"{action}Response.json"
    try:
        schema = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        return ()
    return tuple(schema.get("required", ()))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any, default: int) -> int:
    return value if type(value) is int else default


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
