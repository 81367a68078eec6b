"""The broker restarts: the gateway reconnects, subscribes again and re-publishes presence."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ocpp_mqtt.northbound.mqtt_reader import PacketReader
from tests.conftest import Backend, Mosquitto

from .wsutil import connect, recv_json


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path)
    broker.start()
    yield broker
    broker.stop()


def reader_of(gw: Any) -> Any:
    return gw.gateway.link._client._connection._transport.get_protocol()


async def test_broker_restart(make_gateway: Any, own_broker: Mosquitto) -> None:
    gw = await make_gateway(mqtt=f"mqtt://127.0.0.1:{own_broker.port}")
    first = reader_of(gw)
    assert isinstance(first, PacketReader)  # packets are read off the socket by mqtt_reader
    async with connect(gw.url("RS1"), ["ocpp1.6"]) as ws:
        own_broker.stop()
        await asyncio.sleep(0.5)
        own_broker.start()  # same port, empty: no retained messages, no subscriptions
        deadline = asyncio.get_running_loop().time() + 10
        while not gw.gateway.link.connected:
            assert asyncio.get_running_loop().time() < deadline, "no MQTT reconnect"
            await asyncio.sleep(0.1)
        backend = await Backend(own_broker.port).connect()
        try:
            await backend.subscribe(gw.prefix + "presence/RS1")
            presence = await backend.wait_for(gw.prefix + "presence/RS1", 5)
            assert presence["status"] == "online"  # re-published for the empty broker
            again = reader_of(gw)  # the new connection has its own reader
            assert isinstance(again, PacketReader) and again is not first
            await asyncio.sleep(0.3)  # let the re-subscription be acknowledged
            backend.publish(gw.prefix + "cs/RS1", {"MessageTypeId": 2, "UniqueId": "after",
                                                   "Action": "ClearCache", "Payload": {}})
            assert (await recv_json(ws, 5))[:2] == [2, "after"]
        finally:
            await backend.close()
