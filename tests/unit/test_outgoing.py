"""OutgoingCalls on its own: the CALL queue toward one charge point (SY-01, SY-03, MID-06).

The session tests reach it through `Session`; these pin its own contract: one outstanding CALL,
FIFO order, the upstream CSMS's CALLs first, `full` at max_queue, timeouts, ids freed and drawn.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from ocpp_mqtt.ocppj import events as ev
from ocpp_mqtt.ocppj import outgoing
from ocpp_mqtt.ocppj.outgoing import MAX_UPSTREAM_QUEUE, OutgoingCalls
from ocpp_mqtt.ocppj.policy import Policy


def calls(**policy: Any) -> OutgoingCalls:
    return OutgoingCalls(Policy(**policy))


def add(out: OutgoingCalls, uid: str, now: float = 0.0, ctx: Any = None) -> list[ev.Event]:
    """A checked MQTT CALL (a 1.6 Reset) handed to the queue."""
    return out.add(uid, "Reset", {"type": "Soft"}, ctx, now)


def written(events: list[ev.Event]) -> list[list[Any]]:
    return [json.loads(e.text) for e in events if isinstance(e, ev.SendFrame)]


def outcomes(events: list[ev.Event]) -> list[tuple[str, str]]:
    return [(e.unique_id, e.status) for e in events if isinstance(e, ev.Outcome)]


def test_sy01_first_call_is_written_at_once_with_a_sent_outcome() -> None:
    out = calls(call_timeout=5.0)
    events = add(out, "a", 10.0)
    assert written(events) == [[2, "a", "Reset", {"type": "Soft"}]]
    sent = [e for e in events if isinstance(e, ev.Outcome)]
    assert [(o.unique_id, o.status, o.final) for o in sent] == [("a", ev.SENT, False)]
    assert out.current is not None and out.current.deadline == 15.0
    assert out.calls_out == 1 and out.policy.stats.calls_out == {"Reset": 1}


def test_sy01_one_outstanding_the_rest_in_fifo_order() -> None:
    out = calls()
    add(out, "a", 0.0)
    for uid in "bcd":
        assert add(out, uid, 0.0) == []  # nothing written while "a" is outstanding
    assert out.waiting == 3
    order = []
    for _ in range(4):
        assert out.current is not None
        order.append(out.current.unique_id)
        events = out.advance(1.0)
        assert len(written(events)) <= 1  # never more than one CALL written per answer
    assert order == ["a", "b", "c", "d"]
    assert out.current is None and out.waiting == 0 and out.advance(2.0) == []
    assert out.calls_out == 4


def test_sy01_queue_full_at_max_queue_behind_the_outstanding_call() -> None:
    out = calls(max_queue=2)
    add(out, "a")
    assert add(out, "b") == [] and add(out, "c") == []  # 2 queued behind "a"
    refused = add(out, "d")
    assert outcomes(refused) == [("d", ev.QUEUE_FULL)]
    assert isinstance(refused[0], ev.Outcome) and "2 CALLs already queued" in refused[0].reason
    assert "d" not in out.ids and out.waiting == 2
    assert out.policy.stats.limits.get("queue_full") == 1
    out.advance(0.0)  # "b" goes out, one left queued: room again
    assert add(out, "d") == []


def test_sy01_max_queue_zero_still_lets_one_call_out() -> None:
    out = calls(max_queue=0)
    assert written(add(out, "a"))
    assert outcomes(add(out, "b")) == [("b", ev.QUEUE_FULL)]


def test_an_unserialisable_payload_is_refused_invalid() -> None:
    out = calls()
    deep: dict[str, Any] = {}
    for _ in range(300):  # orjson serialises 254 levels at most
        deep = {"a": deep}
    refused = out.add("x", "DataTransfer", deep, None, 0.0)
    assert outcomes(refused) == [("x", ev.INVALID)]
    assert out.current is None and not out.ids


def test_sy01_upstream_calls_go_before_queued_mqtt_calls() -> None:
    out = calls()
    add(out, "m1", 0.0)
    add(out, "m2", 0.0)
    frame = '[2,"u1","GetConfiguration",{}]'
    assert out.add_upstream("u1", "GetConfiguration", frame, None, 0.0) == []
    assert out.waiting == 2
    events = out.advance(0.0)
    assert [e.text for e in events if isinstance(e, ev.SendFrame)] == [frame]  # as sent
    assert out.current is not None and out.current.upstream
    assert written(out.advance(0.0))[0][1] == "m2"


def test_upstream_duplicate_id_and_full_upstream_queue_are_refused() -> None:
    out = calls()
    out.add_upstream("u1", "Reset", '[2,"u1","Reset",{"type":"Soft"}]', None, 0.0)
    refused = out.add_upstream("u1", "Reset", '[2,"u1","Reset",{"type":"Soft"}]', None, 0.0)
    assert outcomes(refused) == [("u1", ev.INVALID)]
    for i in range(MAX_UPSTREAM_QUEUE):
        assert out.add_upstream(f"q{i}", "Reset", "[]", None, 0.0) == []
    full = out.add_upstream("over", "Reset", "[]", None, 0.0)
    assert outcomes(full) == [("over", ev.QUEUE_FULL)]


def test_sy03_timeout_ends_the_outstanding_call_and_sends_the_next() -> None:
    out = calls(call_timeout=5.0)
    add(out, "a", 0.0, "ctx-a")
    add(out, "b", 1.0)
    assert out.expire(4.99) == []
    events = out.expire(5.0)
    timeout = events[0]
    assert isinstance(timeout, ev.Outcome)
    assert (timeout.unique_id, timeout.status, timeout.ctx) == ("a", ev.TIMEOUT, "ctx-a")
    assert "within 5 s" in timeout.reason
    assert written(events)[0][1] == "b"
    assert out.current is not None and out.current.deadline == 10.0  # from when it was sent
    assert out.policy.stats.timeouts_out == 1
    assert "a" not in out.ids and "b" in out.ids


def test_close_ends_every_call_offline_outstanding_then_upstream_then_mqtt() -> None:
    out = calls()
    add(out, "a", 0.0)
    add(out, "b", 0.0)
    out.add_upstream("u", "Reset", "[]", None, 0.0)
    assert outcomes(out.close()) == [("a", ev.OFFLINE), ("u", ev.OFFLINE), ("b", ev.OFFLINE)]
    assert out.current is None and out.waiting == 0 and not out.ids and not out.wire


def test_ids_are_freed_when_a_call_is_done() -> None:
    out = calls()
    add(out, "a", 0.0)
    assert out.ids == {"a"} and out.wire == {"a"}
    out.advance(0.0)
    assert not out.ids and not out.wire


def test_mid06_own_ids_draw_a_fresh_uuid_and_report_the_senders_id() -> None:
    out = calls(own_ids=True)
    events = add(out, "mine", 0.0)
    wire_id = written(events)[0][1]
    assert wire_id != "mine" and uuid.UUID(wire_id).version == 4  # MID-02
    assert outcomes(events) == [("mine", ev.SENT)]
    assert out.ids == {"mine"} and out.wire == {wire_id}


def test_mid06_upstream_id_equal_to_a_queued_wire_id_makes_that_call_draw_another() -> None:
    out = calls(own_ids=True)
    add(out, "first", 0.0)
    add(out, "second", 0.0)
    taken = out.queue[0].wire_id
    out.add_upstream(taken, "Reset", "[]", None, 0.0)
    assert out.queue[0].wire_id not in (taken, "")
    assert {taken, out.queue[0].wire_id} <= out.wire


def test_mid06_fresh_id_draws_again_while_the_uuid_is_in_flight_or_taken(
        monkeypatch: pytest.MonkeyPatch) -> None:
    in_flight, taken, free = (uuid.UUID(int=n, version=4) for n in (1, 2, 3))
    drawn = iter([in_flight, taken, free])
    monkeypatch.setattr(outgoing.uuid, "uuid4", lambda: next(drawn))
    out = calls()
    out.wire.add(str(in_flight))
    assert out.fresh_id(str(taken)) == str(free)
