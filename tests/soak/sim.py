"""The pieces of the soak and fault tests: charge points that keep their transaction messages
until they are answered (as OCPP 1.6 requires of real ones), a backend that answers them over
MQTT and counts what arrives, and the gateway processes the tests kill and restart."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import signal
import subprocess
import sys
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import websockets
from gmqtt import Client
from gmqtt.mqtt.constants import MQTTv50

EXE = str(Path(sys.executable).parent / "ocpp-mqtt")
TX_ACTIONS = ("StartTransaction", "MeterValues", "StopTransaction")


@dataclass
class Tally:
    """What the charge points sent and had answered, per (charge point, sequence number)."""

    sent: int = 0  # frames written, retries included
    acked: set[tuple[str, int]] = field(default_factory=set)
    errors: Counter[str] = field(default_factory=Counter)
    reconnects: int = 0
    commands_seen: Counter[tuple[str, str]] = field(default_factory=Counter)


class ChargePoint:
    """A 1.6 charge point running transactions. Each transaction message carries a sequence
    number (meterStart, the sampled value, meterStop) and stays queued until a CALLRESULT comes;
    a CALLERROR, a timeout or a lost socket means reconnect (to the next gateway) and resend."""

    def __init__(self, cid: str, ports: list[int], tally: Tally, meter_values: int = 2) -> None:
        self.cid = cid
        self.ports = ports
        self.tally = tally
        self.queue: deque[tuple[int, str, dict[str, Any]]] = deque()
        self.seq = itertools.count(1)
        self.meter_values = meter_values
        self.attempt = random.randrange(len(ports))
        self.transaction = 0
        self.move_every = 0.0  # > 0: close and reconnect elsewhere this often (seconds)

    def _next_transaction(self) -> None:
        seq = next(self.seq)
        self.queue.append((seq, "StartTransaction", {
            "connectorId": 1, "idTag": "TAG1", "meterStart": seq,
            "timestamp": "2026-11-21T10:00:00Z"}))
        for _ in range(self.meter_values):
            seq = next(self.seq)
            self.queue.append((seq, "MeterValues", {
                "connectorId": 1, "transactionId": 0, "meterValue": [{
                    "timestamp": "2026-11-21T10:00:00Z",
                    "sampledValue": [{"value": str(seq),
                                      "measurand": "Energy.Active.Import.Register"}]}]}))
        seq = next(self.seq)
        self.queue.append((seq, "StopTransaction", {
            "transactionId": 0, "meterStop": seq, "timestamp": "2026-11-21T10:00:00Z"}))

    async def run(self, generate: asyncio.Event) -> None:
        """Until `generate` is cleared and every queued message was answered."""
        delay = 0.1
        while generate.is_set() or self.queue:
            port = self.ports[self.attempt % len(self.ports)]
            self.attempt += 1
            try:
                async with websockets.connect(
                        f"ws://127.0.0.1:{port}/ocpp/{self.cid}", subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                        open_timeout=5, close_timeout=1, ping_interval=None) as ws:
                    delay = 0.1
                    await self._session(ws, generate)
            except (OSError, websockets.InvalidHandshake, websockets.ConnectionClosed,
                    TimeoutError) as exc:
                self.tally.errors[type(exc).__name__] += 1
            self.tally.reconnects += 1
            await asyncio.sleep(delay * (1 + random.random()))
            delay = min(1.0, delay * 2)

    async def _session(self, ws: Any, generate: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        moved_at = loop.time() + self.move_every if self.move_every else None
        while generate.is_set() or self.queue:
            if moved_at is not None and loop.time() > moved_at:
                return  # move to the other gateway instance
            if not self.queue:
                self._next_transaction()
            seq, action, payload = self.queue[0]
            if action != "StartTransaction":
                payload["transactionId"] = self.transaction
            uid = f"{seq}-{self.attempt}"
            await ws.send(orjson.dumps([2, uid, action, payload]).decode())
            self.tally.sent += 1
            answer = await self._answer(ws, uid)
            if answer is None:
                return  # timed out: reconnect and resend
            if answer[0] == 3:
                if action == "StartTransaction":
                    self.transaction = answer[2]["transactionId"]
                self.tally.acked.add((self.cid, seq))
                self.queue.popleft()
            else:
                self.tally.errors["CALLERROR " + str(answer[2])] += 1
                await asyncio.sleep(0.2)  # then resend, as for a failed delivery

    async def _answer(self, ws: Any, uid: str) -> list[Any] | None:
        """The result for `uid`; commands arriving meanwhile are answered."""
        deadline = asyncio.get_running_loop().time() + 15
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                self.tally.errors["answer timeout"] += 1
                return None
            frame = orjson.loads(await asyncio.wait_for(ws.recv(), remaining))
            if frame[0] == 2:
                self.tally.commands_seen[(self.cid, frame[1])] += 1
                await ws.send(orjson.dumps([3, frame[1], {"status": "Accepted"}]).decode())
            elif frame[1] == uid:
                return list(frame)


class TxBackend:
    """Answers every charge point CALL on `{prefix}cp/+` and records the sequence numbers
    that reached MQTT. Its session outlives broker restarts (the broker persists it)."""

    def __init__(self, port: int, prefix: str, answer: bool = True) -> None:
        self.port = port
        self.prefix = prefix
        self.answer = answer  # False: the gateway answers (central mode); only count
        self.client = Client(f"soak-backend-{os.getpid()}-{random.randrange(1 << 30)}",
                             clean_session=False, session_expiry_interval=3600)
        self.client.on_message = self._on_message
        self.received: Counter[tuple[str, int]] = Counter()
        self.keys: dict[tuple[str, int], set[str]] = {}  # the MessageKeys of each message
        self.marked = 0  # copies that arrived with Duplicate: true
        self.possible = 0  # with PossibleDuplicate: true (re-sent from the outbox after a crash)
        self.unmarked: Counter[tuple[str, int]] = Counter()  # copies without any mark
        self.dup_flagged = 0
        self.publish_errors = 0
        self.tx_ids = itertools.count(1)
        self.acks: dict[str, list[dict[str, Any]]] = {}

    async def connect(self) -> None:
        self.client.set_config({"reconnect_retries": -1, "reconnect_delay": 0.3})
        await self.client.connect("127.0.0.1", self.port, version=MQTTv50)
        self.client.subscribe(self.prefix + "cp/+", qos=1)
        self.client.subscribe(self.prefix + "cs/+/Ack", qos=1)
        await asyncio.sleep(0.3)

    def _on_message(self, client: Any, topic: str, payload: bytes, qos: int,
                    properties: dict[str, Any]) -> int:
        body = orjson.loads(payload)
        if topic.endswith("/Ack"):
            self.acks.setdefault(body["UniqueId"], []).append(body)
            return 0
        cid = topic.rsplit("/", 1)[1]
        action, data = body["Action"], orjson.loads(body["Payload"]) if isinstance(
            body["Payload"], str) else body["Payload"]
        seq = {"StartTransaction": lambda d: d["meterStart"],
               "StopTransaction": lambda d: d["meterStop"],
               "MeterValues": lambda d: int(d["meterValue"][0]["sampledValue"][0]["value"]),
               }[action](data)
        self.received[(cid, seq)] += 1
        self.keys.setdefault((cid, seq), set()).add(body.get("MessageKey", "none"))
        self.marked += body.get("Duplicate") is True
        self.possible += body.get("PossibleDuplicate") is True
        marked = body.get("Duplicate") is True or body.get("PossibleDuplicate") is True
        if properties.get("dup"):
            self.dup_flagged += 1
        if not marked and not properties.get("dup"):
            self.unmarked[(cid, seq)] += 1
        if not self.answer:
            return 0
        result: dict[str, Any] = {}
        if action == "StartTransaction":
            result = {"transactionId": next(self.tx_ids), "idTagInfo": {"status": "Accepted"}}
        try:
            self.client.publish(self.prefix + "cs/" + cid, orjson.dumps(
                {"MessageTypeId": 3, "UniqueId": body["UniqueId"], "Payload": result}), qos=1)
        except OverflowError:  # gmqtt out of packet ids around a broker restart
            self.publish_errors += 1  # the charge point gets InternalError and sends again
        return 0

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.client.disconnect()


class GatewayProcess:
    """`ocpp-mqtt serve` in its own process, so that a test can SIGKILL it."""

    def __init__(self, port: int, broker: int, prefix: str, gateway_id: str, log: Path,
                 *extra: str) -> None:
        self.args = [EXE, "serve", "--listen", f"127.0.0.1:{port}",
                     "--mqtt", f"mqtt://127.0.0.1:{broker}", "--prefix", prefix,
                     "--gateway-id", gateway_id, "--qos", "1", "--call-timeout", "5",
                     "--broker-outage-grace", "1", "--mqtt-reconnect-min", "0.2",
                     "--mqtt-reconnect-max", "1", "--log-level", "warning", *extra]
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        with open(self.log, "ab") as sink:
            return subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=sink)

    async def start(self) -> None:
        self.proc = await asyncio.to_thread(self._spawn)
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), 20)
        assert b"charge points connect to" in line, line

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)
            self.proc = None

    def stop(self) -> int:
        if self.proc is None:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(20)
        self.proc = None
        return code
