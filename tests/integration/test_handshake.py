"""The WebSocket handshake on a live gateway (HS-*, ID-*) and keep-alive (KA-*, HS-11)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from .wsutil import connect, raw_handshake, read_close_frame, recv_json


@pytest.mark.parametrize("token", ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"])
async def test_hs03_each_token_echoed(gateway: Any, token: str) -> None:
    reply, _, writer = await raw_handshake(gateway.port, "/ocpp/CP1", [token])
    writer.close()
    assert reply.status == 101 and reply.headers["sec-websocket-protocol"] == token


@pytest.mark.parametrize(("offered", "chosen"), [
    (["ocpp2.0.1", "ocpp1.6"], "ocpp2.0.1"),
    (["ocpp1.6", "ocpp2.0.1"], "ocpp1.6"),
    (["ocpp1.5", "ocpp2.1", "ocpp1.6"], "ocpp2.1"),
])
async def test_hs04_hs05_one_protocol_in_client_order(gateway: Any, offered: list[str],
                                                     chosen: str) -> None:
    reply, _, writer = await raw_handshake(gateway.port, "/ocpp/CP1", offered)
    writer.close()
    assert reply.status == 101
    assert reply.headers["sec-websocket-protocol"] == chosen  # exactly one value


@pytest.mark.parametrize("offered", [["ocpp1.5"], ["OCPP1.6"], ["ocpp2.0"]])
async def test_hs06_no_common_version_101_then_close(gateway: Any, offered: list[str]) -> None:
    reply, reader, writer = await raw_handshake(gateway.port, "/ocpp/CP1", offered)
    assert reply.status == 101
    assert "sec-websocket-protocol" not in reply.headers
    assert await read_close_frame(reader) == 1002
    writer.close()


async def test_hs07_no_protocol_offered_strict(gateway: Any) -> None:
    reply, reader, writer = await raw_handshake(gateway.port, "/ocpp/CP1", None)
    assert reply.status == 101 and "sec-websocket-protocol" not in reply.headers
    assert await read_close_frame(reader) == 1002
    writer.close()


async def test_hs07_legacy_default_version(make_gateway: Any, backend: Any) -> None:
    gw = await make_gateway(default_version="1.6")
    await backend.subscribe(gw.prefix + "presence/L1")
    reply, _, writer = await raw_handshake(gw.port, "/ocpp/L1", None)
    assert reply.status == 101 and "sec-websocket-protocol" not in reply.headers
    online = await backend.wait_for(gw.prefix + "presence/L1")
    assert online["status"] == "online" and online["proto_ver"] == "1.6"
    writer.close()


async def test_hs08_version_from_subprotocol_not_path(gateway: Any) -> None:
    async with connect(gateway.url("CP8", "/ocpp1.6/"), ["ocpp2.0.1"]) as ws:
        assert ws.subprotocol == "ocpp2.0.1"
        await ws.send('[2,"m","BootNotification",{}]')
        assert (await recv_json(ws))[2] == "OccurrenceConstraintViolation"  # 2.x spelling


async def test_hs02_identity_is_last_segment_decoded(gateway: Any, backend: Any) -> None:
    await backend.subscribe(gateway.prefix + "presence/+")
    async with connect(gateway.url("RDAM%7C123", "/any/path/"), ["ocpp2.1"]):
        body = await backend.wait_for(gateway.prefix + "presence/RDAM|123")
        assert body["clientid"] == "RDAM|123"
    async with connect(gateway.url("CP%20001"), ["ocpp1.6"]):
        body = await backend.wait_for(gateway.prefix + "presence/CP 001")
        assert body["clientid"] == "CP 001"


@pytest.mark.parametrize(("path", "protocol", "why"), [
    ("/ocpp/", "ocpp1.6", "must end with"),  # empty identity
    ("/ocpp/CP:1", "ocpp2.0.1", "identifierString"),  # ID-01
    ("/ocpp/" + "A" * 49, "ocpp2.0.1", "identifierString"),  # ID-01
    ("/ocpp/a%2Fb", "ocpp1.6", "'/'"),  # ID-02
    ("/ocpp/a%00b", "ocpp1.6", "control"),  # ID-02
    ("/ocpp/" + "A" * 49, "ocpp1.6", "longer than 48"),  # ID-02 cap
])
async def test_id01_id02_bad_identities_refused_before_upgrade(
        gateway: Any, path: str, protocol: str, why: str) -> None:
    reply, _, writer = await raw_handshake(gateway.port, path, [protocol])
    writer.close()
    assert reply.status == 400
    assert why in reply.body.decode()


async def test_id01_full_identifier_alphabet_accepted(gateway: Any) -> None:
    async with connect(gateway.url("A*b-c_d=e%2Bf|g@h.i"), ["ocpp2.0.1"]) as ws:
        assert ws.subprotocol == "ocpp2.0.1"


async def test_plain_http_get_is_refused_with_reason(gateway: Any) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(b"GET /ocpp/CP1 HTTP/1.1\r\nHost: x\r\n\r\n")
    head = await asyncio.wait_for(reader.read(400), 5)
    writer.close()
    assert head.startswith(b"HTTP/1.1 400") and b"WebSocket" in head


@pytest.mark.parametrize("compression", [True, False])
async def test_hs10_permessage_deflate(make_gateway: Any, compression: bool) -> None:
    gw = await make_gateway(compression=compression)
    reply, _, writer = await raw_handshake(
        gw.port, "/ocpp/Z1", ["ocpp2.0.1"],
        {"Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"})
    writer.close()
    negotiated = "permessage-deflate" in reply.headers.get("sec-websocket-extensions", "")
    assert negotiated is compression


async def test_ka01_ping_gets_pong(gateway: Any) -> None:
    async with connect(gateway.url("KA1"), ["ocpp1.6"]) as ws:
        latency = await asyncio.wait_for(await ws.ping(), 3)
        assert latency >= 0


async def test_ka03_half_open_socket_detected(make_gateway: Any, backend: Any) -> None:
    gw = await make_gateway(ping_interval=0.4, ping_timeout=0.4)
    await backend.subscribe(gw.prefix + "presence/K3")
    reply, _reader, writer = await raw_handshake(gw.port, "/ocpp/K3", ["ocpp1.6"])
    assert reply.status == 101  # this raw client never answers pings
    assert (await backend.wait_for(gw.prefix + "presence/K3"))["status"] == "online"
    started = asyncio.get_running_loop().time()
    offline = await backend.wait_for(gw.prefix + "presence/K3", 5)
    took = asyncio.get_running_loop().time() - started
    assert offline["status"] == "offline" and "pong" in offline["reason"]
    assert took < 0.4 + 0.4 + 1.0
    writer.close()


async def test_hs11_no_idle_timeout_for_a_cp_answering_pings(make_gateway: Any) -> None:
    gw = await make_gateway(ping_interval=0.2, ping_timeout=0.2)
    async with connect(gw.url("H11"), ["ocpp1.6"], ping_interval=None) as ws:
        await asyncio.sleep(1.5)  # silent for many ping intervals, but answers pings
        await ws.send('[2,"x","FooBar",{}]')
        assert (await recv_json(ws))[2] == "NotImplemented"
