"""The broker goes away: nothing a charge point reported is lost, LC-01, probes, graceful stop.

A broker killed outright (SIGKILL, after SIGSTOP so that acknowledgements are outstanding)
loses everything it held; a TCP proxy that cuts the link leaves the broker and the gateway's
session intact, which is the case MQTT sessions are for.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import websockets

from tests.conftest import Backend, Mosquitto

from .tcpproxy import TcpProxy
from .wsutil import connect, raw_handshake, recv_json, until

METER = {"connectorId": 1, "meterValue": [{"timestamp": "2025-01-01T00:00:00Z", "sampledValue": [
    {"value": "1234.5", "measurand": "Energy.Active.Import.Register"}]}]}


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path)
    broker.start()
    yield broker
    if broker.proc is not None:
        broker.proc.send_signal(signal.SIGCONT)
    broker.stop()


async def probe(port: int, path: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(
            f"http://127.0.0.1:{port}{path}") as reply:
        return reply.status, orjson.loads(await reply.read())


def call(uid: str) -> str:
    return orjson.dumps([2, uid, "MeterValues", METER]).decode()


async def test_lc01_sockets_closed_after_grace_then_charge_points_return(
        make_gateway: Any, own_broker: Mosquitto) -> None:
    """LC-01: the broker stays down, so the charge points are disconnected (1013) and new ones
    refused with 503 until it is back; their offline presence reaches MQTT afterwards."""
    gw = await make_gateway(mqtt=f"mqtt://127.0.0.1:{own_broker.port}", broker_outage_grace=0.5,
                            mqtt_reconnect_min=0.2, mqtt_reconnect_max=0.5)
    assert (await probe(gw.port, "/ready"))[0] == 200
    async with connect(gw.url("LC1"), ["ocpp1.6"]) as ws:
        own_broker.stop()
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == 1013
        assert "MQTT broker unreachable" in (ws.close_reason or "")
    assert "LC1" not in gw.gateway.relay.connections  # while the broker is still down
    reply, _, writer = await raw_handshake(gw.port, "/ocpp/LC2", ["ocpp1.6"])
    writer.close()
    assert reply.status == 503
    assert reply.headers.get("retry-after") == "10"
    status, body = await probe(gw.port, "/ready")
    assert status == 503 and body["mqtt"]["connected"] is False
    assert body["reason"].startswith("MQTT broker unreachable")
    health_status, health = await probe(gw.port, "/health")
    assert health_status == 200 and health["mqtt"]["down_since"] is not None

    own_broker.start()
    await until(lambda: gw.gateway.link.connected, 10, "MQTT reconnect")
    backend = await Backend(own_broker.port).connect()
    try:
        await backend.subscribe(gw.prefix + "presence/LC1")
        presence = await backend.wait_for(gw.prefix + "presence/LC1", 5)
        assert presence["status"] == "offline"
        assert "MQTT broker unreachable" in presence["reason"]
    finally:
        await backend.close()
    assert (await probe(gw.port, "/ready"))[0] == 200
    async with connect(gw.url("LC1"), ["ocpp1.6"]) as ws:
        assert ws.subprotocol == "ocpp1.6"


async def test_short_outage_pauses_reading_and_loses_nothing(
        make_gateway: Any, own_broker: Mosquitto) -> None:
    """Within the grace period the socket stays open; a CALL sent meanwhile reaches the backend
    after the reconnect and its answer reaches the charge point."""
    gw = await make_gateway(mqtt=f"mqtt://127.0.0.1:{own_broker.port}", qos=1,
                            broker_outage_grace=30, mqtt_reconnect_min=1.5,
                            mqtt_reconnect_max=1.5)
    async with connect(gw.url("SO1"), ["ocpp1.6"]) as ws:
        own_broker.stop()
        await until(lambda: not gw.gateway.link.connected, 5, "link loss noticed")
        await ws.send(call("during-outage"))
        await asyncio.sleep(0.3)
        own_broker.start()
        backend = await Backend(own_broker.port).connect()  # before the gateway's retry
        try:
            await backend.subscribe(gw.prefix + "cp/SO1")
            got = await backend.wait_for(gw.prefix + "cp/SO1", 10)
            assert got["UniqueId"] == "during-outage"
            await asyncio.sleep(0.3)  # the gateway's re-subscription
            backend.publish(gw.prefix + "cs/SO1", {"MessageTypeId": 3,
                                                    "UniqueId": "during-outage", "Payload": {}})
            assert await recv_json(ws, 5) == [3, "during-outage", {}]
        finally:
            await backend.close()


async def test_unacknowledged_publishes_are_sent_again_after_a_broker_crash(
        make_gateway: Any, own_broker: Mosquitto) -> None:
    """QoS 1 publishes the broker never acknowledged (it froze, then died) are not dropped:
    after the reconnect to the restarted, empty broker they are published again, in order."""
    gw = await make_gateway(mqtt=f"mqtt://127.0.0.1:{own_broker.port}", qos=1,
                            broker_outage_grace=30, mqtt_reconnect_min=1.5,
                            mqtt_reconnect_max=1.5)
    async with connect(gw.url("CR1"), ["ocpp1.6"]) as ws:
        assert own_broker.proc is not None
        own_broker.proc.send_signal(signal.SIGSTOP)  # no PUBACK will come
        for i in range(3):
            await ws.send(call(f"m{i}"))
        await until(lambda: len(gw.gateway.link._client._persistent_storage.get_all()) >= 3, 5,
                    "three publishes in flight")
        own_broker.proc.kill()
        own_broker.proc.wait(5)
        own_broker.proc = None
        own_broker.start()
        backend = await Backend(own_broker.port).connect()
        try:
            await backend.subscribe(gw.prefix + "cp/CR1")
            ids = [(await backend.wait_for(gw.prefix + "cp/CR1", 10))["UniqueId"]
                   for _ in range(3)]
            assert ids == ["m0", "m1", "m2"]
            assert gw.gateway.link.resent >= 3
        finally:
            await backend.close()


async def test_session_kept_over_a_cut_link(make_gateway: Any, proxy: TcpProxy,
                                            backend: Backend) -> None:
    """With the session kept, a command published while the link was cut is delivered after
    the reconnect, and a publish left unacknowledged by the cut is sent again (DUP)."""
    gw = await make_gateway(mqtt=f"mqtt://127.0.0.1:{proxy.port}", qos=1,
                            broker_outage_grace=30, mqtt_reconnect_min=0.2,
                            mqtt_reconnect_max=0.5)
    await backend.subscribe(gw.prefix + "cp/SK1")
    async with connect(gw.url("SK1"), ["ocpp1.6"]) as ws:
        proxy.stalled = True  # the broker gets the publish, its PUBACK never arrives
        await ws.send(call("in-flight"))
        assert (await backend.wait_for(gw.prefix + "cp/SK1", 5))["UniqueId"] == "in-flight"
        proxy.cut()
        await until(lambda: not gw.gateway.link.connected, 5, "link loss noticed")
        backend.publish(gw.prefix + "cs/SK1", {"MessageTypeId": 2, "UniqueId": "queued",
                                               "Action": "ClearCache", "Payload": {}}, qos=1)
        await asyncio.sleep(0.3)
        proxy.restore()
        await until(lambda: gw.gateway.link.connected, 10, "MQTT reconnect")
        assert gw.gateway.link.session_present
        assert await recv_json(ws, 5) == [2, "queued", "ClearCache", {}]
        again = await backend.wait_for(gw.prefix + "cp/SK1", 5)  # at least once
        assert again["UniqueId"] == "in-flight"
        assert gw.gateway.link.resent >= 1


async def test_callerror_policy_answers_calls_during_an_outage(
        make_gateway: Any, own_broker: Mosquitto) -> None:
    """broker_outage = callerror: the socket stays open and each CALL gets InternalError."""
    gw = await make_gateway(mqtt=f"mqtt://127.0.0.1:{own_broker.port}", broker_outage_grace=0.3,
                            broker_outage="callerror", mqtt_reconnect_min=0.2,
                            mqtt_reconnect_max=0.5)
    async with connect(gw.url("CE1"), ["ocpp2.0.1"]) as ws:
        own_broker.stop()
        await until(lambda: gw.gateway.relay.outage == "callerror", 5, "outage policy")
        await ws.send(orjson.dumps([2, "x1", "Heartbeat", {}]).decode())
        reply = await recv_json(ws, 5)
        assert reply[:3] == [4, "x1", "InternalError"]
        assert "MQTT broker unreachable" in str(reply[3])
        own_broker.start()
        await until(lambda: gw.gateway.relay.outage is None, 10, "broker back")
        backend = await Backend(own_broker.port).connect()
        try:
            await backend.subscribe(gw.prefix + "cp/CE1")
            await ws.send(orjson.dumps([2, "x2", "Heartbeat", {}]).decode())
            assert (await backend.wait_for(gw.prefix + "cp/CE1", 5))["UniqueId"] == "x2"
        finally:
            await backend.close()


async def test_probes_and_a_charge_point_named_health(gateway: Any) -> None:
    status, body = await probe(gateway.port, "/health")
    assert status == 200 and body["status"] == "ready" and body["mqtt"]["connected"] is True
    status, body = await probe(gateway.port, "/ready")
    assert status == 200 and body["reason"] is None
    async with connect(gateway.url("health", path="/"), ["ocpp1.6"]) as ws:
        assert ws.subprotocol == "ocpp1.6"  # an upgrade is always a charge point


async def test_graceful_stop_lets_a_call_in_progress_finish(make_gateway: Any,
                                                            backend: Backend) -> None:
    gw = await make_gateway(shutdown_timeout=5)
    await backend.subscribe(gw.prefix + "cp/GS1")
    async with connect(gw.url("GS1"), ["ocpp1.6"]) as ws:
        await ws.send(call("last"))
        await backend.wait_for(gw.prefix + "cp/GS1", 5)
        stopping = asyncio.ensure_future(gw.gateway.stop())
        await until(lambda: gw.gateway.stopping, 2, "stop begun")
        reply, _, writer = await raw_handshake(gw.port, "/ocpp/GS2", ["ocpp1.6"])
        writer.close()
        assert reply.status == 503 and b"shutting down" in reply.body
        await asyncio.sleep(0.3)
        assert not stopping.done()
        backend.publish(gw.prefix + "cs/GS1", {"MessageTypeId": 3, "UniqueId": "last",
                                               "Payload": {}})
        assert await recv_json(ws, 5) == [3, "last", {}]
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == 1001
        await asyncio.wait_for(stopping, 10)


async def test_command_for_a_charge_point_that_left_during_the_outage_is_answered_offline(
        make_gateway: Any, proxy: TcpProxy, backend: Backend) -> None:
    """The MQTT session delivers a command published while the link was cut; the charge point
    left meanwhile, so the backend gets `offline` rather than silence."""
    gw = await make_gateway(mqtt=f"mqtt://127.0.0.1:{proxy.port}", broker_outage_grace=30,
                            mqtt_reconnect_min=0.2, mqtt_reconnect_max=0.5)
    ack = gw.prefix + "cs/OF1/Ack"
    await backend.subscribe(ack)
    async with connect(gw.url("OF1"), ["ocpp1.6"]):
        proxy.cut()
        await until(lambda: not gw.gateway.link.connected, 5, "link loss noticed")
        backend.publish(gw.prefix + "cs/OF1", {"MessageTypeId": 2, "UniqueId": "late",
                                               "Action": "ClearCache", "Payload": {}}, qos=1)
    await until(lambda: "OF1" not in gw.gateway.relay.connections, 5, "charge point gone")
    await asyncio.sleep(0.3)
    proxy.restore()
    body = await backend.wait_for(ack, 10)
    assert (body["UniqueId"], body["Status"]) == ("late", "offline")
    assert "not connected" in body["Reason"]
