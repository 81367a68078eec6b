"""Text frames reach the session straight from aiohttp's parser (transport/direct.py): in
order, also when some wait on the queue, and a frame sent with the handshake is not lost."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path
from typing import Any

import orjson

from ocpp_mqtt.transport.direct import OcppWebSocket

from .wsutil import connect, recv_json, until


def heartbeat(uid: str) -> str:
    return orjson.dumps([2, uid, "Heartbeat", {}]).decode()


async def central_gateway(make_gateway: Any, tmp_path: Path) -> Any:
    return await make_gateway(mode="central", store=str(tmp_path / "gw.sqlite3"),
                              trigger_after_connect=0)


async def test_frames_go_straight_to_the_session_in_order(make_gateway: Any,
                                                         tmp_path: Path) -> None:
    gw = await central_gateway(make_gateway, tmp_path)
    async with connect(gw.url("DF1"), ["ocpp1.6"]) as ws:
        await until(lambda: "DF1" in gw.gateway.relay.connections, 5, "attach")
        server_ws = gw.gateway.relay.connections["DF1"].ws
        assert isinstance(server_ws, OcppWebSocket)
        direct = server_ws.direct
        assert direct is not None and direct.deliver is not None
        handled: list[str] = []
        deliver = direct.deliver

        def counting(text: str) -> None:
            handled.append(text)
            deliver(text)

        direct.deliver = counting
        # one CALL outstanding at a time (SY-01), each answered by the gateway itself
        ids = [f"h{i}" for i in range(200)]
        for uid in ids:
            await ws.send(heartbeat(uid))
            reply = await recv_json(ws)
            assert reply[:2] == [3, uid]
        assert len(handled) == len(ids)  # every one without the queue
    await until(lambda: "DF1" not in gw.gateway.relay.connections, 5, "detach")
    assert direct.deliver is None  # the closed connection's parser hands nothing on


async def test_frames_queued_while_held_keep_their_order(make_gateway: Any,
                                                        tmp_path: Path) -> None:
    """While `held()` (MQTT back-pressure) frames wait on aiohttp's queue; the ones after
    them must not overtake them once the hold ends."""
    gw = await central_gateway(make_gateway, tmp_path)
    async with connect(gw.url("DF2"), ["ocpp1.6"]) as ws:
        await until(lambda: "DF2" in gw.gateway.relay.connections, 5, "attach")
        direct = gw.gateway.relay.connections["DF2"].ws.direct
        assert direct is not None
        hold = True
        direct.held = lambda: hold
        seen: list[str] = []
        deliver = direct.deliver
        assert deliver is not None

        def recording(text: str) -> None:
            seen.append(orjson.loads(text)[1])
            deliver(text)

        direct.deliver = recording
        await ws.send(heartbeat("q1"))  # queued: the handler task takes it
        assert (await recv_json(ws))[:2] == [3, "q1"]
        assert seen == []  # it did not come the direct way
        hold = False
        await ws.send(heartbeat("d1"))
        assert (await recv_json(ws))[:2] == [3, "d1"]
        assert seen == ["d1"]


async def test_a_frame_sent_with_the_handshake_is_answered(make_gateway: Any,
                                                          tmp_path: Path) -> None:
    """A client that writes its first frame together with the upgrade request: aiohttp has
    parsed it before the connection could switch queues, so this one keeps aiohttp's queue."""
    gw = await central_gateway(make_gateway, tmp_path)
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET /ocpp/DF3 HTTP/1.1\r\nHost: 127.0.0.1:{gw.port}\r\n"
               "Upgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n").encode()
    payload = heartbeat("early").encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    frame = bytes((0x81, 0x80 | len(payload))) + mask + masked
    writer.write(request + frame)
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 101")
        first = await asyncio.wait_for(reader.readexactly(2), 5)
        assert first[0] == 0x81
        body = await asyncio.wait_for(reader.readexactly(first[1] & 0x7F), 5)
        assert orjson.loads(body)[:2] == [3, "early"]
        server_ws = gw.gateway.relay.connections["DF3"].ws
        assert server_ws.direct is None  # aiohttp's own queue served it
    finally:
        writer.close()


async def test_a_failing_handler_closes_only_that_connection(make_gateway: Any,
                                                             tmp_path: Path) -> None:
    gw = await central_gateway(make_gateway, tmp_path)
    relay = gw.gateway.relay
    original = relay.on_text

    def failing(conn: Any, text: str) -> None:
        if conn.identity == "DF4":
            raise RuntimeError("bug")
        original(conn, text)

    relay.on_text = failing
    async with connect(gw.url("DF4"), ["ocpp1.6"]) as bad, \
            connect(gw.url("DF5"), ["ocpp1.6"]) as good:
        await bad.send(heartbeat("x"))
        await asyncio.wait_for(bad.wait_closed(), 5)
        assert bad.close_code == 1011
        await good.send(heartbeat("y"))
        assert (await recv_json(good))[:2] == [3, "y"]
