"""The admin API's live stream (Server-Sent Events) and Prometheus metrics, against a live
gateway with real WebSocket charge points and Mosquitto."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
import orjson

from .admin_client import EventReader, admin
from .wsutil import connect, recv_json, until


async def open_stream(base: str, query: str = "") -> tuple[aiohttp.ClientSession, EventReader]:
    session = aiohttp.ClientSession()
    resp = await session.get(base + "/api/v1/stream" + query)
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
    return session, EventReader(resp)


async def test_stream_frames_and_connection_events(gateway: Any, backend: Any) -> None:
    await backend.subscribe(gateway.prefix + "cp/#")
    session, events = await open_stream(gateway.admin_url, "?identity=S1")
    try:
        async with connect(gateway.url("S1"), ["ocpp1.6"]) as ws, \
                connect(gateway.url("S2"), ["ocpp1.6"]) as other:
            connected = await events.wait("connected")
            assert connected["identity"] == "S1" and connected["proto_ver"] == "1.6"
            await other.send('[2,"o1","Heartbeat",{}]')  # filtered out: another identity
            await ws.send('[2,"s1","Heartbeat",{}]')
            frame = await events.wait("frame")
            assert frame["identity"] == "S1" and frame["direction"] == "in"
            assert frame["text"] == '[2,"s1","Heartbeat",{}]' and frame["ts"] > 0
            call = await backend.wait_for(gateway.prefix + "cp/S1")
            backend.publish(gateway.prefix + "cs/S1", {
                "MessageTypeId": 3, "UniqueId": call["UniqueId"],
                "Payload": {"currentTime": "2025-01-01T00:00:00Z"}})
            answer = await events.wait("frame", direction="out")
            assert answer["text"].startswith('[3,"s1",')
            await recv_json(ws)
        gone = await events.wait("disconnected")
        assert gone["identity"] == "S1" and "closed by the charge point" in gone["reason"]
    finally:
        await session.close()


async def test_stream_type_filter_and_bad_type(gateway: Any) -> None:
    session, events = await open_stream(gateway.admin_url, "?types=connected")
    try:
        async with connect(gateway.url("T1"), ["ocpp1.6"]) as ws:
            await ws.send('[2,"t1","Heartbeat",{}]')
            first = await events.next()
            assert first[0] == "connected" and first[1]["identity"] == "T1"
        async with connect(gateway.url("T2"), ["ocpp1.6"]):
            kind, data = await events.next()  # no frame or disconnect event came between
            assert (kind, data["identity"]) == ("connected", "T2")
    finally:
        await session.close()
    async with admin(gateway.admin_url) as api:
        bad = await api.get("/api/v1/stream", types="frames")
        assert bad.status == 400 and "frames" in bad.body["reason"]


async def test_slow_reader_is_dropped(make_gateway: Any) -> None:
    """A reader that does not keep up is dropped after admin_stream_buffer events; the
    gateway's memory for it stays bounded, and the charge point is not slowed down."""
    gw = await make_gateway(admin_stream_buffer=10)
    stream = gw.gateway.admin.stream
    _reader, writer = await asyncio.open_connection("127.0.0.1", gw.gateway.admin.port)
    writer.write(b"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    await until(lambda: stream.watching, 3, "the reader subscribed")
    subscriber = next(iter(stream.readers))
    big = "x" * 60_000
    async with connect(gw.url("F1"), ["ocpp1.6"]) as ws:
        for i in range(200):  # ~12 MB of frames while the reader reads nothing
            await ws.send(orjson.dumps([2, f"d{i}", "DataTransfer",
                                        {"vendorId": "v", "data": big}]).decode())
            if subscriber.dropped:
                break
        await until(lambda: subscriber.dropped is not None, 5, "the slow reader dropped")
        assert len(subscriber.queue) == 0 and not stream.watching
        await ws.send('[2,"h","Heartbeat",{}]')  # the charge point still served
        conn = gw.gateway.relay.connections["F1"]
        await until(lambda: conn.recent.total >= 2, 3, "frames still logged")
    writer.close()


async def test_metrics_move_with_traffic(make_gateway: Any, backend: Any) -> None:
    gw = await make_gateway(max_queue=0)
    await backend.subscribe(gw.prefix + "cp/#")
    async with admin(gw.admin_url) as api:
        before = parse((await api.get("/metrics")).text)
        assert before[("ocpp_mqtt_mqtt_connected", "")] == 1
        assert ("ocpp_mqtt_messages_total", 'action="Heartbeat",direction="in",type="call"') \
            not in before
        async with connect(gw.url("M1"), ["ocpp1.6"]) as ws, \
                connect(gw.url("M2"), ["ocpp2.0.1"]):
            await ws.send('[2,"m1","Heartbeat",{}]')
            call = await backend.wait_for(gw.prefix + "cp/M1")
            backend.publish(gw.prefix + "cs/M1", {
                "MessageTypeId": 3, "UniqueId": call["UniqueId"],
                "Payload": {"currentTime": "2025-01-01T00:00:00Z"}})
            await recv_json(ws)
            await ws.send('[2,"m2","NoSuchAction",{}]')  # NotImplemented (ER-04)
            await recv_json(ws)
            task = asyncio.ensure_future(api.post("/api/v1/charge-points/M1/call",
                                                  {"action": "ClearCache"}))
            frame = await recv_json(ws)
            full = await api.post("/api/v1/charge-points/M1/call", {"action": "ClearCache"})
            assert full.status == 429  # max_queue 0: a limit hit
            await ws.send(orjson.dumps([4, frame[1], "NotSupported", "", {}]).decode())
            assert (await task).status == 200
            text = (await api.get("/metrics")).text
        after = parse(text)
    def m(name: str, **labels: str) -> float:
        return after[(name, ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())))]

    assert m("ocpp_mqtt_connections", ocpp_version="1.6") == 1
    assert m("ocpp_mqtt_connections", ocpp_version="2.0.1") == 1
    assert m("ocpp_mqtt_messages_total", direction="in", type="call", action="Heartbeat") == 1
    assert m("ocpp_mqtt_messages_total", direction="out", type="result",
             action="Heartbeat") == 1
    assert m("ocpp_mqtt_messages_total", direction="out", type="call", action="ClearCache") == 1
    assert m("ocpp_mqtt_callerrors_total", direction="out", code="NotImplemented") == 1
    assert m("ocpp_mqtt_callerrors_total", direction="in", code="NotSupported") == 1
    assert m("ocpp_mqtt_limit_hits_total", limit="queue_full") == 1
    assert m("ocpp_mqtt_round_trip_seconds_count", origin="charge_point") == 1
    assert m("ocpp_mqtt_round_trip_seconds_count", origin="central_system") == 1
    assert m("ocpp_mqtt_round_trip_seconds_bucket", origin="charge_point", le="+Inf") == 1
    assert m("ocpp_mqtt_round_trip_seconds_sum", origin="charge_point") > 0
    assert m("ocpp_mqtt_queued_calls") == 0
    assert m("ocpp_mqtt_info", version="0.1.0", gateway="test-gw", mode="relay") == 1
    assert m("process_resident_memory_bytes") > 0


def parse(text: str) -> dict[tuple[str, str], float]:
    """Prometheus text format -> {(name, labels): value} (comments skipped)."""
    out: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        assert match, line
        labels = ",".join(sorted(re.findall(r'\w+="[^"]*"', match[2] or "")))
        out[(match[1], labels)] = float(match[3])
    return out
