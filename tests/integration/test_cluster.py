"""Several gateway instances on one broker and prefix (issue 6, scale-out): a charge point that
reconnects through another instance is closed on the first (HS-12 across instances)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import websockets

from ocpp_mqtt.config import ConfigError, load_settings
from tests.conftest import Backend

from .wsutil import connect, recv_json


async def test_takeover_across_instances(make_gateway: Any, backend: Backend) -> None:
    a = await make_gateway(gateway_id="gw-a")
    b = await make_gateway(gateway_id="gw-b", prefix=a.prefix)
    presence = a.prefix + "presence/MV1"
    await backend.subscribe(presence)
    await backend.subscribe(a.prefix + "events/MV1/disconnected")
    async with connect(a.url("MV1"), ["ocpp1.6"]) as old:
        first = await backend.wait_for(presence, 5)
        assert (first["status"], first["gateway"]) == ("online", "gw-a")
        await asyncio.sleep(0.01)  # a later connected_at for the newer connection
        async with connect(b.url("MV1"), ["ocpp1.6"]) as new:
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(old.recv(), 5)
            assert old.close_code == 1000
            assert "gw-b" in (old.close_reason or "")
            event = await backend.wait_for(a.prefix + "events/MV1/disconnected", 5)
            assert event["gateway"] == "gw-a" and "takeover" in event["reason"]
            second = await backend.wait_for(presence, 5)
            assert (second["status"], second["gateway"]) == ("online", "gw-b")
            await backend.silence(presence, 0.5)  # no offline from gw-a over gw-b's online
            backend.publish(a.prefix + "cs/MV1", {"MessageTypeId": 2, "UniqueId": "c1",
                                                  "Action": "ClearCache", "Payload": {}})
            assert (await recv_json(new, 5))[:2] == [2, "c1"]
    assert "MV1" not in a.gateway.relay.connections


async def test_an_older_presence_does_not_close_a_newer_connection(
        make_gateway: Any, backend: Backend) -> None:
    a = await make_gateway(gateway_id="gw-a")
    async with connect(a.url("MV2"), ["ocpp1.6"]) as ws:
        backend.publish(a.prefix + "presence/MV2", {"status": "online", "gateway": "gw-x",
                                                    "connected_at": 1}, qos=1)
        await asyncio.sleep(0.5)
        assert "MV2" in a.gateway.relay.connections
        await ws.send('[2,"h","Heartbeat",{}]')  # still served


def test_cluster_takeover_needs_cid_as_a_whole_presence_level() -> None:
    with pytest.raises(ConfigError, match=r"presence_topic.*cluster_takeover and answer_offline"):
        load_settings(None, presence_topic="presence-${cid}")
    with pytest.raises(ConfigError, match=r"presence_topic.*answer_offline is on"):
        load_settings(None, presence_topic="presence-${cid}", cluster_takeover=False)
    assert load_settings(None, presence_topic="presence-${cid}", cluster_takeover=False,
                         answer_offline=False)


async def test_two_instances_with_one_gateway_id_are_reported(
        make_gateway: Any, caplog: pytest.LogCaptureFixture) -> None:
    """Their statuses show two start times under one name: say so, naming the fix."""
    a = await make_gateway(gateway_id="twin")
    await asyncio.sleep(0.01)
    await make_gateway(gateway_id="twin", prefix=a.prefix)
    for _ in range(100):
        if "another gateway instance runs with this gateway_id" in caplog.text:
            break
        await asyncio.sleep(0.02)
    assert "give each instance its own gateway_id" in caplog.text
