"""Counters the session core keeps while it works, for metrics and the admin API.

Plain ints in dicts, bumped in place on the hot path (no lock, no label object, no allocation
beyond what an int increment costs); exporters read them when asked (`admin/metrics.py`).
One :class:`Stats` is shared by every session of a gateway through its :class:`Policy`.
"""

from __future__ import annotations

from bisect import bisect_left

# Round-trip latency buckets in seconds (Prometheus `le` bounds): a LAN charge point answers
# in milliseconds, a cellular one in a second or two, call_timeout defaults to 30 s.
RTT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
               30.0, 60.0)


class Histogram:
    """Fixed buckets: one bisect and two increments per observation."""

    __slots__ = ("bounds", "count", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...] = RTT_BUCKETS) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.sum += value

    def cumulative(self) -> list[tuple[str, int]]:
        """(le, cumulative count) pairs as Prometheus wants them, +Inf last."""
        out: list[tuple[str, int]] = []
        total = 0
        for bound, n in zip((*map(repr, self.bounds), "+Inf"), self.counts, strict=True):
            total += n
            out.append((bound, total))
        return out


class Stats:
    """Message counts by direction, type and action; CALLERRORs by code; round trips; limit
    hits. "in" is from the charge point, "out" is to it."""

    __slots__ = ("calls_in", "calls_out", "errors_in", "errors_out", "limits", "results_in",
                 "results_out", "rtt_cp", "rtt_cs", "timeouts_in", "timeouts_out")

    def __init__(self) -> None:
        self.calls_in: dict[str, int] = {}  # action -> CALLs (and 2.1 SENDs) received
        self.results_in: dict[str, int] = {}  # action -> CALLRESULTs received
        self.calls_out: dict[str, int] = {}  # action -> CALLs sent
        self.results_out: dict[str, int] = {}  # action -> CALLRESULTs sent
        self.errors_in: dict[str, int] = {}  # error code -> CALLERRORs received
        self.errors_out: dict[str, int] = {}  # error code -> CALLERRORs sent (any cause)
        self.timeouts_in = 0  # charge point CALLs nobody answered within call_timeout
        self.timeouts_out = 0  # CALLs to charge points they did not answer in time
        self.limits: dict[str, int] = {}  # limit name (queue_full, ...) -> times hit
        self.rtt_cp = Histogram()  # charge point CALL -> the answer sent to it
        self.rtt_cs = Histogram()  # CALL sent to the charge point -> its answer

    def hit(self, limit: str) -> None:
        self.limits[limit] = self.limits.get(limit, 0) + 1
