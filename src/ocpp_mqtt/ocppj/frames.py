"""OCPP-J frames: parsing one WebSocket text message into a typed frame, and serialising replies.

Parsing is version-aware because what a malformed frame deserves differs per version (ER-05,
ER-06, FR-03). Payloads are kept as the *original text* next to the parsed object, so a relay can
forward them byte-identical (no re-encoding, no key reordering, no float reformatting).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from .versions import (
    CALL,
    CALLERROR,
    CALLRESULT,
    CALLRESULTERROR,
    MESSAGE_TYPES,
    SEND,
    Version,
    error_code,
)

MAX_ID_LENGTH = 36  # MID-01
MAX_DESCRIPTION = 255  # FR-09 (2.x)
SIGNED_SUFFIX = "-Signed"  # FR-11: `<Action>-Signed` carries a JWS, not the action's payload

# The prefix of a well-formed frame up to (not including) its payload: `[2,"id","Action",`
# or `[3,"id",`. Only used on text that orjson already parsed as an array of the right shape.
_STR = r'"(?:[^"\\]|\\.)*"'
_CALL_PREFIX = re.compile(r"\s*\[\s*[26]\s*,\s*" + _STR + r"\s*,\s*" + _STR + r"\s*,", re.S)
_RESULT_PREFIX = re.compile(r"\s*\[\s*3\s*,\s*" + _STR + r"\s*,", re.S)


@dataclass(slots=True)
class Call:
    """A CALL (type 2) or, on 2.1, a SEND (type 6) from the peer."""

    unique_id: str
    action: str
    payload: dict[str, Any]
    raw_payload: str
    message_type: int = CALL


@dataclass(slots=True)
class CallResult:
    unique_id: str
    payload: dict[str, Any]
    raw_payload: str


@dataclass(slots=True)
class CallError:
    """A CALLERROR (type 4) or, on 2.1, a CALLRESULTERROR (type 5) from the peer."""

    unique_id: str
    code: str
    description: str
    details: dict[str, Any]
    message_type: int = CALLERROR


@dataclass(slots=True)
class BadFrame:
    """A frame that breaks the framing rules.

    `reply` is the CALLERROR frame the version requires, or None when the rules say not to
    answer (an unreadable id on 1.6, anything that is not a CALL, ER-09).
    """

    problem: str
    reply: str | None
    unique_id: str | None = None


@dataclass(slots=True)
class Ignored:
    """A frame the version says to ignore without answering (ER-06: unknown type on 1.6/2.1)."""

    problem: str


Frame = Call | CallResult | CallError | BadFrame | Ignored


def dumps_str(value: str) -> str:
    return orjson.dumps(value).decode()


def call_frame(unique_id: str, action: str, raw_payload: str) -> str:
    return f"[2,{dumps_str(unique_id)},{dumps_str(action)},{raw_payload}]"


def result_frame(unique_id: str, raw_payload: str) -> str:
    return f"[3,{dumps_str(unique_id)},{raw_payload}]"


def error_frame(
    unique_id: str,
    code: str,
    description: str,
    details: dict[str, Any] | None = None,
    message_type: int = CALLERROR,
) -> str:
    """A CALLERROR: description always a string of at most 255 characters, details an object."""
    raw_details = orjson.dumps(details).decode() if details else "{}"
    desc = dumps_str(description[:MAX_DESCRIPTION])
    return f"[{message_type},{dumps_str(unique_id)},{dumps_str(code)},{desc},{raw_details}]"


def reply_code(frame: str) -> str:
    """The error code of a CALLERROR frame the parser built (`[4,"id","Code",...]`)."""
    try:
        code = orjson.loads(frame)[2]
    except (orjson.JSONDecodeError, IndexError, TypeError):
        return "unknown"
    return code if isinstance(code, str) else "unknown"


def find_null(value: Any, path: str) -> str | None:
    """The JSON pointer of the first null in `value` (FR-08: 2.x omits empty fields), or None."""
    if value is None:
        return path or "/"
    if isinstance(value, dict):
        for key, item in value.items():
            found = find_null(item, f"{path}/{key}")
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = find_null(item, f"{path}/{index}")
            if found is not None:
                return found
    return None


def _raw_tail(text: str, compact: str, prefix: re.Pattern[str], payload: Any) -> str:
    """The payload's original text: what follows the frame's prefix, up to the closing `]`.

    `compact` is the prefix as most charge points write it (no spaces, no escapes), checked
    first because startswith is far cheaper than the regular expression that covers the rest.
    """
    if text.startswith(compact) and text.endswith("]"):
        raw = text[len(compact) : -1].strip()
    else:
        match = prefix.match(text)
        raw = text[match.end() : text.rfind("]")].strip() if match is not None else ""
    if raw and raw != "null":
        return raw
    return "{}" if payload is None else orjson.dumps(payload).decode()


def _reply(version: Version, unique_id: str | None, code: str, problem: str) -> BadFrame:
    """A bad CALL: answer it with the version's code, when there is an id to answer."""
    if unique_id is None:
        if version is Version.V16:  # 1.6 defines no reply when the id is unreadable (ER-05)
            return BadFrame(problem, None)
        unique_id = "-1"
    return BadFrame(problem, error_frame(unique_id, error_code(version, code), problem), unique_id)


def parse(text: str, version: Version) -> Frame:
    """Parse one text message received from the peer, applying the framing rules of `version`."""
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return _reply(version, None, "RpcFrameworkError", f"invalid JSON: {exc}")
    if not isinstance(msg, list) or not msg:
        return _reply(version, None, "RpcFrameworkError", "message is not a non-empty JSON array")
    mtype = msg[0]
    if type(mtype) is not int:
        return _reply(version, None, "RpcFrameworkError", "MessageTypeId is not an integer")
    raw_id = msg[1] if len(msg) > 1 else None
    unique_id = raw_id if isinstance(raw_id, str) else None

    if mtype not in MESSAGE_TYPES[version]:
        if version is Version.V201:  # ER-06: 2.0.1 answers, 1.6 and 2.1 ignore
            return _reply(
                version,
                unique_id if unique_id and len(unique_id) <= MAX_ID_LENGTH else None,
                "MessageTypeNotSupported",
                f"MessageTypeId {mtype} is not supported by OCPP {version.value}",
            )
        return Ignored(f"MessageTypeId {mtype} is not defined for OCPP {version.value}")

    if mtype in (CALL, SEND):
        return _parse_call(text, msg, mtype, unique_id, version)
    if mtype == CALLRESULT:
        if unique_id is None or len(msg) != 3:
            return BadFrame("malformed CALLRESULT (expected [3, id, payload])", None, unique_id)
        payload = msg[2]
        if payload is not None and not isinstance(payload, dict):
            return BadFrame("CALLRESULT payload is not a JSON object", None, unique_id)
        compact = f'[3,"{unique_id}",'
        return CallResult(unique_id, payload or {},
                          _raw_tail(text, compact, _RESULT_PREFIX, payload))
    # CALLERROR (4) or CALLRESULTERROR (5): never answered (ER-09), so be lenient with types.
    if unique_id is None or len(msg) != 5:
        return BadFrame(f"malformed error frame (type {mtype}, expected 5 elements)", None)
    code, desc, details = msg[2], msg[3], msg[4]
    return CallError(
        unique_id,
        code if isinstance(code, str) else str(code),
        desc if isinstance(desc, str) else ("" if desc is None else str(desc)),
        details if isinstance(details, dict) else {},
        mtype,
    )


def _parse_call(
    text: str, msg: list[Any], mtype: int, unique_id: str | None, version: Version
) -> Frame:
    if mtype == SEND:
        # SEND is never answered (FR-05), whatever is wrong with it.
        if unique_id is None or len(msg) != 4 or not isinstance(msg[2], str):
            return BadFrame("malformed SEND (expected [6, id, action, payload])", None, unique_id)
        if not isinstance(msg[3], dict):
            return BadFrame("SEND payload is not a JSON object", None, unique_id)
        compact = f'[6,"{unique_id}","{msg[2]}",'
        return Call(unique_id, msg[2], msg[3], _raw_tail(text, compact, _CALL_PREFIX, msg[3]),
                    SEND)
    if unique_id is None:
        return _reply(version, None, "RpcFrameworkError", "MessageId could not be read")
    if len(unique_id) > MAX_ID_LENGTH:
        return _reply(
            version,
            unique_id,
            "RpcFrameworkError" if version.is_2x else "FormatViolation",
            f"MessageId is longer than {MAX_ID_LENGTH} characters",
        )
    if len(msg) != 4:
        return _reply(
            version, unique_id, "FormatViolation", f"CALL has {len(msg)} elements, expected 4"
        )
    action = msg[2]
    if not isinstance(action, str):
        return _reply(version, unique_id, "FormatViolation", "Action is not a string")
    payload = msg[3]
    if payload is None:  # FR-07: `null` where `{}` was meant; read it as the empty payload
        payload = {}
    elif not isinstance(payload, dict):
        return _reply(version, unique_id, "FormatViolation", "payload is not a JSON object")
    compact = f'[2,"{unique_id}","{action}",'
    return Call(unique_id, action, payload, _raw_tail(text, compact, _CALL_PREFIX, msg[3]))


__all__ = [
    "CALLRESULTERROR",
    "BadFrame",
    "Call",
    "CallError",
    "CallResult",
    "Frame",
    "Ignored",
    "call_frame",
    "error_frame",
    "parse",
    "result_frame",
]
