"""The EMQX OCPP gateway wire format (the default profile), fixed where EMQX is defective.

Upstream envelopes keep EMQX's keys exactly (`MessageTypeId`, `UniqueId`, `Action`, `Payload`,
`ErrorCode`, `ErrorDescription`); extras are *added* (`Action` on results, `ErrorDetails`,
`ReceivedAt`) unless `strict_compat` is set. The charge point's payload is embedded as the text it
sent, byte for byte. Downstream, the payload alone decides the frame type, as in EMQX.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from ..ocppj import events as ev
from ..ocppj.identity import escape_topic_level
from ..ocppj.versions import CALL, CALLERROR, CALLRESULT, CALLRESULTERROR

_PLACEHOLDER = re.compile(r"\$\{(cid|clientid|action|id|type|event|gateway)\}")
_PER_MESSAGE = {"action", "id", "type"}


class Template:
    """A topic template, split once into literal text and placeholders and filled in one pass,
    so a value (an identity, a message id) can never be read as a placeholder itself.

    Placeholders: `${cid}` (= `${clientid}`), `${action}`, `${id}`, `${type}`, `${event}`,
    `${gateway}`. Values must already be escaped topic levels."""

    __slots__ = ("dynamic", "parts")

    def __init__(self, prefix: str, template: str) -> None:
        self.parts = _PLACEHOLDER.split(prefix + template)  # literal, name, literal, ...
        self.dynamic = any(name in _PER_MESSAGE for name in self.parts[1::2])

    def render(self, **values: str) -> str:
        parts = self.parts
        out = [parts[0]]
        for index in range(1, len(parts), 2):
            name = parts[index]
            key = "cid" if name == "clientid" else name
            out.append(values.get(key, "${" + name + "}"))
            out.append(parts[index + 1])
        return "".join(out)

    def for_message(self, cid_level: str, action: str, unique_id: str, message_type: int) -> str:
        return self.render(cid=cid_level, action=escape_topic_level(action),
                           id=escape_topic_level(unique_id), type=str(message_type))


@dataclass(slots=True)
class Downstream:
    """A message published by a backend toward one charge point, decoded."""

    message_type: int
    unique_id: str | None
    action: str = ""
    payload: Any = None
    code: str = ""
    description: str = ""
    details: Any = None


class DecodeError(ValueError):
    def __init__(self, reason: str, unique_id: str | None, message_type: int | None) -> None:
        super().__init__(reason)
        self.unique_id = unique_id
        self.message_type = message_type


_REQUIRED = {
    CALL: ("Action", "Payload"),
    CALLRESULT: ("UniqueId", "Payload"),
    CALLERROR: ("UniqueId", "ErrorCode", "ErrorDescription"),
    CALLRESULTERROR: ("UniqueId", "ErrorCode", "ErrorDescription"),
}


def decode_downstream(data: bytes) -> Downstream:
    """Decode an EMQX-format downstream message; DecodeError says exactly what is wrong."""
    try:
        msg = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"payload is not valid JSON: {exc}", None, None) from exc
    if not isinstance(msg, dict):
        raise DecodeError("payload must be a JSON object with MessageTypeId", None, None)
    raw_id = msg.get("UniqueId")
    if raw_id is not None and not isinstance(raw_id, str):
        raise DecodeError("UniqueId must be a string", None, None)
    unique_id: str | None = raw_id
    mtype = msg.get("MessageTypeId")
    if type(mtype) is not int:
        raise DecodeError("MessageTypeId must be the integer 2, 3 or 4", unique_id, None)
    required = _REQUIRED.get(mtype)
    if required is None:
        raise DecodeError(f"MessageTypeId {mtype} cannot be sent to a charge point", unique_id,
                          mtype)
    missing = [key for key in required if key not in msg]
    if missing:
        raise DecodeError(f"missing key(s) {', '.join(missing)} for MessageTypeId {mtype}",
                          unique_id, mtype)
    if mtype != CALL and unique_id is None:
        raise DecodeError(f"UniqueId must be a string for MessageTypeId {mtype}", None, mtype)
    if mtype == CALL:
        action = msg["Action"]
        if not isinstance(action, str):
            raise DecodeError("Action must be a string", unique_id, mtype)
        return Downstream(mtype, unique_id, action=action, payload=msg["Payload"])
    if mtype == CALLRESULT:
        return Downstream(mtype, unique_id, payload=msg["Payload"])
    code, desc = msg["ErrorCode"], msg["ErrorDescription"]
    if not isinstance(code, str) or not isinstance(desc, str):
        raise DecodeError("ErrorCode and ErrorDescription must be strings", unique_id, mtype)
    return Downstream(mtype, unique_id, code=code, description=desc,
                      details=msg.get("ErrorDetails"))


# ---- upstream envelopes -----------------------------------------------------------------


def _q(text: str) -> bytes:
    return orjson.dumps(text)


def encode_call(event: ev.UpCall, received_ms: int, strict: bool, extra: bytes = b"") -> bytes:
    """`extra`: more keys, already encoded with their leading comma (left out when strict)."""
    head = b'{"MessageTypeId":%d,"UniqueId":%b,"Action":%b,"Payload":' % (
        event.message_type, _q(event.unique_id), _q(event.action))
    tail = b"}" if strict else b',"ReceivedAt":%d%b}' % (received_ms, extra)
    return head + event.raw_payload.encode() + tail


def encode_result(event: ev.UpResult, received_ms: int, strict: bool) -> bytes:
    head = b'{"MessageTypeId":3,"UniqueId":%b,"Payload":' % _q(event.unique_id)
    if strict:
        return head + event.raw_payload.encode() + b"}"
    tail = b',"Action":%b,"ReceivedAt":%d}' % (_q(event.action), received_ms)
    return head + event.raw_payload.encode() + tail


def encode_error(event: ev.UpError, received_ms: int, strict: bool) -> bytes:
    body: dict[str, Any] = {
        "MessageTypeId": event.message_type,
        "UniqueId": event.unique_id,
        "ErrorCode": event.code,
        "ErrorDescription": event.description,
    }
    if not strict:
        body["ErrorDetails"] = event.details
        if event.action is not None:
            body["Action"] = event.action
        body["ReceivedAt"] = received_ms
    try:
        return orjson.dumps(body)
    except TypeError:  # details nested deeper than orjson serialises (254 levels)
        body["ErrorDetails"] = {"error": "ErrorDetails nested too deeply to relay"}
        return orjson.dumps(body)


def encode_outcome(outcome: ev.Outcome, now_ms: int) -> bytes:
    uid = b"null" if outcome.unique_id is None else _q(outcome.unique_id)
    head = b'{"UniqueId":%b,"Status":"%b","Reason":%b' % (
        uid, outcome.status.encode(), _q(outcome.reason))
    if outcome.message_type is not None:
        head += b',"MessageTypeId":%d' % outcome.message_type
    if outcome.action is not None:
        head += b',"Action":%b' % _q(outcome.action)
    head += b',"Timestamp":%d' % now_ms
    if outcome.extra:
        try:
            return head + b"," + orjson.dumps(outcome.extra)[1:]
        except TypeError:  # a payload nested deeper than orjson serialises (254 levels)
            return head + b',"Payload":"nested too deeply to relay"}'
    return head + b"}"


def connection_event(
    info: dict[str, Any], event: str, reason: str | None, now_ms: int
) -> bytes:
    """EMQX's `connected` / `disconnected` event fields, published on `events_topic`."""
    body = dict(info)
    if event == "disconnected":
        body["reason"] = reason or "closed"
        body["disconnected_at"] = now_ms
    return orjson.dumps(body)


def presence(info: dict[str, Any], online: bool, reason: str | None, now_ms: int) -> bytes:
    body: dict[str, Any] = {
        "clientid": info["clientid"],
        "status": "online" if online else "offline",
        "proto_ver": info["proto_ver"],
        "ipaddress": info["ipaddress"],
        "connected_at": info["connected_at"],
        "gateway": info["gateway"],
    }
    if not online:
        body["disconnected_at"] = now_ms
        body["reason"] = reason or "closed"
    return orjson.dumps(body)


__all__ = [
    "CALLRESULTERROR",
    "DecodeError",
    "Downstream",
    "Template",
    "connection_event",
    "decode_downstream",
    "encode_call",
    "encode_error",
    "encode_outcome",
    "encode_result",
    "presence",
]
