"""The last frames of one connection (both directions, timestamped) and the tap that shows
live frames to watchers (the admin API's event stream).

On the hot path a frame costs three slot stores in preallocated lists and one attribute test:
no object is made per frame. Times are the monotonic clock the caller already read; they
become wall-clock milliseconds only when someone reads the log.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from ..redact import redact_frame


class Tap(Protocol):
    """Who wants live frames and connection events; `watching` is False when nobody does."""

    watching: bool

    def frame(self, identity: str, inbound: bool, text: str, mono: float) -> None: ...
    def event(self, kind: str, identity: str, data: dict[str, Any]) -> None: ...


class Quiet:
    """The tap of a gateway without an admin listener: nobody watches."""

    watching = False

    def frame(self, identity: str, inbound: bool, text: str, mono: float) -> None:
        return None

    def event(self, kind: str, identity: str, data: dict[str, Any]) -> None:
        return None


QUIET = Quiet()

# Longest text kept per frame: a frame may be max_frame_size (256 KiB by default), and
# admin_frames of them per connection would let each charge point pin megabytes. Only frames
# longer than this cost a copy (the cut); the live stream gets the whole frame.
TEXT_MAX = 4096


def wall_ms(mono: float) -> int:
    """A time.monotonic() reading as Unix milliseconds."""
    return int((time.time() - (time.monotonic() - mono)) * 1000)


class RecentFrames:
    """A ring of the last `size` frames of one connection."""

    __slots__ = ("identity", "inbound", "next", "size", "tap", "texts", "times", "total")

    def __init__(self, identity: str, size: int, tap: Tap) -> None:
        self.identity = identity
        self.size = size
        self.tap = tap
        self.texts: list[str | None] = [None] * size
        self.times: list[float] = [0.0] * size
        self.inbound: list[bool] = [False] * size
        self.next = 0  # the slot the next frame goes to
        self.total = 0  # frames ever logged (the ring holds min(total, size))

    def add(self, inbound: bool, text: str, mono: float) -> None:
        if self.size:
            i = self.next
            self.texts[i] = text if len(text) <= TEXT_MAX else (
                f"{text[:TEXT_MAX]}... [{len(text)} characters, cut]")
            self.times[i] = mono
            self.inbound[i] = inbound
            self.next = 0 if i + 1 == self.size else i + 1
            self.total += 1
        if self.tap.watching:
            self.tap.frame(self.identity, inbound, text, mono)

    def frames(self) -> list[dict[str, Any]]:
        """Oldest first: {ts (Unix ms), direction ("in": from the charge point, "out"), text}."""
        held = min(self.total, self.size)
        start = (self.next - held) % self.size if self.size else 0
        out: list[dict[str, Any]] = []
        for k in range(held):
            i = (start + k) % self.size
            text = self.texts[i]
            out.append({"ts": wall_ms(self.times[i]),
                        "direction": "in" if self.inbound[i] else "out",
                        # secrets masked when read, as in the frame log: nothing on the hot path
                        "text": redact_frame(text) if text is not None else None})
        return out
