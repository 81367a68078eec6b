"""Transactions of one charge point: each connector waits, authorizes, charges and stops;
meter values per phase at the meter interval; remote starts and stops. Transaction messages
(1.6 StartTransaction, MeterValues, StopTransaction; 2.x TransactionEvent) go into a queue that
survives disconnects and is sent in order, one at a time, once the charge point is online again.
A CALLERROR on one is retried up to TransactionMessageAttempts times, then given up (counted)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..ocppj.versions import Version
from . import messages
from .rpc import CallFailed, Rpc
from .station import Connector, Transaction

if TYPE_CHECKING:
    from .chargepoint import ChargePoint

# how a transaction ends: 1.6 reason -> (2.x triggerReason, stoppedReason)
_STOPS_2X = {
    "Local": ("StopAuthorized", "Local"),
    "EVDisconnected": ("EVCommunicationLost", "EVDisconnected"),
    "Remote": ("RemoteStop", "Remote"),
    "ImmediateReset": ("ResetCommand", "ImmediateReset"),
    "UnlockCommand": ("UnlockCommand", "Other"),
    "DeAuthorized": ("Deauthorized", "DeAuthorized"),
}


@dataclass(slots=True)
class Queued:
    action: str
    payload: dict[str, Any]
    tx: Transaction
    attempts: int = 0


@dataclass(slots=True)
class _Slot:
    """A connector's wake-up call: a stop request, a remote start, the end of a transaction."""

    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class Charging:
    def __init__(self, cp: ChargePoint) -> None:
        self.cp = cp
        self.queue: deque[Queued] = deque()
        self._queued = asyncio.Event()
        self.changed = asyncio.Event()  # see settle()
        self._slots = {c.id: _Slot() for c in cp.station.connectors}
        self._sessions: set[asyncio.Task[None]] = set()
        self._tx_numbers = 0

    def start(self) -> None:
        for connector in self.cp.station.connectors:
            self._slots[connector.id].task = asyncio.create_task(self._connector(connector))

    def cancel(self) -> None:
        for slot in self._slots.values():
            if slot.task is not None:
                slot.task.cancel()
        for task in list(self._sessions):
            task.cancel()

    # ---- what the charge point asks ---------------------------------------------------

    def busy(self) -> bool:
        """A transaction in progress or a message not yet answered."""
        return bool(self.queue) or any(c.transaction for c in self.cp.station.connectors)

    def done(self) -> bool:
        limit = self.cp.options.per_connector_transactions
        return not self.busy() and limit is not None and all(
            c.transactions_done >= limit for c in self.cp.station.connectors)

    def has_queued(self, tx_id: Any) -> bool:
        return any(tx_id is None or q.tx.tx_id == tx_id for q in self.queue)

    def stop(self, number: int, reason: str) -> None:
        connector = self.cp.station.connector(number)
        if connector is not None and connector.transaction is not None:
            connector.transaction.stop_reason = connector.transaction.stop_reason or reason
            self._slots[number].wake.set()

    def stop_all(self, reason: str) -> None:
        for connector in self.cp.station.connectors:
            self.stop(connector.id, reason)

    async def settle(self, condition: Callable[[], bool], seconds: float) -> None:
        """Wait until `condition()` holds (re-checked when a transaction ends, a queued
        message is done or the connection drops), at most `seconds`."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while not condition():
                    self.changed.clear()
                    await self.changed.wait()

    async def _sent(self, tx: Transaction) -> None:
        """Wait until the transaction's queued messages are answered, or the charge point is
        offline (statuses are not queued), at most a call timeout."""
        await self.settle(lambda: not self.cp.online.is_set() or not any(
            q.tx is tx for q in self.queue), self.cp.options.call_timeout)

    async def wait_ended(self, seconds: float) -> None:
        await self.settle(lambda: not any(c.transaction for c in self.cp.station.connectors),
                          seconds)

    def remote_start(self, number: int, id_tag: str, remote_start_id: int | None) -> None:
        connector = self.cp.station.connector(number)
        if connector is None or not connector.free or self.cp.draining:
            return
        trigger = "RemoteStart"
        self._begin(connector, id_tag, remote_start_id, trigger)

    def triggered_meter_values(self, connector: Connector) -> dict[str, Any]:
        tx = connector.transaction
        if self.cp.version is Version.V16:
            tx_id = tx.tx_id if tx is not None and isinstance(tx.tx_id, int) else None
            return messages.meter_values_16(connector.id, tx_id, connector.meter, "Trigger")
        return messages.meter_values_2x(self.cp.version, connector.id, connector.meter)

    def trigger_event(self, connector: Connector) -> None:
        tx = connector.transaction
        if tx is not None and self.cp.version.is_2x:
            self._event(tx, "Updated", "Trigger", connector, context="Trigger")

    # ---- one connector ------------------------------------------------------------------

    async def _connector(self, connector: Connector) -> None:
        cp, options = self.cp, self.cp.options
        slot = self._slots[connector.id]
        limit = options.per_connector_transactions
        while limit is None or connector.transactions_done < limit:
            await self._pause(connector, slot)
            if cp.draining:
                return
            id_tag = cp.rng.choice(options.id_tags)
            connector.state = "Preparing"
            await cp.send_status(connector)
            if not await self._authorize(id_tag):
                self.cp.stats.authorize_rejected += 1
                connector.state = "Available"
                await cp.send_status(connector)
                await self._wait(slot, cp.rng.uniform(options.tx_pause.low,
                                                      options.tx_pause.high))
                continue
            if cp.draining:  # stop() came while the Authorize was out: no new transaction
                connector.state = "Available"
                await cp.send_status(connector)
                return
            if connector.transaction is None:
                session = self._begin(connector, id_tag, None, "Authorized")
                await asyncio.shield(session)

    async def _pause(self, connector: Connector, slot: _Slot) -> None:
        """The pause before a transaction, begun again after any transaction the central
        system started meanwhile; returns with the connector free and the charge point online.
        """
        cp, span = self.cp, self.cp.options.tx_pause
        loop = asyncio.get_running_loop()
        until = loop.time() + cp.rng.uniform(span.low, span.high)
        while True:
            await self._wait(slot, until - loop.time())
            if not connector.free:  # a remote start, or unavailable: wait for its end
                while not connector.free:
                    await self._wait(slot, 3600)
                until = loop.time() + cp.rng.uniform(span.low, span.high)
            elif loop.time() >= until:
                await cp.online.wait()
                if connector.free or cp.draining:
                    return

    async def _wait(self, slot: _Slot, seconds: float) -> None:
        slot.wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(slot.wake.wait(), seconds)

    async def _authorize(self, id_tag: str) -> bool:
        rpc = self.cp.rpc
        if rpc is None:
            return False
        try:
            result = await rpc.call("Authorize", messages.authorize(self.cp.version, id_tag))
        except CallFailed:
            return False
        info = result.get("idTagInfo") or result.get("idTokenInfo") or {}
        return bool(info.get("status") == "Accepted")

    def _begin(self, connector: Connector, id_tag: str, remote_start_id: int | None,
               trigger: str) -> asyncio.Task[None]:
        cp = self.cp
        meter = connector.meter
        meter.plug_in()
        meter.charging = True
        meter.advance(0)
        self._tx_numbers += 1
        tx_id: str | None = None
        if cp.version.is_2x:
            bits = cp.rng.getrandbits
            tx_id = (f"{bits(32):08x}-{bits(16):04x}-4{bits(12):03x}-8{bits(12):03x}-"
                     f"{bits(48):012x}")  # a UUID4 from the seeded generator
        tx = Transaction(connector.id, id_tag, tx_id, meter.energy_int, remote_start_id,
                         offline=not cp.online.is_set())
        connector.transaction = tx
        connector.state = "Charging"
        cp.stats.charging += 1
        cp.stats.transactions_started += 1
        if cp.version is Version.V16:
            self._enqueue("StartTransaction",
                          messages.start_transaction(connector.id, id_tag, tx.meter_start), tx)
        else:
            self._event(tx, "Started", trigger, connector, context="Transaction.Begin",
                        id_tag=id_tag, charging_state="Charging")
        task = asyncio.create_task(self._session(connector, tx))
        self._sessions.add(task)
        task.add_done_callback(self._sessions.discard)
        return task

    async def _session(self, connector: Connector, tx: Transaction) -> None:
        cp, options = self.cp, self.cp.options
        loop = asyncio.get_running_loop()
        slot = self._slots[connector.id]
        meter = connector.meter
        await self._sent(tx)  # Charging after the StartTransaction answer, as chargers do
        await cp.send_status(connector)
        end = loop.time() + cp.rng.uniform(options.tx_duration.low, options.tx_duration.high)
        last = loop.time()
        while tx.stop_reason is None:
            interval = cp.station.float_key("MeterValueSampleInterval", options.meter_interval)
            await self._wait(slot, min(interval if interval > 0 else 3600, end - loop.time()))
            now = loop.time()
            meter.advance(now - last)
            last = now
            if tx.stop_reason is not None:
                break
            if now >= end:
                tx.stop_reason = cp.rng.choice(("Local", "EVDisconnected"))
                break
            if cp.version is Version.V16:
                self._enqueue("MeterValues",
                              messages.meter_values_16(connector.id, None, meter), tx)
            else:
                self._event(tx, "Updated", "MeterValuePeriodic", connector,
                            charging_state="Charging")
        meter.advance(loop.time() - last)
        meter.charging = False
        meter.advance(0)
        self._end(connector, tx)
        await self._sent(tx)
        connector.state = "Finishing" if cp.version is Version.V16 else "Available"
        await cp.send_status(connector)
        if connector.state == "Finishing":
            connector.state = "Available"
            await cp.send_status(connector)
        if connector.inoperative_after_transaction:
            connector.inoperative_after_transaction = False
            connector.operative = False
            connector.state = "Unavailable"
            await cp.send_status(connector)
        slot.wake.set()
        if cp.station.reset_when_idle and not any(c.transaction
                                                  for c in cp.station.connectors):
            cp.spawn(cp.reboot(True))

    def _end(self, connector: Connector, tx: Transaction) -> None:
        cp = self.cp
        reason = tx.stop_reason or "Local"
        if cp.version is Version.V16:
            id_tag = tx.id_tag if reason == "Local" else None
            self._enqueue("StopTransaction", messages.stop_transaction(
                0, connector.meter.energy_int, reason, id_tag), tx)
            # the transaction's MeterValues use transactionData-free messages; see send_queued
        else:
            trigger, stopped = _STOPS_2X.get(reason, ("AbnormalCondition", "Other"))
            self._event(tx, "Ended", trigger, connector, context="Transaction.End",
                        charging_state="Idle", stopped_reason=stopped)
        tx.ended = True
        connector.transaction = None
        connector.transactions_done += 1
        cp.stats.charging -= 1
        cp.stats.transactions_ended += 1
        self.changed.set()

    def _event(self, tx: Transaction, event: str, trigger: str, connector: Connector, *,
               context: str = "Sample.Periodic", id_tag: str | None = None,
               charging_state: str | None = None, stopped_reason: str | None = None) -> None:
        assert isinstance(tx.tx_id, str)
        payload = messages.transaction_event(
            event, transaction_id=tx.tx_id, seq_no=tx.next_seq(), trigger=trigger,
            evse=connector.id, charging_state=charging_state, id_tag=id_tag,
            meter=connector.meter, context=context, stopped_reason=stopped_reason,
            remote_start_id=tx.remote_start_id if event == "Started" else None,
            offline=not self.cp.online.is_set(), version=self.cp.version)
        self._enqueue("TransactionEvent", payload, tx)

    def _enqueue(self, action: str, payload: dict[str, Any], tx: Transaction) -> None:
        self.queue.append(Queued(action, payload, tx))
        self.cp.stats.queued += 1
        self._queued.set()

    # ---- the queue's sender (one per connection, once booted) ---------------------------

    async def send_queued(self, rpc: Rpc) -> None:
        cp = self.cp
        while True:
            if not self.queue:
                self._queued.clear()
                await self._queued.wait()
                continue
            item = self.queue[0]
            payload = item.payload
            if item.action in ("MeterValues", "StopTransaction"):
                if item.tx.tx_id is None:  # its StartTransaction was never answered
                    self._drop()
                    continue
                payload = {**payload, "transactionId": item.tx.tx_id}
            try:
                result = await rpc.call(item.action, payload)
            except CallFailed as exc:
                if exc.kind == "closed":
                    return
                if exc.kind == "error":
                    item.attempts += 1
                    attempts = cp.station.int_key("TransactionMessageAttempts", 3)
                    if item.attempts >= max(1, attempts):
                        self._drop()
                        continue
                    retry = cp.station.float_key("TransactionMessageRetryInterval", 10)
                    await asyncio.sleep(retry * item.attempts)
                continue  # a timeout: send it again
            self.queue.popleft()
            cp.stats.queued -= 1
            self.changed.set()
            if item.action == "StartTransaction":
                self._started(item.tx, result)

    def _drop(self) -> None:
        self.queue.popleft()
        self.cp.stats.queued -= 1
        self.cp.stats.dropped_messages += 1
        self.changed.set()

    def _started(self, tx: Transaction, result: dict[str, Any]) -> None:
        tx_id = result.get("transactionId")
        if isinstance(tx_id, int):
            tx.tx_id = tx_id
        status = (result.get("idTagInfo") or {}).get("status")
        if status != "Accepted" and not tx.ended:
            self.stop(tx.connector, "DeAuthorized")
