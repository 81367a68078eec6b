"""Helpers shared by the Session tests (imported, not collected)."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from ocpp_mqtt.ocppj import events as ev
from ocpp_mqtt.ocppj.session import Policy, Session
from ocpp_mqtt.ocppj.validation import Schemas
from ocpp_mqtt.ocppj.versions import ERROR_CODES, Version

V16, V201, V21 = Version.V16, Version.V201, Version.V21
ALL = [V16, V201, V21]
V2X = [V201, V21]

BOOT: dict[Version, dict[str, Any]] = {
    V16: {"chargePointVendor": "V", "chargePointModel": "M"},
    V201: {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}},
    V21: {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}},
}
RESET: dict[Version, dict[str, Any]] = {
    V16: {"type": "Soft"},
    V201: {"type": "Immediate"},
    V21: {"type": "Immediate"},
}
ACCEPTED = '{"status":"Accepted"}'
NPES = '{"id":1,"pending":0,"basetime":"2025-01-01T00:00:00Z","data":[{"t":0,"v":"1"}]}'

E = TypeVar("E")


def session(version: Version, schemas: Schemas, **policy: Any) -> Session:
    return Session(version, schemas, Policy(**policy))


def frames(events: list[ev.Event], version: Version) -> list[list[Any]]:
    """Every frame written to the CP, each checked against FR-01, FR-09 and ER-01..ER-03."""
    out: list[list[Any]] = []
    for event in events:
        if not isinstance(event, ev.SendFrame):
            continue
        frame = json.loads(event.text)  # FR-01: exactly one JSON value ...
        assert isinstance(frame, list), event.text  # ... and it is an array
        assert frame[0] in (2, 3, 4, 5, 6)
        assert isinstance(frame[1], str)  # MID-01 (length is checked where the id is ours)
        if frame[0] in (4, 5):
            assert len(frame) == 5
            assert frame[2] in ERROR_CODES[version], frame  # ER-03
            assert isinstance(frame[3], str)  # FR-09
            assert not version.is_2x or len(frame[3]) <= 255
            assert isinstance(frame[4], dict)
        if frame[0] == 5:
            assert version is V21  # FR-04
        out.append(frame)
    return out


def of(events: list[ev.Event], kind: type[E]) -> list[E]:
    return [e for e in events if isinstance(e, kind)]


def one(events: list[ev.Event], kind: type[E]) -> E:
    found = of(events, kind)
    assert len(found) == 1, events
    return found[0]


def outcome(events: list[ev.Event], unique_id: str | None = None) -> ev.Outcome:
    found = [o for o in of(events, ev.Outcome) if unique_id is None or o.unique_id == unique_id]
    assert len(found) == 1, events
    return found[0]


def cp_call(s: Session, uid: str, action: str, payload: str = "{}", now: float = 0.0) -> ev.UpCall:
    """The CP sends a CALL that must be relayed without any reply."""
    events = s.receive(f'[2,"{uid}","{action}",{payload}]', now)
    assert frames(events, s.version) == []
    return one(events, ev.UpCall)


def start_call(s: Session, uid: str, ctx: Any = None, now: float = 0.0) -> list[Any]:
    """The backend sends a Reset that goes out at once; returns the CALL frame."""
    events = s.backend_call(uid, "Reset", RESET[s.version], ctx, now)
    sent = frames(events, s.version)
    assert sent == [[2, uid, "Reset", RESET[s.version]]]
    return sent[0]
