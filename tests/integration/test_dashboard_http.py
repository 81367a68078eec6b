"""The dashboard's files as the admin listener serves them (no browser): the page and its
modules with their types and security headers, no token needed for them while the API still
needs it, revalidation, unknown files as JSON 404s; and the data the page reads beyond the
admin API's own tests: `connectors` in the list and the `connectors` stream event, in central
mode and in relay mode (from the frames)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp

from ocpp_mqtt.admin.dashboard import load

from .admin_client import EventReader, admin
from .wsutil import connect, recv_json, until

TOKEN = "dashboard-token-0123456789"
STATUS16 = '{"connectorId":%d,"errorCode":"NoError","status":"%s"}'


async def test_page_and_modules(make_gateway: Any) -> None:
    gw = await make_gateway(admin_token=TOKEN)
    async with admin(gw.admin_url) as api:  # no token: the files hold no data
        page = await api.get("/")
        assert page.status == 200, page.text
        assert page.headers["Content-Type"] == "text/html; charset=utf-8"
        csp = page.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert page.headers["Cache-Control"] == "no-cache"
        # every file the page and its modules name is served, with a JavaScript type for
        # modules (browsers refuse a module served as anything else)
        names = set(re.findall(r'"/ui/([\w.]+)"', page.text))
        assert {"app.js", "style.css", "icon.svg"} <= names
        for name in sorted(names):
            reply = await api.get(f"/ui/{name}")
            assert reply.status == 200, name
            if name.endswith(".js"):
                assert reply.headers["Content-Type"] == "text/javascript; charset=utf-8"
                for imported in re.findall(r'from "\./([\w.]+)"', reply.text):
                    assert (await api.get(f"/ui/{imported}")).status == 200, imported
        # the API behind it still wants the token
        assert (await api.get("/api/v1/status")).status == 401
        # revalidation: the same ETag gets 304 without a body
        etag = page.headers["ETag"]
        again = await api.request("GET", "/", headers={"If-None-Match": etag})
        assert again.status == 304 and again.text == ""
        # no file outside the fixed set, whatever the path
        for path in ("/ui/nope.js", "/ui/..%2Fdashboard.py", "/ui/%2e%2e%2fserver.py"):
            missing = await api.get(path)
            assert missing.status == 404 and missing.body["error"] == "not_found", path
        assert (await api.get("/ui/")).status == 404


def test_the_package_holds_every_file() -> None:
    """What pyproject's package-data ships is what the dashboard serves: every file of
    admin/static/ has a known type (an unknown one would silently not be served)."""
    static = Path(__file__).resolve().parents[2] / "src/ocpp_mqtt/admin/static"
    assert set(load()) == {p.name for p in static.iterdir()}


async def test_relay_mode_lists_connectors_from_frames(gateway: Any, backend: Any) -> None:
    await backend.subscribe(gateway.prefix + "cp/#")
    session = aiohttp.ClientSession()
    try:
        resp = await session.get(gateway.admin_url + "/api/v1/stream?types=connectors")
        events = EventReader(resp)
        async with connect(gateway.url("R-16"), ["ocpp1.6"]) as ws, \
                admin(gateway.admin_url) as api:
            listed = await api.get("/api/v1/charge-points")
            assert listed.body["items"][0]["connectors"] == []
            await ws.send('[2,"s1","StatusNotification",%s]' % (STATUS16 % (1, "Charging")))
            event = await events.wait("connectors", identity="R-16")
            assert [(c["id"], c["status"]) for c in event["connectors"]] == [(1, "Charging")]
            listed = await api.get("/api/v1/charge-points")
            (item,) = listed.body["items"]
            assert [(c["id"], c["status"]) for c in item["connectors"]] == [(1, "Charging")]
            detail = await api.get("/api/v1/charge-points/R-16")
            assert detail.body["connectors"] == item["connectors"]
            call = await backend.wait_for(gateway.prefix + "cp/R-16")
            backend.publish(gateway.prefix + "cs/R-16", {
                "MessageTypeId": 3, "UniqueId": call["UniqueId"], "Payload": {}})
            assert (await recv_json(ws))[0] == 3
    finally:
        await session.close()


async def test_central_mode_connectors_event(make_gateway: Any, tmp_path: Path) -> None:
    gw = await make_gateway(mode="central", trigger_after_connect=0,
                            store=str(tmp_path / "gw.sqlite3"))
    session = aiohttp.ClientSession()
    try:
        resp = await session.get(gw.admin_url + "/api/v1/stream?types=connectors")
        events = EventReader(resp)
        async with connect(gw.url("C-16"), ["ocpp1.6"]) as ws, admin(gw.admin_url) as api:
            await ws.send('[2,"s1","StatusNotification",%s]' % (STATUS16 % (2, "Preparing")))
            assert (await recv_json(ws))[:2] == [3, "s1"]  # the gateway answers
            event = await events.wait("connectors", identity="C-16")
            assert [(c["id"], c["status"]) for c in event["connectors"]] == [(2, "Preparing")]
            listed = await api.get("/api/v1/charge-points")
            assert listed.body["items"][0]["connectors"] == event["connectors"]
        # offline, central mode still lists it with what it last knew
        await until(lambda: "C-16" not in gw.gateway.relay.connections, 5, "C-16 detached")
        async with admin(gw.admin_url) as api:
            listed = await api.get("/api/v1/charge-points", status="offline")
            (item,) = listed.body["items"]
            assert item["identity"] == "C-16" and item["connectors"][0]["id"] == 2
    finally:
        await session.close()


async def test_proxy_mode_lists_connectors_from_frames(make_gateway: Any) -> None:
    """Proxy mode keeps no state either: the tracker reads the frames on their way upstream."""
    from .csms import Csms

    csms = await Csms().start()
    try:
        gw = await make_gateway(mode="proxy", upstream=csms.url)
        async with connect(gw.url("P-16"), ["ocpp1.6"]) as ws, admin(gw.admin_url) as api:
            await ws.send('[2,"s1","StatusNotification",%s]' % (STATUS16 % (1, "Charging")))
            assert (await recv_json(ws))[:2] == [3, "s1"]  # the CSMS answered
            listed = await api.get("/api/v1/charge-points")
            (item,) = listed.body["items"]
            assert [(c["id"], c["status"]) for c in item["connectors"]] == [(1, "Charging")]
    finally:
        await csms.stop()
