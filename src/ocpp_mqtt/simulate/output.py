"""What a run shows: a live progress line (redrawn on a TTY, a plain line every 10 s
otherwise), and the summary at the end as a table or as JSON."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from ..ocppj.versions import Version
from .stats import VersionStats


def total(stats: dict[Version, VersionStats]) -> VersionStats:
    all_stats = VersionStats()
    for one in stats.values():
        all_stats.merge(one)
    return all_stats


def errors(s: VersionStats) -> int:
    return (sum(s.errors_received.values()) + s.timeouts + sum(s.connect_errors.values())
            + s.errors_sent + s.bad_frames)


class Progress:
    def __init__(self, stats: dict[Version, VersionStats], count: int,
                 stream: TextIO = sys.stderr) -> None:
        self.stats = stats
        self.count = count
        self.stream = stream
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self._last_time = self.started
        self._last_messages = 0
        self._last_plain = 0.0

    def line(self) -> str:
        s = total(self.stats)
        now = time.monotonic()
        messages = s.sent + s.calls_received
        rate = (messages - self._last_messages) / max(now - self._last_time, 1e-6)
        self._last_time, self._last_messages = now, messages
        return (f"{now - self.started:6.0f}s  {s.connected}/{self.count} connected  "
                f"{s.booted} booted  {s.charging} charging  {s.queued} queued  "
                f"{rate:7.1f} msg/s  {errors(s)} errors")

    def tick(self) -> None:
        """Called every 0.5 s."""
        if self.tty:
            self.stream.write("\r\x1b[K" + self.line())
            self.stream.flush()
        elif time.monotonic() - self._last_plain >= 10:
            self._last_plain = time.monotonic()
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


_COLUMNS = (("version", 7), ("CPs", 5), ("boots", 6), ("tx start", 8), ("tx end", 7),
            ("sent", 8), ("answered", 8), ("CALLERR", 7), ("timeout", 7), ("recv", 6),
            ("reconn", 6), ("p50 ms", 8), ("p99 ms", 8))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def table(summary: dict[str, Any]) -> str:
    head = "  ".join(f"{name:>{width}}" for name, width in _COLUMNS)
    lines = [head, "-" * len(head)]
    rows = list(summary["versions"].items())
    if len(rows) > 1:
        rows.append(("all", summary["total"]))
    for name, s in rows:
        cells = (name, s["charge_points"], s["boots"], s["transactions_started"],
                 s["transactions_ended"], s["messages_sent"], s["messages_answered"],
                 s["callerrors_received"], s["timeouts"], s["calls_received"],
                 s["reconnects"], _ms(s["latency_p50_ms"]), _ms(s["latency_p99_ms"]))
        lines.append("  ".join(f"{c!s:>{w}}" for c, (_, w) in zip(cells, _COLUMNS,
                                                                       strict=True)))
    t = summary["total"]
    lines.append(f"{summary['elapsed_s']:.1f} s, seed {summary['seed']}, {summary['url']}")
    notes = []
    if t["connect_errors"]:
        notes.append("connect errors: " + ", ".join(f"{k} {v}" for k, v in
                                                   sorted(t["connect_errors"].items())))
    if t["callerror_codes"]:
        notes.append("CALLERRORs received: " + ", ".join(
            f"{k} {v}" for k, v in sorted(t["callerror_codes"].items())))
    for key, label in (("callerrors_sent", "CALLERRORs sent"),
                       ("authorize_rejected", "Authorize not accepted"),
                       ("boots_pending", "Boot Pending"), ("boots_rejected", "Boot Rejected"),
                       ("dropped_messages", "transaction messages given up"),
                       ("queued", "transaction messages still queued")):
        if t[key]:
            notes.append(f"{label}: {t[key]}")
    return "\n".join(lines + notes)
