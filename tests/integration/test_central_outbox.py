"""Central mode with the broker away: the gateway goes on answering charge points, keeps what
it acknowledged in its on-disk outbox, and publishes it in order when the broker is back, also
after a restart of the gateway itself (issue 6, point 1)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson

from tests.conftest import Backend, Mosquitto

from .tcpproxy import TcpProxy
from .test_central import T0, call, meter
from .wsutil import connect, recv_json, until


def central_settings(tmp_path: Path, port: int, **extra: Any) -> dict[str, Any]:
    return {"mode": "central", "store": str(tmp_path / "outbox.sqlite3"),
            "mqtt": f"mqtt://127.0.0.1:{port}", "trigger_after_connect": 0,
            "mqtt_reconnect_min": 0.2, "mqtt_reconnect_max": 0.5,
            "id_tags": {"TAG1": "Accepted"}, **extra}


async def session_while_cut(ws: Any) -> int:
    """Start, three meter values, stop: each answered at once although MQTT is away."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    start = await call(ws, "t1", "StartTransaction", {"connectorId": 1, "idTag": "TAG1",
                                                      "meterStart": 0, "timestamp": T0})
    tx: int = start[2]["transactionId"]
    for n in range(3):
        sample = [{"value": str(100 * (n + 1)), "measurand": "Energy.Active.Import.Register"}]
        assert (await call(ws, f"m{n}", "MeterValues", meter(1, tx, sample)))[0] == 3
    stop = await call(ws, "t2", "StopTransaction", {"transactionId": tx, "meterStop": 300,
                                                    "timestamp": T0, "reason": "EVDisconnected"})
    assert stop[0] == 3
    assert loop.time() - began < 2.0  # answered by the gateway, not held for the broker
    return tx


async def test_outage_answers_go_on_and_the_outbox_delivers_in_order(
        make_gateway: Any, proxy: TcpProxy, backend: Backend, tmp_path: Path) -> None:
    gw = await make_gateway(**central_settings(tmp_path, proxy.port))
    await backend.subscribe(gw.prefix + "cp/#")
    await backend.subscribe(gw.prefix + "transactions/#")
    central = gw.gateway.central
    async with connect(gw.url("OB1"), ["ocpp1.6"]) as ws:
        proxy.cut()
        await until(lambda: not gw.gateway.link.connected, 5, "link down")
        tx = await session_while_cut(ws)
        assert central.outbox.count >= 7  # five mirrored CALLs and two transaction records
        await backend.silence(gw.prefix + "cp/OB1", 0.3)
        proxy.restore()
        mirrored = [await backend.wait_for(gw.prefix + "cp/OB1", 10) for _ in range(5)]
        assert [m["UniqueId"] for m in mirrored] == ["t1", "m0", "m1", "m2", "t2"]
        records = [await backend.wait_for(gw.prefix + "transactions/OB1") for _ in range(2)]
        assert [(r["event"], r["transaction_id"]) for r in records] == [
            ("started", tx), ("ended", tx)]
        assert records[1]["energy_wh"] == 300 and records[1]["reason"] == "EVDisconnected"
        await until(lambda: central.outbox.count == 0, 5, "outbox emptied by PUBACKs")
        # the charge point never noticed: the socket stayed open throughout
        assert (await call(ws, "h", "Heartbeat", {}))[0] == 3


async def test_outbox_survives_a_restart_of_the_gateway(
        make_gateway: Any, proxy: TcpProxy, mosquitto: Mosquitto, backend: Backend,
        tmp_path: Path) -> None:
    first = await make_gateway(**central_settings(tmp_path, proxy.port))
    prefix = first.prefix
    await backend.subscribe(prefix + "transactions/#")
    async with connect(first.url("OB2"), ["ocpp1.6"]) as ws:
        proxy.cut()
        await until(lambda: not first.gateway.link.connected, 5, "link down")
        tx = await session_while_cut(ws)
    await first.gateway.stop()  # the broker is still away: the rows stay on disk
    await backend.silence(prefix + "transactions/OB2", 0.2)
    second = await make_gateway(**central_settings(tmp_path, mosquitto.port), prefix=prefix)
    records = [await backend.wait_for(prefix + "transactions/OB2", 10) for _ in range(2)]
    assert [(r["event"], r["transaction_id"]) for r in records] == [
        ("started", tx), ("ended", tx)]
    await until(lambda: second.gateway.central.outbox.count == 0, 5, "outbox emptied")


async def test_full_outbox_refuses_so_the_charge_point_keeps_its_message(
        make_gateway: Any, proxy: TcpProxy, tmp_path: Path) -> None:
    """outbox_overflow = refuse: past outbox_max the charge point gets a CALLERROR (it keeps
    the message and retries, LC-01) instead of an answer whose data would be dropped."""
    gw = await make_gateway(**central_settings(tmp_path, proxy.port, outbox_max=100))
    async with connect(gw.url("OB3"), ["ocpp1.6"]) as ws:
        proxy.cut()
        await until(lambda: not gw.gateway.link.connected, 5, "link down")
        for n in range(100):
            await ws.send(orjson.dumps([2, f"h{n}", "Heartbeat", {}]).decode())
        replies = [await recv_json(ws) for _ in range(100)]
        assert all(r[0] == 3 for r in replies)
        refused = await call(ws, "over", "Heartbeat", {})
        assert refused[0] == 4 and refused[2] == "InternalError"
        assert "outbox is full" in refused[3]


async def test_repeat_after_a_restart_is_flagged_duplicate(
        make_gateway: Any, mosquitto: Mosquitto, backend: Backend, tmp_path: Path) -> None:
    """Central mode keeps the MessageKeys it published in its store: a StopTransaction the
    charge point sends again to the restarted gateway (it never saw the first answer) is
    published with Duplicate: true and the first copy's key and time."""
    settings = central_settings(tmp_path, mosquitto.port, profiles=["emqx"])
    first = await make_gateway(**settings)
    prefix = first.prefix
    await backend.subscribe(prefix + "cp/DK1")
    stop = {"transactionId": 5, "meterStop": 300, "timestamp": T0, "reason": "EVDisconnected"}
    async with connect(first.url("DK1"), ["ocpp1.6"]) as ws:
        assert (await call(ws, "t2", "StopTransaction", stop))[0] == 3
    original = await backend.wait_for(prefix + "cp/DK1")
    await first.gateway.stop()
    second = await make_gateway(**settings, prefix=prefix)
    async with connect(second.url("DK1"), ["ocpp1.6"]) as ws:
        assert (await call(ws, "t2-again", "StopTransaction", stop))[0] == 3
    again = await backend.wait_for(prefix + "cp/DK1")
    assert "Duplicate" not in original
    assert again["MessageKey"] == original["MessageKey"]
    assert again["Duplicate"] is True and again["FirstSeenAt"] == original["ReceivedAt"]


async def test_charge_point_connecting_during_an_outage_is_served_at_once(
        make_gateway: Any, proxy: TcpProxy, tmp_path: Path) -> None:
    """Central mode answers without MQTT, so a charge point that connects while the broker is
    away does not wait for its command subscription (made when the broker is back)."""
    gw = await make_gateway(**central_settings(tmp_path, proxy.port))
    proxy.cut()
    await until(lambda: not gw.gateway.link.connected, 5, "link down")
    loop = asyncio.get_running_loop()
    began = loop.time()
    async with connect(gw.url("OB4"), ["ocpp1.6"]) as ws:
        boot = await call(ws, "b", "BootNotification", {"chargePointVendor": "v",
                                                        "chargePointModel": "m"})
    assert boot[0] == 3 and boot[2]["status"] == "Accepted"
    assert loop.time() - began < 3.0  # not the subscription's 10 s timeout
