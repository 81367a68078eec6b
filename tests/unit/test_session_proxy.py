"""Session core in proxy mode: two sources of CALLs toward one charge point (the upstream CSMS
and MQTT), one outstanding CALL across both (SY-01), ids that never collide (MID-06), the
upstream's frames relayed as sent (LC-03, MID-03)."""

from __future__ import annotations

import json
import uuid

import pytest

from ocpp_mqtt.ocppj import events as ev
from ocpp_mqtt.ocppj.validation import Schemas
from ocpp_mqtt.ocppj.versions import Version

from .session_kit import ALL, RESET, V16, V21, cp_call, frames, of, one, outcome, session

UP = "upstream-ctx"  # what the edge passes as the ctx of an upstream CALL


def upstream_frame(uid: str, action: str = "Reset", payload: str = '{ "type" : "Soft" }') -> str:
    return f'[2, "{uid}", "{action}", {payload}]'  # spaced on purpose: must stay untouched


def sent_texts(events: list[ev.Event]) -> list[str]:
    return [e.text for e in events if isinstance(e, ev.SendFrame)]


@pytest.mark.parametrize("version", ALL)
def test_mid06_injected_calls_get_gateway_ids(schemas: Schemas, version: Version) -> None:
    s = session(version, schemas, own_ids=True)
    events = s.backend_call("mqtt-1", "Reset", RESET[version], "ctx", 0.0)
    [frame] = frames(events, version)
    wire = frame[1]
    assert wire != "mqtt-1"
    assert uuid.UUID(wire).version == 4  # MID-02
    # Outcomes and the result speak of the publisher's id; the charge point answers the wire id.
    assert outcome(events).unique_id == "mqtt-1"
    answer = s.receive(f'[3,"{wire}",{{"status":"Accepted"}}]', 1.0)
    result = one(answer, ev.UpResult)
    assert (result.unique_id, result.ctx) == ("mqtt-1", "ctx")
    assert s.idle


def test_relay_mode_keeps_the_publishers_id(schemas: Schemas) -> None:
    s = session(V16, schemas)
    events = s.backend_call("mqtt-1", "Reset", RESET[V16], None, 0.0)
    assert frames(events, V16)[0][1] == "mqtt-1"


def test_sy01_upstream_call_waits_for_injected_call_and_is_never_refused(
        schemas: Schemas) -> None:
    s = session(V16, schemas, own_ids=True, max_queue=0)
    injected = frames(s.backend_call(None, "Reset", RESET[V16], "mqtt", 0.0), V16)[0]
    text = upstream_frame("csms-1")
    assert s.upstream_call("csms-1", "Reset", text, UP, 0.1) == []  # queued, not refused
    # another MQTT CALL is refused by the full MQTT queue, the upstream's one was not
    assert outcome(s.backend_call(None, "Reset", RESET[V16], "mqtt", 0.2)).status == \
        ev.QUEUE_FULL
    events = s.receive(f'[3,"{injected[1]}",{{"status":"Accepted"}}]', 0.3)
    assert one(events, ev.UpResult).ctx == "mqtt"
    assert sent_texts(events) == [text]  # LC-03: the upstream's frame, byte for byte


def test_sy01_upstream_calls_go_ahead_of_queued_mqtt_calls(schemas: Schemas) -> None:
    s = session(V16, schemas, own_ids=True)
    first = frames(s.backend_call(None, "Reset", RESET[V16], "m1", 0.0), V16)[0]
    assert s.backend_call(None, "Reset", RESET[V16], "m2", 0.0) == []
    up = upstream_frame("csms-1")
    assert s.upstream_call("csms-1", "Reset", up, UP, 0.0) == []
    assert s.queue_length == 2
    after_first = s.receive(f'[3,"{first[1]}",{{"status":"Accepted"}}]', 0.1)
    assert sent_texts(after_first) == [up]
    after_up = s.receive('[3,"csms-1",{"status":"Accepted"}]', 0.2)
    assert one(after_up, ev.UpResult).ctx == UP
    [m2] = frames(after_up, V16)
    assert m2[2] == "Reset" and m2[1] not in (first[1], "csms-1")


def test_upstream_result_is_relayed_unvalidated(schemas: Schemas) -> None:
    """The CSMS judges its charge point's answers: an answer our schemas refuse still reaches
    it, where an MQTT CALL's invalid answer is reported as invalid."""
    s = session(V16, schemas, own_ids=True)
    s.upstream_call("c1", "Reset", upstream_frame("c1"), UP, 0.0)
    result = one(s.receive('[3,"c1",{"status":"Maybe"}]', 0.1), ev.UpResult)
    assert (result.unique_id, result.raw_payload, result.ctx) == ("c1", '{"status":"Maybe"}', UP)


def test_mid06_queued_injected_call_yields_an_id_the_upstream_uses(schemas: Schemas) -> None:
    s = session(V16, schemas, own_ids=True)
    s.upstream_call("busy", "Reset", upstream_frame("busy"), UP, 0.0)  # outstanding
    assert s.backend_call("m", "Reset", RESET[V16], "mqtt", 0.0) == []
    queued = s._queue[0].wire_id
    assert s.upstream_call(queued, "Reset", upstream_frame(queued), UP, 0.0) == []
    assert s._queue[0].wire_id != queued  # the injected CALL took another id
    events = s.receive('[3,"busy",{"status":"Accepted"}]', 0.1)
    assert sent_texts(events) == [upstream_frame(queued)]
    events = s.receive(f'[3,"{queued}",{{"status":"Accepted"}}]', 0.2)
    assert one(events, ev.UpResult).ctx == UP
    [frame] = frames(events, V16)
    assert frame[1] != queued


def test_mid06_fresh_ids_avoid_ids_in_flight(schemas: Schemas,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    s = session(V16, schemas, own_ids=True)
    s.upstream_call("11111111-1111-4111-8111-111111111111", "Reset",
                    upstream_frame("11111111-1111-4111-8111-111111111111"), UP, 0.0)
    draws = iter([uuid.UUID("11111111-1111-4111-8111-111111111111"),
                  uuid.UUID("22222222-2222-4222-8222-222222222222")])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(draws))
    s.backend_call(None, "Reset", RESET[V16], "mqtt", 0.0)
    assert s._queue[0].wire_id == "22222222-2222-4222-8222-222222222222"


def test_duplicate_upstream_id_is_refused_for_the_upstream(schemas: Schemas) -> None:
    s = session(V16, schemas, own_ids=True)
    s.upstream_call("c1", "Reset", upstream_frame("c1"), UP, 0.0)
    refused = outcome(s.upstream_call("c1", "Reset", upstream_frame("c1"), UP, 0.0))
    assert (refused.status, refused.ctx) == (ev.INVALID, UP)


def test_upstream_answer_is_relayed_as_sent(schemas: Schemas) -> None:
    s = session(V16, schemas)
    cp_call(s, "b1", "BootNotification", '{"chargePointVendor":"V","chargePointModel":"M"}')
    text = '[3, "b1", {"status": "Accepted", "currentTime": "2026-01-01T00:00:00Z", ' \
           '"interval": 77}]'
    events = s.upstream_answer("b1", text, 3, json.loads(text)[2], 0.1)
    assert sent_texts(events) == [text]  # MID-03
    assert one(events, ev.KeepaliveChanged).interval == 77
    assert s.idle
    # SY-06: a second (late) answer is dropped, not relayed
    late = s.upstream_answer("b1", text, 3, None, 0.2)
    assert sent_texts(late) == [] and of(late, ev.Problem)


def test_upstream_callresulterror_is_relayed(schemas: Schemas) -> None:
    s = session(V21, schemas)
    text = '[5,"r1","FormatViolation","bad",{}]'
    assert sent_texts(s.upstream_answer("r1", text, 5, None, 0.0)) == [text]


def test_sy03_upstream_call_times_out_then_the_queue_moves(schemas: Schemas) -> None:
    s = session(V16, schemas, own_ids=True, call_timeout=5)
    s.upstream_call("c1", "Reset", upstream_frame("c1"), UP, 0.0)
    s.backend_call(None, "Reset", RESET[V16], "mqtt", 0.0)
    events = s.expire(6.0)
    assert outcome(events, "c1").status == ev.TIMEOUT
    assert len(frames(events, V16)) == 1


def test_close_reports_calls_of_both_sources(schemas: Schemas) -> None:
    s = session(V16, schemas, own_ids=True)
    s.backend_call("m1", "Reset", RESET[V16], "mqtt", 0.0)
    s.upstream_call("c1", "Reset", upstream_frame("c1"), UP, 0.0)
    closed = s.close()
    assert sorted((o.unique_id, o.ctx) for o in of(closed, ev.Outcome)) == \
        [("c1", UP), ("m1", "mqtt")]
    assert s.idle and s.queue_length == 0
