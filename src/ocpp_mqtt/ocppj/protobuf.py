"""The Protocol Buffers envelope of OCPP over MQTT (`ocpp_frame.proto`), without a protobuf
library: the message has seven scalar fields, so its wire format is a few lines.

`to_text` turns a received envelope into the OCPP-J text the session core reads (the payload
bytes embedded as they came); `from_text` turns a frame the gateway writes into an envelope.
"""

from __future__ import annotations

from typing import Any

import orjson

from .frames import Call, CallError, CallResult, parse
from .versions import CALL, CALLERROR, CALLRESULT, CALLRESULTERROR, SEND, Version

_VARINT, _LEN = 0, 2
_FIELDS = {1: "message_type", 2: "unique_id", 3: "action", 4: "payload", 5: "error_code",
           6: "error_description", 7: "error_details"}


class DecodeError(ValueError):
    """Not a valid envelope; the message says what is wrong."""


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | _LEN) + _varint(len(data)) + data


def encode(message_type: int, unique_id: str, action: str = "", payload: bytes = b"",
           error_code: str = "", error_description: str = "",
           error_details: bytes = b"") -> bytes:
    out = bytearray(_varint(1 << 3 | _VARINT) + _varint(message_type))
    for number, value in ((2, unique_id.encode()), (3, action.encode()), (4, payload),
                          (5, error_code.encode()), (6, error_description.encode()),
                          (7, error_details)):
        if value:  # proto3: empty means absent
            out += _field(number, value)
    return bytes(out)


def decode(data: bytes) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    pos, end = 0, len(data)

    def varint() -> int:
        nonlocal pos
        shift = result = 0
        while True:
            if pos >= end:
                raise DecodeError("truncated varint")
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise DecodeError("varint too long")

    while pos < end:
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            value: Any = varint()
        elif wire == _LEN:
            length = varint()
            if pos + length > end:
                raise DecodeError(f"field {number} runs past the end")
            value = data[pos: pos + length]
            pos += length
        elif wire in (1, 5):  # fixed64 / fixed32 of a newer schema: skipped
            pos += 8 if wire == 1 else 4
            continue
        else:
            raise DecodeError(f"unsupported wire type {wire}")
        name = _FIELDS.get(number)
        if name is not None:
            fields[name] = value
    if pos > end:
        raise DecodeError("truncated field")
    return fields


def _q(text: str) -> str:
    return orjson.dumps(text).decode()


def to_text(data: bytes) -> str:
    """The OCPP-J frame an envelope stands for."""
    f = decode(data)
    mtype = f.get("message_type")
    try:
        uid = _q(f.get("unique_id", b"").decode())
        if mtype in (CALL, SEND):
            payload = f.get("payload", b"").decode() or "{}"
            return f"[{mtype},{uid},{_q(f.get('action', b'').decode())},{payload}]"
        if mtype == CALLRESULT:
            return f"[3,{uid},{f.get('payload', b'').decode() or '{}'}]"
        if mtype in (CALLERROR, CALLRESULTERROR):
            details = f.get("error_details", b"").decode() or "{}"
            return (f"[{mtype},{uid},{_q(f.get('error_code', b'').decode())},"
                    f"{_q(f.get('error_description', b'').decode())},{details}]")
    except (UnicodeDecodeError, AttributeError) as exc:
        raise DecodeError(f"a text field is not UTF-8: {exc}") from exc
    raise DecodeError(f"message_type {mtype!r} is not 2, 3, 4, 5 or 6")


def from_text(text: str, version: Version) -> bytes:
    """The envelope of an OCPP-J frame the gateway writes (payload bytes kept as written)."""
    frame = parse(text, version)
    if type(frame) is Call:
        return encode(frame.message_type, frame.unique_id, frame.action,
                      frame.raw_payload.encode())
    if type(frame) is CallResult:
        return encode(CALLRESULT, frame.unique_id, payload=frame.raw_payload.encode())
    if type(frame) is CallError:
        return encode(frame.message_type, frame.unique_id, error_code=frame.code,
                      error_description=frame.description,
                      error_details=orjson.dumps(frame.details))
    msg = orjson.loads(text)  # not a frame the parser accepts from a peer: keep what it says
    return encode(int(msg[0]), str(msg[1]), payload=orjson.dumps(msg[-1]))
