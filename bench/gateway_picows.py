"""Experiment: the gateway's core (Session, Relay, MqttLink) behind a picows WebSocket edge.

Not a product transport: no permessage-deflate (HS-10 needs it for 2.x), no fragmented
messages, no pings, minimal close handling. It answers one question for planning: what would
the gateway cost per round trip if its WebSocket edge were picows instead of aiohttp?

    python bench/gateway_picows.py --listen 127.0.0.1:9000 --mqtt mqtt://127.0.0.1:1883 --qos 0
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any

import uvloop
from picows import (
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
    ws_create_server,
)
from thin_relay import host_port, set_nodelay

from ocpp_mqtt.config import load_settings
from ocpp_mqtt.modes.relay import Relay, policy_from
from ocpp_mqtt.northbound.mqtt import MqttLink
from ocpp_mqtt.ocppj.identity import escape_topic_level
from ocpp_mqtt.ocppj.session import Policy, Session
from ocpp_mqtt.ocppj.validation import Schemas
from ocpp_mqtt.transport.connection import Connection
from ocpp_mqtt.transport.handshake import Reject, negotiate


class PicowsSocket:
    """The part of aiohttp's WebSocketResponse that Connection uses."""

    def __init__(self, transport: WSTransport) -> None:
        self.transport = transport
        self.closed = False

    async def send_str(self, text: str) -> None:  # completes without suspending
        self.transport.send(WSMsgType.TEXT, text.encode())

    async def close(self, code: int = 1000, message: bytes = b"") -> None:
        if not self.closed:
            self.closed = True
            self.transport.send_close(code, message)
            self.transport.disconnect()


class ChargePoint(WSListener):
    def __init__(self, gateway: PicowsGateway, identity: str, version: Any) -> None:
        self.gateway = gateway
        self.identity = identity
        self.version = version
        self.conn: Connection | None = None
        self.early: list[str] | None = []

    def on_ws_connected(self, transport: WSTransport) -> None:
        set_nodelay(transport.underlying_transport)
        gw = self.gateway
        session = Session(self.version, gw.schemas, gw.policy)
        self.conn = Connection(PicowsSocket(transport), self.identity,  # type: ignore[arg-type]
                               escape_topic_level(self.identity), self.version, session,
                               "127.0.0.1", 0, None, 60)
        asyncio.get_running_loop().create_task(self._attach())

    async def _attach(self) -> None:
        assert self.conn is not None
        await self.gateway.relay.attach(self.conn)
        early, self.early = self.early or [], None
        for text in early:
            self.gateway.relay.on_text(self.conn, text)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.TEXT:
            text = frame.get_payload_as_utf8_text()
            if self.early is not None:
                self.early.append(text)
            elif self.conn is not None:
                self.gateway.relay.on_text(self.conn, text)
        elif frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if self.conn is not None:
            self.conn.ws.closed = True
            self.gateway.relay.detach(self.conn, "closed")


class PicowsGateway:
    def __init__(self, args: argparse.Namespace) -> None:
        self.settings = load_settings(None, listen=args.listen, mqtt=args.mqtt,
                                      prefix=args.prefix, qos=args.qos, compression=False)
        self.schemas = Schemas()
        self.policy: Policy = policy_from(self.settings)
        self.relay = Relay(self.settings)

    def factory(self, request: WSUpgradeRequest) -> WSUpgradeResponseWithListener:
        offered = request.headers.get("Sec-WebSocket-Protocol", "")
        decision = negotiate(request.path.decode(), [offered] if offered else [],
                             self.settings.enabled_versions, None, 48)
        if isinstance(decision, Reject) or decision.version is None:
            return WSUpgradeResponseWithListener(
                WSUpgradeResponse.create_error_response(400, b"refused"), None)
        headers = {"Sec-WebSocket-Protocol": decision.echo} if decision.echo else None
        return WSUpgradeResponseWithListener(
            WSUpgradeResponse.create_101_response(headers),
            ChargePoint(self, decision.identity, decision.version))

    async def run(self) -> None:
        target = self.settings.mqtt_target
        link = MqttLink(target, client_id="gateway-picows", version="5", keepalive=60,
                        will=None, tls=None, on_message=self.relay.on_mqtt)
        await link.connect()
        await self.relay.start(link)
        host, port = host_port(self.settings.listen)
        server = await ws_create_server(self.factory, host, port, read_buffer_init_size=4096)
        print("READY", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        server.close()
        await link.disconnect()


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:9000")
    ap.add_argument("--mqtt", default="mqtt://127.0.0.1:1883")
    ap.add_argument("--prefix", default="ocpp/")
    ap.add_argument("--qos", type=int, default=0)
    return ap.parse_args()


if __name__ == "__main__":
    uvloop.run(PicowsGateway(parse_args()).run())
    sys.exit(0)
