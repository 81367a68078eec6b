"""Live frames and connect/disconnect events for Server-Sent Events readers.

The gateway's connections call :meth:`Stream.frame` / :meth:`Stream.event` only while
`watching` is True (someone is subscribed), so with no reader a frame costs one attribute test.
Each reader has a bounded queue: a reader that falls `buffer` events behind is dropped (told so
in a last `dropped` event when its connection still takes it), never buffered without limit.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson

from ..redact import redact_frame
from ..transport.recent import wall_ms

KINDS = ("frame", "connected", "disconnected", "connectors")
MAX_BYTES = 16 * 1024 * 1024  # queued for one reader, whatever admin_stream_buffer allows


class Reader:
    """One subscriber: what it wants, and the events waiting for it."""

    def __init__(self, identities: frozenset[str] | None, kinds: frozenset[str],
                 buffer: int) -> None:
        self.identities = identities  # None: every charge point
        self.kinds = kinds
        self.buffer = buffer
        self.queue: deque[bytes] = deque()
        self.queued_bytes = 0
        self.wake = asyncio.Event()
        self.dropped: str | None = None  # why the reader was dropped
        self.closed = False
        # called once when dropped: the handler ends a connection that does not even take
        # the `dropped` event (a stalled write would otherwise wait forever)
        self.on_drop: Callable[[], object] | None = None

    def wants(self, kind: str, identity: str) -> bool:
        return kind in self.kinds and (self.identities is None or identity in self.identities)

    def put(self, message: bytes) -> None:
        if self.dropped is not None or self.closed:
            return
        if len(self.queue) >= self.buffer or self.queued_bytes + len(message) > MAX_BYTES:
            self.dropped = (f"the reader fell {len(self.queue)} events "
                            f"({self.queued_bytes} bytes) behind (admin_stream_buffer "
                            f"{self.buffer}, at most {MAX_BYTES} bytes): reconnect to resume")
            self.queue.clear()
            self.queued_bytes = 0
            if self.on_drop is not None:
                self.on_drop()
        else:
            self.queue.append(message)
            self.queued_bytes += len(message)
        self.wake.set()

    def take(self) -> bytes:
        message = self.queue.popleft()
        self.queued_bytes -= len(message)
        return message


class Stream:
    """The gateway's tap (transport.recent.Tap) feeding the readers."""

    def __init__(self, buffer: int) -> None:
        self.buffer = buffer
        self.readers: set[Reader] = set()
        self.watching = False
        self._ids = itertools.count(1)
        # the connectors view last sent per charge point: a field the view does not show (the
        # time of a repeated StatusNotification) changes the state but is not news
        self._shown: dict[str, Any] = {}

    def subscribe(self, identities: frozenset[str] | None,
                  kinds: frozenset[str] = frozenset(KINDS)) -> Reader:
        reader = Reader(identities, kinds, self.buffer)
        self.readers.add(reader)
        self.watching = True
        return reader

    def unsubscribe(self, reader: Reader) -> None:
        self.readers.discard(reader)
        self.watching = bool(self.readers)

    def close(self) -> None:
        """The gateway stops: every reader's stream ends."""
        for reader in self.readers:
            reader.closed = True
            reader.wake.set()

    def _send(self, kind: str, identity: str, body: dict[str, Any]) -> None:
        message = None
        for reader in list(self.readers):
            if reader.wants(kind, identity):
                if message is None:  # encoded once, whatever the number of readers
                    message = (f"id: {next(self._ids)}\nevent: {kind}\ndata: ".encode()
                               + orjson.dumps(body) + b"\n\n")
                reader.put(message)
                if reader.dropped is not None:
                    self.unsubscribe(reader)

    def frame(self, identity: str, inbound: bool, text: str, mono: float) -> None:
        self._send("frame", identity, {"identity": identity,
                                       "direction": "in" if inbound else "out",
                                       "ts": wall_ms(mono), "text": redact_frame(text)})

    def event(self, kind: str, identity: str, data: dict[str, Any]) -> None:
        if kind == "connectors":
            view = data.get("connectors")
            if self._shown.get(identity) == view:
                return
            self._shown[identity] = view
        elif kind == "disconnected":
            self._shown.pop(identity, None)
        self._send(kind, identity, {"identity": identity, **data})
