"""The frame log with real charge points (the python `ocpp` package's 1.6 and 2.0.1
ChargePoints): every frame in and out of the chosen identities, secrets redacted; and the
whole program's output at debug level never shows a password or an Authorization header."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from ocpp import v16, v201
from ocpp.routing import on

from tests.conftest import Backend, Mosquitto, basic_auth, free_port
from tests.readme_examples import block_after

from .ocpp_client import running
from .wsutil import connect, raw_handshake, recv_json, until

SECRET = "Fr4me-L0g-Secret"
MQTT_PASSWORD = "Mqtt-Pa55word"
WAIT = 5.0


class Cp16(v16.ChargePoint):  # type: ignore[misc]
    """Keeps what it is told, as a charger does: the AuthorizationKey comes back on request."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config: dict[str, str] = {"HeartbeatInterval": "300"}

    @on("ChangeConfiguration")
    def on_change_configuration(self, key: str, value: str) -> Any:
        self.config[key] = value
        return v16.call_result.ChangeConfiguration(status="Accepted")

    @on("GetConfiguration")
    def on_get_configuration(self, key: list[str] | None = None) -> Any:
        return v16.call_result.GetConfiguration(configuration_key=[
            {"key": k, "readonly": False, "value": v} for k, v in self.config.items()])


class Cp201(v201.ChargePoint):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.password = ""

    @on("SetVariables")
    def on_set_variables(self, set_variable_data: list[dict[str, Any]]) -> Any:
        self.password = set_variable_data[0]["attribute_value"]
        return v201.call_result.SetVariables(set_variable_result=[
            {"attribute_status": "Accepted", "component": d["component"],
             "variable": d["variable"]} for d in set_variable_data])

    @on("GetVariables")
    def on_get_variables(self, get_variable_data: list[dict[str, Any]]) -> Any:
        return v201.call_result.GetVariables(get_variable_result=[
            {"attribute_status": "Accepted", "attribute_value": self.password,
             "component": d["component"], "variable": d["variable"]}
            for d in get_variable_data])


async def command(backend: Backend, gw: Any, cid: str, uid: str, action: str,
                  payload: dict[str, Any]) -> dict[str, Any]:
    """Publish a CALL as a backend does and return the charge point's answer."""
    backend.publish(gw.topic("cs/{cid}", cid), {"MessageTypeId": 2, "UniqueId": uid,
                                                 "Action": action, "Payload": payload})
    reply: dict[str, Any] = await backend.wait_for(
        gw.topic("cp/{cid}/Reply", cid), WAIT, where=lambda m: m.get("UniqueId") == uid)
    return reply


async def ready(gw: Any, cid: str) -> None:
    def attached() -> bool:
        conn = gw.gateway.relay.connections.get(cid)
        return conn is not None and conn.ready

    await until(attached, WAIT, f"{cid} attached")


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_text().splitlines()]


async def test_frames_of_chosen_charge_points_logged_with_secrets_redacted(
        make_gateway: Any, backend: Backend, tmp_path: Path) -> None:
    logdir = tmp_path / "frames"
    gw = await make_gateway(frame_log="CP16,CP201", frame_log_file=f"{logdir}/",
                            log_format="json")
    await backend.subscribe(gw.topic("cp/#", ""))
    async with running(Cp16, gw.url("CP16"), "CP16") as cp16:
        await ready(gw, "CP16")
        changed = await command(backend, gw, "CP16", "c1", "ChangeConfiguration",
                                {"key": "AuthorizationKey", "value": SECRET})
        assert changed["Payload"] == {"status": "Accepted"}
        got = await command(backend, gw, "CP16", "c2", "GetConfiguration", {})
        # the real frames carried the key: the backend sees it, only the log hides it
        assert {"key": "AuthorizationKey", "readonly": False, "value": SECRET} in \
            got["Payload"]["configurationKey"]
        assert cp16.config["AuthorizationKey"] == SECRET
    async with running(Cp201, gw.url("CP201"), "CP201", "ocpp2.0.1"):
        await ready(gw, "CP201")
        variable = {"component": {"name": "SecurityCtrlr"},
                    "variable": {"name": "BasicAuthPassword"}}
        await command(backend, gw, "CP201", "s1", "SetVariables",
                      {"setVariableData": [{"attributeValue": SECRET, **variable}]})
        got = await command(backend, gw, "CP201", "g1", "GetVariables",
                            {"getVariableData": [variable]})
        assert got["Payload"]["getVariableResult"][0]["attributeValue"] == SECRET
    async with running(Cp16, gw.url("OTHER"), "OTHER"):  # not chosen: not logged
        await ready(gw, "OTHER")
        await command(backend, gw, "OTHER", "o1", "GetConfiguration", {})

    await until(lambda: (logdir / "CP201.log").exists()
                and len(lines_of(logdir / "CP201.log")) >= 4, WAIT, "CP201 frames")
    assert sorted(p.name for p in logdir.iterdir()) == ["CP16.log", "CP201.log"]
    for name in ("CP16.log", "CP201.log"):
        assert SECRET not in (logdir / name).read_text()
    cp16_lines = lines_of(logdir / "CP16.log")
    assert [(x["cid"], x["dir"]) for x in cp16_lines] == [
        ("CP16", "out"), ("CP16", "in"), ("CP16", "out"), ("CP16", "in")]
    assert all(x["ts"].endswith("Z") and x["ts"][:2] == "20" for x in cp16_lines)
    sent = orjson.loads(cp16_lines[0]["frame"])
    assert sent == [2, "c1", "ChangeConfiguration", {"key": "AuthorizationKey", "value": "***"}]
    assert orjson.loads(cp16_lines[1]["frame"]) == [3, "c1", {"status": "Accepted"}]
    keys = orjson.loads(cp16_lines[3]["frame"])[2]["configurationKey"]
    assert {"key": "AuthorizationKey", "readonly": False, "value": "***"} in keys
    assert {"key": "HeartbeatInterval", "readonly": False, "value": "300"} in keys
    cp201_frames = [orjson.loads(x["frame"]) for x in lines_of(logdir / "CP201.log")]
    assert cp201_frames[0][3]["setVariableData"][0]["attributeValue"] == "***"
    assert cp201_frames[3][2]["getVariableResult"][0]["attributeValue"] == "***"


async def test_frame_log_to_stderr_in_text_format(make_gateway: Any,
                                                  capfd: pytest.CaptureFixture[str]) -> None:
    gw = await make_gateway(frame_log="*")
    async with connect(gw.url("T1"), ["ocpp1.6"]) as ws:
        await ws.send('[2,"h1","Heartbeat",{}]')
        await ws.send('[2,"x1","ChangeConfiguration",{"key":"AuthorizationKey",'
                      f'"value":"{SECRET}"}}]')  # a CALL the wrong way: still logged, redacted
        assert (await recv_json(ws))[:3] == [4, "x1", "NotSupported"]
    err = capfd.readouterr().err
    assert ' T1 in  <- [2,"h1","Heartbeat",{}]' in err
    # the README's example line, the same but for its time, identity and id
    shown = block_after("Frame log", "one line each", lang="").splitlines()[0]
    stamp, rest = shown.split(" ", 1)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp)
    expected = re.escape(rest.replace("CP001", "T1").replace('"19"', '"h1"'))
    assert re.search(r"^\d{4}-\d\d-\d\dT[\d:.]+Z " + expected + "$", err, re.MULTILINE), err
    assert SECRET not in err and ' T1 in  <- [2,"x1","ChangeConfiguration",' in err


# ---- the whole program's output ---------------------------------------------------------

async def test_no_log_line_holds_a_password_or_authorization_header(
        mosquitto: Mosquitto, tmp_path: Path) -> None:
    """`ocpp-mqtt serve` at debug level, JSON and text, frame log on: credentials sent every
    way they can reach the gateway, then its whole output searched for them."""
    ws_port = free_port()
    header = basic_auth("CPAUTH", SECRET)
    exe = str(Path(sys.executable).parent / "ocpp-mqtt")
    env = {**os.environ, "OCPP_MQTT_MQTT": f"mqtt://gwuser:{MQTT_PASSWORD}@127.0.0.1:"
           f"{mosquitto.port}"}
    proc = await asyncio.create_subprocess_exec(
        exe, "serve", "--listen", f"127.0.0.1:{ws_port}", "--log-level", "debug",
        "--log-levels", "gmqtt=debug,aiohttp=debug", "--frame-log", "*",
        "--prefix", f"nolog{os.getpid()}/", "--gateway-id", "nolog-gw",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None
        await asyncio.wait_for(proc.stdout.readline(), 15)
        url = f"ws://127.0.0.1:{ws_port}/ocpp/CPAUTH"
        async with connect(url, ["ocpp1.6"], additional_headers={"Authorization": header}) as ws:
            await ws.send('[2,"1","DataTransfer",{"vendorId":"x","data":"hello"}]')
            await ws.send('[2,"2","ChangeConfiguration",{"key":"AuthorizationKey",'
                          f'"value":"{SECRET}"}}]')
            await ws.send('[2,"3","Heartbeat",{}] trailing garbage ' + SECRET)
            assert (await recv_json(ws, 5))[:2] == [4, "2"]
            await asyncio.sleep(0.2)
        # refused handshakes (bad path, no protocol) with credentials
        for path in ("/", "/ocpp/CPAUTH"):
            reply, _, writer = await raw_handshake(ws_port, path, ["ocpp9"],
                                                   extra={"Authorization": header})
            assert reply.status in (101, 400, 404)
            writer.close()
        await asyncio.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 20)
    text = out.decode() + err.decode()
    assert "CPAUTH" in text and "debug" in text  # the output was there to search
    userpass = base64.b64encode(f"CPAUTH:{SECRET}".encode()).decode()
    for needle in (SECRET, MQTT_PASSWORD, userpass, header):
        assert needle not in text, f"{needle!r} in the output"
    assert "authorization:" not in text.lower().replace('"authorizationkey"', "")


async def test_admin_api_frames_and_stream_are_redacted_too(gateway: Any) -> None:
    """The admin API's last frames and its live stream show frames as the frame log does."""
    import aiohttp

    from .admin_client import EventReader, admin

    session = aiohttp.ClientSession()
    try:
        resp = await session.get(gateway.admin_url + "/api/v1/stream?identity=ADM")
        events = EventReader(resp)
        async with connect(gateway.url("ADM"), ["ocpp1.6"]) as ws, \
                admin(gateway.admin_url) as api:
            await ws.send('[2,"k1","ChangeConfiguration",{"key":"AuthorizationKey",'
                          f'"value":"{SECRET}"}}]')
            assert (await recv_json(ws))[:2] == [4, "k1"]
            live = await events.wait("frame", direction="in")
            assert SECRET not in live["text"] and '"value":"***"' in live["text"]
            detail = (await api.get("/api/v1/charge-points/ADM")).body
            texts = [f["text"] for f in detail["frames"]]
            assert any('"AuthorizationKey","value":"***"' in t for t in texts), texts
            assert not any(SECRET in t for t in texts)
    finally:
        await session.close()
