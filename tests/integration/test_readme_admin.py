"""README "Admin API and metrics" and the probes of "Broker outages, restarts and probes",
example by example: each curl line is sent to a running gateway and its answer compared key by
key, type by type, with the JSON the README shows under it."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
import orjson

from tests.readme_examples import assert_same_shape, block_after, json_objects, section

from .admin_client import EventReader, admin
from .wsutil import connect, recv_json

ADMIN = "Admin API and metrics"
PROBES = "Broker outages, restarts and probes"
BOOT = '{"chargePointVendor":"V","chargePointModel":"M"}'



def _curl_paths(text: str) -> list[tuple[str, str, str | None]]:
    """(method, path, body) of each curl line of the README's Admin API section."""
    found = []
    for line in re.findall(r"curl -s[N]? (.*?)(?:`|\n```|$)", text.replace("\\\n", " "),
                           re.MULTILINE):
        method = "POST" if "-X POST" in line else "GET"
        body = re.search(r"-d '(.*?)'", line)
        url = re.search(r"'?http://127\.0\.0\.1:8080(/[^' ]*)'?", line)
        assert url, line
        found.append((method, url.group(1), body.group(1) if body else None))
    return found


async def test_admin_examples(make_gateway: Any, backend: Any) -> None:
    text = section(ADMIN)
    curls = {(m, p.split("?")[0]): (p, b) for m, p, b in _curl_paths(text)}
    status_ex = json_objects(block_after(ADMIN, "api/v1/status\n```"))[0]
    list_ex = json_objects(block_after(ADMIN, "version=1.6&limit=1'`"))[0]
    detail_ex = json_objects(block_after(ADMIN, "charge-points/CP001`:"))[0]
    kick_ex = json_objects(block_after(ADMIN, "/kick`:"))[0]
    call_ex = json_objects(block_after(ADMIN, "CP001/call\n```"))[0]
    gw = await make_gateway(gateway_id="gw-1")
    base = gw.admin_url
    async with admin(base) as api, \
            connect(gw.url("CP001"), ["ocpp1.6"]) as ws, \
            connect(gw.url("CP002"), ["ocpp1.6"]), connect(gw.url("CP003"), ["ocpp2.0.1"]):
        await ws.send('[2,"s1","StatusNotification",{"connectorId":1,"errorCode":"NoError",'
                      '"status":"Charging"}]')
        await asyncio.sleep(0.1)
        backend.publish(gw.prefix + "cs/CP001", {"MessageTypeId": 3, "UniqueId": "s1",
                                                 "Payload": {}})
        assert (await recv_json(ws))[1] == "s1"
        path, _ = curls[("GET", "/api/v1/status")]
        status = (await api.get(path)).body
        assert_same_shape(status_ex, status, nullable=frozenset({"outbox"}))
        for key in ("mqtt", "charge_points"):
            assert_same_shape(status_ex[key], status[key], nullable=frozenset({"down_since"}))
        assert_same_shape(status_ex["charge_points"]["by_version"],
                          status["charge_points"]["by_version"])
        path, _ = curls[("GET", "/api/v1/charge-points")]
        listing = (await api.get(path)).body
        assert_same_shape(list_ex, listing)
        assert (listing["total"], listing["limit"], len(listing["items"])) == (2, 1, 1)
        item, item_ex = listing["items"][0], list_ex["items"][0]
        assert_same_shape(item_ex, item)
        # relay mode keeps no readings: power_w, energy_wh are null there (the README says so)
        assert_same_shape(item_ex["connectors"][0], item["connectors"][0],
                nullable=frozenset({"power_w", "energy_wh", "transaction_id"}))
        assert item["connectors"][0]["status"] == "Charging"
        # a MeterValues awaiting its answer, as in the example's `pending`
        await ws.send('[2,"812","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":'
                      '"2026-01-01T10:00:00Z","sampledValue":[{"value":"1"}]}]}]')
        await asyncio.sleep(0.1)
        path, _ = curls[("GET", "/api/v1/charge-points/CP001")]
        detail = (await api.get(path)).body
        assert_same_shape(detail_ex, detail, nullable=frozenset({"state"}))
        assert_same_shape(detail_ex["connectors"][0], detail["connectors"][0],
                nullable=frozenset({"power_w", "energy_wh", "transaction_id"}))
        for key in ("counters", "pending"):
            assert_same_shape(detail_ex[key], detail[key], nullable=frozenset({"to_charge_point"}))
        assert_same_shape(detail_ex["pending"]["from_charge_point"][0],
                detail["pending"]["from_charge_point"][0])
        assert_same_shape(detail_ex["frames"][0], detail["frames"][-1])
        # the Reset of the /call example, answered by the charge point
        path, body = curls[("POST", "/api/v1/charge-points/CP001/call")]
        assert body is not None
        await ws.send('[3,"812",{}]')  # (the backend's answer does not matter here)
        answer = asyncio.ensure_future(api.request("POST", path, data=body.encode()))
        frame = await recv_json(ws)
        assert frame[2:] == ["Reset", {"type": "Soft"}]
        await ws.send(orjson.dumps([3, frame[1], {"status": "Accepted"}]).decode())
        called = (await answer).body
        assert_same_shape(call_ex, called)
        assert {k: called[k] for k in ("identity", "status", "action", "result")} == {
            k: call_ex[k] for k in ("identity", "status", "action", "result")}
        path, body = curls[("POST", "/api/v1/charge-points/CP001/kick")]
        assert body is not None
        kicked = (await api.request("POST", path, data=body.encode())).body
        assert kicked == kick_ex


async def test_stream_example(make_gateway: Any) -> None:
    text = section(ADMIN)
    example = block_after(ADMIN, "$ curl -sN", lang="")
    url = re.search(r"\$ curl -sN '(http://127\.0\.0\.1:8080)(\S+)'", text)
    assert url
    first_lines = example.split("\n\n")[0].splitlines()[1:]  # retry: ..., : connected
    events = re.findall(r"^event: (\w+)\ndata: (.*)$", example, re.MULTILINE)
    frame_ex = orjson.loads(events[0][1])
    gone_ex = orjson.loads(re.sub(r",\.\.\.,", ",", events[1][1]))
    gw = await make_gateway()
    async with aiohttp.ClientSession() as session, \
            session.get(gw.admin_url + url.group(2)) as resp:
        head = [(await resp.content.readline()).decode().rstrip("\n") for _ in first_lines]
        assert head == first_lines
        reader = EventReader(resp)
        async with connect(gw.url("CP001"), ["ocpp1.6"]) as ws:
            await ws.send('[2,"h1","Heartbeat",{}]')
            frame = await reader.wait(events[0][0], direction="in")
        gone = await reader.wait(events[1][0])
    assert_same_shape(frame_ex, frame)
    assert {k: frame[k] for k in ("identity", "direction", "text")} == {
        k: frame_ex[k] for k in ("identity", "direction", "text")}
    assert_same_shape(gone_ex, gone, subset=True)
    assert gone["reason"] == gone_ex["reason"]


async def test_probe_example(make_gateway: Any) -> None:
    example = json_objects(block_after(PROBES, "Both return JSON:"))[0]
    gw = await make_gateway(gateway_id="gw-1")
    async with aiohttp.ClientSession() as session:
        for url in (f"http://127.0.0.1:{gw.port}/health", f"http://127.0.0.1:{gw.port}/ready",
                    gw.admin_url + "/healthz", gw.admin_url + "/readyz"):
            async with session.get(url) as resp:
                assert resp.status == 200, url
                body = await resp.json()
            # a healthy gateway: no reason, no outage
            assert_same_shape(example, body, nullable=frozenset({"reason"}))
            assert_same_shape(example["mqtt"], body["mqtt"], nullable=frozenset({"down_since"}))


async def test_metrics_table_is_what_metrics_serves(make_gateway: Any, tmp_path: Any) -> None:
    """Every metric of the README's table is served with the type and labels it says, and
    every ocpp_mqtt_* family served is in the table (central mode: it has them all)."""
    table = section("Metrics (`GET /metrics`)")
    documented: dict[str, tuple[str, set[str]]] = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`ocpp_mqtt_"):
            continue
        labels = set(re.findall(r"`(\w+)`", re.sub(r"\([^)]*\)", "", cells[2])))
        for name in re.findall(r"`(\w+)`", cells[0]):
            documented[name] = (cells[1], labels)
    gw = await make_gateway(mode="central", store=str(tmp_path / "s.sqlite3"),
                            trigger_after_connect=0)
    async with admin(gw.admin_url) as api, connect(gw.url("M1"), ["ocpp1.6"]) as ws:
        await ws.send('[2,"h1","Heartbeat",{}]')
        await asyncio.sleep(0.1)
        text = (await api.get("/metrics")).text
    served = dict(re.findall(r"^# TYPE (ocpp_mqtt_\w+) (\w+)$", text, re.MULTILINE))
    assert set(served) == set(documented), (set(served) ^ set(documented))
    problems = []
    for name, (kind, labels) in documented.items():
        if served[name] != kind:
            problems.append(f"{name}: served as {served[name]}, README says {kind}")
        sample_name = name + ("_total" if kind == "counter" and not name.endswith("_total")
                              else "")
        for sample in re.findall(rf"^{sample_name}(?:_bucket|_count|_sum)?{{(.*?)}}", text,
                                 re.MULTILINE):
            served_labels = set(re.findall(r"(\w+)=", sample)) - {"le"}
            if served_labels != labels:
                problems.append(f"{name}: labels {served_labels}, README {labels}")
                break
    assert not problems, "\n".join(problems)


async def test_endpoint_table_is_the_routes(gateway: Any) -> None:
    """The README's Endpoints table lists every route of the admin listener, and no other."""
    table = section("Endpoints")
    listed = set(re.findall(r"^\| `(GET|POST|PUT|DELETE) (/[^`]*)` \|", table, re.MULTILINE))
    admin_server = gateway.gateway.admin
    routes = {(route.method, route.resource.canonical) for route in admin_server.app.router.routes()
              if route.method not in ("HEAD", "OPTIONS")}
    routes = {(m, p) for m, p in routes if not p.startswith("/ui/")}  # the dashboard's files
    assert len(listed) >= 12 and listed == routes, listed ^ routes


async def test_credentials_put_example(gateway: Any) -> None:
    """"Provisioning over MQTT and the admin API": the curl line and the answer it shows."""
    text = section("Provisioning over MQTT and the admin API")
    line = re.search(r"curl -s -X PUT .*? -d '(.*?)' \\\n\s*http://127\.0\.0\.1:8080(\S+)\n"
                     r"# (\{.*\})", text)
    assert line
    shown = re.sub(r'"<(\d+) characters[^"]*>"', r'"\1"', line.group(3))
    example = orjson.loads(shown)
    async with admin(gateway.admin_url) as api:
        reply = await api.request("PUT", line.group(2), data=line.group(1).encode())
    assert reply.status == 200, reply.text
    assert set(reply.body) == set(example)
    assert {k: reply.body[k] for k in ("identity", "kind")} == {
        k: example[k] for k in ("identity", "kind")}
    assert len(reply.body["password"]) == int(example["password"])
    assert reply.headers["Cache-Control"] == "no-store"
