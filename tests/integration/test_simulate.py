"""`ocpp-mqtt simulate` against real central systems: the gateway in central mode, the gateway
in relay mode with a backend answering over MQTT, and a CSMS built on the python `ocpp`
package. Every frame the simulated charge points send is checked against the official schemas
(simkit.Recorder); the summary's figures are checked against what reached MQTT."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from ocpp_mqtt.ocppj.versions import Version
from ocpp_mqtt.simulate.options import Span
from tests.conftest import Backend

from .simkit import simulate
from .tcpproxy import TcpProxy

EXE = str(Path(sys.executable).parent / "ocpp-mqtt")


@pytest.fixture
async def central(make_gateway: Any, tmp_path: Path) -> Any:
    async def start(**overrides: Any) -> Any:
        values: dict[str, Any] = {"mode": "central", "store": str(tmp_path / "gw.sqlite3"),
                                  "trigger_after_connect": 0, "heartbeat_interval": 1,
                                  "id_tags": {"TAG1": "Accepted"}}
        values.update(overrides)
        return await make_gateway(**values)
    return start


def span(seconds: float) -> Span:
    return Span(seconds, seconds)


def versions(*names: str) -> tuple[Version, ...]:
    return tuple(Version.parse(n) for n in names)


def emqx_calls(backend: Backend, topic: str, action: str) -> list[dict[str, Any]]:
    out = []
    for t, payload, _ in backend.messages:
        if t == topic:
            body = orjson.loads(payload)
            if body.get("MessageTypeId") == 2 and body.get("Action") == action:
                out.append(body["Payload"])
    return out


async def test_central_mode_every_version_boots_charges_and_validates(
        central: Any, backend: Backend) -> None:
    """Boot, status, Authorize, a whole transaction with meter values and heartbeats, for
    1.6, 2.0.1 and 2.1; every frame valid; the summary agrees with what reached MQTT."""
    gw = await central()
    await backend.subscribe(gw.prefix + "cp/+")
    await backend.subscribe(gw.prefix + "transactions/+")
    async with simulate(gw.url("").rstrip("/"), count=3, until_idle=True, transactions=1,
                        id_tags=("TAG1",), tx_duration=span(2.0)) as sim:
        summary = await sim.summary()
    total = summary["total"]
    assert total["charge_points"] == 3 and total["boots"] == 3
    assert total["transactions_started"] == total["transactions_ended"] == 3
    assert total["callerrors_received"] == 0 and total["timeouts"] == 0
    assert total["connect_errors"] == {} and total["dropped_messages"] == 0
    assert total["messages_sent"] == total["messages_answered"]
    assert total["latency_p50_ms"] is not None and total["latency_p99_ms"] is not None
    assert set(summary["versions"]) == {"1.6", "2.0.1", "2.1"}
    for version, stats in summary["versions"].items():
        assert stats["charge_points"] == 1 and stats["transactions_ended"] == 1, version
    records = [orjson.loads(p) for t, p, _ in backend.messages
               if t.startswith(gw.prefix + "transactions/")]
    assert sorted(r["event"] for r in records) == ["ended"] * 3 + ["started"] * 3
    assert all(r["energy_wh"] > 0 for r in records if r["event"] == "ended")
    # what the simulator says it sent is what the gateway published, action by action
    rec = sim.recorder
    for identity in ("SIM0001", "SIM0002", "SIM0003"):
        topic = gw.prefix + "cp/" + identity
        for action in ("BootNotification", "Heartbeat", "StatusNotification", "Authorize",
                       "StartTransaction", "StopTransaction", "MeterValues",
                       "TransactionEvent"):
            assert len(emqx_calls(backend, topic, action)) == len(rec.calls(action, identity)), \
                (identity, action)
    assert rec.calls("Heartbeat"), "heartbeats at the Boot answer's interval (1 s)"
    # 1.6: meter values per phase during the transaction, then StopTransaction
    meter16 = emqx_calls(backend, gw.prefix + "cp/SIM0001", "MeterValues")
    assert meter16 and all("transactionId" in m for m in meter16)
    phases = {s.get("phase") for m in meter16 for s in m["meterValue"][0]["sampledValue"]}
    assert {"L1", "L2", "L3", "L1-N", "L2-N", "L3-N"} <= phases
    # 2.x: seqNo counts up from 0 per transaction, Started..Ended
    for identity in ("SIM0002", "SIM0003"):
        events = emqx_calls(backend, gw.prefix + "cp/" + identity, "TransactionEvent")
        assert [e["seqNo"] for e in events] == list(range(len(events)))
        assert events[0]["eventType"] == "Started" and events[-1]["eventType"] == "Ended"
        assert {e["eventType"] for e in events[1:-1]} == {"Updated"}


async def test_remote_start_from_mqtt_starts_a_transaction_that_reaches_mqtt(
        central: Any, backend: Backend) -> None:
    gw = await central()
    await backend.subscribe(gw.prefix + "cmd/+/result")
    await backend.subscribe(gw.prefix + "transactions/+")
    await backend.subscribe(gw.prefix + "cp/+")
    async with simulate(gw.url("").rstrip("/"), count=2, versions=versions("1.6", "2.0.1"),
                        tx_pause=span(3600), meter_interval=0.2) as sim:
        await sim.until(lambda: all(cp.online.is_set() for cp in sim.fleet.charge_points), 10,
                        "both charge points booted")
        for identity in ("SIM0001", "SIM0002"):
            backend.publish(gw.prefix + "cmd/" + identity,
                            {"id": "go", "action": "start_charging", "args": {"connector": 1}})
            result = await backend.wait_for(gw.prefix + f"cmd/{identity}/result")
            assert result["status"] == "answered" and result["result"]["status"] == "Accepted"
            started = await backend.wait_for(gw.prefix + "transactions/" + identity)
            assert started["event"] == "started" and started["id_tag"] == "ocpp-mqtt"
        # its meter values reach MQTT
        await backend.wait_for(gw.prefix + "cp/SIM0001",
                               where=lambda b: b.get("Action") == "MeterValues")
        await backend.wait_for(gw.prefix + "cp/SIM0002", where=lambda b: b.get(
            "Action") == "TransactionEvent" and b["Payload"]["eventType"] == "Updated")
        for identity in ("SIM0001", "SIM0002"):
            backend.publish(gw.prefix + "cmd/" + identity,
                            {"id": "halt", "action": "stop_charging", "args": {"connector": 1}})
            result = await backend.wait_for(gw.prefix + f"cmd/{identity}/result")
            assert result["result"]["status"] == "Accepted", result
            ended = await backend.wait_for(gw.prefix + "transactions/" + identity)
            assert ended["event"] == "ended"
        # configuration, both ways of naming it, answered by the simulator
        backend.publish(gw.prefix + "cmd/SIM0001", {"id": "cfg", "action": "GetConfiguration",
                                                    "args": {"key": ["HeartbeatInterval"]}})
        result = await backend.wait_for(gw.prefix + "cmd/SIM0001/result")
        assert result["result"]["configurationKey"] == [
            {"key": "HeartbeatInterval", "readonly": False, "value": "1"}]
        backend.publish(gw.prefix + "cmd/SIM0002", {"id": "var", "action": "GetVariables",
                                                    "args": {"getVariableData": [{
                                                        "component": {"name": "OCPPCommCtrlr"},
                                                        "variable": {
                                                            "name": "HeartbeatInterval"}}]}})
        result = await backend.wait_for(gw.prefix + "cmd/SIM0002/result")
        assert result["result"]["getVariableResult"][0]["attributeValue"] == "1"
        # a reset: the charge point closes, reconnects and boots again
        backend.publish(gw.prefix + "set/SIM0001/reset", b"PRESS")
        result = await backend.wait_for(gw.prefix + "cmd/SIM0001/result")
        assert result["result"] == {"status": "Accepted"}
        await sim.until(lambda: sim.recorder.connections.get("SIM0001") == 2
                        and sim.cp("SIM0001").online.is_set(), 15, "reboot")
        summary = await _stop(sim)
    assert summary["versions"]["1.6"]["boots"] == 2 and summary["versions"]["2.0.1"]["boots"] == 1
    assert summary["total"]["transactions_started"] == 2
    assert summary["total"]["calls_received"] >= 7


async def _stop(sim: Any) -> dict[str, Any]:
    sim.stop.set()
    result: dict[str, Any] = await sim.summary()
    return result


async def test_reconnect_after_a_cut_sends_the_queued_transaction_messages(
        central: Any, backend: Backend) -> None:
    """A dropped connection: reconnect with back-off, no new Boot (RC-02), and the meter
    values taken while offline are sent afterwards, none lost."""
    gw = await central()
    proxy = await TcpProxy(gw.port).start()
    await backend.subscribe(gw.prefix + "cp/+")
    await backend.subscribe(gw.prefix + "transactions/+")
    try:
        async with simulate(f"ws://127.0.0.1:{proxy.port}/ocpp", count=1,
                            versions=versions("1.6"), until_idle=True, transactions=1,
                            id_tags=("TAG1",), tx_duration=span(3.0), meter_interval=0.2,
                            reconnect_min=0.8, reconnect_range=0) as sim:
            cp = sim.cp("SIM0001")
            await sim.until(lambda: cp.station.connectors[0].transaction is not None
                            and cp.station.connectors[0].transaction.tx_id is not None, 10,
                            "a transaction in progress")
            proxy.cut()
            await sim.until(lambda: not cp.online.is_set(), 5, "the charge point saw the cut")
            await asyncio.sleep(0.6)
            assert cp.charging.queue, "meter values queued while offline"
            proxy.restore()
            summary = await sim.summary()
    finally:
        await proxy.close()
    total = summary["total"]
    assert total["reconnects"] >= 1 and total["boots"] == 1  # RC-02: no Boot on reconnect
    assert total["transactions_ended"] == 1 and total["dropped_messages"] == 0
    rec = sim.recorder
    later = [s for s in rec.calls("MeterValues") if s.connection > 1]
    assert later, "meter values sent after the reconnect"
    sent = {m.frame[3]["meterValue"][0]["timestamp"] for m in rec.calls("MeterValues")}
    arrived = {m["meterValue"][0]["timestamp"] for m in emqx_calls(
        backend, gw.prefix + "cp/SIM0001", "MeterValues")}
    assert sent == arrived, "every meter value reached MQTT"
    started = await backend.wait_for(gw.prefix + "transactions/SIM0001")
    stops = emqx_calls(backend, gw.prefix + "cp/SIM0001", "StopTransaction")
    assert [s["transactionId"] for s in stops] == [started["transaction_id"]]


async def test_relay_mode_with_a_backend_answering_over_mqtt(
        make_gateway: Any, backend: Backend) -> None:
    """Relay mode: a backend answers every CALL on MQTT (the first Boot Pending, then
    Accepted); the charge points retry the Boot after the interval and charge."""
    gw = await make_gateway()
    prefix = gw.prefix
    boots: dict[str, int] = {}
    tx_ids = iter(range(100, 1000))

    def answer(cid: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        now = "2026-11-21T10:00:00Z"
        if action == "BootNotification":
            boots[cid] = boots.get(cid, 0) + 1
            status = "Pending" if boots[cid] == 1 else "Accepted"
            return {"status": status, "currentTime": now, "interval": 1}
        if action == "Heartbeat":
            return {"currentTime": now}
        if action == "Authorize":
            key = "idTagInfo" if "idTag" in payload else "idTokenInfo"
            return {key: {"status": "Accepted"}}
        if action == "StartTransaction":
            return {"transactionId": next(tx_ids), "idTagInfo": {"status": "Accepted"}}
        return {}

    def on_message(client: Any, topic: str, raw: bytes, qos: int, props: Any) -> int:
        body = orjson.loads(raw)
        if body.get("MessageTypeId") == 2:
            cid = topic.rsplit("/", 1)[1]
            backend.publish(prefix + "cs/" + cid, {
                "MessageTypeId": 3, "UniqueId": body["UniqueId"],
                "Payload": answer(cid, body["Action"], body["Payload"])}, qos=1)
        backend.messages.append((topic, raw, props))
        return 0

    backend.client.on_message = on_message
    await backend.subscribe(prefix + "cp/+")
    async with simulate(gw.url("").rstrip("/"), count=3, until_idle=True, transactions=1,
                        connectors=2) as sim:
        summary = await sim.summary()
    total = summary["total"]
    assert total["boots_pending"] == 3 and total["boots"] == 3
    assert total["transactions_started"] == total["transactions_ended"] == 6
    assert total["callerrors_received"] == 0 and total["timeouts"] == 0
    starts = emqx_calls(backend, prefix + "cp/SIM0001", "StartTransaction")
    stops = emqx_calls(backend, prefix + "cp/SIM0001", "StopTransaction")
    assert len(starts) == len(stops) == 2
    assert {s["connectorId"] for s in starts} == {1, 2}
    assert all(s["transactionId"] >= 100 for s in stops)


async def test_cli_json_summary(make_gateway: Any, tmp_path: Path) -> None:
    """The command line: --json for scripts (and below: exit status 2 naming a bad option, 1
    when no charge point could connect)."""
    gw = await make_gateway(mode="central", store=str(tmp_path / "c.sqlite3"),
                            trigger_after_connect=0)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        EXE, "simulate", "-n", "4", "--url", gw.url("").rstrip("/"), "--until-idle",
        "--rate", "0", "--json", "--seed", "7", stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=env)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    summary = orjson.loads(out)
    assert summary["seed"] == 7 and summary["total"]["boots"] == 4
    assert summary["versions"]["1.6"]["charge_points"] == 2  # 1.6, 2.0.1, 2.1, 1.6
    assert err == b""  # --json: no progress output


def test_cli_bad_option_and_unreachable_server() -> None:
    bad = subprocess.run([EXE, "simulate", "--versions", "1.6,3.0"], capture_output=True,
                         text=True, timeout=30)
    assert bad.returncode == 2
    assert "--versions: unknown OCPP version '3.0'" in bad.stderr
    nobody = subprocess.run([EXE, "simulate", "--url", "ws://127.0.0.1:9/ocpp", "--duration",
                             "1.5", "--quiet", "--reconnect-min", "0.2"],
                            capture_output=True, text=True, timeout=30)
    assert nobody.returncode == 1
    assert "connect errors: refused" in nobody.stdout


async def test_kicked_charge_point_reconnects_and_finishes_its_transaction(
        central: Any, backend: Backend) -> None:
    """The admin API kicks a charging 2.0.1 charge point (a server-side close): it reconnects
    after the back-off without a Boot (RC-02), and its transaction goes on, seqNo unbroken."""
    from .admin_client import admin

    gw = await central()
    await backend.subscribe(gw.prefix + "cp/+")
    async with simulate(gw.url("").rstrip("/"), count=1, versions=versions("2.0.1"),
                        until_idle=True, transactions=1, id_tags=("TAG1",),
                        tx_duration=span(2.5), meter_interval=0.2) as sim, \
            admin(gw.admin_url) as api:
        cp = sim.cp("SIM0001")
        await sim.until(lambda: cp.station.connectors[0].transaction is not None, 10,
                        "charging")
        reply = await api.post("/api/v1/charge-points/SIM0001/kick", {"reason": "test"})
        assert reply.status == 200 and reply.body["closed"] is True, reply.text
        summary = await sim.summary()
    total = summary["total"]
    assert total["reconnects"] == 1 and total["boots"] == 1
    assert total["transactions_ended"] == 1 and total["dropped_messages"] == 0
    assert [e[1] for e in sim.events].count("disconnected") >= 1
    events = emqx_calls(backend, gw.prefix + "cp/SIM0001", "TransactionEvent")
    assert [e["seqNo"] for e in events] == list(range(len(events)))
    assert events[-1]["eventType"] == "Ended"
    assert any(s.connection == 2 for s in sim.recorder.calls("TransactionEvent"))
