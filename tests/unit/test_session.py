"""Session core, frames from the charge point (FR-*, MID-05, SY-04..SY-06, ER-04..ER-09)."""

from __future__ import annotations

import json

import pytest

from ocpp_mqtt.ocppj import events as ev
from ocpp_mqtt.ocppj.validation import Schemas
from ocpp_mqtt.ocppj.versions import Version

from .session_kit import (
    ACCEPTED,
    ALL,
    BOOT,
    NPES,
    V2X,
    V16,
    V21,
    V201,
    cp_call,
    frames,
    of,
    one,
    outcome,
    session,
    start_call,
)


@pytest.mark.parametrize("version", ALL)
def test_fr02_cp_call_is_relayed_byte_identical(schemas: Schemas, version: Version) -> None:
    s = session(version, schemas)
    raw = json.dumps(BOOT[version], indent=1)
    up = cp_call(s, "b1", "BootNotification", raw)
    assert (up.unique_id, up.action, up.message_type) == ("b1", "BootNotification", 2)
    assert up.raw_payload == raw.strip()
    assert s.pending_action("b1") == "BootNotification"


@pytest.mark.parametrize("version", V2X)
def test_fr12_customdata_passes_validation_and_is_relayed_byte_identical(
    schemas: Schemas, version: Version
) -> None:
    raw = ('{"reason": "PowerUp",  "chargingStation":{"model":"M","vendorName":"V"},'
           ' "customData":{"vendorId":"X","foo":1}}')
    up = cp_call(session(version, schemas), "c1", "BootNotification", raw)
    assert up.raw_payload == raw


# ---- ER-04 / FR-06: unknown actions -------------------------------------------------------

@pytest.mark.parametrize("version", ALL)
@pytest.mark.parametrize("action", ["FooBar", "heartbeat", "HeartbeatRequest", "Heartbeat.req"])
def test_er04_unknown_action_gets_notimplemented(
    schemas: Schemas, version: Version, action: str
) -> None:
    s = session(version, schemas)
    events = s.receive(f'[2,"x","{action}",{{}}]', 0.0)
    sent = frames(events, version)
    assert [f[:3] for f in sent] == [[4, "x", "NotImplemented"]]
    assert sent[0][4] == {}
    assert not of(events, ev.UpCall)
    assert s.pending_action("x") is None


@pytest.mark.parametrize(
    ("version", "action", "payload"),
    [(V16, "Reset", '{"type":"Soft"}'), (V201, "Reset", '{"type":"Immediate"}'),
     (V21, "GetTariffs", '{"evseId":1}'), (V21, "RequestStartTransaction", "{}")],
)
def test_er04_known_action_not_handled_gets_notsupported(
    schemas: Schemas, version: Version, action: str, payload: str
) -> None:
    """ER-04: a valid action that a charge point never sends is recognised, not supported."""
    events = session(version, schemas).receive(f'[2,"x","{action}",{payload}]', 0.0)
    assert [f[:3] for f in frames(events, version)] == [[4, "x", "NotSupported"]]
    assert not of(events, ev.UpCall)


# ---- ER-07 / ER-08: schema failures answered with a CALLERROR, never a CALLRESULT ----------

ER08 = {
    "required": {V16: "OccurenceConstraintViolation", V201: "OccurrenceConstraintViolation"},
    "additionalProperties": {V16: "FormationViolation", V201: "FormatViolation"},
    "type": {V16: "TypeConstraintViolation", V201: "TypeConstraintViolation"},
}


@pytest.mark.parametrize("version", ALL)
@pytest.mark.parametrize("rule", list(ER08))
def test_er07_er08_invalid_cp_call_gets_callerror(
    schemas: Schemas, version: Version, rule: str
) -> None:
    payload = dict(BOOT[version])
    key = next(iter(payload))
    if rule == "required":
        del payload[key]
    elif rule == "additionalProperties":
        payload["unexpected"] = 1
    else:
        payload[key] = 12
    s = session(version, schemas)
    events = s.receive(json.dumps([2, "v1", "BootNotification", payload]), 0.0)
    sent = frames(events, version)
    assert len(sent) == 1 and sent[0][:3] == [4, "v1", ER08[rule][V16 if version is V16 else V201]]
    assert not of(events, ev.UpCall)
    late = s.backend_result("v1", {"status": "Accepted"}, None, 1.0)  # ER-07: no CALLRESULT
    assert frames(late, version) == []
    assert outcome(late).status == ev.NOT_PENDING


@pytest.mark.parametrize("version", ALL)
def test_er07_validation_off_relays_invalid_payload(schemas: Schemas, version: Version) -> None:
    s = session(version, schemas, validate_cp_calls=False)
    assert cp_call(s, "v1", "BootNotification", '{"x":1}').raw_payload == '{"x":1}'


# ---- MID-05: duplicate id of a CALL still being processed ---------------------------------

@pytest.mark.parametrize("version", ALL)
def test_mid05_duplicate_pending_call_id_gets_callerror(schemas: Schemas, version: Version) -> None:
    s = session(version, schemas)
    cp_call(s, "d1", "Heartbeat")
    events = s.receive('[2,"d1","Heartbeat",{}]', 0.5)
    sent = frames(events, version)
    assert len(sent) == 1 and sent[0][:2] == [4, "d1"]
    assert not of(events, ev.UpCall)
    assert s.pending_action("d1") == "Heartbeat"  # the first one is still awaited
    answer = s.backend_result("d1", {"currentTime": "2025-01-01T00:00:00Z"}, None, 1.0)
    assert frames(answer, version) == [[3, "d1", {"currentTime": "2025-01-01T00:00:00Z"}]]
    cp_call(s, "d1", "Heartbeat", now=2.0)  # MID-04: once answered, the id may be reused


# ---- SY-04 / SY-06 ------------------------------------------------------------------------

@pytest.mark.parametrize("version", ALL)
def test_sy04_cp_call_accepted_while_backend_call_outstanding(
    schemas: Schemas, version: Version
) -> None:
    s = session(version, schemas)
    start_call(s, "g1")
    cp_call(s, "c1", "Heartbeat")
    events = s.receive(f'[3,"g1",{ACCEPTED}]', 1.0)
    assert one(events, ev.UpResult).unique_id == "g1"


@pytest.mark.parametrize("version", ALL)
@pytest.mark.parametrize(
    "text", ['[3,"no-such-id",{}]', '[4,"no-such-id","GenericError","",{}]', '[3,"g2",{}]']
)
def test_sy06_unsolicited_result_or_error_gets_no_frame(
    schemas: Schemas, version: Version, text: str
) -> None:
    s = session(version, schemas)
    start_call(s, "g1")
    events = s.receive(text, 1.0)
    assert frames(events, version) == []
    assert not of(events, ev.UpResult) and not of(events, ev.UpError)
    assert one(s.receive(f'[3,"g1",{ACCEPTED}]', 2.0), ev.UpResult).unique_id == "g1"


# ---- ER-09: never answer a CALLRESULT or CALLERROR with a CALLERROR -----------------------

@pytest.mark.parametrize("version", ALL)
@pytest.mark.parametrize(
    "text",
    ['[3,"g1"]', '[3,"g1",{},{}]', '[3,"g1",[]]', '[3,"g1","x"]', '[4,"g1","GenericError"]',
     '[4,"g1","GenericError","",{},{}]', '[4,"g1"]'],
)
def test_er09_malformed_result_or_error_gets_no_callerror(
    schemas: Schemas, version: Version, text: str
) -> None:
    s = session(version, schemas)
    start_call(s, "g1")
    sent = frames(s.receive(text, 1.0), version)
    assert all(f[0] == 5 and text.startswith("[3") and version is V21 for f in sent)


@pytest.mark.parametrize("version", ALL)
def test_er09_schema_invalid_result_only_callresulterror_on_21(
    schemas: Schemas, version: Version
) -> None:
    s = session(version, schemas)
    start_call(s, "g1", ctx="c1")
    s.backend_call("g2", "Reset", {"type": "Hard"} if version is V16 else {"type": "OnIdle"},
                   "c2", 0.1)
    events = s.receive('[3,"g1",{"status":"Maybe"}]', 1.0)
    sent = frames(events, version)
    allowed = {(2, "g2"), (5, "g1")} if version is V21 else {(2, "g2")}  # FR-04 on 2.1 only
    assert {(f[0], f[1]) for f in sent} <= allowed
    assert outcome(events, "g1").status == ev.INVALID
    assert [f[:3] for f in sent if f[0] == 2] == [[2, "g2", "Reset"]]  # SY-01: next one goes


@pytest.mark.parametrize("version", ALL)
@pytest.mark.parametrize("code", ["FormationViolation", "FormatViolation", "NotSupported"])
def test_er03_cp_callerror_in_either_spelling_is_relayed(
    schemas: Schemas, version: Version, code: str
) -> None:
    s = session(version, schemas)
    start_call(s, "g1", ctx="ctx")
    events = s.receive(f'[4,"g1","{code}","nope",{{"a":1}}]', 1.0)
    assert frames(events, version) == []
    up = one(events, ev.UpError)
    assert (up.unique_id, up.action) == ("g1", "Reset")
    assert (up.description, up.details) == ("nope", {"a": 1})
    assert up.code in (code, {"FormatViolation": "FormationViolation"}.get(code),
                       {"FormationViolation": "FormatViolation"}.get(code))
    assert up.message_type == 4 and up.ctx == "ctx"  # FR-10: the action of the backend CALL
    assert outcome(events, "g1").status == ev.ANSWERED


# ---- 2.1 SEND and CALLRESULTERROR (FR-04, FR-05, SY-05) -----------------------------------

def test_fr05_sy05_send_relayed_without_reply_while_calls_pending(schemas: Schemas) -> None:
    s = session(V21, schemas)
    cp_call(s, "c1", "Heartbeat")  # a CP CALL awaits the backend
    start_call(s, "g1")  # a backend CALL awaits the CP
    events = s.receive(f'[6,"s1","NotifyPeriodicEventStream",{NPES}]', 0.5)
    assert frames(events, V21) == []
    up = one(events, ev.UpCall)
    assert (up.unique_id, up.action, up.message_type, up.raw_payload) == (
        "s1", "NotifyPeriodicEventStream", 6, NPES,
    )
    assert s.pending_action("c1") == "Heartbeat"  # neither is blocked
    assert s.pending_action("s1") is None  # a SEND awaits nothing
    assert one(s.receive(f'[3,"g1",{ACCEPTED}]', 1.0), ev.UpResult).unique_id == "g1"


@pytest.mark.parametrize(
    "text",
    ['[6,"s1","NotifyPeriodicEventStream",{}]', '[6,"s1","FooBar",{}]',
     '[6,"s1","NotifyPeriodicEventStream"]', '[6,12,"NotifyPeriodicEventStream",{}]',
     '[6,"s1","NotifyPeriodicEventStream",[]]'],
)
def test_fr05_bad_send_is_never_answered(schemas: Schemas, text: str) -> None:
    assert frames(session(V21, schemas).receive(text, 0.0), V21) == []


def test_fr04_callresulterror_relayed_without_reply(schemas: Schemas) -> None:
    s = session(V21, schemas)
    events = s.receive('[5,"abc","FormatViolation","",{}]', 0.0)
    assert frames(events, V21) == []
    up = one(events, ev.UpError)
    assert (up.unique_id, up.code, up.description, up.details, up.message_type) == (
        "abc", "FormatViolation", "", {}, 5,
    )


@pytest.mark.parametrize(
    ("version", "text", "expected"),
    [
        (V16, f'[6,"s1","NotifyPeriodicEventStream",{NPES}]', []),
        (V16, '[5,"abc","FormatViolation","",{}]', []),
        (V16, '[7,"x",{}]', []),
        (V21, '[7,"x",{}]', []),
        (V201, '[7,"x",{}]', [[4, "x", "MessageTypeNotSupported"]]),
        (V201, '[5,"abc","FormatViolation","",{}]', [[4, "abc", "MessageTypeNotSupported"]]),
        (V201, f'[6,"s1","NotifyPeriodicEventStream",{NPES}]',
         [[4, "s1", "MessageTypeNotSupported"]]),
    ],
)
def test_er06_fr03_unknown_message_types(
    schemas: Schemas, version: Version, text: str, expected: list[list[object]]
) -> None:
    events = session(version, schemas).receive(text, 0.0)
    assert [f[:3] for f in frames(events, version)] == expected
    assert not of(events, ev.UpCall) and not of(events, ev.UpError)


@pytest.mark.parametrize("version", V2X)
@pytest.mark.parametrize("text", ['[2,"id-8","Heartbeat",{', '{"a":1}', '[2,12345,"Heartbeat",{}]'])
def test_er05_corrupt_frame_gets_rpcframeworkerror(
    schemas: Schemas, version: Version, text: str
) -> None:
    sent = frames(session(version, schemas).receive(text, 0.0), version)
    assert [f[:3] for f in sent] == [[4, "-1", "RpcFrameworkError"]]


# ---- FR-11: signed messages ---------------------------------------------------------------

@pytest.mark.parametrize("version", V2X)
def test_fr11_signed_call_relayed_when_relay_signed(schemas: Schemas, version: Version) -> None:
    s = session(version, schemas, relay_signed=True)
    jws = '{"jws":"eyJhbGciOiJFUzI1NiJ9.e30.sig"}'
    up = cp_call(s, "s1", "BootNotification-Signed", jws)
    assert (up.action, up.raw_payload) == ("BootNotification-Signed", jws)
    events = s.backend_result("s1", {"jws": "eyJ.e30.x"}, None, 1.0)
    assert frames(events, version) == [[3, "s1", {"jws": "eyJ.e30.x"}]]


@pytest.mark.parametrize(("version", "relay"), [(V201, False), (V21, False), (V16, True)])
def test_fr11_signed_call_refused_when_not_relayed(
    schemas: Schemas, version: Version, relay: bool
) -> None:
    s = session(version, schemas, relay_signed=relay)
    events = s.receive('[2,"s1","BootNotification-Signed",{"jws":"x"}]', 0.0)
    assert [f[:2] for f in frames(events, version)] == [[4, "s1"]]
    assert not of(events, ev.UpCall)


# ---- backend never answers a CP CALL ------------------------------------------------------

@pytest.mark.parametrize("version", ALL)
def test_er11_unanswered_cp_call_expires_with_a_callerror(
    schemas: Schemas, version: Version
) -> None:
    s = session(version, schemas, call_timeout=5.0)
    cp_call(s, "c1", "Heartbeat")
    assert frames(s.expire(4.9), version) == []
    assert [f[:2] for f in frames(s.expire(5.0), version)] == [[4, "c1"]]
    assert s.pending_action("c1") is None
    assert s.idle
