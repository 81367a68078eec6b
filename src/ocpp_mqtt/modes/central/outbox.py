"""The on-disk outbox: what the gateway promised a charge point reaches MQTT, in order.

Central mode answers charge points itself, so a StopTransaction is acknowledged whether or not
the broker is reachable. Each message that must not be lost is written to SQLite before the
charge point gets its answer, handed to the MQTT link when the link can take it, and deleted
when the broker acknowledged it (PUBACK). Rows left by a crash or a broker outage are published
first, in their original order, when the link is (back) up. Delivery is at least once: a
message whose PUBACK was lost with a crash is published again after the restart. So that a
backend can tell, the store keeps a mark at or above the last row the link wrote to its socket
(written before the row, once per `MARK_AHEAD` rows), and a keyed transaction message
(modes/repeats.py) left by an earlier run at or below that mark is published with
`"PossibleDuplicate":true`; rows that never left the process (stored while the broker was away,
or waiting in the link's backlog) go out unmarked.

Bounded by `outbox_max` rows. When it is full, `refuse` (the default) makes the gateway answer
charge point messages with a CALLERROR so the charger keeps them (it retries later, LC-01);
`drop_oldest` deletes the oldest rows instead, losing them but never refusing a charger.
"""

from __future__ import annotations

import asyncio
import logging

from ...northbound.mqtt import MqttLink
from .store import Store

log = logging.getLogger("ocpp_mqtt.outbox")

PAGE = 500  # rows read from disk at a time when catching up
CATCH_UP_BACKLOG = 2_000  # stop handing rows to the link while its own backlog is this long
MARK_AHEAD = 64  # rows written to the socket per write of the "sent" mark


class Outbox:
    def __init__(self, store: Store, limit: int, overflow: str) -> None:
        self.store = store
        self.limit = limit
        self.overflow = overflow
        self.link: MqttLink | None = None
        self.count = store.outbox_count()
        self._mark = store.meta_get("outbox_sent")
        # rows up to this seq may have been published by an earlier run
        self.carried = min(store.outbox_last(), self._mark)
        self.handed = 0  # rows up to this seq are with the link (or confirmed)
        self.waiting = self.count  # rows after `handed`: stored, not yet given to the link
        self.dropped = 0
        self._confirmed: list[int] = []
        self.closed = False  # the store is closed: late confirmations are not recorded
        self._delete_scheduled = False
        if self.count:
            log.info("outbox: messages left from an earlier run will be published first",
                     extra={"messages": self.count})

    def attach(self, link: MqttLink) -> None:
        self.link = link
        link.on_confirm = self._confirm
        link.on_sent = self._sent
        self.pump()

    @property
    def full(self) -> bool:
        return self.overflow == "refuse" and self.count >= self.limit

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """Store, then publish once everything stored before it was handed over."""
        if self.count >= self.limit and self.overflow == "drop_oldest":
            dropped = self.store.outbox_drop_oldest(max(1, self.limit // 100))
            self.count -= dropped
            self.dropped += dropped
            self.waiting = self.store.outbox_count_after(self.handed)
            log.warning("outbox full: oldest messages dropped", extra={
                "dropped": dropped, "dropped_total": self.dropped})
        qos = min(qos, 1)
        seq = self.store.outbox_add(topic, payload, qos, retain)
        self.count += 1
        link = self.link
        if link is not None and link.connected and not self.waiting:
            self.handed = seq
            link.publish_tracked(topic, payload, qos, retain, seq)
            return
        self.waiting += 1
        self.pump()

    def pump(self) -> None:
        """Hand stored rows to the link, in order, while it is up and not swamped."""
        link = self.link
        if link is None:
            return
        while link.connected and link.backlog < CATCH_UP_BACKLOG:
            rows = self.store.outbox_after(self.handed, PAGE)
            if not rows:
                self.waiting = 0
                return
            for seq, topic, payload, qos, retain in rows:
                self.handed = seq
                self.waiting -= 1
                if seq <= self.carried:
                    payload = possible_duplicate(payload)
                link.publish_tracked(topic, payload, qos, retain, seq)

    def _sent(self, seq: int) -> None:
        if seq > self._mark and not self.closed:  # on disk before the row reaches the socket
            self._mark = seq + MARK_AHEAD
            self.store.meta_set("outbox_sent", self._mark)

    def _confirm(self, seq: int) -> None:
        self._confirmed.append(seq)
        if not self._delete_scheduled:
            self._delete_scheduled = True
            asyncio.get_running_loop().call_soon(self._delete)

    def _delete(self) -> None:
        self._delete_scheduled = False
        if self.closed:
            return
        confirmed, self._confirmed = self._confirmed, []
        self.store.outbox_remove(confirmed)
        self.count = max(0, self.count - len(confirmed))
        if self.link is not None and self.link.backlog < CATCH_UP_BACKLOG // 2:
            self.pump()


def possible_duplicate(payload: bytes) -> bytes:
    """An earlier run may have published this message before it died: say so on keyed ones."""
    if payload.endswith(b"}") and b'"MessageKey":"' in payload and b'"Duplicate"' not in payload:
        return payload[:-1] + b',"PossibleDuplicate":true}'
    return payload
