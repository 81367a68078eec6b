"""Coverage-guided fuzzing with atheris (libFuzzer) over the frame parser and session core,
the MQTT downstream decoder, topic escaping and the ThingsBoard RPC decoder.

    .venv/bin/python -m tests.fuzz.atheris_targets session -runs=200000
    .venv/bin/python -m tests.fuzz.atheris_targets downstream -max_total_time=60

Each target raises (and libFuzzer saves the input as crash-<hash>) on any exception other than
the decoders' documented refusals, and on any reply that breaks the OCPP-J rules
(tests/fuzz/conformance.py). `make fuzz` runs them all; `make test` a short run of each.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["ocpp_mqtt"]):
    from ocpp_mqtt.northbound import emqx
    from ocpp_mqtt.northbound.thingsboard_format import BadRpc, map_method, parse_rpc
    from ocpp_mqtt.ocppj import events as ev
    from ocpp_mqtt.ocppj.identity import escape_topic_level, unescape_topic_level
    from ocpp_mqtt.ocppj.session import Policy, Session
    from ocpp_mqtt.ocppj.validation import Schemas
    from ocpp_mqtt.ocppj.versions import Version

import orjson

from .conformance import _shape, expect

SCHEMAS = Schemas()
VERSIONS = list(Version)


def session(data: bytes) -> None:
    """A frame into a fresh session: the first byte picks the version, the rest is the text."""
    if not data:
        return
    version = VERSIONS[data[0] % len(VERSIONS)]
    text = data[1:].decode("utf-8", "replace")
    s = Session(version, SCHEMAS, Policy(call_timeout=1.0))
    events = s.receive(text, 0.0)
    sent = [orjson.loads(e.text) for e in events if isinstance(e, ev.SendFrame)]
    calls = [e for e in events if isinstance(e, ev.UpCall) and e.message_type == 2]
    for reply in sent:
        wrong = _shape(version, reply)
        if wrong:
            raise AssertionError(f"{wrong} for {text!r}")
    want = expect(version, text)
    if want.reply == "none" and (sent or calls):
        raise AssertionError(f"answered {text!r}: {sent}")
    if want.reply == "answer":
        got = sent[0][1] if sent else calls[0].unique_id if calls else None
        if len(sent) + len(calls) != 1 or got != want.unique_id:
            raise AssertionError(f"{text!r}: replies {sent}, calls {calls}")
    if want.reply == "error" and (len(sent) != 1 or sent[0][0] != 4):
        raise AssertionError(f"{text!r} needs a CALLERROR, got {sent}")
    s.receive(text[::-1], 0.5)
    s.expire(5.0)
    s.close()


def downstream(data: bytes) -> None:
    try:
        down = emqx.decode_downstream(data)
    except emqx.DecodeError:
        return
    s = Session(Version.V16, SCHEMAS, Policy(call_timeout=1.0))
    if down.message_type == 2:
        s.backend_call(down.unique_id, down.action, down.payload, None, 0.0)
    elif down.message_type == 3:
        s.backend_result(down.unique_id or "", down.payload, None, 0.0)
    else:
        s.backend_error(down.unique_id or "", down.code, down.description, down.details, None,
                        0.0, down.message_type)
    s.expire(5.0)


def identity(data: bytes) -> None:
    text = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(len(data))
    level = escape_topic_level(text)
    if any(c in level for c in "+#/\x00") or level.startswith("$"):
        raise AssertionError(f"unsafe level {level!r} for {text!r}")
    if unescape_topic_level(level) != text:
        raise AssertionError(f"{text!r} does not round-trip")


def thingsboard(data: bytes) -> None:
    try:
        request = parse_rpc(data)
        if request is not None:
            map_method(request.method, request.params)
    except BadRpc:
        return


TARGETS: dict[str, Callable[[bytes], None]] = {
    "session": session, "downstream": downstream, "identity": identity,
    "thingsboard": thingsboard,
}


def seeds(name: str) -> list[bytes]:
    """Valid messages to start from: libFuzzer rarely invents a JSON array on its own."""
    from .frames import VALID

    if name == "session":
        return [bytes([VERSIONS.index(v)]) + orjson.dumps([2, f"s{i}", action, payload])
                for v in VERSIONS for i, (action, payload) in enumerate(VALID[v])]
    if name == "downstream":
        return [orjson.dumps(m) for m in (
            {"MessageTypeId": 2, "UniqueId": "a", "Action": "Reset", "Payload": {"type": "Soft"}},
            {"MessageTypeId": 3, "UniqueId": "b", "Payload": {"status": "Accepted"}},
            {"MessageTypeId": 4, "UniqueId": "c", "ErrorCode": "GenericError",
             "ErrorDescription": "x", "ErrorDetails": {}})]
    if name == "thingsboard":
        return [orjson.dumps({"device": "CP1", "data": {"id": 1, "method": "start_charging",
                                                        "params": {"connector": 1}}})]
    return [b"CP1", "СР1/#+$".encode()]


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: python -m tests.fuzz.atheris_targets {{{','.join(TARGETS)}}} "
                 "[libFuzzer flags] [corpus dir]")
    name = sys.argv[1]
    args = sys.argv[2:]
    if not any(not a.startswith("-") for a in args):  # no corpus given: a fresh seeded one
        corpus = tempfile.mkdtemp(prefix=f"fuzz-{name}-")
        for index, seed in enumerate(seeds(name)):
            Path(corpus, f"seed{index}").write_bytes(seed)
        args.append(corpus)
    atheris.Setup([sys.argv[0], *args], TARGETS[name])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
