"""Proxy mode against a real upstream CSMS (tests/integration/csms.py), real charge point
clients and the session's Mosquitto: frames relayed both ways with ids and bytes intact
(LC-03, MID-03), refusals mirrored, every frame mirrored to MQTT, injection (MID-06, SY-01)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
from websockets.exceptions import ConnectionClosed

from tests.certs import Pki
from tests.conftest import Backend, basic_auth

from .csms import Csms
from .tcpproxy import TcpProxy
from .wsutil import connect, raw_handshake, read_close_frame, recv_json, until

BOOT16 = {"chargePointVendor": "V", "chargePointModel": "M"}


@pytest.fixture
async def csms() -> AsyncIterator[Csms]:
    server = await Csms().start()
    yield server
    await server.stop()


async def proxy_gateway(make_gateway: Callable[..., Any], csms: Csms, **overrides: Any) -> Any:
    return await make_gateway(mode="proxy", upstream=csms.url, **overrides)


async def test_lc03_relays_both_ways_with_ids_and_bytes_intact(
        make_gateway: Callable[..., Any], csms: Csms, backend: Backend) -> None:
    gw = await proxy_gateway(make_gateway, csms)
    await backend.subscribe(gw.prefix + "#")
    async with connect(gw.url("CP1"), ["ocpp1.6"]) as ws:
        assert csms.handshakes[-1]["protocol"] == "ocpp1.6"  # exactly the negotiated version
        text = '[2, "boot-1", "BootNotification", {"chargePointVendor": "V",  ' \
               '"chargePointModel": "M"}]'
        await ws.send(text)
        await csms.wait_for(lambda f: f[1] == "boot-1")
        assert text in csms.raw  # byte for byte
        answer = await recv_json(ws)
        assert answer[:2] == [3, "boot-1"] and answer[2]["interval"] == 300  # MID-03
        # the CSMS's CALL reaches the charge point as sent, and its answer goes back
        sent = '[2,"csms-call-7","ChangeAvailability",{"connectorId":0,"type":"Inoperative"}]'
        await csms.send("CP1", sent)
        assert await asyncio.wait_for(ws.recv(), 3) == sent
        reply = '[3,"csms-call-7",{"status":"Accepted"}]'
        await ws.send(reply)
        await csms.wait_for(lambda f: f[:2] == [3, "csms-call-7"])
        assert reply in csms.raw
        # mirror: what the CSMS sees, with origin and direction (the charge point's frames on
        # the EMQX topics, the CSMS's on csms_topic)
        up = await backend.wait_for(gw.topic("cp/{cid}", "CP1"))
        assert (up["UniqueId"], up["Origin"], up["To"]) == ("boot-1", "charge_point", "upstream")
        down = await backend.wait_for(gw.topic("csms/{cid}", "CP1"),
                                      where=lambda b: b["MessageTypeId"] == 3)
        assert (down["UniqueId"], down["Origin"], down["Action"]) == \
            ("boot-1", "upstream", "BootNotification")
        call = await backend.wait_for(gw.topic("csms/{cid}", "CP1"),
                                      where=lambda b: b["MessageTypeId"] == 2)
        assert (call["UniqueId"], call["Action"], call["Origin"]) == \
            ("csms-call-7", "ChangeAvailability", "upstream")
        result = await backend.wait_for(gw.topic("cp/{cid}/Reply", "CP1"))
        assert (result["UniqueId"], result["To"], result["Payload"]) == \
            ("csms-call-7", "upstream", {"status": "Accepted"})


async def test_connector_status_is_tracked_for_the_admin_api(
        make_gateway: Callable[..., Any], csms: Csms) -> None:
    gw = await proxy_gateway(make_gateway, csms)
    async with connect(gw.url("CP1"), ["ocpp1.6"]) as ws:
        await ws.send('[2,"s1","StatusNotification",{"connectorId":1,"errorCode":"NoError",'
                      '"status":"Charging"}]')
        assert (await recv_json(ws))[:2] == [3, "s1"]
        tracker = gw.gateway.relay.tracker
        assert tracker is not None
        assert tracker.states["CP1"].connectors[1].status == "Charging"


async def test_charge_point_disconnect_closes_its_upstream(
        make_gateway: Callable[..., Any], csms: Csms) -> None:
    gw = await proxy_gateway(make_gateway, csms)
    async with connect(gw.url("CP1"), ["ocpp1.6"]):
        await csms.connected("CP1")
    await until(lambda: "CP1" not in csms.sockets, 5, "upstream closed after the CP left")


@pytest.mark.parametrize(("users", "identities", "status"), [
    ({"CP1": "right"}, None, 401),  # the upstream refuses the credentials
    (None, {"OTHER"}, 404),  # the upstream does not know the identity
])
async def test_upstream_refusal_is_mirrored_with_the_same_status(
        make_gateway: Callable[..., Any], users: dict[str, str] | None,
        identities: set[str] | None, status: int) -> None:
    server = await Csms(users=users, identities=identities).start()
    try:
        gw = await proxy_gateway(make_gateway, server)
        reply, _, writer = await raw_handshake(
            gw.port, "/ocpp/CP1", ["ocpp1.6"], {"Authorization": basic_auth("CP1", "wrong")})
        writer.close()
        assert reply.status == status
        assert not gw.gateway.relay.connections
    finally:
        await server.stop()


async def test_charge_point_credentials_are_forwarded(make_gateway: Callable[..., Any]) -> None:
    server = await Csms(users={"CP1": "s3cret"}).start()
    try:
        gw = await proxy_gateway(make_gateway, server)
        async with connect(gw.url("CP1"), ["ocpp1.6"],
                           additional_headers={"Authorization": basic_auth("CP1", "s3cret")}):
            await server.connected("CP1")
    finally:
        await server.stop()


async def test_credentials_mapped_per_charge_point(make_gateway: Callable[..., Any]) -> None:
    server = await Csms(users={"CP1": "vendor-pw"}).start()
    try:
        gw = await proxy_gateway(make_gateway, server, upstream_auth={
            "CP1": {"username": "CP1", "password": "vendor-pw"}})
        async with connect(gw.url("CP1"), ["ocpp1.6"],
                           additional_headers={"Authorization": basic_auth("CP1", "local")}):
            await server.connected("CP1")
        assert server.handshakes[-1]["auth"] == basic_auth("CP1", "vendor-pw")
    finally:
        await server.stop()


async def test_hs06_upstream_lacking_the_version_refuses_it_here_the_same_way(
        make_gateway: Callable[..., Any]) -> None:
    server = await Csms(protocols=("ocpp1.6",)).start()
    try:
        gw = await proxy_gateway(make_gateway, server)
        reply, reader, writer = await raw_handshake(gw.port, "/ocpp/CP2", ["ocpp2.0.1"])
        assert reply.status == 101
        assert "sec-websocket-protocol" not in reply.headers  # as the upstream answered
        assert await read_close_frame(reader) == 1002
        writer.close()
    finally:
        await server.stop()


async def test_unreachable_upstream_refuses_the_charge_point(
        make_gateway: Callable[..., Any]) -> None:
    server = Csms()  # never started: nothing listens on its port
    gw = await proxy_gateway(make_gateway, server, upstream_connect_timeout=2)
    reply, _, writer = await raw_handshake(gw.port, "/ocpp/CP1", ["ocpp1.6"])
    writer.close()
    assert reply.status == 502
    assert b"upstream CSMS unreachable" in reply.body


async def test_mid06_injected_call_ids_and_results_stay_on_mqtt(
        make_gateway: Callable[..., Any], csms: Csms, backend: Backend) -> None:
    gw = await proxy_gateway(make_gateway, csms)
    await backend.subscribe(gw.prefix + "#")
    async with connect(gw.url("CP1"), ["ocpp1.6"]) as ws:
        await csms.connected("CP1")
        backend.publish(gw.topic("cs/{cid}", "CP1"), {
            "MessageTypeId": 2, "UniqueId": "mqtt-1", "Action": "RemoteStartTransaction",
            "Payload": {"idTag": "HOME"}})
        frame = await recv_json(ws)
        assert frame[2] == "RemoteStartTransaction" and frame[1] != "mqtt-1"  # gateway's id
        await ws.send(orjson.dumps([3, frame[1], {"status": "Accepted"}]).decode())
        result = await backend.wait_for(gw.topic("cp/{cid}/Reply", "CP1"),
                                        where=lambda b: b["UniqueId"] == "mqtt-1")
        assert result["Payload"] == {"status": "Accepted"}
        ack = await backend.wait_for(gw.topic("cs/{cid}/Ack", "CP1"),
                                     where=lambda b: b["Status"] == "answered")
        assert ack["UniqueId"] == "mqtt-1"
        await asyncio.sleep(0.3)
        assert not [f for _, f in csms.received if f[1] == frame[1]]  # never upstream


async def test_sy01_upstream_call_during_injected_call_is_queued_not_rejected(
        make_gateway: Callable[..., Any], csms: Csms, backend: Backend) -> None:
    gw = await proxy_gateway(make_gateway, csms)
    async with connect(gw.url("CP1"), ["ocpp1.6"]) as ws:
        await csms.connected("CP1")
        backend.publish(gw.topic("cs/{cid}", "CP1"), {
            "MessageTypeId": 2, "Action": "GetConfiguration", "Payload": {}})
        injected = await recv_json(ws)
        uid = await csms.call("CP1", "Reset", {"type": "Soft"})
        backend.publish(gw.topic("cs/{cid}", "CP1"), {
            "MessageTypeId": 2, "Action": "ClearCache", "Payload": {}})
        with pytest.raises(TimeoutError):  # one outstanding CALL toward the charge point
            await asyncio.wait_for(ws.recv(), 0.4)
        await ws.send(orjson.dumps([3, injected[1], {"configurationKey": []}]).decode())
        assert (await recv_json(ws))[:3] == [2, uid, "Reset"]  # the CSMS's CALL goes first
        await ws.send(orjson.dumps([3, uid, {"status": "Accepted"}]).decode())
        assert await csms.wait_for(lambda f: f[:2] == [3, uid])
        assert (await recv_json(ws))[2] == "ClearCache"
        assert not [f for _, f in csms.received if f[0] == 4]  # nothing refused upstream


async def test_mqtt_cannot_answer_the_charge_points_calls(
        make_gateway: Callable[..., Any], csms: Csms, backend: Backend) -> None:
    csms.answer = lambda action, payload: None  # the CSMS stays silent
    gw = await proxy_gateway(make_gateway, csms)
    await backend.subscribe(gw.topic("cs/{cid}/Ack", "CP1"))
    async with connect(gw.url("CP1"), ["ocpp1.6"]) as ws:
        await ws.send(orjson.dumps([2, "hb", "Heartbeat", {}]).decode())
        await csms.wait_for(lambda f: f[1] == "hb")
        backend.publish(gw.topic("cs/{cid}", "CP1"), {
            "MessageTypeId": 3, "UniqueId": "hb", "Payload": {"currentTime": "x"}})
        ack = await backend.wait_for(gw.topic("cs/{cid}/Ack", "CP1"))
        assert ack["Status"] == "invalid" and "upstream CSMS answers" in ack["Reason"]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.3)


# ---- local answers, upstream outage (LC-01) and return ---------------------------------------


async def test_local_authorize_from_the_id_tag_list(
        make_gateway: Callable[..., Any], csms: Csms, backend: Backend,
        tmp_path: Any) -> None:
    gw = await proxy_gateway(make_gateway, csms, local_actions=["Authorize"],
                             id_tags={"HOME": "Accepted"}, store=str(tmp_path / "s.sqlite3"))
    await backend.subscribe(gw.prefix + "#")
    async with connect(gw.url("CP1"), ["ocpp1.6"]) as ws:
        await ws.send('[2,"a1","Authorize",{"idTag":"HOME"}]')
        assert await recv_json(ws) == [3, "a1", {"idTagInfo": {"status": "Accepted"}}]
        await ws.send('[2,"a2","Authorize",{"idTag":"STRANGER"}]')
        assert await recv_json(ws) == [3, "a2", {"idTagInfo": {"status": "Invalid"}}]
        await ws.send('[2,"h1","Heartbeat",{}]')  # not local: the CSMS answers
        assert (await recv_json(ws))[:2] == [3, "h1"]
        await csms.wait_for(lambda f: f[1] == "h1")
        assert not [f for _, f in csms.received if f[2:3] == ["Authorize"]]  # never upstream
        up = await backend.wait_for(gw.topic("cp/{cid}", "CP1"),
                                    where=lambda b: b["UniqueId"] == "a1")
        assert up["To"] == "gateway"
        answer = await backend.wait_for(gw.topic("csms/{cid}", "CP1"),
                                        where=lambda b: b["UniqueId"] == "a1")
        assert (answer["Origin"], answer["Payload"]) == \
            ("gateway", {"idTagInfo": {"status": "Accepted"}})


async def test_lc01_upstream_loss_closes_the_charge_point(
        make_gateway: Callable[..., Any], csms: Csms) -> None:
    gw = await proxy_gateway(make_gateway, csms)
    async with connect(gw.url("CP1"), ["ocpp1.6"]) as ws:
        await csms.connected("CP1")
        await csms.stop()
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == 1013  # try again later: it queues its transaction messages
    await until(lambda: "CP1" not in gw.gateway.relay.connections, 5, "CP1 detached")
    reply, _, writer = await raw_handshake(gw.port, "/ocpp/CP1", ["ocpp1.6"])
    writer.close()
    assert reply.status == 502  # while the CSMS is away, reconnects are refused
    await csms.start()
    async with connect(gw.url("CP1"), ["ocpp1.6"]) as ws:  # back: a new upstream connection
        await ws.send('[2,"after","Heartbeat",{}]')
        assert (await recv_json(ws))[:2] == [3, "after"]


async def test_hs12_newer_connection_takes_over_with_its_own_upstream(
        make_gateway: Callable[..., Any], csms: Csms) -> None:
    gw = await proxy_gateway(make_gateway, csms)
    async with connect(gw.url("CP1"), ["ocpp1.6"]) as old:
        await csms.connected("CP1")
        first = csms.sockets["CP1"]
        async with connect(gw.url("CP1"), ["ocpp1.6"]) as new:
            await until(lambda: first.closed, 5, "the old upstream connection closed")
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(old.recv(), 5)
            await new.send('[2,"n1","Heartbeat",{}]')
            assert (await recv_json(new))[:2] == [3, "n1"]
            await csms.wait_for(lambda f: f[1] == "n1")


async def test_upstream_outage_central_answers_locally_and_reconnects(
        make_gateway: Callable[..., Any], csms: Csms, backend: Backend,
        tmp_path: Any) -> None:
    csms.answer = lambda action, payload: None if action == "Heartbeat" else {}
    gw = await proxy_gateway(make_gateway, csms, upstream_outage="central",
                             upstream_reconnect_min=0.2, upstream_reconnect_max=0.5,
                             store=str(tmp_path / "s.sqlite3"))
    async with connect(gw.url("CP1"), ["ocpp1.6"]) as ws:
        await csms.connected("CP1")
        await ws.send('[2,"hb-1","Heartbeat",{}]')  # the CSMS will never answer it
        await csms.wait_for(lambda f: f[1] == "hb-1")
        await csms.stop()
        answer = await recv_json(ws)  # answered by the gateway once the CSMS is gone
        assert answer[:2] == [3, "hb-1"] and "currentTime" in answer[2]
        await ws.send('[2,"st-1","StartTransaction",{"connectorId":1,"idTag":"X",'
                      '"meterStart":0,"timestamp":"2026-01-01T00:00:00Z"}]')
        started = await recv_json(ws)
        assert started[:2] == [3, "st-1"] and isinstance(started[2]["transactionId"], int)
        assert ws.close_code is None  # kept connected
        await csms.start()  # the CSMS comes back on the same port
        await csms.connected("CP1")
        await ws.send('[2,"sn-1","StatusNotification",{"connectorId":1,"errorCode":"NoError",'
                      '"status":"Available"}]')
        await csms.wait_for(lambda f: f[1] == "sn-1")  # relayed again
        assert await recv_json(ws) == [3, "sn-1", {}]


async def test_upstream_unreachable_at_connect_with_central_policy(
        make_gateway: Callable[..., Any], tmp_path: Any) -> None:
    server = Csms()  # not started yet
    gw = await proxy_gateway(make_gateway, server, upstream_outage="central",
                             upstream_reconnect_min=0.2, upstream_reconnect_max=0.4,
                             upstream_connect_timeout=1, store=str(tmp_path / "s.sqlite3"))
    async with connect(gw.url("CP1"), ["ocpp1.6"]) as ws:
        await ws.send(orjson.dumps([2, "b1", "BootNotification", BOOT16]).decode())
        answer = await recv_json(ws)
        assert answer[2]["status"] == "Accepted"  # the built-in central system
        await server.start()
        try:
            await server.connected("CP1")
            await ws.send('[2,"h2","Heartbeat",{}]')
            await server.wait_for(lambda f: f[1] == "h2")
        finally:
            await server.stop()


# ---- secondary upstream (fan-out) ------------------------------------------------------------


async def test_secondary_gets_the_calls_but_only_the_primary_answers(
        make_gateway: Callable[..., Any], csms: Csms, backend: Backend) -> None:
    second = await Csms(name="second").start()
    second.answer = lambda action, payload: {"currentTime": "1999-01-01T00:00:00Z"}
    try:
        gw = await proxy_gateway(make_gateway, csms, secondary=second.url,
                                 secondary_calls={"GetConfiguration": "allow"})
        await backend.subscribe(gw.topic("csms/{cid}", "CP1"))
        async with connect(gw.url("CP1"), ["ocpp1.6"]) as ws:
            await second.connected("CP1")
            await ws.send('[2,"hb","Heartbeat",{}]')
            assert await recv_json(ws) == [3, "hb", {"currentTime": "2026-01-01T00:00:00Z"}]
            await second.wait_for(lambda f: f[:3] == [2, "hb", "Heartbeat"])
            dropped = await backend.wait_for(gw.topic("csms/{cid}", "CP1"),
                                             where=lambda b: b["Origin"] == "secondary")
            assert dropped["Payload"]["currentTime"].startswith("1999")  # seen, not relayed
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(ws.recv(), 0.3)
            # a blocked action gets a CALLERROR back to the secondary, nothing reaches the CP
            await second.call("CP1", "Reset", {"type": "Hard"}, "sec-reset")
            error = await second.wait_for(lambda f: f[0] == 4)
            assert error[1:3] == ["sec-reset", "NotSupported"]
            # an allowed one goes through under a gateway id; its answer to the secondary only
            await second.call("CP1", "GetConfiguration", {}, "sec-get")
            frame = await recv_json(ws)
            assert frame[2] == "GetConfiguration" and frame[1] != "sec-get"
            await ws.send(orjson.dumps([3, frame[1], {"configurationKey": []}]).decode())
            assert await second.wait_for(lambda f: f[0] == 3 and f[1] == "sec-get")
            await asyncio.sleep(0.2)
            assert not [f for _, f in csms.received if f[0] == 3]  # not to the primary
    finally:
        await second.stop()


# ---- wss:// upstream: CA and client certificates ------------------------------------------


async def test_wss_upstream_with_a_client_certificate_per_charge_point(
        make_gateway: Callable[..., Any], tmp_path: Any) -> None:
    pki = Pki(tmp_path)
    server_cert = pki.issue("csms", "localhost", server=True)
    client = pki.issue("cp1", "CP1-client", server=False)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.path))
    tls.load_cert_chain(server_cert.cert, server_cert.key)
    tls.verify_mode = ssl.CERT_REQUIRED  # security profile 3: no client certificate, no entry
    server = await Csms(tls=tls).start()
    try:
        gw = await proxy_gateway(make_gateway, server, upstream_ca=str(pki.path),
                                 upstream_auth={"CP1": {"cert": str(client.cert),
                                                        "key": str(client.key)}},
                                 upstream_connect_timeout=3)
        async with connect(gw.url("CP1"), ["ocpp1.6"]) as ws:
            await ws.send('[2,"h","Heartbeat",{}]')
            assert (await recv_json(ws))[:2] == [3, "h"]
        subject = dict(x[0] for x in server.peer_certs[-1]["subject"])
        assert subject["commonName"] == "CP1-client"
        # CP2 has no certificate: the TLS handshake fails, the charge point gets 502
        reply, _, writer = await raw_handshake(gw.port, "/ocpp/CP2", ["ocpp1.6"])
        writer.close()
        assert reply.status == 502
    finally:
        await server.stop()


async def test_wss_upstream_with_an_unknown_ca_is_refused(
        make_gateway: Callable[..., Any], tmp_path: Any) -> None:
    pki = Pki(tmp_path)
    server_cert = pki.issue("csms", "localhost", server=True)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(server_cert.cert, server_cert.key)
    server = await Csms(tls=tls).start()
    try:  # no upstream_ca: the system's CAs do not know the test CA
        gw = await proxy_gateway(make_gateway, server, upstream_connect_timeout=3)
        reply, _, writer = await raw_handshake(gw.port, "/ocpp/CP1", ["ocpp1.6"])
        writer.close()
        assert reply.status == 502 and b"CERTIFICATE_VERIFY_FAILED" in reply.body
    finally:
        await server.stop()


async def test_broker_outage_does_not_stop_the_charge_point_and_its_csms(
        make_gateway: Callable[..., Any], csms: Csms, proxy: TcpProxy) -> None:
    """MQTT only watches in proxy mode: with the broker cut past broker_outage_grace, the
    charge point keeps talking to its CSMS and new charge points are accepted."""
    gw = await proxy_gateway(make_gateway, csms, mqtt=f"mqtt://127.0.0.1:{proxy.port}",
                             broker_outage_grace=0.2, mqtt_reconnect_min=0.2,
                             mqtt_reconnect_max=0.5)
    async with connect(gw.url("CP1"), ["ocpp1.6"]) as ws:
        proxy.cut()
        await until(lambda: not gw.gateway.link.connected, 5, "link loss noticed")
        await asyncio.sleep(0.5)  # past the grace period
        for n in range(3):
            await ws.send(f'[2,"hb-{n}","Heartbeat",{{}}]')
            assert (await recv_json(ws))[:2] == [3, f"hb-{n}"]
        async with connect(gw.url("CP2"), ["ocpp1.6"]) as ws2:
            await ws2.send('[2,"x","Heartbeat",{}]')
            assert (await recv_json(ws2))[:2] == [3, "x"]
        assert gw.gateway.proxy.mirror_dropped > 0
        proxy.restore()
        await until(lambda: gw.gateway.link.connected, 10, "MQTT reconnect")
