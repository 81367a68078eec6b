"""What a run counts, per OCPP version: charge points, boots, transactions, messages, errors,
reconnects and round-trip latency (a log-bucket histogram: bounded memory whatever the run's
length, percentiles within 2.5 %)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

_BASE = 1.05  # bucket width: each bucket 5 % wider than the previous
_MIN = 1e-5  # 10 µs
_LOG = math.log(_BASE)


@dataclass(slots=True)
class Histogram:
    buckets: Counter[int] = field(default_factory=Counter)
    count: int = 0
    max: float = 0.0

    def add(self, seconds: float) -> None:
        index = 0 if seconds <= _MIN else int(math.log(seconds / _MIN) / _LOG) + 1
        self.buckets[index] += 1
        self.count += 1
        self.max = max(self.max, seconds)

    def merge(self, other: Histogram) -> None:
        self.buckets.update(other.buckets)
        self.count += other.count
        self.max = max(self.max, other.max)

    def percentile(self, q: float) -> float | None:
        """Seconds (the bucket's geometric middle), or None without samples."""
        if not self.count:
            return None
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                if index == 0:
                    return _MIN
                return float(min(self.max, _MIN * _BASE ** (index - 0.5)))
        return self.max


@dataclass(slots=True)
class VersionStats:
    charge_points: int = 0
    connected: int = 0  # now
    booted: int = 0  # now: connected and accepted
    charging: int = 0  # now: transactions in progress
    boots: int = 0  # BootNotifications answered Accepted
    boots_pending: int = 0
    boots_rejected: int = 0
    transactions_started: int = 0
    transactions_ended: int = 0
    sent: int = 0  # CALLs written, retries included
    answered: int = 0  # CALLRESULTs received
    timeouts: int = 0
    errors_received: Counter[str] = field(default_factory=Counter)
    errors_by_action: Counter[str] = field(default_factory=Counter)  # CALLERRORs per action
    calls_received: int = 0  # CALLs from the central system
    errors_sent: int = 0  # CALLERRORs we answered with
    bad_frames: int = 0
    unexpected: int = 0  # late or unknown answers (SY-06)
    connects: int = 0
    reconnects: int = 0
    connect_errors: Counter[str] = field(default_factory=Counter)
    authorize_rejected: int = 0
    dropped_messages: int = 0  # transaction messages given up after repeated CALLERRORs
    queued: int = 0  # transaction messages waiting now
    latency: Histogram = field(default_factory=Histogram)

    def merge(self, other: VersionStats) -> None:
        for name in self.__slots__:
            mine = getattr(self, name)
            theirs = getattr(other, name)
            if isinstance(mine, Counter):
                mine.update(theirs)
            elif isinstance(mine, Histogram):
                mine.merge(theirs)
            else:
                setattr(self, name, mine + theirs)

    def summary(self) -> dict[str, Any]:
        p50 = self.latency.percentile(0.50)
        p99 = self.latency.percentile(0.99)
        return {
            "charge_points": self.charge_points, "boots": self.boots,
            "boots_pending": self.boots_pending, "boots_rejected": self.boots_rejected,
            "transactions_started": self.transactions_started,
            "transactions_ended": self.transactions_ended,
            "messages_sent": self.sent, "messages_answered": self.answered,
            "callerrors_received": sum(self.errors_received.values()),
            "callerror_codes": dict(self.errors_received),
            "callerror_actions": dict(self.errors_by_action), "timeouts": self.timeouts,
            "calls_received": self.calls_received, "callerrors_sent": self.errors_sent,
            "connects": self.connects, "reconnects": self.reconnects,
            "connect_errors": dict(self.connect_errors),
            "authorize_rejected": self.authorize_rejected,
            "dropped_messages": self.dropped_messages, "queued": self.queued,
            "latency_p50_ms": None if p50 is None else round(p50 * 1e3, 3),
            "latency_p99_ms": None if p99 is None else round(p99 * 1e3, 3),
            "latency_max_ms": round(self.latency.max * 1e3, 3),
        }
