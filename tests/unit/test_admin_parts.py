"""Admin building blocks without sockets: the frame ring, the live-stream readers' bound,
the round-trip histogram, and the session counters the metrics read (SY-03 timeouts)."""

from __future__ import annotations

import asyncio
import time

import orjson

from ocpp_mqtt.admin.stream import Stream
from ocpp_mqtt.ocppj.session import Policy, Session
from ocpp_mqtt.ocppj.stats import Histogram
from ocpp_mqtt.ocppj.validation import Schemas
from ocpp_mqtt.ocppj.versions import Version
from ocpp_mqtt.transport.recent import QUIET, RecentFrames


def test_ring_keeps_the_last_frames_oldest_first() -> None:
    ring = RecentFrames("CP", 3, QUIET)
    assert ring.frames() == []
    now = time.monotonic()
    for i in range(5):
        ring.add(i % 2 == 0, f"f{i}", now + i)
    frames = ring.frames()
    assert [(f["text"], f["direction"]) for f in frames] == [("f2", "in"), ("f3", "out"),
                                                             ("f4", "in")]
    assert frames[1]["ts"] - frames[0]["ts"] in (999, 1000, 1001)
    empty = RecentFrames("CP", 0, QUIET)
    empty.add(True, "x", now)
    assert empty.frames() == [] and empty.total == 0


def test_reader_over_its_buffer_is_dropped() -> None:
    async def run() -> None:
        stream = Stream(buffer=3)
        slow = stream.subscribe(None)
        picky = stream.subscribe(frozenset({"B"}))
        drops: list[bool] = []
        slow.on_drop = lambda: drops.append(True)
        for i in range(3):
            stream.frame("A", True, f"t{i}", time.monotonic())
        assert len(slow.queue) == 3 and not picky.queue and slow.dropped is None
        stream.frame("A", True, "one too many", time.monotonic())
        assert slow.dropped is not None and "admin_stream_buffer" in slow.dropped
        assert not slow.queue and drops == [True]  # memory released at once
        assert stream.readers == {picky} and stream.watching
        stream.event("connected", "B", {"proto_ver": "1.6"})
        message = picky.queue.popleft().decode()
        assert "event: connected\n" in message
        data = orjson.loads(message.split("data: ", 1)[1])
        assert data == {"identity": "B", "proto_ver": "1.6"}
        stream.unsubscribe(picky)
        assert not stream.watching

    asyncio.run(run())


def test_histogram_buckets() -> None:
    hist = Histogram((0.01, 0.1, 1.0))
    for value in (0.005, 0.01, 0.05, 2.0):
        hist.observe(value)
    assert hist.cumulative() == [("0.01", 2), ("0.1", 3), ("1.0", 3), ("+Inf", 4)]
    assert hist.count == 4 and abs(hist.sum - 2.065) < 1e-9


def test_session_counts_and_round_trips() -> None:
    """What the metrics read: calls and results by action, CALLERRORs by code both ways,
    round trips from the deadline bookkeeping, and SY-03 timeouts."""
    policy = Policy(call_timeout=10)
    session = Session(Version.V16, Schemas(), policy)
    stats = policy.stats
    session.receive('[2,"a","Heartbeat",{}]', 100.0)
    session.backend_result("a", {"currentTime": "2025-01-01T00:00:00Z"}, None, 100.25)
    assert stats.calls_in == {"Heartbeat": 1} and stats.results_out == {"Heartbeat": 1}
    assert stats.rtt_cp.count == 1 and abs(stats.rtt_cp.sum - 0.25) < 1e-9
    session.receive('[2,"b","Nope",{}]', 101.0)  # NotImplemented from the gateway (ER-04)
    assert stats.errors_out == {"NotImplemented": 1} and session.errors_out == 1
    session.backend_call("c", "ClearCache", {}, None, 102.0)
    session.receive('[4,"c","NotSupported","",{}]', 102.5)
    assert stats.calls_out == {"ClearCache": 1} and stats.errors_in == {"NotSupported": 1}
    assert stats.rtt_cs.count == 1 and abs(stats.rtt_cs.sum - 0.5) < 1e-9
    session.receive('[2,"d","Heartbeat",{}]', 103.0)
    session.backend_call("e", "ClearCache", {}, None, 103.0)
    assert session.pending_counts() == (1, 1)
    session.expire(200.0)
    assert (stats.timeouts_in, stats.timeouts_out) == (1, 1)
    assert stats.errors_out["InternalError"] == 1
    assert (session.calls_in, session.calls_out) == (2, 2)


def test_long_frames_are_cut_in_the_ring_not_in_the_stream() -> None:
    async def run() -> None:
        stream = Stream(buffer=10)
        reader = stream.subscribe(None)
        ring = RecentFrames("CP", 2, stream)
        text = "[2," + "x" * 10_000 + "]"
        ring.add(True, text, time.monotonic())
        kept = ring.frames()[0]["text"]
        assert kept.startswith(text[:4096]) and kept.endswith(f"[{len(text)} characters, cut]")
        assert len(kept) < 4200
        live = orjson.loads(reader.take().split(b"data: ", 1)[1])
        assert live["text"] == text and reader.queued_bytes == 0

    asyncio.run(run())


def test_reader_bound_in_bytes_too() -> None:
    async def run() -> None:
        stream = Stream(buffer=1000)
        reader = stream.subscribe(None)
        big = "y" * (3 * 1024 * 1024)
        for _ in range(5):
            stream.frame("A", True, big, time.monotonic())
        assert reader.dropped is None and reader.queued_bytes > 15 * 1024 * 1024
        stream.frame("A", True, big, time.monotonic())  # past 16 MiB
        assert reader.dropped is not None and reader.queued_bytes == 0

    asyncio.run(run())
