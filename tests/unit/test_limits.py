"""Limits decided without sockets: the token bucket, connection counts, once-a-minute logs."""

from __future__ import annotations

import logging

import orjson
import pytest

from ocpp_mqtt.limitlog import OncePerMinute
from ocpp_mqtt.ocppj import events as ev
from ocpp_mqtt.ocppj.ratelimit import TokenBucket
from ocpp_mqtt.ocppj.session import Policy, Session
from ocpp_mqtt.ocppj.validation import Schemas
from ocpp_mqtt.ocppj.versions import Version
from ocpp_mqtt.transport.limits import ConnectionLimits, automatic_max_connections


def test_bucket_allows_the_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate=2.0, burst=3.0, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(0.4) is False  # 0.8 token
    assert bucket.take(0.5) is True  # 1.0
    assert bucket.take(10.0) and bucket.take(10.0) and bucket.take(10.0)
    assert not bucket.take(10.0)  # refilled to the burst only


def heartbeat(n: int) -> str:
    return f'[2,"h{n}","Heartbeat",{{}}]'


def session(**policy: object) -> Session:
    return Session(Version.V201, Schemas(), Policy(rate_limit=1.0, rate_burst=2.0, **policy))


def test_calls_beyond_the_rate_get_generic_error_and_are_counted() -> None:
    s = session()
    assert isinstance(s.receive(heartbeat(1), 0.0)[0], ev.UpCall)
    assert isinstance(s.receive(heartbeat(2), 0.0)[0], ev.UpCall)
    refused = s.receive(heartbeat(3), 0.1)
    reply = orjson.loads(refused[0].text)  # type: ignore[union-attr]
    assert reply[:3] == [4, "h3", "GenericError"] and "rate limit" in reply[3]
    assert isinstance(refused[1], ev.Problem) and refused[1].event == "rate_limit"
    assert s.policy.stats.limits == {"rate": 1}
    assert isinstance(s.receive(heartbeat(4), 1.2)[0], ev.UpCall)


def test_close_policy_ends_the_connection() -> None:
    s = session(rate_limit_close=True)
    s.receive(heartbeat(1), 0.0)
    s.receive(heartbeat(2), 0.0)
    events = s.receive(heartbeat(3), 0.0)
    assert not [e for e in events if isinstance(e, ev.SendFrame)]
    assert [e for e in events if isinstance(e, ev.Close)] == [
        ev.Close(1008, "message rate limit exceeded")]


def test_results_are_never_rate_limited() -> None:
    s = session()
    s.backend_call("c1", "Reset", {"type": "Immediate"}, None, 0.0)
    for n in range(5):
        s.receive(heartbeat(n), 0.0)
    events = s.receive('[3,"c1",{"status":"Accepted"}]', 0.0)
    assert any(isinstance(e, ev.UpResult) for e in events)


def test_a_connected_identity_is_always_let_in_again() -> None:
    limits = ConnectionLimits(max_connections=2, max_per_address=0)
    limits.opened("A", "10.0.0.1")
    limits.opened("B", "10.0.0.2")
    refused = limits.admit("C", "10.0.0.3")
    assert refused is not None and refused.status == 503 and "max_connections" in refused.reason
    assert limits.admit("A", "10.0.0.9") is None  # replaces its old connection
    limits.closed("B", "10.0.0.2")
    assert limits.admit("C", "10.0.0.3") is None


def test_identities_per_address() -> None:
    limits = ConnectionLimits(max_connections=100, max_per_address=2)
    limits.opened("A", "10.0.0.1")
    limits.opened("B", "10.0.0.1")
    refused = limits.admit("C", "10.0.0.1")
    assert refused is not None and refused.status == 429
    assert limits.admit("C", "10.0.0.2") is None
    assert limits.admit("B", "10.0.0.1") is None
    limits.opened("B", "10.0.0.1")  # the replacement, before the old socket closes
    limits.closed("B", "10.0.0.1")
    assert limits.admit("C", "10.0.0.1") is not None  # B still holds its new socket
    limits.closed("B", "10.0.0.1")
    assert limits.admit("C", "10.0.0.1") is None
    assert limits.count == 1


def test_automatic_max_connections_follows_the_open_file_limit() -> None:
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert automatic_max_connections() == max(1, soft - 100)
    assert ConnectionLimits(0, 0).max_connections == automatic_max_connections()


def test_each_offender_is_logged_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    once = OncePerMinute(logging.getLogger("ocpp_mqtt.test"), period=60)
    with caplog.at_level(logging.WARNING, "ocpp_mqtt.test"):
        for _ in range(5):
            once.warning("rate_limit", "CP1", "too fast", cid="CP1")
        once.warning("rate_limit", "CP2", "too fast", cid="CP2")
        once.warning("bad_frame", "CP1", "bad", cid="CP1")
    assert [(r.getMessage(), r.cid) for r in caplog.records] == [  # type: ignore[attr-defined]
        ("too fast", "CP1"), ("too fast", "CP2"), ("bad", "CP1")]
    once.period = 0.0
    with caplog.at_level(logging.WARNING, "ocpp_mqtt.test"):
        once.warning("rate_limit", "CP1", "too fast")
    assert caplog.records[-1].suppressed == 4  # type: ignore[attr-defined]
