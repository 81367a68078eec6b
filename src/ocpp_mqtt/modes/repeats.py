"""Marking repeated transaction messages.

A charge point sends a transaction message again when it never saw the answer (the gateway
restarted, the socket dropped, the answer was a CALLERROR), often under a new message id, and
an MQTT broker may deliver a QoS 1 message twice. Billing backends must count each once, so
every transaction message published carries a `MessageKey`: a digest of the charge point's
identity, the action and the payload (keys sorted, so re-serialising does not change it). It is
the same on every instance and across restarts, which makes it the backend's exact de-duplication
key. An instance also remembers the keys it relayed recently and adds `Duplicate: true` (with the
time it first saw the message) to a repeat: a hint for humans and simple consumers, limited to
what that instance saw.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import orjson

TRANSACTION_ACTIONS = ("StartTransaction", "StopTransaction", "MeterValues", "TransactionEvent")


def message_key(identity: str, action: str, payload: dict[str, Any]) -> str:
    # sha256: hardware-accelerated on current CPUs, faster here than blake2b or md5
    text = b"%b\0%b\0%b" % (identity.encode("utf-8", "surrogatepass"), action.encode(),
                             orjson.dumps(payload, option=orjson.OPT_SORT_KEYS))
    return hashlib.sha256(text).hexdigest()[:24]


class Repeats:
    """Which actions are keyed, and the keys seen within `window` seconds (at most `capacity`,
    oldest forgotten first)."""

    def __init__(self, actions: list[str], window: float, capacity: int) -> None:
        self.actions = frozenset(actions)
        self.window_ms = int(window * 1000)
        self.capacity = capacity
        self._seen: OrderedDict[str, int] = OrderedDict()
        # central mode keeps the keys in its store too, so repeats after a restart are flagged
        self.on_new: Callable[[str, int], None] | None = None

    def load(self, keys: list[tuple[str, int]]) -> None:
        """Keys remembered elsewhere (key, first seen ms), oldest first."""
        for key, first in keys:
            self._seen[key] = first
        while len(self._seen) > self.capacity:
            self._seen.popitem(last=False)

    def mark(self, identity: str, action: str, payload: dict[str, Any],
             now_ms: int | None = None) -> bytes:
        """The keys to add to the published message (`b""` for an action that is not keyed)."""
        if action not in self.actions:
            return b""
        key = message_key(identity, action, payload)
        extra = b',"MessageKey":"%b"' % key.encode()
        if not self.window_ms:
            return extra
        now = int(time.time() * 1000) if now_ms is None else now_ms
        first = self._forget_before(now - self.window_ms).get(key)
        if first is not None:
            return extra + b',"Duplicate":true,"FirstSeenAt":%d' % first
        self._seen[key] = now
        if self.on_new is not None:
            self.on_new(key, now)
        if len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
        return extra

    def _forget_before(self, limit_ms: int) -> OrderedDict[str, int]:
        seen = self._seen
        while seen:
            oldest = next(iter(seen.values()))
            if oldest >= limit_ms:
                break
            seen.popitem(last=False)
        return seen

    def __len__(self) -> int:
        return len(self._seen)
