"""Charging limits (set_current_limit, set_power_limit, clear_limit) and their rate limit.

Why so much care for one SetChargingProfile:

- Chargers differ in which profile purposes they take (lbbrhzn/ocpp#221): some reject
  ChargePointMaxProfile, others TxDefaultProfile. The purposes of `limit_purposes` are tried in
  order until one is Accepted; a purpose a charge point refused is tried last from then on, so
  the next limit goes straight to the purpose it accepted.
- Each (purpose, connector) has one fixed chargingProfileId and stack level, so a new limit
  replaces the previous one on the charger instead of piling up (OCPP replaces a profile with
  the same id).
- Chargers write profiles to flash: an automation that publishes a new limit every second would
  wear the charger out. Per charge point and connector, at most one update is sent every
  `limit_min_interval` seconds. The newest value wins: it waits until the interval has passed
  and is then sent; a value it replaces ends with LIMITED ("superseded by a newer limit"). A
  value the charge point already has is answered at once, without sending anything.

Nothing here does I/O: the CALL is the injected coroutine, time is an injectable clock/sleep.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ...config import Settings
from ...ocppj.versions import Version
from .profile import (
    ANSWERED,
    INVALID,
    LIMITED,
    OFFLINE,
    QUEUE_FULL,
    REJECTED,
    TIMEOUT,
    CommandResult,
)
from .state import ChargePointState

Call = Callable[[str, dict[str, Any]], Awaitable[CommandResult]]

# chargingProfileId = base + connector: one id per (purpose, connector), so a new limit replaces
# ours. Connectors above MAX_CONNECTOR would collide with the next base.
PROFILE_ID_BASE = {"ChargePointMaxProfile": 1000, "TxDefaultProfile": 2000, "TxProfile": 3000}
MAX_CONNECTOR = 999
# Stack level 0 is within every charger's ChargeProfileMaxStackLevel; with a fixed id it
# replaces our previous profile.
STACK_LEVEL = 0
# Max profiles are Absolute (2.x forbids Relative for them, K01.FR.38) from a start in the past,
# so a charger whose clock is behind does not wait for the schedule to begin.
ABSOLUTE_START = "2020-01-01T00:00:00Z"
PURPOSE_2X = {"ChargePointMaxProfile": "ChargingStationMaxProfile",
              "TxDefaultProfile": "TxDefaultProfile", "TxProfile": "TxProfile"}
# Outcomes after which no other purpose is worth trying: nothing reached the charger.
_GIVE_UP = frozenset({OFFLINE, QUEUE_FULL, INVALID, TIMEOUT})
# Outcomes after which nothing reached the charger, so nothing was written to its flash.
_NOT_SENT = frozenset({OFFLINE, QUEUE_FULL, INVALID})

Target = tuple[str, float] | None  # ("A" | "W", limit) or None to clear


@dataclass(slots=True)
class _Known:
    """What the charge point holds of ours on one connector, as far as we know."""

    target: Target
    purpose: str | None = None  # None when cleared
    transaction_id: str | None = None  # the transaction a TxProfile is bound to


@dataclass(slots=True)
class _Waiter:
    name: str
    done: asyncio.Future[CommandResult]


@dataclass(slots=True)
class _Slot:
    last_sent: float | None = None
    busy: bool = False
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    pending: _Waiter | None = None
    known: _Known | None = None


class Limits:
    """Per-gateway state of commands: rate limits and what each charge point accepted for
    limits, and the ids of requests that need one unique per gateway (remoteStartId,
    requestId)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                 first_request_id: int | None = None) -> None:
        self._clock = clock
        self._sleep = sleep
        self._slots: dict[tuple[str, int], _Slot] = {}
        self._purpose: dict[str, str] = {}  # identity -> purpose it last accepted
        self._refused: dict[str, set[str]] = {}  # identity -> purposes it said no to
        # seeded from the wall clock so ids stay unique over gateway restarts
        seed = int(time.time()) if first_request_id is None else first_request_id
        self._request_id = seed % 2**31

    def next_request_id(self) -> int:
        self._request_id = self._request_id % (2**31 - 1) + 1
        return self._request_id

    def accepted_purpose(self, identity: str) -> str | None:
        return self._purpose.get(identity)

    def forget(self, identity: str, connector: int | None = None) -> None:
        """Drop what we know the charge point holds (a raw Set/ClearChargingProfile went by,
        or it was removed): the next limit is sent even if it equals the last one."""
        for (ident, n), slot in self._slots.items():
            if ident == identity and connector in (None, n):
                slot.known = None

    async def apply(self, cp: ChargePointState, version: Version, settings: Settings,
                    call: Call, connector: int, target: Target, name: str) -> CommandResult:
        """Set (target = (unit, value)) or clear (None) our limit on `connector`."""
        if not 0 <= connector <= MAX_CONNECTOR:
            return CommandResult(INVALID, name, f"connector must be 0..{MAX_CONNECTOR}")
        if target is not None:
            target = (target[0], round(target[1], 1))  # OCPP: at most one decimal
        slot = self._slots.setdefault((cp.identity, connector), _Slot())
        if slot.pending is not None:
            _settle(slot.pending, CommandResult(
                LIMITED, slot.pending.name, "superseded by a newer limit before it was sent"))
            slot.pending = None
        if not slot.busy and _unchanged(slot, cp, connector, target):
            return _unchanged_result(slot, name, connector)
        me = _Waiter(name, asyncio.get_running_loop().create_future())
        slot.pending = me
        try:
            while True:
                if me.done.done():
                    return me.done.result()  # superseded
                if slot.busy:
                    await self._until(slot.idle.wait(), me)
                    continue
                if _unchanged(slot, cp, connector, target):
                    return _unchanged_result(slot, name, connector)
                delay = 0.0
                if slot.last_sent is not None:
                    delay = slot.last_sent + settings.limit_min_interval - self._clock()
                if delay > 0:
                    await self._until(self._sleep(delay), me)
                    continue
                break
            slot.pending = None
            slot.busy = True
            slot.idle.clear()
            started = self._clock()
            try:
                if target is None:
                    result = await self._clear(cp, version, call, connector, slot)
                else:
                    result = await self._set(cp, version, settings, call, connector, target,
                                             slot, name)
            finally:
                slot.busy = False
                slot.idle.set()
            if result.status not in _NOT_SENT:
                slot.last_sent = started
            return result
        finally:
            if slot.pending is me:
                slot.pending = None

    async def _until(self, awaitable: Awaitable[Any], waiter: _Waiter) -> None:
        """Wait for `awaitable`, or less if the waiter is superseded meanwhile."""
        task = asyncio.ensure_future(awaitable)
        try:
            await asyncio.wait({task, waiter.done}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not task.done():
                task.cancel()

    # ---- sending -------------------------------------------------------------------------
    async def _set(self, cp: ChargePointState, version: Version, settings: Settings,
                   call: Call, connector: int, target: tuple[str, float], slot: _Slot,
                   name: str) -> CommandResult:
        unit, value = target
        conn = cp.connector(connector)
        skipped: list[str] = []
        plan: list[tuple[str, str | None]] = []
        for purpose in self._order(cp.identity, settings):
            why = _not_applicable(purpose, connector, conn.transaction_id, version)
            if why:
                skipped.append(f"{purpose} ({why})")
            else:
                plan.append((purpose, conn.transaction_id if purpose == "TxProfile" else None))
        if not plan:
            return CommandResult(INVALID, name, "no charging profile purpose applies: "
                                 + "; ".join(skipped) + " (see limit_purposes)")
        steps: list[dict[str, Any]] = []
        last = CommandResult(INVALID, name, "nothing sent")
        for purpose, tx in plan:
            payload = profile_payload(version, purpose, connector, unit, value, tx)
            last = await call("SetChargingProfile", payload)
            steps.append({"purpose": purpose, **last.to_json()})
            refused = self._refused.setdefault(cp.identity, set())
            if last.ok:
                refused.discard(purpose)
                old = slot.known
                slot.known = _Known(target, purpose, tx)
                self._purpose[cp.identity] = purpose
                if unit == "A":
                    conn.limit_a, conn.limit_w = value, None
                else:
                    conn.limit_a, conn.limit_w = None, value
                if old is not None and old.purpose not in (None, purpose):
                    # our old profile of another purpose would still constrain charging
                    cleared = await call("ClearChargingProfile",
                                         clear_payload(version, old.purpose, connector))
                    steps.append({"purpose": old.purpose, **cleared.to_json()})
                return CommandResult(
                    ANSWERED, "SetChargingProfile",
                    f"accepted as {purpose} on connector {connector}", last.result,
                    steps=steps)
            if last.status in _GIVE_UP:
                break
            refused.add(purpose)
        tried = ", ".join(f"{s['purpose']} ({_outcome(s)})" for s in steps)
        reason = f"not accepted for any purpose tried: {tried}"
        if skipped:
            reason += "; not tried: " + "; ".join(skipped)
        return CommandResult(last.status, "SetChargingProfile", reason, last.result,
                             last.error, steps)

    async def _clear(self, cp: ChargePointState, version: Version, call: Call,
                     connector: int, slot: _Slot) -> CommandResult:
        known = slot.known
        if known is not None and known.purpose is not None:
            purposes = [known.purpose]
        else:  # unknown (e.g. after a restart): clear every id we may have used there
            purposes = (["ChargePointMaxProfile", "TxDefaultProfile"] if connector == 0
                        else ["TxDefaultProfile", "TxProfile"])
        steps: list[dict[str, Any]] = []
        accepted = False
        for purpose in purposes:
            result = await call("ClearChargingProfile", clear_payload(version, purpose,
                                                                       connector))
            steps.append({"purpose": purpose, **result.to_json()})
            if result.status != ANSWERED:
                return CommandResult(result.status, "ClearChargingProfile", result.reason,
                                     result.result, result.error, steps)
            accepted = accepted or (result.result or {}).get("status") == "Accepted"
        slot.known = _Known(None)
        conn = cp.connector(connector)
        conn.limit_a = conn.limit_w = None
        return CommandResult(
            ANSWERED, "ClearChargingProfile",
            "" if accepted else "the charge point held no limit of ours (Unknown)",
            {"status": "Accepted" if accepted else "Unknown"}, steps=steps)

    def _order(self, identity: str, settings: Settings) -> list[str]:
        """`limit_purposes`, those this charge point refused before moved to the end. (Not
        simply "the accepted one first": TxDefaultProfile accepted because no transaction ran
        must not take precedence over a preferred TxProfile once one does.)"""
        refused = self._refused.get(identity, set())
        order = list(settings.limit_purposes)
        return [p for p in order if p not in refused] + [p for p in order if p in refused]


def profile_id(purpose: str, connector: int) -> int:
    return PROFILE_ID_BASE[purpose] + connector


def profile_payload(version: Version, purpose: str, connector: int, unit: str, value: float,
                    transaction_id: str | None) -> dict[str, Any]:
    """The SetChargingProfile request of one limit (purpose in 1.6 names)."""
    pid = profile_id(purpose, connector)
    absolute = purpose == "ChargePointMaxProfile"
    schedule: dict[str, Any] = {
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": value}],
    }
    if absolute:
        schedule["startSchedule"] = ABSOLUTE_START
    profile: dict[str, Any] = {
        "stackLevel": STACK_LEVEL,
        "chargingProfileKind": "Absolute" if absolute else "Relative",
    }
    if version is Version.V16:
        profile.update(chargingProfileId=pid, chargingProfilePurpose=purpose,
                       chargingSchedule=schedule)
        if transaction_id is not None:
            profile["transactionId"] = int(transaction_id)
        return {"connectorId": connector, "csChargingProfiles": profile}
    profile.update(id=pid, chargingProfilePurpose=PURPOSE_2X[purpose],
                   chargingSchedule=[{"id": pid, **schedule}])
    if transaction_id is not None:
        profile["transactionId"] = transaction_id
    return {"evseId": connector, "chargingProfile": profile}


def clear_payload(version: Version, purpose: str, connector: int) -> dict[str, Any]:
    pid = profile_id(purpose, connector)
    return {"id": pid} if version is Version.V16 else {"chargingProfileId": pid}


def _not_applicable(purpose: str, connector: int, transaction_id: str | None,
                    version: Version) -> str:
    if purpose == "ChargePointMaxProfile" and connector != 0:
        return "only on connector 0"
    if purpose == "TxProfile":
        if connector == 0 or transaction_id is None:
            return f"no transaction in progress on connector {connector}"
        if version is Version.V16 and not transaction_id.isdigit():
            return f"transaction id {transaction_id!r} is not a 1.6 integer"
    return ""


def _unchanged(slot: _Slot, cp: ChargePointState, connector: int, target: Target) -> bool:
    known = slot.known
    if known is None or known.target != target:
        return False
    conn = cp.connectors.get(connector)
    if target is None:  # cleared: the state must agree (the hub may have reset it)
        return conn is None or (conn.limit_a is None and conn.limit_w is None)
    if conn is None:
        return False
    unit, value = target
    held = conn.limit_a if unit == "A" else conn.limit_w
    if held != value:
        return False
    # a TxProfile ends with its transaction
    return known.purpose != "TxProfile" or known.transaction_id == conn.transaction_id


def _unchanged_result(slot: _Slot, name: str, connector: int) -> CommandResult:
    known = slot.known
    if known is None or known.target is None:
        reason = f"unchanged: no limit of ours on connector {connector}; nothing sent"
    else:
        reason = (f"unchanged: connector {connector} already has {known.target[1]:g} "
                  f"{known.target[0]} ({known.purpose}); nothing sent")
    return CommandResult(ANSWERED, name, reason, {"status": "Accepted"})


def _settle(waiter: _Waiter, result: CommandResult) -> None:
    if not waiter.done.done():
        waiter.done.set_result(result)


def _outcome(step: dict[str, Any]) -> str:
    if step["status"] == ANSWERED:
        return str((step.get("result") or {}).get("status"))
    if step["status"] == REJECTED:
        return "CALLERROR " + str((step.get("error") or {}).get("code"))
    return str(step["status"])
