"""One simulated charge point's life: connect (with the RC-01 back-off), BootNotification until
Accepted (Pending and Rejected retried after the interval, nothing else sent meanwhile, ER-10),
StatusNotification per connector, Heartbeats, answers to the central system's CALLs, and the
transactions of `charging.py`. A dropped connection is reconnected without a new Boot (RC-02);
transaction messages wait in a queue over disconnects and go out after the reconnect."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

from ..ocppj.validation import Schemas
from ..ocppj.versions import Version
from . import commands, messages
from .charging import Charging
from .link import Connect, ConnectError, Link
from .meter import Meter
from .options import SimOptions
from .rpc import CallFailed, Reply, Rpc
from .station import Connector, Station, default_keys
from .stats import VersionStats


class ChargePoint:
    def __init__(self, identity: str, version: Version, options: SimOptions, connect: Connect,
                 schemas: Schemas, stats: VersionStats, rng: random.Random,
                 url_turn: int = 0) -> None:
        self.identity = identity
        self.version = version
        self.options = options
        self._url_turn = url_turn  # with several URLs: where the next attempt goes
        self.url = options.url_of(identity, url_turn)  # of the latest connection attempt
        self._connect = connect
        self.schemas = schemas
        self.stats = stats
        self.rng = rng
        keys = default_keys(options.connectors, options.heartbeat_interval or 0,
                            options.meter_interval)
        keys["RetryBackOffWaitMinimum"].value = f"{options.reconnect_min:g}"
        keys["RetryBackOffRandomRange"].value = f"{options.reconnect_range:g}"
        keys["RetryBackOffRepeatTimes"].value = str(options.reconnect_doublings)
        self.station = Station(
            [Connector(i + 1, Meter(rng, options.max_power * 1000, options.phases))
             for i in range(options.connectors)],
            keys, options.max_power * 1000)
        self.rpc: Rpc | None = None  # while connected
        self.link: Link | None = None
        self.accepted = False  # the last BootNotification was Accepted
        self.boot_needed = True  # a (re)boot: send BootNotification on the next connection
        self.ever_connected = False
        self.online = asyncio.Event()  # connected and accepted
        self.stopping = asyncio.Event()
        self.draining = False  # stop() began: no new transactions
        self.charging = Charging(self)
        # told (charge point, event, detail) on: connected, connect_failed (detail: its kind),
        # booted, reported (the statuses after a Boot answered), disconnected
        self.on_event: Callable[[ChargePoint, str, str], None] | None = None
        # told (charge point, action, payload sent, result) for every CALL it sent that got
        # a CALLRESULT (a transaction message answered leaves the queue at that moment)
        self.on_answered: Callable[[ChargePoint, str, dict[str, Any], dict[str, Any]],
                                   None] | None = None
        # told (charge point, unique id, action, payload) for every CALL of the central
        # system it receives, before answering it
        self.on_call: Callable[[ChargePoint, str, str, dict[str, Any]], None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        stats.charge_points += 1

    # ---- life ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Until `stop()`: connect, run the connection, back off, reconnect."""
        self.charging.start()
        failures = 0
        try:
            while not self.stopping.is_set():
                link = await self._open(failures)
                if link is None:
                    failures += 1
                    await self._sleep(self._backoff(failures - 1))
                    continue
                failures = 0
                await self._connection(link)
                if not self.stopping.is_set():
                    await self._sleep(self._backoff(0))
        finally:
            self.charging.cancel()
            for task in list(self._tasks):
                task.cancel()

    async def stop(self) -> None:
        """End transactions in progress, let queued messages go out (bounded by the stop
        timeout), then close the connection."""
        self.draining = True
        self.charging.stop_all("Local")
        # a charge point offline meanwhile goes on reconnecting: its queue may still go out
        await self.charging.settle(lambda: not (
            self.charging.busy() or (self.rpc is not None and self.rpc.busy)),
            self.options.stop_timeout)
        self.stopping.set()
        if self.link is not None:
            await self.link.close()

    @property
    def idle(self) -> bool:
        """Booted, done with its transactions and nothing left to send (for --until-idle)."""
        return self.online.is_set() and self.charging.done()

    def _backoff(self, failures: int) -> float:
        """RC-01: minimum doubled per failure (up to RetryBackOffRepeatTimes), plus random."""
        keys = self.station
        wait = keys.float_key("RetryBackOffWaitMinimum", self.options.reconnect_min)
        spread = keys.float_key("RetryBackOffRandomRange", self.options.reconnect_range)
        doublings = min(failures, keys.int_key("RetryBackOffRepeatTimes",
                                                 self.options.reconnect_doublings))
        return float(wait * 2 ** doublings + self.rng.uniform(0, spread))

    async def _sleep(self, seconds: float) -> None:
        """Sleep, or return early when the charge point stops."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def _open(self, failures: int) -> Link | None:
        self.url = self.options.url_of(self.identity, self._url_turn)
        self._url_turn += 1
        try:
            async with asyncio.timeout(self.options.connect_timeout):
                return await self._connect(self.url, self.version.subprotocol, self.identity,
                                           self.options.password, self.options.connect_timeout)
        except ConnectError as exc:
            kind = exc.kind
        except TimeoutError:
            kind = "timeout"
        self.stats.connect_errors[kind] += 1
        self._event("connect_failed", kind)
        return None

    def _event(self, event: str, detail: str = "") -> None:
        if self.on_event is not None:
            self.on_event(self, event, detail)

    def _answered(self, action: str, payload: dict[str, Any], result: dict[str, Any]) -> None:
        if self.on_answered is not None:
            self.on_answered(self, action, payload, result)

    def _call_received(self, unique_id: str, action: str, payload: dict[str, Any]) -> None:
        if self.on_call is not None:
            self.on_call(self, unique_id, action, payload)

    async def _connection(self, link: Link) -> None:
        stats = self.stats
        stats.connects += 1
        stats.connected += 1
        if self.ever_connected:
            stats.reconnects += 1
        self.ever_connected = True
        self._event("connected")
        self.link = link
        self.rpc = rpc = Rpc(self.version, link, self.schemas, stats, self._handle,
                             self.options.call_timeout)
        rpc.on_settled = self.charging.changed.set
        rpc.on_answered = self._answered
        rpc.on_call = self._call_received
        reader = asyncio.create_task(self._read(link, rpc))
        online = asyncio.create_task(self._online(rpc))
        try:
            await asyncio.wait({reader, online}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            rpc.close()
            self.rpc = self.link = None
            if self.online.is_set():
                self.online.clear()
                stats.booted -= 1
            stats.connected -= 1
            self.charging.changed.set()
            self._event("disconnected")
            for task in (reader, online):
                task.cancel()
            await asyncio.gather(reader, online, return_exceptions=True)
            if not link.closed:
                await link.close()

    async def _read(self, link: Link, rpc: Rpc) -> None:
        while (text := await link.receive()) is not None:
            await rpc.on_text(text)

    async def _online(self, rpc: Rpc) -> None:
        if (self.boot_needed or not self.accepted) and not await self._boot(rpc, "PowerUp"):
            return
        self.online.set()
        self.stats.booted += 1
        self._event("booted")
        sender = asyncio.create_task(self.charging.send_queued(rpc))
        try:
            if self.options.report_status:
                await self.send_all_status(rpc)
            self._event("reported")
            await self._heartbeats(rpc)
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)

    async def _boot(self, rpc: Rpc, reason: str) -> bool:
        """BootNotification until Accepted; False when the connection went away first."""
        while True:
            try:
                result = await rpc.call("BootNotification",
                                        messages.boot(self.version, self.identity, reason))
            except CallFailed as exc:
                if exc.kind == "closed":
                    return False
                await self._sleep(self.options.boot_retry)  # a CALLERROR or no answer
                continue
            interval = result.get("interval", 0)
            status = result.get("status")
            if status == "Accepted":
                self.stats.boots += 1
                self.accepted, self.boot_needed = True, False
                if self.options.heartbeat_interval is None and isinstance(interval, int):
                    self.station.keys["HeartbeatInterval"].value = str(interval)
                return True
            self.accepted = False
            if status == "Pending":
                self.stats.boots_pending += 1
            else:
                self.stats.boots_rejected += 1
            # B02/B03: wait the interval (or our own when it is 0), answering CALLs meanwhile
            wait = interval if isinstance(interval, int) and interval > 0 else None
            await self._sleep(wait or self.options.boot_retry)
            if self.stopping.is_set():
                return False

    async def _heartbeats(self, rpc: Rpc) -> None:
        while True:
            interval = self.station.float_key("HeartbeatInterval", 0)
            await asyncio.sleep(interval if interval > 0 else 60)
            if interval > 0 and not await self.send(rpc, "Heartbeat", {}):
                return

    async def send(self, rpc: Rpc, action: str, payload: dict[str, Any]) -> bool:
        """A message that is not kept when it cannot be sent; False once the connection is
        gone."""
        try:
            await rpc.call(action, payload)
        except CallFailed as exc:
            return exc.kind != "closed"
        return True

    async def send_all_status(self, rpc: Rpc) -> None:
        if self.version is Version.V16 and self.options.status_connector_zero:
            # connector 0: the charge point itself
            await self.send(rpc, "StatusNotification", messages.status(self.version, 0,
                                                                        "Available"))
        for connector in self.station.connectors:
            await self.send_status(connector, force=True)

    async def send_status(self, connector: Connector, force: bool = False) -> None:
        """StatusNotification when the status changed (2.x has fewer states than 1.6:
        Preparing, Charging and Finishing are all Occupied, reported once)."""
        rpc = self.rpc
        if rpc is None or not self.online.is_set():
            return
        payload = messages.status(self.version, connector.id, connector.state)
        reported = payload["status" if self.version is Version.V16 else "connectorStatus"]
        if reported == connector.reported and not force:
            return
        connector.reported = reported
        await self.send(rpc, "StatusNotification", payload)

    # ---- the central system's CALLs -------------------------------------------------------

    async def _handle(self, action: str, payload: dict[str, Any]) -> Reply:
        reply, effects = commands.answer(self.station, self.version, action, payload)
        if action == "GetTransactionStatus" and reply.payload is not None:
            reply.payload["messagesInQueue"] = self.charging.has_queued(
                payload.get("transactionId"))
        if effects:
            reply = replace(reply, then=lambda: self.spawn(self._apply(effects)))
        return reply

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _apply(self, effects: list[commands.Effect]) -> None:
        for effect in effects:
            if isinstance(effect, commands.StartCharging):
                self.charging.remote_start(effect.connector, effect.id_tag,
                                           effect.remote_start_id)
            elif isinstance(effect, commands.StopCharging):
                self.charging.stop(effect.connector, effect.reason)
            elif isinstance(effect, commands.StatusChanged):
                for number in effect.connectors:
                    connector = self.station.connector(number)
                    if connector is not None:
                        await self.send_status(connector)
            elif isinstance(effect, commands.Trigger):
                await self._triggered(effect.message, effect.connector)
            elif isinstance(effect, commands.Reboot):
                await self.reboot(effect.hard)

    async def reboot(self, hard: bool) -> None:
        """Reset: end transactions, close the connection, come back with a BootNotification."""
        reason = ("HardReset" if hard else "SoftReset") if self.version is Version.V16 \
            else "ImmediateReset"
        self.charging.stop_all(reason)
        await self.charging.wait_ended(5.0)
        self.station.reset_when_idle = False
        self.boot_needed = True
        if self.link is not None:
            await self.link.close()

    async def _triggered(self, message: str, number: int | None) -> None:
        rpc = self.rpc
        if rpc is None:
            return
        connectors = ([c for c in self.station.connectors if c.id == number] if number
                      else self.station.connectors)
        if message == "BootNotification":
            try:
                result = await rpc.call("BootNotification",
                                        messages.boot(self.version, self.identity, "Triggered"))
            except CallFailed:
                return
            if result.get("status") == "Accepted" and self.options.heartbeat_interval is None:
                self.station.keys["HeartbeatInterval"].value = str(result.get("interval", 0))
        elif message == "Heartbeat":
            await self.send(rpc, "Heartbeat", {})
        elif message == "StatusNotification":
            for connector in connectors:
                await self.send_status(connector, force=True)
        elif message == "MeterValues":
            for connector in connectors:
                await self.send(rpc, "MeterValues", self.charging.triggered_meter_values(
                    connector))
        elif message == "TransactionEvent":
            for connector in connectors:
                self.charging.trigger_event(connector)
        else:  # Diagnostics/Firmware/LogStatusNotification: nothing in progress
            await self.send(rpc, message, {"status": "Idle"})
