"""Credentials as an operator handles them: the CLI round trip, MQTT provisioning, a real
SIGHUP to a running `ocpp-mqtt serve`, and no secret in any log line or MQTT message."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from ocpp_mqtt.logs import JsonFormatter, TextFormatter
from tests.certs import Pki
from tests.conftest import Backend, Mosquitto, basic_auth, free_port

from .security_util import KEY16, PASSWORD, client_tls, secure_gateway, status_of, tls_listener
from .wsutil import connect

EXE = str(Path(sys.executable).parent / "ocpp-mqtt")


async def cli(*args: str, stdin: str = "") -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        EXE, "credentials", *args, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_cli_round_trip(make_gateway: Any, tmp_path: Path) -> None:
    store = str(tmp_path / "creds.sqlite3")
    opt = ("--credentials-store", store)
    assert (await cli(*opt, "add", "CP1", stdin=PASSWORD + "\n"))[0] == 0
    code, generated, _ = await cli(*opt, "add", "CP2", "--generate")
    generated = generated.strip()
    assert code == 0 and len(generated) == 32
    code, _, err = await cli(*opt, "add", "CP3", stdin="short\n")
    assert code == 1 and "16-40 characters" in err and "short" not in err
    csv_file = tmp_path / "fleet.csv"
    csv_file.write_text(f"identity,password,key\nCP4,{PASSWORD},\nAL1000,,{KEY16}\n")
    code, _, err = await cli(*opt, "import", str(csv_file))
    assert code == 0 and "imported 2" in err
    code, listing, _ = await cli(*opt, "list")
    assert [line.split("\t")[:2] for line in listing.splitlines()] == [
        ["AL1000", "key"], ["CP1", "password"], ["CP2", "password"], ["CP4", "password"]]
    assert PASSWORD not in listing and generated not in listing
    assert (await cli(*opt, "remove", "CP4"))[0] == 0
    code, _, err = await cli(*opt, "remove", "CP4")
    assert code == 1 and "no credentials stored for 'CP4'" in err
    gw = await make_gateway(listen="", listeners=[{"address": "127.0.0.1:0", "profile": 1}],
                            credentials_store=store)
    base = f"ws://127.0.0.1:{gw.gateway.ws_port}/ocpp/"
    for identity, secret in (("CP1", PASSWORD), ("CP2", generated)):
        headers = {"Authorization": basic_auth(identity, secret)}
        assert (await status_of(base + identity, headers=headers))[0] == 101
    assert (await status_of(base + "CP4", headers={
        "Authorization": basic_auth("CP4", PASSWORD)}))[0] == 404
    assert (await status_of(base + "AL1000", "ocpp1.6", headers={
        "Authorization": "Basic QUwxMDAwOgABAgMEBQYH////////////////"}))[0] == 101


async def test_mqtt_provisioning(make_gateway: Any, backend: Backend, tmp_path: Path) -> None:
    gw = await secure_gateway(make_gateway, tmp_path, [{"address": "127.0.0.1:0", "profile": 1}],
                              credentials_topic="admin/credentials")
    request, result = gw.prefix + "admin/credentials", gw.prefix + "admin/credentials/result"
    await backend.subscribe(result)
    backend.publish(request, {"id": "r1", "op": "add", "identity": "CPM",
                              "password": PASSWORD}, qos=1)
    answer = await backend.wait_for(result, where=lambda b: b.get("id") == "r1")
    assert answer == {"id": "r1", "op": "add", "identity": "CPM", "kind": "password", "ok": True}
    headers = {"Authorization": basic_auth("CPM", PASSWORD)}
    url = f"ws://127.0.0.1:{gw.gateway.ws_port}/ocpp/CPM"
    assert (await status_of(url, headers=headers))[0] == 101
    for req, error in (
            ({"id": "r2", "op": "add", "identity": "CPM", "password": "short"}, "16-40"),
            ({"id": "r3", "op": "add", "identity": "CPM"}, "exactly one of"),
            ({"id": "r4", "op": "drop"}, "expected add, remove or list"),
            ({"id": "r5", "op": "remove", "identity": "NOPE"}, "no credentials stored")):
        backend.publish(request, req, qos=1)
        answer = await backend.wait_for(result, where=lambda b, i=req["id"]: b.get("id") == i)
        assert answer["ok"] is False and error in answer["error"]
        assert "short" not in orjson.dumps(answer).decode().replace('"error"', "")
    backend.publish(request, b"not json", qos=1)
    answer = await backend.wait_for(result, where=lambda b: "id" not in b)
    assert answer["ok"] is False and "not JSON" in answer["error"]
    backend.publish(request, {"id": "r6", "op": "list"}, qos=1)
    listing = await backend.wait_for(result, where=lambda b: b.get("id") == "r6")
    assert [e["identity"] for e in listing["identities"]] == ["CPM"]
    backend.publish(request, {"id": "r7", "op": "remove", "identity": "CPM"}, qos=1)
    assert (await backend.wait_for(result, where=lambda b: b.get("id") == "r7"))["ok"]
    assert (await status_of(url, headers=headers))[0] == 404


async def test_no_secret_in_logs_or_mqtt(make_gateway: Any, backend: Backend, tmp_path: Path,
                                         caplog: pytest.LogCaptureFixture) -> None:
    """Issue 5 point 8: provoke every security event; neither the gateway's log lines (both
    formats, with their fields) nor anything on MQTT holds a password, key or header."""
    pki = Pki(tmp_path)
    server = pki.issue("server", "localhost", server=True)
    wrong_cert = pki.issue("wrong", "SOMEONE", server=False)
    gw = await secure_gateway(make_gateway, tmp_path, [
        {"address": "127.0.0.1:0", "profile": 1},
        tls_listener("127.0.0.1:0", 3, [server], pki.path)],
        credentials_topic="admin/credentials", auth_max_failures=2, auth_allow_unknown=False)
    await backend.subscribe(gw.prefix + "#")
    wrong_password = "Wrong-Password-12345"
    headers_sent: list[str] = []
    base = f"ws://127.0.0.1:{gw.gateway.ws_ports[0]}/ocpp/"
    with caplog.at_level(logging.DEBUG):
        backend.publish(gw.prefix + "admin/credentials", {
            "id": "p", "op": "add", "identity": "CPS", "password": PASSWORD}, qos=1)
        await backend.wait_for(gw.prefix + "admin/credentials/result")
        backend.publish(gw.prefix + "admin/credentials", {
            "id": "k", "op": "add", "identity": "AL1000", "key": KEY16}, qos=1)
        await backend.wait_for(gw.prefix + "admin/credentials/result")
        for identity, secret in (("CPS", wrong_password), ("CPS", PASSWORD + "!"),
                                 ("CPS", PASSWORD), ("AL1000", KEY16[::-1]),
                                 ("GHOST", PASSWORD)):
            header = basic_auth(identity, secret)
            headers_sent.append(header)
            await status_of(base + identity, headers={"Authorization": header})
        await status_of(f"wss://127.0.0.1:{gw.gateway.ws_ports[1]}/ocpp/CPX",
                        ssl_context=client_tls(pki, wrong_cert))
        async with connect(base + "AL1000", ["ocpp1.6"], additional_headers={
                "Authorization": basic_auth("AL1000", KEY16)}) as ws:
            await ws.send(orjson.dumps([2, "1", "SecurityEventNotification", {
                "type": "InvalidCentralSystemCertificate",
                "timestamp": "2026-11-21T10:00:00Z"}]).decode())
            await backend.wait_for(gw.prefix + "security/AL1000",
                                   where=lambda b: b["event"] == "cp_notification")
        await asyncio.sleep(0.3)
    events = {orjson.loads(p)["event"] for t, p, _ in backend.messages
              if t.startswith(gw.prefix + "security/")}
    assert {"auth_failed", "rate_limited", "unknown_identity", "certificate_mismatch"} <= events
    # the gateway's own loggers and its web server's (the test's clients log their headers)
    mine = [r for r in caplog.records if r.name.startswith(("ocpp_mqtt", "aiohttp"))]
    log_text = "\n".join(f(r) for r in mine
                         for f in (JsonFormatter().format, TextFormatter().format))
    mqtt_text = "\n".join(t + " " + p.decode(errors="replace") for t, p, _ in backend.messages
                          if not t.endswith("admin/credentials"))  # our own requests
    secrets = [PASSWORD, wrong_password, KEY16, KEY16.lower(), KEY16[::-1],
               *headers_sent, *(h.split()[1] for h in headers_sent),
               base64.b64encode(bytes.fromhex(KEY16)).decode(), "PRIVATE KEY"]
    for text, where in ((log_text, "logs"), (mqtt_text, "MQTT")):
        leaked = [s for s in secrets if s in text]
        assert not leaked, f"{where} contain secrets: {leaked}"
    assert "certificate_mismatch" in log_text and "auth_failed" in log_text


async def test_sighup_reloads_certificates(mosquitto: Mosquitto, tmp_path: Path) -> None:
    """A real SIGHUP to `ocpp-mqtt serve`: the log says so, an open wss:// connection stays
    and the next handshake gets the new certificate."""
    pki = Pki(tmp_path)
    server = pki.issue("server", "localhost", server=True)
    port = free_port()
    listeners = orjson.dumps([{"address": f"127.0.0.1:{port}", "profile": 2,
                               "cert": str(server.cert), "key": str(server.key)}]).decode()
    store = tmp_path / "c.sqlite3"
    assert (await cli("--credentials-store", str(store), "add", "CPH",
                      stdin=PASSWORD + "\n"))[0] == 0
    proc = await asyncio.create_subprocess_exec(
        EXE, "serve", "--listen", "", "--listeners", listeners, "--credentials-store",
        str(store), "--mqtt", f"mqtt://127.0.0.1:{mosquitto.port}", "--prefix", "sighup/",
        "--log-format", "json", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ})
    assert proc.stdout is not None and proc.stderr is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 15)).decode()
        assert f"wss://127.0.0.1:{port}/<path>/<identity> (profile 2)" in line
        url = f"wss://127.0.0.1:{port}/ocpp/CPH"
        headers = {"Authorization": basic_auth("CPH", PASSWORD)}
        async with connect(url, ["ocpp1.6"], additional_headers=headers,
                           ssl=client_tls(pki)) as old:
            before = old.transport.get_extra_info("ssl_object").getpeercert(binary_form=True)
            pki.issue("server", "localhost", server=True)
            proc.send_signal(signal.SIGHUP)
            while True:
                record = orjson.loads(await asyncio.wait_for(proc.stderr.readline(), 10))
                if record["msg"] == "certificates reloaded":
                    break
            await asyncio.wait_for(await old.ping(), 3)
            assert old.close_code is None
        async with connect(url, ["ocpp1.6"], additional_headers=headers,
                           ssl=client_tls(pki)) as new:
            after = new.transport.get_extra_info("ssl_object").getpeercert(binary_form=True)
        assert after != before
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 15)
