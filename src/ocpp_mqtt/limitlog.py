"""Limits log each offender once a minute (issue 5): a charge point hammering a limit, or
sending thousands of bad frames, must not fill the logs. Every hit is still counted (metrics
`limit_hits`); the line that is written says how many were not."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

PERIOD = 60.0
MAX_OFFENDERS = 10_000  # remembered at once; the oldest are forgotten first


class OncePerMinute:
    def __init__(self, log: logging.Logger, period: float = PERIOD) -> None:
        self.log = log
        self.period = period
        self._last: dict[tuple[str, str], tuple[float, int]] = {}  # -> (logged at, since)
        # also told of each line written (the gateway publishes limit hits as security events)
        self.report: Callable[[str, str, dict[str, Any]], None] | None = None

    def warning(self, what: str, offender: str, message: str, **fields: Any) -> None:
        """Log `message` unless `what` was logged for `offender` within the period."""
        now = time.monotonic()
        key = (what, offender)
        last = self._last.get(key)
        if last is not None and now - last[0] < self.period:
            self._last[key] = (last[0], last[1] + 1)
            return
        suppressed = last[1] if last is not None else 0
        if last is None and len(self._last) >= MAX_OFFENDERS:
            self._forget(now)
        self._last[key] = (now, 0)
        if suppressed:
            fields["suppressed"] = suppressed  # not logged during the previous minute
        self.log.warning(message, extra={"limit": what, **fields})
        if self.report is not None:
            self.report(what, message, fields)

    def _forget(self, now: float) -> None:
        stale = [k for k, (at, _) in self._last.items() if now - at >= self.period]
        for key in stale or list(self._last)[: MAX_OFFENDERS // 10]:
            del self._last[key]
