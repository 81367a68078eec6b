"""The admin listener against a live gateway and Mosquitto: probes, auth, charge points (list,
filters, paging, detail with counters and frames), status, kick, errors as JSON."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
import websockets

from ocpp_mqtt.config import ConfigError

from .admin_client import admin
from .wsutil import connect, recv_json, until

BOOT16 = '{"chargePointVendor":"V","chargePointModel":"M"}'
BOOT201 = '{"reason":"PowerUp","chargingStation":{"model":"M","vendorName":"V"}}'
TOKEN = "s3cret-token-0123456789"


async def test_probes_and_status(gateway: Any) -> None:
    async with admin(gateway.admin_url) as api:
        for path in ("/healthz", "/readyz"):
            reply = await api.get(path)
            assert reply.status == 200, reply.text
            assert reply.body["status"] == "ready" and reply.body["mqtt"]["connected"] is True
        status = await api.get("/api/v1/status")
        assert status.status == 200
        body = status.body
        assert body["mode"] == "relay" and body["ready"] is True and body["outbox"] is None
        assert body["gateway"] == "test-gw" and body["uptime_s"] >= 0
        assert body["mqtt"]["connected"] is True and body["mqtt"]["protocol"] == "5"
        assert body["mqtt"]["in_flight_max"] >= 1
        assert body["charge_points"] == {"connected": 0, "known": 0,
                                         "by_version": {"1.6": 0, "2.0.1": 0, "2.1": 0}}


async def test_unknown_paths_and_methods_answer_json(gateway: Any) -> None:
    async with admin(gateway.admin_url) as api:
        reply = await api.get("/api/v1/nope")
        assert reply.status == 404 and reply.body["error"] == "not_found"
        assert "openapi.json" in reply.body["reason"]
        reply = await api.request("DELETE", "/api/v1/status")
        assert reply.status == 405 and reply.body["error"] == "method_not_allowed"
        assert reply.headers["Allow"].split(",")[0] == "GET"


async def test_bearer_token(make_gateway: Any) -> None:
    gw = await make_gateway(admin_token=TOKEN)
    async with admin(gw.admin_url) as api:
        missing = await api.get("/api/v1/status")
        assert missing.status == 401
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        assert "missing bearer token" in missing.body["reason"]
        wrong = await api.request("GET", "/api/v1/status",
                                  headers={"Authorization": "Bearer " + TOKEN[:-1] + "x"})
        assert wrong.status == 401 and wrong.body["reason"] == "wrong bearer token"
        assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
        basic = await api.request("GET", "/metrics", headers={"Authorization": "Basic " + TOKEN})
        assert basic.status == 401
        # probes and the OpenAPI document need no token
        assert (await api.get("/healthz")).status == 200
        assert (await api.get("/api/v1/openapi.json")).status == 200
    async with admin(gw.admin_url, TOKEN) as api:
        assert (await api.get("/api/v1/status")).status == 200
        assert (await api.get("/metrics")).status == 200


async def test_token_never_logged(make_gateway: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    gw = await make_gateway(admin_token=TOKEN)
    async with admin(gw.admin_url, TOKEN + "wrong") as api:
        await api.get("/api/v1/status")
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(gw.gateway.settings)


async def test_taken_port_is_a_config_error(make_gateway: Any) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"^admin_listen: cannot listen on "
                           rf"127.0.0.1:{port}: .*--admin-listen"):
            await make_gateway(admin_listen=f"127.0.0.1:{port}")


async def test_off_means_no_listener(make_gateway: Any) -> None:
    gw = await make_gateway(admin_listen="off")
    assert gw.gateway.admin is None
    assert "admin API" not in gw.gateway.describe()


async def test_list_filters_paging_and_detail(gateway: Any, backend: Any) -> None:
    await backend.subscribe(gateway.prefix + "cp/#")
    async with connect(gateway.url("CP-A1"), ["ocpp1.6"]) as a, \
            connect(gateway.url("cp-b2"), ["ocpp2.0.1"]) as b, \
            connect(gateway.url("CP-C3"), ["ocpp1.6"]) as c, \
            admin(gateway.admin_url) as api:
        await a.send(f'[2,"b-1","BootNotification",{BOOT16}]')
        call = await backend.wait_for(gateway.prefix + "cp/CP-A1")
        backend.publish(gateway.prefix + "cs/CP-A1", {
            "MessageTypeId": 3, "UniqueId": call["UniqueId"],
            "Payload": {"currentTime": "2025-01-01T00:00:00Z", "interval": 300,
                        "status": "Accepted"}})
        assert (await recv_json(a))[0] == 3
        await b.send(f'[2,"b-2","BootNotification",{BOOT201}]')
        await backend.wait_for(gateway.prefix + "cp/cp-b2")
        del c

        every = await api.get("/api/v1/charge-points")
        assert every.status == 200
        assert every.body["total"] == 3 and every.body["offset"] == 0
        assert [i["identity"] for i in every.body["items"]] == ["CP-A1", "CP-C3", "cp-b2"]
        item = every.body["items"][0]
        assert item["online"] is True and item["ocpp_version"] == "1.6"
        assert item["remote_address"] == "127.0.0.1" and item["connected_since"] > 0
        v16 = await api.get("/api/v1/charge-points", version="1.6")
        assert [i["identity"] for i in v16.body["items"]] == ["CP-A1", "CP-C3"]
        q = await api.get("/api/v1/charge-points", q="B2")  # case-insensitive substring
        assert [i["identity"] for i in q.body["items"]] == ["cp-b2"]
        offline = await api.get("/api/v1/charge-points", status="offline")
        assert offline.body["total"] == 0  # relay mode knows only connected charge points
        page = await api.get("/api/v1/charge-points", limit=1, offset=1)
        assert page.body["total"] == 3 and [i["identity"] for i in page.body["items"]] == [
            "CP-C3"]

        detail = await api.get("/api/v1/charge-points/CP-A1")
        assert detail.status == 200
        body = detail.body
        assert body["counters"] == {"frames_in": 1, "frames_out": 1, "calls_in": 1,
                                    "calls_out": 0, "callerrors_in": 0, "callerrors_out": 0}
        assert [(f["direction"], f["text"][:12]) for f in body["frames"]] == [
            ("in", '[2,"b-1","Bo'), ("out", '[3,"b-1",{"c')]
        assert body["frames"][0]["ts"] <= body["frames"][1]["ts"]
        assert body["keepalive"] == 300  # the accepted Boot's interval
        assert body["pending"] == {"from_charge_point": [], "to_charge_point": None,
                                   "queued": []}
        waiting = await api.get("/api/v1/charge-points/cp-b2")  # its Boot awaits the backend
        pending = waiting.body["pending"]["from_charge_point"]
        assert [(p["unique_id"], p["action"]) for p in pending] == [("b-2", "BootNotification")]
        assert pending[0]["age_s"] >= 0


async def test_query_errors(gateway: Any) -> None:
    async with admin(gateway.admin_url) as api:
        for params, word in (({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"),
                             ({"offset": "-1"}, "offset"), ({"status": "gone"}, "status"),
                             ({"version": "1.5"}, "version")):
            reply = await api.get("/api/v1/charge-points", **params)
            assert reply.status == 400, params
            assert reply.body["error"] == "bad_request" and reply.body["reason"].startswith(word)
        missing = await api.get("/api/v1/charge-points/NOPE")
        assert missing.status == 404 and "NOPE" in missing.body["reason"]


async def test_frame_log_is_bounded(make_gateway: Any) -> None:
    gw = await make_gateway(admin_frames=3)
    async with connect(gw.url("R1"), ["ocpp1.6"]) as ws, admin(gw.admin_url) as api:
        for i in range(5):
            await ws.send(f'[2,"h{i}","Heartbeat",{{}}]')
        conn = gw.gateway.relay.connections["R1"]
        await until(lambda: conn.frames_in == 5, 3, "five frames in")
        body = (await api.get("/api/v1/charge-points/R1")).body
        assert [f["text"] for f in body["frames"]] == [
            '[2,"h2","Heartbeat",{}]', '[2,"h3","Heartbeat",{}]', '[2,"h4","Heartbeat",{}]']


async def test_kick_closes_and_publishes_disconnect(gateway: Any, backend: Any) -> None:
    await backend.subscribe(gateway.prefix + "events/+/disconnected")
    await backend.subscribe(gateway.prefix + "presence/K1")
    async with connect(gateway.url("K1"), ["ocpp1.6"]) as ws, admin(gateway.admin_url) as api:
        await backend.wait_for(gateway.prefix + "presence/K1",
                               where=lambda b: b["status"] == "online")
        reply = await api.post("/api/v1/charge-points/K1/kick", {"reason": "maintenance"})
        assert reply.status == 200, reply.text
        assert reply.body == {"identity": "K1", "closed": True,
                              "reason": "kicked by the admin API: maintenance"}
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 3)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
        assert closed.value.rcvd.reason == "kicked by the admin API: maintenance"
        event = await backend.wait_for(gateway.prefix + "events/K1/disconnected")
        assert event["reason"] == "kicked by the admin API: maintenance"
        presence = await backend.wait_for(gateway.prefix + "presence/K1",
                                          where=lambda b: b["status"] == "offline")
        assert presence["reason"] == "kicked by the admin API: maintenance"
        again = await api.post("/api/v1/charge-points/K1/kick")
        assert again.status == 404 and again.body["error"] == "not_connected"
        bad = await api.post("/api/v1/charge-points/K1/kick", {"why": "x"})
        assert bad.status == 400 and "'why'" in bad.body["reason"]


async def test_central_mode_lists_offline_charge_points(make_gateway: Any,
                                                        tmp_path: Any) -> None:
    gw = await make_gateway(mode="central", store=str(tmp_path / "s.sqlite3"),
                            trigger_after_connect=0)
    async with admin(gw.admin_url) as api:
        async with connect(gw.url("Z1"), ["ocpp1.6"]) as ws:
            await ws.send(f'[2,"b1","BootNotification",{BOOT16}]')
            assert (await recv_json(ws))[0] == 3
            status = (await api.get("/api/v1/status")).body
            assert status["mode"] == "central" and isinstance(status["outbox"], int)
            assert status["charge_points"]["connected"] == 1
        relay = gw.gateway.relay
        await until(lambda: "Z1" not in relay.connections, 3, "Z1 gone")
        offline = await api.get("/api/v1/charge-points", status="offline")
        assert [(i["identity"], i["online"], i["ocpp_version"]) for i in offline.body["items"]] \
            == [("Z1", False, "1.6")]
        detail = (await api.get("/api/v1/charge-points/Z1")).body
        assert detail["online"] is False and detail["counters"] is None
        assert detail["state"]["vendor"] == "V"
