"""The embedded broker (amqtt) as the README's first command uses it: `mosquitto_sub -t
'ocpp/#'` on it sees each retained message once, and a client sees only what it subscribed to.
(amqtt 0.12 sent every new client the retained messages matching any client's subscriptions,
the gateway's own included: `x/#` got `ocpp/gateway/<id>/status`, `ocpp/#` got it twice.)"""

from __future__ import annotations

import asyncio
from typing import Any

from gmqtt.mqtt.constants import MQTTv311

from tests.conftest import Backend, free_port

from .wsutil import connect


async def test_new_clients_get_the_retained_messages_they_subscribed_to_once(
        make_gateway: Any) -> None:
    port = free_port()
    gw = await make_gateway(mqtt="embedded", embedded_listen=f"127.0.0.1:{port}",
                            prefix="ocpp/", gateway_id="emb")
    async with connect(gw.url("CP1"), ["ocpp1.6"]):  # its retained presence
        watcher = await Backend(port, MQTTv311).connect()
        stranger = await Backend(port, MQTTv311).connect()
        try:
            await watcher.subscribe("ocpp/#")
            await stranger.subscribe("x/#")
            await asyncio.sleep(0.5)
            seen = [t for t, _, _ in watcher.messages]
            assert seen.count("ocpp/gateway/emb/status") == 1, seen
            assert seen.count("ocpp/presence/CP1") == 1, seen
            assert not stranger.messages, [t for t, _, _ in stranger.messages]
        finally:
            await watcher.close()
            await stranger.close()
