"""Session core, messages from the backend (SY-01, SY-03, MID-02, FR-08..FR-10, ER-03, KA)."""

from __future__ import annotations

import json
import uuid

import pytest

from ocpp_mqtt.ocppj import events as ev
from ocpp_mqtt.ocppj.validation import Schemas
from ocpp_mqtt.ocppj.versions import Version

from .session_kit import (
    ACCEPTED,
    ALL,
    BOOT,
    RESET,
    V2X,
    V16,
    V201,
    cp_call,
    frames,
    of,
    one,
    outcome,
    session,
    start_call,
)

# ---- SY-01: one outstanding CALL per direction, FIFO queue --------------------------------

@pytest.mark.parametrize("version", ALL)
def test_sy01_second_call_queued_until_first_answered(schemas: Schemas, version: Version) -> None:
    s = session(version, schemas)
    first = s.backend_call("a1", "Reset", RESET[version], "ctx1", 0.0)
    assert frames(first, version) == [[2, "a1", "Reset", RESET[version]]]
    assert outcome(first, "a1").status == ev.SENT
    queued = s.backend_call("a2", "ClearCache", {}, "ctx2", 0.1)
    assert frames(queued, version) == []  # SY-01: not sent while a1 is outstanding
    assert s.queue_length == 1
    events = s.receive(f'[3,"a1",{ACCEPTED}]', 1.0)
    result = one(events, ev.UpResult)
    assert (result.unique_id, result.action, result.ctx) == ("a1", "Reset", "ctx1")  # FR-10
    assert result.raw_payload == ACCEPTED
    assert outcome(events, "a1").status == ev.ANSWERED
    assert frames(events, version) == [[2, "a2", "ClearCache", {}]]
    assert events.index(result) < next(
        i for i, e in enumerate(events) if isinstance(e, ev.SendFrame)
    )
    assert s.queue_length == 0


@pytest.mark.parametrize("version", ALL)
def test_sy01_queued_call_sent_after_callerror(schemas: Schemas, version: Version) -> None:
    s = session(version, schemas)
    start_call(s, "a1")
    s.backend_call("a2", "ClearCache", {}, None, 0.1)
    events = s.receive('[4,"a1","NotSupported","",{}]', 1.0)
    assert one(events, ev.UpError).action == "Reset"  # FR-10
    assert frames(events, version) == [[2, "a2", "ClearCache", {}]]


@pytest.mark.parametrize("version", ALL)
def test_sy01_fifo_order(schemas: Schemas, version: Version) -> None:
    s = session(version, schemas)
    start_call(s, "a0")
    for i in range(1, 5):
        assert s.backend_call(f"a{i}", "ClearCache", {}, None, 0.0) == []
    order = []
    uid = "a0"
    for _ in range(4):
        sent = frames(s.receive(f'[3,"{uid}",{ACCEPTED}]', 1.0), version)
        assert len(sent) == 1
        uid = sent[0][1]
        order.append(uid)
    assert order == ["a1", "a2", "a3", "a4"]


# ---- SY-03: timeout, then the next queued CALL ---------------------------------------------

@pytest.mark.parametrize("version", ALL)
def test_sy03_timeout_reported_then_next_call_sent(schemas: Schemas, version: Version) -> None:
    s = session(version, schemas, call_timeout=5.0)
    start_call(s, "a1", ctx="c1", now=10.0)
    s.backend_call("a2", "ClearCache", {}, "c2", 11.0)
    assert s.next_deadline() == 15.0
    assert s.expire(14.99) == []
    events = s.expire(15.0)
    timeout = outcome(events, "a1")
    assert (timeout.status, timeout.action, timeout.ctx) == (ev.TIMEOUT, "Reset", "c1")
    assert frames(events, version) == [[2, "a2", "ClearCache", {}]]
    assert s.next_deadline() == 20.0  # the new CALL gets its own full timeout
    late = s.receive(f'[3,"a1",{ACCEPTED}]', 16.0)  # SY-06: too late, dropped silently
    assert frames(late, version) == [] and not of(late, ev.UpResult)
    assert one(s.receive(f'[3,"a2",{ACCEPTED}]', 17.0), ev.UpResult).action == "ClearCache"


@pytest.mark.parametrize("version", ALL)
def test_queue_full_when_max_queue_reached(schemas: Schemas, version: Version) -> None:
    s = session(version, schemas, max_queue=2)
    start_call(s, "a1")
    assert s.backend_call("a2", "ClearCache", {}, None, 0.0) == []
    assert s.backend_call("a3", "ClearCache", {}, None, 0.0) == []
    events = s.backend_call("a4", "ClearCache", {}, "c4", 0.0)
    assert frames(events, version) == []
    full = outcome(events, "a4")
    assert (full.status, full.ctx) == (ev.QUEUE_FULL, "c4")


def test_sy01_max_queue_zero_still_sends_when_idle(schemas: Schemas) -> None:
    s = session(V16, schemas, max_queue=0)
    events = s.backend_call("a1", "Reset", RESET[V16], None, 0.0)
    assert frames(events, V16) == [[2, "a1", "Reset", RESET[V16]]]
    assert outcome(s.backend_call("a2", "ClearCache", {}, None, 0.0)).status == ev.QUEUE_FULL


# ---- close(): everything still owed becomes `offline` --------------------------------------

@pytest.mark.parametrize("version", ALL)
def test_close_reports_outstanding_and_queued_calls_offline(
    schemas: Schemas, version: Version
) -> None:
    s = session(version, schemas)
    start_call(s, "a1", ctx="c1")
    s.backend_call("a2", "ClearCache", {}, "c2", 0.0)
    s.backend_call("a3", "ClearCache", {}, "c3", 0.0)
    cp_call(s, "cp1", "Heartbeat")
    events = s.close()
    assert frames(events, version) == []
    assert [(o.unique_id, o.status, o.ctx) for o in of(events, ev.Outcome)] == [
        ("a1", ev.OFFLINE, "c1"), ("a2", ev.OFFLINE, "c2"), ("a3", ev.OFFLINE, "c3"),
    ]
    assert s.idle and s.queue_length == 0


# ---- MID-01 / MID-02: ids -----------------------------------------------------------------

@pytest.mark.parametrize("version", ALL)
def test_mid02_generated_ids_are_unique_uuid4(schemas: Schemas, version: Version) -> None:
    seen: set[str] = set()
    for _connection in range(3):  # MID-02 (2.x): unique across reconnects, too
        s = session(version, schemas)
        for _ in range(30):
            sent = frames(s.backend_call(None, "ClearCache", {}, None, 0.0), version)
            uid = sent[0][1]
            assert uuid.UUID(uid).version == 4 and str(uuid.UUID(uid)) == uid
            assert len(uid) <= 36
            seen.add(uid)
            s.receive(f'[3,"{uid}",{ACCEPTED}]', 0.0)
    assert len(seen) == 90


@pytest.mark.parametrize("version", ALL)
def test_mid01_backend_id_longer_than_36_refused(schemas: Schemas, version: Version) -> None:
    events = session(version, schemas).backend_call("x" * 37, "ClearCache", {}, None, 0.0)
    assert frames(events, version) == [] and outcome(events).status == ev.INVALID


@pytest.mark.parametrize("version", ALL)
def test_mid05_backend_id_already_pending_or_queued_refused(
    schemas: Schemas, version: Version
) -> None:
    s = session(version, schemas)
    start_call(s, "a1")
    s.backend_call("a2", "ClearCache", {}, None, 0.0)
    for uid in ("a1", "a2"):
        events = s.backend_call(uid, "ClearCache", {}, None, 0.0)
        assert frames(events, version) == [] and outcome(events).status == ev.INVALID
    assert s.queue_length == 1


# ---- refused backend CALLs -----------------------------------------------------------------

@pytest.mark.parametrize("version", ALL)
@pytest.mark.parametrize(
    ("action", "payload"),
    [("FooBar", {}), ("reset", {"type": "Soft"}), ("Reset", {}), ("Reset", {"type": "Nope"}),
     ("Reset", None), ("Reset", [])],
)
def test_er07_invalid_backend_call_never_reaches_the_cp(
    schemas: Schemas, version: Version, action: str, payload: object
) -> None:
    s = session(version, schemas)
    events = s.backend_call("a1", action, payload, "ctx", 0.0)
    assert frames(events, version) == []
    assert (outcome(events).status, outcome(events).ctx) == (ev.INVALID, "ctx")
    assert s.idle


@pytest.mark.parametrize("version", V2X)
@pytest.mark.parametrize("validate", [True, False])
@pytest.mark.parametrize(
    "payload",
    [{"type": "Immediate", "evseId": None}, {"type": "Immediate", "customData": None},
     {"type": "Immediate", "customData": {"vendorId": "X", "list": [1, None]}}],
)
def test_fr08_null_field_refused_on_2x(
    schemas: Schemas, version: Version, validate: bool, payload: dict[str, object]
) -> None:
    s = session(version, schemas, validate_mqtt_calls=validate)
    events = s.backend_call("a1", "Reset", payload, None, 0.0)
    assert frames(events, version) == [] and outcome(events).status == ev.INVALID


def test_multipleof_16_backend_call_with_one_decimal_is_sent(schemas: Schemas) -> None:
    period = {"startPeriod": 0, "limit": 21.4}
    profile = {"chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
               "chargingProfileKind": "Absolute", "transactionId": 7,
               "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [period]}}
    payload = {"connectorId": 1, "csChargingProfiles": profile}
    events = session(V16, schemas).backend_call("p1", "SetChargingProfile", payload, None, 0.0)
    assert frames(events, V16) == [[2, "p1", "SetChargingProfile", payload]]
    assert '"limit":21.4' in one(events, ev.SendFrame).text


# ---- backend results and errors to CP CALLs ------------------------------------------------

@pytest.mark.parametrize("version", ALL)
def test_not_pending_result_or_error_for_unknown_id(schemas: Schemas, version: Version) -> None:
    s = session(version, schemas)
    for events in (s.backend_result("nope", {}, "c", 0.0),
                   s.backend_error("nope", "GenericError", "", {}, "c", 0.0)):
        assert frames(events, version) == []
        assert (outcome(events).status, outcome(events).ctx) == (ev.NOT_PENDING, "c")


@pytest.mark.parametrize("version", V2X)
def test_fr08_null_in_backend_result_refused_on_2x(schemas: Schemas, version: Version) -> None:
    s = session(version, schemas, validate_mqtt_results=False)
    cp_call(s, "c1", "Heartbeat")
    events = s.backend_result("c1", {"currentTime": None}, None, 0.0)
    assert frames(events, version) == [] and outcome(events).status == ev.INVALID
    assert s.pending_action("c1") == "Heartbeat"


@pytest.mark.parametrize("version", ALL)
def test_er07_schema_invalid_backend_result_refused(schemas: Schemas, version: Version) -> None:
    s = session(version, schemas)
    cp_call(s, "c1", "Heartbeat")
    events = s.backend_result("c1", {"currentTime": 5}, None, 0.0)
    assert frames(events, version) == [] and outcome(events).status == ev.INVALID
    assert s.pending_action("c1") == "Heartbeat"


@pytest.mark.parametrize("version", ALL)
@pytest.mark.parametrize(
    ("status", "interval", "expected"),
    [("Accepted", 300, 300), ("Accepted", 0, 0), ("Pending", 300, None), ("Rejected", 60, None)],
)
def test_keepalive_changed_only_for_accepted_boot_with_interval(
    schemas: Schemas, version: Version, status: str, interval: int, expected: int | None
) -> None:
    s = session(version, schemas)
    cp_call(s, "b1", "BootNotification", json.dumps(BOOT[version]))
    result = {"status": status, "currentTime": "2025-01-01T00:00:00Z", "interval": interval}
    events = s.backend_result("b1", result, None, 0.0)
    assert frames(events, version) == [[3, "b1", result]]
    assert [k.interval for k in of(events, ev.KeepaliveChanged)] == (
        [] if expected is None else [expected]
    )


def test_keepalive_not_changed_by_other_results(schemas: Schemas) -> None:
    s = session(V201, schemas)
    cp_call(s, "h1", "Heartbeat")
    events = s.backend_result("h1", {"currentTime": "2025-01-01T00:00:00Z"}, None, 0.0)
    assert not of(events, ev.KeepaliveChanged)
