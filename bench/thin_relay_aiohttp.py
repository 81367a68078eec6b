"""The thin relay of thin_relay.py with aiohttp instead of picows for the WebSockets.

Measured beside the other two, it separates what the WebSocket library costs from what the
gateway's OCPP logic costs: same slicing, no validation, no acknowledgements.

    python bench/thin_relay_aiohttp.py --listen 127.0.0.1:9000 --mqtt 127.0.0.1:1883 --qos 0
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import uuid

import uvloop
from aiohttp import WSMsgType, web
from gmqtt import Client
from gmqtt.mqtt.constants import MQTTv50, MQTTv311
from thin_relay import SUBPROTOCOLS, call_envelope, host_port, parse_args, result_frame, set_nodelay


class Relay:
    def __init__(self, prefix: str, qos: int) -> None:
        self.cp_prefix = f"{prefix}cp/"
        self.cs_prefix = f"{prefix}cs/"
        self.qos = qos
        self.sockets: dict[str, web.WebSocketResponse] = {}
        self.mqtt = Client(f"thin-aiohttp-{uuid.uuid4().hex[:8]}")
        self.mqtt.on_message = self.on_mqtt_message

    def on_mqtt_message(self, client: Client, topic: str, payload: bytes, qos: int,
                        properties: dict) -> int:
        ws = self.sockets.get(topic[len(self.cs_prefix) :])
        if ws is not None:
            coro = ws.send_str(result_frame(payload).decode())  # written at once when it can
            try:
                coro.send(None)
            except StopIteration:
                pass
            else:
                coro.close()
        return 0

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        cid = request.path.rstrip("/").rsplit("/", 1)[-1]
        ws = web.WebSocketResponse(protocols=SUBPROTOCOLS, compress=False)
        await ws.prepare(request)
        set_nodelay(request.transport)  # type: ignore[arg-type]
        self.sockets[cid] = ws
        self.mqtt.subscribe(self.cs_prefix + cid, qos=1)
        topic = self.cp_prefix + cid
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    self.mqtt.publish(topic, call_envelope(msg.data.encode()), self.qos)
        finally:
            if self.sockets.get(cid) is ws:
                del self.sockets[cid]
                if self.mqtt.is_connected:
                    self.mqtt.unsubscribe(self.cs_prefix + cid)
        return ws


async def main(args: argparse.Namespace) -> None:
    relay = Relay(args.prefix, args.qos)
    bhost, bport = host_port(args.mqtt)
    version = MQTTv50 if args.mqtt_version == 5 else MQTTv311
    await relay.mqtt.connect(bhost, bport, keepalive=60, version=version)
    set_nodelay(relay.mqtt._connection._transport)
    app = web.Application()
    app.router.add_get("/{tail:.*}", relay.handle)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    host, port = host_port(args.listen)
    await web.TCPSite(runner, host, port).start()
    print("READY", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    await asyncio.wait_for(relay.mqtt.disconnect(), 2.0)


if __name__ == "__main__":
    uvloop.run(main(parse_args()))
    sys.exit(0)
