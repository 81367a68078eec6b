"""What the simulator offers tests and benchmarks that drive it from Python (the soak tests do):
the `on_answered` and `on_call` hooks, several central system URLs taken in turn, and a stop
that waits for queued transaction messages through a reconnect and starts nothing new."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from ocpp_mqtt.modes.repeats import TRANSACTION_ACTIONS, message_key
from ocpp_mqtt.ocppj.versions import Version
from ocpp_mqtt.simulate.options import Span
from tests.conftest import Backend, free_port

from .simkit import simulate
from .tcpproxy import TcpProxy
from .wsutil import ws_server

NOW = "2026-11-21T10:00:00Z"


@pytest.fixture
async def central(make_gateway: Any, tmp_path: Path) -> Any:
    return await make_gateway(mode="central", store=str(tmp_path / "gw.sqlite3"),
                              trigger_after_connect=0, heartbeat_interval=1,
                              id_tags={"TAG1": "Accepted"})


def keyed_on_mqtt(backend: Backend, prefix: str) -> dict[str, str]:
    """MessageKey: action of every transaction message published on `{prefix}cp/+`."""
    out = {}
    for topic, raw, _ in backend.messages:
        if topic.startswith(prefix + "cp/"):
            body = orjson.loads(raw)
            if body.get("Action") in TRANSACTION_ACTIONS:
                out[body["MessageKey"]] = body["Action"]
    return out


async def arrived(backend: Backend, prefix: str, keys: set[str]) -> None:
    """Wait (at most 5 s) until MQTT has exactly these transaction messages."""
    for _ in range(50):
        if set(keyed_on_mqtt(backend, prefix)) == keys:
            return
        await asyncio.sleep(0.1)
    assert set(keyed_on_mqtt(backend, prefix)) == keys


async def test_hooks_tell_each_answered_call_with_its_payload_and_each_call_received(
        central: Any, backend: Backend) -> None:
    """`on_answered` gets the payload exactly as sent (so the gateway's MessageKey can be
    computed from it) and the result; `on_call` the central system's CALLs with their ids."""
    gw = central
    await backend.subscribe(gw.prefix + "cp/+")
    await backend.subscribe(gw.prefix + "cmd/+/result")
    answered: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []
    calls: list[tuple[str, str, str, dict[str, Any]]] = []
    async with simulate(gw.url("").rstrip("/"), count=2, versions=(Version.V16, Version.V201),
                        until_idle=True, transactions=1, id_tags=("TAG1",),
                        tx_duration=Span(1.0, 1.0), meter_interval=0.2) as sim:
        for cp in sim.fleet.charge_points:
            cp.on_answered = lambda cp, a, p, r: answered.append((cp.identity, a, p, r))
            cp.on_call = lambda cp, uid, a, p: calls.append((cp.identity, uid, a, p))
        await sim.until(lambda: sim.cp("SIM0001").online.is_set(), 10, "booted")
        backend.publish(gw.prefix + "cmd/SIM0001", {"id": "c1", "action": "ClearCache",
                                                    "args": {}})
        result = await backend.wait_for(gw.prefix + "cmd/SIM0001/result")
        assert result["status"] == "answered"
        summary = await sim.summary()
    assert len(answered) == summary["total"]["messages_answered"]
    boots = [r for who, a, _, r in answered if a == "BootNotification"]
    assert len(boots) == 2 and all(r["status"] == "Accepted" for r in boots)
    starts = [(p, r) for who, a, p, r in answered if a == "StartTransaction"]
    assert len(starts) == 1 and isinstance(starts[0][1]["transactionId"], int)
    # the payload as sent: its key is the one the gateway published
    ours = {message_key(who, a, p): a for who, a, p, _ in answered if a in TRANSACTION_ACTIONS}
    assert {"StartTransaction", "MeterValues", "StopTransaction",
            "TransactionEvent"} <= set(ours.values())
    await arrived(backend, gw.prefix, set(ours))
    assert ours == keyed_on_mqtt(backend, gw.prefix)
    assert [(who, a) for who, _, a, _ in calls] == [("SIM0001", "ClearCache")]
    assert calls[0][1] and calls[0][3] == {}


async def test_several_urls_spread_the_charge_points_and_each_attempt_takes_the_next(
        central: Any) -> None:
    """Charge point i starts at URL i mod n; a refused attempt goes on to the next URL."""
    dead = f"ws://127.0.0.1:{free_port()}/ocpp"
    live = central.url("").rstrip("/")
    async with simulate(f"{dead},{live}", count=2, versions=(Version.V16,),
                        until_idle=True, reconnect_min=0.1, reconnect_range=0) as sim:
        summary = await sim.summary()
    assert summary["url"] == f"{dead},{live}"
    assert summary["total"]["boots"] == 2
    assert summary["total"]["connect_errors"] == {"refused": 1}  # SIM0001 tried `dead` first
    first = [(e, d) for who, e, d in sim.events if who == "SIM0001"]
    assert first[:2] == [("connect_failed", "refused"), ("connected", "")]
    assert ("SIM0002", "connect_failed", "refused") not in sim.events
    assert all(cp.url.startswith(live + "/") for cp in sim.fleet.charge_points)


async def test_stop_waits_through_a_reconnect_for_the_queued_messages(
        central: Any, backend: Backend) -> None:
    """Stopped while its connection is down, a charge point ends its transaction, reconnects
    within --stop-timeout and delivers what it had queued: nothing left behind."""
    gw = central
    await backend.subscribe(gw.prefix + "cp/+")
    proxy = await TcpProxy(gw.port).start()
    answered: list[tuple[str, str, dict[str, Any]]] = []
    try:
        async with simulate(f"ws://127.0.0.1:{proxy.port}/ocpp", count=1,
                            versions=(Version.V16,), id_tags=("TAG1",), tx_pause=Span(0, 0),
                            tx_duration=Span(60, 60), meter_interval=0.2, reconnect_min=0.5,
                            reconnect_range=0, stop_timeout=10) as sim:
            cp = sim.cp("SIM0001")
            cp.on_answered = lambda cp, a, p, r: answered.append((cp.identity, a, p))
            await sim.until(lambda: any(a == "MeterValues" for _, a, _ in answered), 10,
                            "charging, meter values answered")
            proxy.cut()
            await sim.until(lambda: not cp.online.is_set(), 5, "the charge point saw the cut")
            await asyncio.sleep(0.5)
            sim.stop.set()  # while offline: its StopTransaction is queued behind meter values
            await sim.until(lambda: cp.draining and not cp.station.connectors[0].transaction,
                            5, "the transaction ended")
            assert cp.charging.queue
            proxy.restore()
            summary = await sim.summary()
    finally:
        await proxy.close()
    assert not cp.charging.queue
    total = summary["total"]
    assert total["reconnects"] == 1 and total["queued"] == 0
    assert total["transactions_ended"] == 1 and total["dropped_messages"] == 0
    assert [a for _, a, _ in answered if a in TRANSACTION_ACTIONS][-1] == "StopTransaction"
    ours = {message_key(who, a, p) for who, a, p in answered if a in TRANSACTION_ACTIONS}
    await arrived(backend, gw.prefix, ours)


async def test_a_stop_while_the_authorize_is_out_starts_no_transaction() -> None:
    """The Authorize of a connector is answered only after the stop began: the connector goes
    back to Available and no StartTransaction is sent."""
    port = free_port()
    actions: list[str] = []
    authorizing, release = asyncio.Event(), asyncio.Event()

    async def ws_handler(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(protocols=("ocpp1.6",))
        await ws.prepare(request)
        async for msg in ws:
            frame = orjson.loads(msg.data)
            if frame[0] != 2:
                continue
            actions.append(frame[2])
            result: dict[str, Any] = {}
            if frame[2] == "BootNotification":
                result = {"status": "Accepted", "interval": 60, "currentTime": NOW}
            elif frame[2] == "Authorize":
                authorizing.set()
                await release.wait()
                result = {"idTagInfo": {"status": "Accepted"}}
            elif frame[2] == "StartTransaction":
                result = {"transactionId": 1, "idTagInfo": {"status": "Accepted"}}
            await ws.send_str(orjson.dumps([3, frame[1], result]).decode())
        return ws

    async with ws_server(ws_handler, port), simulate(
            f"ws://127.0.0.1:{port}/ocpp", count=1, versions=(Version.V16,),
            tx_pause=Span(0, 0), tx_duration=Span(60, 60)) as sim:
        await asyncio.wait_for(authorizing.wait(), 10)
        sim.stop.set()
        await sim.until(lambda: sim.cp("SIM0001").draining, 5, "the stop began")
        release.set()
        summary = await sim.summary()
    assert "StartTransaction" not in actions
    assert summary["total"]["transactions_started"] == 0
    assert sim.cp("SIM0001").station.connectors[0].state == "Available"
