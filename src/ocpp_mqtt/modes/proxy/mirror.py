"""The MQTT mirror of proxy mode: every frame, in both directions, as an EMQX envelope with
its origin (`charge_point`, `upstream`, `secondary`, `gateway`) and, for what the charge point
sends, where it goes (`To`: `upstream`, `secondary`, `gateway`).

Charge point frames take the EMQX profile's own topics (`upstream_topic`, `..._reply_topic`,
`..._error_topic`); frames toward the charge point take `csms_topic`. The payload is embedded as
the text that was on the wire, byte for byte. With `strict_compat` the extra keys are left out.
"""

from __future__ import annotations

from ...northbound import emqx
from ...ocppj import events as ev
from ...ocppj.frames import Call, CallError, CallResult


def tagged(body: bytes, strict: bool, origin: str, to: str | None = None) -> bytes:
    if strict:
        return body
    extra = b',"Origin":"%b"' % origin.encode()
    if to is not None:
        extra += b',"To":"%b"' % to.encode()
    return body[:-1] + extra + b"}"


def frame_body(frame: Call | CallResult | CallError, action: str | None, now_ms: int,
               strict: bool, origin: str) -> bytes:
    """A frame a CSMS (or the gateway) sends toward the charge point, for `csms_topic`.
    `action` is that of the CALL a result or error answers, when known."""
    if type(frame) is Call:
        body = emqx.encode_call(ev.UpCall(frame.unique_id, frame.action, frame.raw_payload,
                                          frame.payload, frame.message_type), now_ms, strict)
    elif type(frame) is CallResult:
        body = emqx.encode_result(ev.UpResult(frame.unique_id, action or "", frame.raw_payload,
                                              frame.payload, None), now_ms, strict)
    else:
        assert type(frame) is CallError
        body = emqx.encode_error(ev.UpError(frame.unique_id, action, frame.code,
                                            frame.description, frame.details,
                                            frame.message_type), now_ms, strict)
    return tagged(body, strict, origin)
