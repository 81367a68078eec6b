"""The thinnest possible OCPP-J <-> MQTT relay: picows + gmqtt + uvloop, no OCPP logic.

It is the ceiling the real gateway is compared against. Up: a CALL frame
`[2,"id","Action",{...}]` becomes the EMQX envelope on `{prefix}cp/{cid}`. Down: a
`{"MessageTypeId":3,"UniqueId":"id","Payload":{...}}` on `{prefix}cs/{cid}` becomes
`[3,"id",{...}]` on the charge point's socket. String slicing only, no validation.

With `--floor` it also does the work issue 2 makes unavoidable for any gateway, and nothing else:
every frame parsed (orjson), every CALL and result payload validated (jsonschema-rs, the `ocpp`
package's OCPP 1.6 schemas), every downstream envelope parsed, and an acknowledgement published
on `{prefix}cs/{cid}/Ack` (at `--ack-qos`) for every downstream message. No sessions, no
checks, no logging: the lower bound of a gateway's CPU in the same process model.

    python bench/thin_relay.py --listen 127.0.0.1:9000 --mqtt 127.0.0.1:1883 --qos 0 --prefix ocpp/
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import sys
import uuid
from pathlib import Path
from typing import Any

import jsonschema_rs
import ocpp
import orjson
import uvloop
from gmqtt import Client
from gmqtt.mqtt.constants import MQTTv50, MQTTv311
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

SUBPROTOCOLS = ("ocpp1.6", "ocpp2.0.1", "ocpp2.1")
RESULT_HEAD = b'{"MessageTypeId":3,"UniqueId":'
PAYLOAD_KEY = b',"Payload":'


def call_envelope(data: bytes) -> bytes:
    """`[2,"id","Action",{..}]` -> EMQX envelope, by slicing; orjson for anything unusual.

    An OCPP 2.1 SEND `[6,"id","Action",{..}]` (never answered; B5 and B7 send them) is sliced
    the same way after the CALL test, so the CALL path of B1 and B2 is unchanged."""
    if data.startswith(b'[2,"') and data.endswith(b"]"):
        q1 = data.find(b'"', 4)
        if data.startswith(b',"', q1 + 1):
            q2 = data.find(b'"', q1 + 3)
            if data.startswith(b",", q2 + 1):
                return b"".join((b'{"MessageTypeId":2,"UniqueId":', data[3 : q1 + 1],
                                 b',"Action":', data[q1 + 2 : q2 + 1],
                                 PAYLOAD_KEY, data[q2 + 2 : -1], b"}"))
    elif data.startswith(b'[6,"') and data.endswith(b"]"):
        q1 = data.find(b'"', 4)
        if data.startswith(b',"', q1 + 1):
            q2 = data.find(b'"', q1 + 3)
            if data.startswith(b",", q2 + 1):
                return b"".join((b'{"MessageTypeId":6,"UniqueId":', data[3 : q1 + 1],
                                 b',"Action":', data[q1 + 2 : q2 + 1],
                                 PAYLOAD_KEY, data[q2 + 2 : -1], b"}"))
    msg = orjson.loads(data)
    env = {"MessageTypeId": msg[0], "UniqueId": msg[1]}
    if msg[0] in (2, 6):
        env.update(Action=msg[2], Payload=msg[3])
    elif msg[0] == 3:
        env["Payload"] = msg[2]
    else:
        env.update(ErrorCode=msg[2], ErrorDescription=msg[3], ErrorDetails=msg[4])
    return orjson.dumps(env)


def result_frame(payload: bytes) -> bytes:
    """EMQX CALLRESULT envelope -> `[3,"id",{..}]`."""
    if payload.startswith(RESULT_HEAD) and payload.endswith(b"}"):
        k = payload.find(PAYLOAD_KEY, len(RESULT_HEAD))
        if k > 0:
            return b"".join((b"[3,", payload[len(RESULT_HEAD) : k], b",",
                             payload[k + len(PAYLOAD_KEY) : -1], b"]"))
    env = orjson.loads(payload)
    return orjson.dumps([env["MessageTypeId"], env["UniqueId"], env.get("Payload", {})])


class Floor:
    """The unavoidable per-message work (see the module docstring), on OCPP 1.6 schemas."""

    def __init__(self, prefix: str, ack_qos: int) -> None:
        self.ack_qos = ack_qos
        self.ack_suffix = "/Ack"
        self.cs_prefix = f"{prefix}cs/"
        self.schemas = Path(ocpp.__file__).parent / "v16" / "schemas"
        self.validators: dict[str, Any] = {}
        self.pending: dict[str, str] = {}  # unique id -> action, to pick the result's schema

    def validator(self, name: str) -> Any:
        v = self.validators.get(name)
        if v is None:
            schema = json.loads((self.schemas / f"{name}.json").read_text())
            v = self.validators[name] = jsonschema_rs.validator_for(schema)
        return v

    def up(self, data: bytes) -> bool:
        msg = orjson.loads(data)
        if msg[0] == 2:
            self.pending[msg[1]] = msg[2]
            return bool(self.validator(msg[2]).is_valid(msg[3]))
        return True

    def down(self, client: Client, topic: str, payload: bytes) -> None:
        env = orjson.loads(payload)
        uid = env["UniqueId"]
        action = self.pending.pop(uid, "")
        ok = self.validator(f"{action}Response").is_valid(env.get("Payload", {}))
        ack = {"UniqueId": uid, "Status": "sent" if ok else "invalid", "Reason": "written"}
        client.publish(topic + self.ack_suffix, orjson.dumps(ack), self.ack_qos)


def set_nodelay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Relay:
    def __init__(self, prefix: str, qos: int, floor: Floor | None = None) -> None:
        self.floor = floor
        self.cp_prefix = f"{prefix}cp/".encode()
        self.cs_prefix = f"{prefix}cs/"
        self.qos = qos
        self.sockets: dict[str, WSTransport] = {}
        self.mqtt = Client(f"thin-relay-{uuid.uuid4().hex[:8]}")
        self.mqtt.on_message = self.on_mqtt_message

    def on_mqtt_message(self, client: Client, topic: str, payload: bytes, qos: int,
                        properties: dict) -> int:
        ws = self.sockets.get(topic[len(self.cs_prefix) :])
        if ws is not None:
            if self.floor is not None:
                self.floor.down(client, topic, payload)
            ws.send(WSMsgType.TEXT, result_frame(payload))
        return 0

    def listener_factory(self, request: WSUpgradeRequest) -> WSUpgradeResponseWithListener:
        cid = request.path.split(b"?", 1)[0].rstrip(b"/").rsplit(b"/", 1)[-1].decode()
        offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
        chosen = next((p for p in offered if p in SUBPROTOCOLS), None)
        headers = {"Sec-WebSocket-Protocol": chosen} if chosen else None
        return WSUpgradeResponseWithListener(WSUpgradeResponse.create_101_response(headers),
                                             ChargePoint(self, cid))


class ChargePoint(WSListener):
    def __init__(self, relay: Relay, cid: str) -> None:
        self.relay = relay
        self.cid = cid
        self.topic = relay.cp_prefix + cid.encode()
        self.publish = relay.mqtt.publish
        self.qos = relay.qos
        self.floor = relay.floor

    def on_ws_connected(self, transport: WSTransport) -> None:
        set_nodelay(transport.underlying_transport)
        self.relay.sockets[self.cid] = transport
        self.relay.mqtt.subscribe(self.relay.cs_prefix + self.cid, qos=1)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.TEXT:
            data = frame.get_payload_as_bytes()
            if self.floor is not None:
                self.floor.up(data)
            self.publish(self.topic, call_envelope(data), self.qos)
        elif frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if self.relay.sockets.get(self.cid) is transport:
            del self.relay.sockets[self.cid]
            if self.relay.mqtt.is_connected:
                self.relay.mqtt.unsubscribe(self.relay.cs_prefix + self.cid)


def host_port(s: str) -> tuple[str, int]:
    host, _, port = s.rpartition(":")
    return host or "127.0.0.1", int(port)


async def main(args: argparse.Namespace) -> None:
    floor = Floor(args.prefix, args.ack_qos) if args.floor else None
    relay = Relay(args.prefix, args.qos, floor)
    bhost, bport = host_port(args.mqtt)
    version = MQTTv50 if args.mqtt_version == 5 else MQTTv311
    await relay.mqtt.connect(bhost, bport, keepalive=60, version=version)
    set_nodelay(relay.mqtt._connection._transport)  # gmqtt keeps its transport private
    host, port = host_port(args.listen)
    server = await ws_create_server(relay.listener_factory, host, port,
                                    read_buffer_init_size=4096)
    print("READY", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    await asyncio.wait_for(relay.mqtt.disconnect(), 2.0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:9000", help="HOST:PORT for WebSockets")
    ap.add_argument("--mqtt", default="127.0.0.1:1883", help="broker HOST:PORT")
    ap.add_argument("--qos", type=int, choices=(0, 1), default=0, help="QoS of upstream publishes")
    ap.add_argument("--prefix", default="ocpp/", help="topic prefix, e.g. ocpp/")
    ap.add_argument("--mqtt-version", type=int, choices=(4, 5), default=4,
                    help="MQTT protocol level: 4 = 3.1.1 (default), 5")
    ap.add_argument("--floor", action="store_true",
                    help="also parse, validate and acknowledge (the floor of any gateway)")
    ap.add_argument("--ack-qos", type=int, choices=(0, 1), default=1,
                    help="QoS of the acknowledgements with --floor (default 1, as the gateway)")
    return ap.parse_args(argv)


if __name__ == "__main__":
    uvloop.run(main(parse_args()))
    sys.exit(0)
