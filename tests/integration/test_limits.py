"""Limits with clear answers (issue 5, point 5), against real sockets and a real Mosquitto."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
import websockets

from .wsutil import connect, raw_handshake, recv_json


async def test_rate_limit_answers_generic_error_beyond_the_burst(make_gateway: Any,
                                                                 backend: Any) -> None:
    gw = await make_gateway(rate_limit=1, rate_burst=2)
    await backend.subscribe(gw.prefix + "cp/RL1")
    async with connect(gw.url("RL1"), ["ocpp1.6"]) as ws:
        for n in range(4):
            await ws.send(f'[2,"h{n}","Heartbeat",{{}}]')
        refused = [await recv_json(ws), await recv_json(ws)]
    assert [r[:3] for r in refused] == [[4, "h2", "GenericError"], [4, "h3", "GenericError"]]
    assert "rate limit" in refused[0][3]
    relayed = [await backend.wait_for(gw.prefix + "cp/RL1") for _ in range(2)]
    assert [m["UniqueId"] for m in relayed] == ["h0", "h1"]
    await backend.silence(gw.prefix + "cp/RL1", 0.2)
    assert gw.gateway.policy.stats.limits["rate"] == 2  # metrics: limit_hits{limit="rate"}


async def test_rate_limit_close_policy(make_gateway: Any, backend: Any) -> None:
    gw = await make_gateway(rate_limit=1, rate_burst=1, rate_limit_action="close")
    await backend.subscribe(gw.prefix + "events/RL2/disconnected")
    async with connect(gw.url("RL2"), ["ocpp1.6"]) as ws:
        await ws.send('[2,"a","Heartbeat",{}]')
        await ws.send('[2,"b","Heartbeat",{}]')
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    event = await backend.wait_for(gw.prefix + "events/RL2/disconnected")
    assert event["reason"] == "message rate limit exceeded"


async def test_max_connections_refuses_new_charge_points_with_503(make_gateway: Any) -> None:
    gw = await make_gateway(max_connections=2)
    async with connect(gw.url("MC1"), ["ocpp1.6"]), connect(gw.url("MC2"), ["ocpp1.6"]):
        reply, _, writer = await raw_handshake(gw.port, "/ocpp/MC3", ["ocpp1.6"])
        writer.close()
        assert reply.status == 503 and reply.headers.get("retry-after")
        assert b"max_connections" in reply.body
        # a connected charge point always gets in again (its new connection replaces the old)
        async with connect(gw.url("MC1"), ["ocpp1.6"]) as again:
            await again.send('[2,"x","FooBar",{}]')
            assert (await recv_json(again))[2] == "NotImplemented"
    async with connect(gw.url("MC3"), ["ocpp1.6"]):
        pass


async def test_max_per_address_refuses_with_429(make_gateway: Any,
                                                caplog: pytest.LogCaptureFixture) -> None:
    gw = await make_gateway(max_per_address=1)
    caplog.set_level(logging.WARNING, logger="ocpp_mqtt.ws")
    async with connect(gw.url("PA1"), ["ocpp1.6"]):
        for _ in range(3):
            reply, _, writer = await raw_handshake(gw.port, "/ocpp/PA2", ["ocpp1.6"])
            writer.close()
            assert reply.status == 429 and b"max_per_address" in reply.body
    refusals = [r for r in caplog.records if "max_per_address" in r.getMessage()]
    assert len(refusals) == 1  # logged once a minute per offending address
    assert gw.gateway.policy.stats.limits["max_per_address"] == 3  # each one counted


@pytest.mark.parametrize("sent", [b"", b"GET /ocpp/SL1 HTTP/1.1\r\nHost: x\r\n"])
async def test_handshake_timeout_drops_silent_and_slow_clients(make_gateway: Any,
                                                               sent: bytes) -> None:
    gw = await make_gateway(handshake_timeout=0.5)
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
    writer.write(sent)
    started = asyncio.get_running_loop().time()
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the gateway
    assert asyncio.get_running_loop().time() - started < 2.5
    writer.close()


async def test_oversized_frame_closes_1009(make_gateway: Any) -> None:
    gw = await make_gateway(max_frame_size=4096)
    async with connect(gw.url("FS1"), ["ocpp1.6"], max_size=None) as ws:
        await ws.send('[2,"big","DataTransfer",{"vendorId":"' + "x" * 5000 + '"}]')
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
