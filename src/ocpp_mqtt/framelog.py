"""The per-charge-point frame log: every frame in and out of the chosen charge points, with
direction, identity and time, secrets redacted (:mod:`redact`).

It writes straight to its target (stderr, one file, or one file per charge point in a
directory), apart from the program's log and its levels: asking for it is the decision to see
those frames. Writes are small synchronous appends, like the log's; it is a diagnostic tool,
meant for a few charge points at a time, not for a fleet at full rate (`*` costs a
redaction walk and a write per frame).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import IO

import orjson

from .config import ConfigError
from .logs import safe_text
from .ocppj.identity import escape_topic_level
from .redact import redact_frame

Tracer = Callable[[str, str], None]  # (direction "in"/"out", frame text)

MAX_OPEN_FILES = 64  # per-charge-point files kept open; older ones are closed and reopened


def _timestamp(now: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


def is_directory_target(target: str) -> bool:
    return target.endswith(("/", "\\")) or Path(target).is_dir()


class FrameLog:
    """`identities` ("*" for all) and `target` ("" or "-": stderr; an existing directory or
    a path ending in "/": one `<identity>.log` per charge point; anything else: one file)."""

    def __init__(self, identities: list[str], target: str, fmt: str) -> None:
        self.everyone = "*" in identities
        self.identities = frozenset(identities)
        self.json = fmt == "json"
        self._stream: IO[str] | None = None
        self._directory: Path | None = None
        self._files: OrderedDict[str, IO[str]] = OrderedDict()
        self._closed = False
        try:
            if target in ("", "-"):
                self._stream = sys.stderr
            elif is_directory_target(target):
                self._directory = Path(target)
                self._directory.mkdir(parents=True, exist_ok=True)
            else:
                self._stream = open(target, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        except OSError as exc:
            raise ConfigError(f"frame_log_file: cannot write to {target}: {exc.strerror}; "
                              "choose a writable file or directory") from exc

    def wants(self, identity: str) -> bool:
        return self.everyone or identity in self.identities

    def tracer(self, identity: str) -> Tracer | None:
        """What a connection calls for each frame, or None when its frames are not logged."""
        if not self.wants(identity):
            return None

        def trace(direction: str, text: str) -> None:
            self.write(identity, direction, text)

        return trace

    def format(self, identity: str, direction: str, text: str, now: float) -> str:
        frame = redact_frame(text)
        if self.json:
            return orjson.dumps({"ts": _timestamp(now), "cid": identity, "dir": direction,
                                 "frame": frame}).decode()
        arrow = "<-" if direction == "in" else "->"
        # "in" is what the charge point sent: it points at the gateway.
        return f"{_timestamp(now)} {safe_text(identity)} {direction:3} {arrow} {safe_text(frame)}"

    def write(self, identity: str, direction: str, text: str) -> None:
        if self._closed:
            return
        line = self.format(identity, direction, text, time.time()) + "\n"
        with contextlib.suppress(OSError):  # a full disk must not take the charge point down
            self._stream_for(identity).write(line)

    def _stream_for(self, identity: str) -> IO[str]:
        if self._stream is not None:
            return self._stream
        assert self._directory is not None
        stream = self._files.get(identity)
        if stream is not None:
            self._files.move_to_end(identity)
            return stream
        if len(self._files) >= MAX_OPEN_FILES:
            _, oldest = self._files.popitem(last=False)
            oldest.close()
        # The identity escaped as for topics: no "/", NUL or control characters in the name.
        path = self._directory / (escape_topic_level(identity) + ".log")
        stream = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        self._files[identity] = stream
        return stream

    def close(self) -> None:
        self._closed = True
        for stream in self._files.values():
            stream.close()
        self._files.clear()
        if self._stream is not None and self._stream is not sys.stderr:
            self._stream.close()


def frame_log_from(identities: list[str], target: str, fmt: str) -> FrameLog | None:
    return FrameLog(identities, target, fmt) if identities else None
