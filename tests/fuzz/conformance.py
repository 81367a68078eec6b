"""What the OCPP-J rules allow as the gateway's reply to one frame from a charge point, written
from the rules (ocpp-j-rules.md), not from the gateway's code, so the fuzzers can judge it.

The fuzzers send one frame, then a probe CALL, and read the replies up to the probe's answer:
the replies before it are the gateway's reply to the frame (none or one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ocpp_mqtt.ocppj.versions import ERROR_CODES, MESSAGE_TYPES, Version


@dataclass(frozen=True)
class Expect:
    reply: str  # "none", "answer" (CALLRESULT or CALLERROR with `unique_id`), "error" or "any"
    unique_id: str | None = None
    code: str | None = None  # a required error code


def expect(version: Version, text: str) -> Expect:
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError:
        return _corrupt(version)
    if not isinstance(frame, list) or not frame or not isinstance(frame[0], int) or (
            isinstance(frame[0], bool)):
        return _corrupt(version)
    kind = frame[0]
    if kind not in MESSAGE_TYPES[version]:
        if version is Version.V201:  # ER-06
            return Expect("error", code="MessageTypeNotSupported")
        return Expect("none")  # ER-06: 1.6 and 2.1 ignore it
    if kind != 2:  # ER-09, FR-04, FR-05: results, errors and 2.1 SENDs are never answered
        return Expect("none")
    unique_id = frame[1] if len(frame) > 1 else None
    if not isinstance(unique_id, str):
        return _corrupt(version)  # ER-05: the id cannot be read
    if len(unique_id) > 36:
        return Expect("error")  # MID-01 / MID-05: an error, whatever id it can carry
    return Expect("answer", unique_id)  # MID-03: exactly one reply with that id


def _corrupt(version: Version) -> Expect:
    # ER-05: 2.x answers a corrupt message with a CALLERROR; 1.6 has no rule beyond ER-11
    return Expect("error") if version.is_2x else Expect("any")


def problems(version: Version, text: str, replies: list[str]) -> list[str]:
    """What is wrong with `replies` to `text`; [] when they follow the rules."""
    want = expect(version, text)
    found: list[str] = []
    frames: list[Any] = []
    for reply in replies:
        try:
            frames.append(orjson.loads(reply))
        except orjson.JSONDecodeError:
            found.append(f"reply is not JSON: {reply[:80]!r}")  # FR-01
    if found:
        return found
    if len(frames) > 1:
        return [f"{len(frames)} replies to one frame"]
    if not frames:
        if want.reply in ("answer", "error"):
            return [f"no reply (expected {want.reply})"]
        return []
    reply = frames[0]
    if want.reply == "none":
        return [f"replied {reply!r:.120} to a frame that must not be answered"]
    found += _shape(version, reply)
    if found:
        return found
    if want.reply == "answer" and reply[1] != want.unique_id:
        found.append(f"reply id {reply[1]!r} is not the CALL's {want.unique_id!r} (MID-03)")
    if want.reply == "error" and reply[0] != 4:
        found.append("a CALLRESULT where a CALLERROR was due")
    if want.code is not None and reply[0] == 4 and reply[2] != want.code:
        found.append(f"error code {reply[2]} instead of {want.code}")
    return found


def _shape(version: Version, reply: Any) -> list[str]:
    if not isinstance(reply, list) or not reply or reply[0] not in (3, 4):
        return [f"reply is neither CALLRESULT nor CALLERROR: {reply!r:.120}"]
    if reply[0] == 3:
        if len(reply) != 3 or not isinstance(reply[1], str) or not isinstance(reply[2], dict):
            return [f"malformed CALLRESULT {reply!r:.120}"]  # FR-07
        return []
    if len(reply) != 5 or not isinstance(reply[1], str) or not isinstance(reply[3], str) or (
            not isinstance(reply[4], dict)):
        return [f"malformed CALLERROR {reply!r:.120}"]
    if reply[2] not in ERROR_CODES[version]:
        return [f"error code {reply[2]!r} is not in OCPP {version.value}'s list (ER-01..03)"]
    return []
