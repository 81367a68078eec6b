"""MQTT 5 request/response: a CALL with a response topic gets the charge point's result there."""

from __future__ import annotations

from typing import Any

import orjson

from .wsutil import connect, recv_json


async def test_response_topic_gets_result_with_correlation(gateway: Any, backend: Any) -> None:
    reply_to = gateway.prefix + "replies/me"
    await backend.subscribe(reply_to)
    async with connect(gateway.url("M5"), ["ocpp2.0.1"]) as ws:
        backend.publish(gateway.prefix + "cs/M5",
                        {"MessageTypeId": 2, "UniqueId": "r1", "Action": "ClearCache",
                         "Payload": {}},
                        response_topic=reply_to, correlation_data=b"corr-1")
        assert (await recv_json(ws))[:2] == [2, "r1"]
        await ws.send('[3,"r1",{"status":"Accepted"}]')
        payload, props = await backend.wait_raw(reply_to)
        body = orjson.loads(payload)
        assert body["MessageTypeId"] == 3 and body["Payload"] == {"status": "Accepted"}
        assert body["Action"] == "ClearCache"
        assert props["correlation_data"] == [b"corr-1"]


async def test_response_topic_gets_failure_outcome(gateway: Any, backend: Any) -> None:
    reply_to = gateway.prefix + "replies/fail"
    await backend.subscribe(reply_to)
    async with connect(gateway.url("M6"), ["ocpp1.6"]):
        backend.publish(gateway.prefix + "cs/M6",
                        {"MessageTypeId": 2, "UniqueId": "r2", "Action": "Nope", "Payload": {}},
                        response_topic=reply_to, correlation_data=b"c2")
        payload, props = await backend.wait_raw(reply_to)
        body = orjson.loads(payload)
        assert body["Status"] == "invalid" and body["UniqueId"] == "r2"
        assert props["correlation_data"] == [b"c2"]


async def test_mqtt_311_backend_degrades_cleanly(make_gateway: Any, backend311: Any) -> None:
    gw = await make_gateway(mqtt_version="3.1.1")
    await backend311.subscribe(gw.prefix + "cp/V3/Reply")
    async with connect(gw.url("V3"), ["ocpp1.6"]) as ws:
        backend311.publish(gw.prefix + "cs/V3", {"MessageTypeId": 2, "UniqueId": "a",
                                                 "Action": "ClearCache", "Payload": {}})
        await recv_json(ws)
        await ws.send('[3,"a",{"status":"Accepted"}]')
        body = await backend311.wait_for(gw.prefix + "cp/V3/Reply")
        assert body["UniqueId"] == "a" and body["Action"] == "ClearCache"
