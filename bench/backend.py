"""Benchmark backend: answers every CALL envelope on `{prefix}cp/+` with an empty CALLRESULT.

Reply: `{"MessageTypeId":3,"UniqueId":<same>,"Payload":{}}` on `{prefix}cs/<cid>` at the
configured QoS. Prints READY once subscribed. With `--boot-result` a BootNotification is
answered with a schema-valid Accepted result instead (the gateway validates results; B3, B4).

    python bench/backend.py --mqtt 127.0.0.1:1883 --prefix ocpp/ --qos 0
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import uuid

import orjson
import uvloop
from gmqtt import Client
from gmqtt.mqtt.constants import MQTTv50, MQTTv311

CALL_HEAD = b'{"MessageTypeId":2,"UniqueId":"'
BOOT_ACTION = b'"Action":"BootNotification"'
BOOT_RESULT = (b',"Payload":{"status":"Accepted","currentTime":"2026-11-21T00:00:00Z",'
               b'"interval":300}}')


def unique_id(payload: bytes) -> bytes | None:
    """The JSON-encoded UniqueId of a CALL envelope, or None if it is not a CALL."""
    if payload.startswith(CALL_HEAD):
        end = payload.find(b'"', len(CALL_HEAD))
        if end > 0 and payload[end - 1] != 0x5C:  # no backslash-escaped quote
            return payload[len(CALL_HEAD) - 1 : end + 1]
    try:
        env = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(env, dict) or env.get("MessageTypeId") != 2 or "UniqueId" not in env:
        return None
    return orjson.dumps(env["UniqueId"])


class Backend:
    def __init__(self, prefix: str, qos: int, boot_result: bool = False) -> None:
        self.boot_result = boot_result
        self.cp_prefix = f"{prefix}cp/"
        self.cs_prefix = f"{prefix}cs/"
        self.qos = qos
        self.answered = 0
        self.subscribed = asyncio.get_running_loop().create_future()
        self.mqtt = Client(f"bench-backend-{uuid.uuid4().hex[:8]}")
        self.mqtt.on_message = self.on_message
        self.mqtt.on_subscribe = self.on_subscribe

    def on_subscribe(self, client: Client, mid: int, qos: list[int], properties: dict) -> None:
        if not self.subscribed.done():
            self.subscribed.set_result(qos)

    def on_message(self, client: Client, topic: str, payload: bytes, qos: int,
                   properties: dict) -> int:
        uid = unique_id(payload)
        if uid is not None:
            cid = topic[len(self.cp_prefix) :]
            if self.boot_result and BOOT_ACTION in payload[:200]:
                reply = b'{"MessageTypeId":3,"UniqueId":' + uid + BOOT_RESULT
            else:
                reply = b'{"MessageTypeId":3,"UniqueId":' + uid + b',"Payload":{}}'
            client.publish((self.cs_prefix + cid).encode(), reply, self.qos)
            self.answered += 1
        return 0


async def main(args: argparse.Namespace) -> None:
    backend = Backend(args.prefix, args.qos, args.boot_result)
    host, _, port = args.mqtt.rpartition(":")
    version = MQTTv50 if args.mqtt_version == 5 else MQTTv311
    await backend.mqtt.connect(host or "127.0.0.1", int(port), keepalive=60, version=version)
    sock = backend.mqtt._connection._transport.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    backend.mqtt.subscribe(backend.cp_prefix + "+", qos=1)
    await asyncio.wait_for(backend.subscribed, 10.0)
    print("READY", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print(f"answered {backend.answered}", flush=True)
    await asyncio.wait_for(backend.mqtt.disconnect(), 2.0)


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mqtt", default="127.0.0.1:1883", help="broker HOST:PORT")
    ap.add_argument("--prefix", default="ocpp/")
    ap.add_argument("--qos", type=int, choices=(0, 1), default=0)
    ap.add_argument("--mqtt-version", type=int, choices=(4, 5), default=4)
    ap.add_argument("--boot-result", action="store_true",
                    help="answer BootNotification with a valid Accepted result, not {}")
    return ap.parse_args()


if __name__ == "__main__":
    uvloop.run(main(parse_args()))
