"""IncomingCalls on its own: the charge point's CALLs pending until the backend answers.

The session tests reach it through `Session.receive` and `backend_*`; these pin its own
contract: what enters `pending`, what leaves it (an answer, a timeout), and what is counted.
"""

from __future__ import annotations

import json
from typing import Any

from ocpp_mqtt.ocppj import events as ev
from ocpp_mqtt.ocppj.frames import Call, parse
from ocpp_mqtt.ocppj.incoming import NOT_PENDING, IncomingCalls
from ocpp_mqtt.ocppj.policy import Policy
from ocpp_mqtt.ocppj.validation import Schemas
from ocpp_mqtt.ocppj.versions import Version

V16 = Version.V16


def incoming(schemas: Schemas, version: Version = V16, **policy: Any) -> IncomingCalls:
    return IncomingCalls(version, schemas.for_version(version), Policy(**policy))


def heartbeat(uid: str, version: Version = V16) -> Call:
    frame = parse(f'[2,"{uid}","Heartbeat",{{}}]', version)
    assert isinstance(frame, Call)
    return frame


def test_a_checked_call_waits_in_pending_with_its_deadline(schemas: Schemas) -> None:
    calls = incoming(schemas, call_timeout=5.0)
    events = calls.call(heartbeat("h1"), 100.0)
    assert [type(e) for e in events] == [ev.UpCall]
    assert calls.pending == {"h1": ("Heartbeat", 105.0)}
    assert calls.calls_in == 1 and calls.policy.stats.calls_in == {"Heartbeat": 1}


def test_mid05_duplicate_id_while_pending_gets_a_callerror(schemas: Schemas) -> None:
    calls = incoming(schemas)
    calls.call(heartbeat("h1"), 0.0)
    events = calls.call(heartbeat("h1"), 0.0)
    frame = json.loads(next(e for e in events if isinstance(e, ev.SendFrame)).text)
    assert frame[:3] == [4, "h1", "GenericError"]
    assert calls.errors_out == 1 and calls.calls_in == 1


def test_the_backends_result_leaves_pending_once(schemas: Schemas) -> None:
    calls = incoming(schemas)
    calls.call(heartbeat("h1"), 0.0)
    answer = {"currentTime": "2025-01-01T00:00:00Z"}
    events = calls.result("h1", answer, "ctx", 0.5)
    assert json.loads(next(e for e in events if isinstance(e, ev.SendFrame)).text) == \
        [3, "h1", answer]
    assert not calls.pending
    again = calls.result("h1", answer, "ctx", 0.6)
    assert [(o.status, o.reason) for o in again if isinstance(o, ev.Outcome)] == \
        [(ev.NOT_PENDING, NOT_PENDING)]


def test_an_invalid_result_leaves_the_call_pending(schemas: Schemas) -> None:
    calls = incoming(schemas)
    calls.call(heartbeat("h1"), 0.0)
    events = calls.result("h1", {"currentTime": 5}, None, 0.0)
    assert [o.status for o in events if isinstance(o, ev.Outcome)] == [ev.INVALID]
    assert "h1" in calls.pending  # the backend may still answer correctly


def test_sy03_unanswered_calls_expire_with_an_internal_error(schemas: Schemas) -> None:
    calls = incoming(schemas, call_timeout=5.0)
    calls.call(heartbeat("early"), 0.0)
    calls.call(heartbeat("late"), 3.0)
    events = calls.expire(5.0)
    frames = [json.loads(e.text) for e in events if isinstance(e, ev.SendFrame)]
    assert [f[:3] for f in frames] == [[4, "early", "InternalError"]]  # ER-11
    assert list(calls.pending) == ["late"]
    assert calls.policy.stats.timeouts_in == 1 and calls.errors_out == 1
