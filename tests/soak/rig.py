"""The pieces of the soak and fault tests: the load (`ocpp-mqtt simulate`'s charge points, whose
answered transaction messages a `Ledger` records through the simulator's hooks), a backend that
answers them over MQTT and counts what arrives by `MessageKey`, a Mosquitto that persists its
sessions, and the gateway processes the tests kill and restart."""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from gmqtt import Client
from gmqtt.mqtt.constants import MQTTv50

from ocpp_mqtt.modes.repeats import TRANSACTION_ACTIONS, message_key
from ocpp_mqtt.ocppj.versions import Version
from ocpp_mqtt.simulate.chargepoint import ChargePoint
from ocpp_mqtt.simulate.options import SimOptions, Span
from ocpp_mqtt.simulate.runner import Fleet, run
from tests.conftest import Mosquitto

EXE = str(Path(sys.executable).parent / "ocpp-mqtt")
NOW = "2026-11-21T10:00:00Z"


def persistent_broker(workdir: Path) -> Mosquitto:
    broker = Mosquitto(workdir)
    broker.conf.write_text(broker.conf.read_text().replace(
        "persistence false\n",
        f"persistence true\npersistence_location {workdir}/\nautosave_interval 1\n"
        # the test backend (gmqtt) publishes answers fast: more than Mosquitto's default 20
        # QoS 1 messages in flight per client
        "max_inflight_messages 1000\n"))
    return broker


def load_options(url: str, identity: str, count: int, long: bool, **changes: Any) -> SimOptions:
    """The simulator as the soak's load: every version, transactions back to back (a short
    pause, 1-3 s each) with meter values every 0.1 s (1 s in the long form, 1,000 charge
    points), fast reconnects, and a stop that waits for every queued message."""
    values: dict[str, Any] = {
        "count": count, "url": url, "identity": identity + "{n}", "first": 0, "rate": 0,
        "tx_pause": Span(0.0, 0.2), "tx_duration": Span(1.0, 3.0),
        "meter_interval": 1.0 if long else 0.03, "call_timeout": 15.0, "connect_timeout": 5.0,
        "reconnect_min": 0.1, "reconnect_range": 0.2, "boot_retry": 1.0,
        "stop_timeout": 120.0 if long else 45.0, "quiet": True,
        "seed": random.randrange(2**32)}
    values.update(changes)
    return SimOptions(**values)


@dataclass
class Ledger:
    """What the charge points had answered, told by the simulator's hooks: each transaction
    message by the `MessageKey` the gateway computes from it, and each CALL received."""

    answered: dict[str, tuple[str, str]] = field(default_factory=dict)  # key: (identity, action)
    collisions: int = 0  # two answered messages with one key: the count would be blind
    calls_seen: Counter[tuple[str, str]] = field(default_factory=Counter)  # (identity, id)

    def watch(self, cp: ChargePoint) -> None:
        cp.on_answered = self.on_answered
        cp.on_call = self.on_call

    def on_answered(self, cp: ChargePoint, action: str, payload: dict[str, Any],
                    result: dict[str, Any]) -> None:
        if action in TRANSACTION_ACTIONS:
            key = message_key(cp.identity, action, payload)
            self.collisions += key in self.answered
            self.answered[key] = (cp.identity, action)

    def on_call(self, cp: ChargePoint, unique_id: str, action: str,
                payload: dict[str, Any]) -> None:
        self.calls_seen[(cp.identity, unique_id)] += 1


@dataclass
class Load:
    """A simulator run in the background (`ocpp_mqtt.simulate.runner.run`)."""

    fleet: Fleet
    ledger: Ledger
    stop_event: asyncio.Event
    task: asyncio.Task[dict[str, Any]]

    async def stop(self) -> dict[str, Any]:
        """Stop cleanly: transactions end, queued messages go out (within the stop timeout,
        through reconnects); the run's summary."""
        self.stop_event.set()
        options = self.fleet.options
        return await asyncio.wait_for(
            asyncio.shield(self.task), options.stop_timeout + options.call_timeout + 30)

    def unanswered(self) -> list[str]:
        """Charge points with transaction messages still queued."""
        return [cp.identity for cp in self.fleet.charge_points if cp.charging.queue]


@contextlib.asynccontextmanager
async def load(options: SimOptions) -> AsyncIterator[Load]:
    ledger = Ledger()
    stop = asyncio.Event()
    fleets: list[Fleet] = []
    ready = asyncio.Event()

    def on_fleet(fleet: Fleet) -> None:  # before the ramp starts them
        fleets.append(fleet)
        for cp in fleet.charge_points:
            ledger.watch(cp)
        ready.set()

    task = asyncio.create_task(run(options, stop, io.StringIO(), on_fleet=on_fleet))
    waiter = asyncio.ensure_future(ready.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if not fleets:
        task.result()  # raises what ended it
    running = Load(fleets[0], ledger, stop, task)
    try:
        yield running
    finally:
        stop.set()
        if not task.done():
            await asyncio.wait({task}, timeout=options.stop_timeout + options.call_timeout + 30)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def answer(version: Version, action: str, tx_ids: itertools.count[int]) -> dict[str, Any]:
    """What a central system answers a charge point's CALL (valid for its version)."""
    if action == "BootNotification":
        return {"status": "Accepted", "currentTime": NOW, "interval": 60}
    if action == "Heartbeat":
        return {"currentTime": NOW}
    if action == "Authorize":
        info = "idTagInfo" if version is Version.V16 else "idTokenInfo"
        return {info: {"status": "Accepted"}}
    if action == "StartTransaction":
        return {"transactionId": next(tx_ids), "idTagInfo": {"status": "Accepted"}}
    return {}  # StatusNotification, MeterValues, StopTransaction, TransactionEvent


class TxBackend:
    """Answers every charge point CALL on `{prefix}cp/+` and counts the transaction messages
    that reached MQTT by their `MessageKey`, checking that each copy carries the key of its
    own content. Its session outlives broker restarts (the broker persists it)."""

    def __init__(self, port: int, prefix: str, answer: bool = True) -> None:
        self.port = port
        self.prefix = prefix
        self.answer = answer  # False: the gateway answers (central mode); only count
        self.client = Client(f"soak-backend-{os.getpid()}-{random.randrange(1 << 30)}",
                             clean_session=False, session_expiry_interval=3600)
        self.client.on_message = self._on_message
        self.versions: dict[str, Version] = {}  # identity: version, for the answers
        self.received: Counter[str] = Counter()  # MessageKey: copies
        self.wrong_keys: list[tuple[str, str, Any]] = []  # (cid, action, MessageKey) wrong
        self.marked = 0  # copies that arrived with Duplicate: true
        self.possible = 0  # with PossibleDuplicate: true (re-sent from the outbox after a crash)
        self.unmarked: Counter[str] = Counter()  # copies without any mark
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
        if body.get("MessageTypeId") != 2:
            return 0
        cid = topic.rsplit("/", 1)[1]
        action = body["Action"]
        data = body["Payload"]
        if isinstance(data, str):
            data = orjson.loads(data)
        if action in TRANSACTION_ACTIONS:
            self._count(cid, action, data, body, properties)
        if not self.answer:
            return 0
        result = answer(self.versions.get(cid, Version.V16), action, self.tx_ids)
        try:
            self.client.publish(self.prefix + "cs/" + cid, orjson.dumps(
                {"MessageTypeId": 3, "UniqueId": body["UniqueId"], "Payload": result}), qos=1)
        except OverflowError:  # gmqtt out of packet ids around a broker restart
            self.publish_errors += 1  # the charge point gets InternalError and sends again
        return 0

    def _count(self, cid: str, action: str, data: dict[str, Any], body: dict[str, Any],
               properties: dict[str, Any]) -> None:
        key = body.get("MessageKey")
        if key != message_key(cid, action, data):
            self.wrong_keys.append((cid, action, key))
        self.received[str(key)] += 1
        self.marked += body.get("Duplicate") is True
        self.possible += body.get("PossibleDuplicate") is True
        if properties.get("dup"):
            self.dup_flagged += 1
        marked = body.get("Duplicate") is True or body.get("PossibleDuplicate") is True
        if not marked and not properties.get("dup"):
            self.unmarked[str(key)] += 1

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
