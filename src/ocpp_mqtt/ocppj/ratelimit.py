"""A token bucket per charge point (issue 5, limits): `rate` messages a second on average,
`burst` at once. Pure arithmetic on the caller's clock, so the session stays free of I/O."""

from __future__ import annotations


class TokenBucket:
    __slots__ = ("_at", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self._tokens = self.burst
        self._at = now

    def take(self, now: float) -> bool:
        """One message at `now`: True if the bucket had a token for it."""
        tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if tokens < 1.0:
            self._tokens = tokens
            return False
        self._tokens = tokens - 1.0
        return True
