"""Property-based tests (issue 5, point 7): whatever a charge point or an MQTT publisher sends,
the frame parser, the session core, the topic escaping and the MQTT payload decoders answer by
the rules and never raise. `make fuzz` runs the coverage-guided counterpart (atheris)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocpp_mqtt.config import load_settings
from ocpp_mqtt.modes.central.commands import Limits, run_command
from ocpp_mqtt.modes.central.profile import CommandResult
from ocpp_mqtt.modes.central.state import ChargePointState
from ocpp_mqtt.northbound import emqx
from ocpp_mqtt.northbound.thingsboard_format import (
    BadRpc,
    map_method,
    parse_attribute_update,
    parse_rpc,
)
from ocpp_mqtt.ocppj import events as ev
from ocpp_mqtt.ocppj.identity import escape_topic_level, unescape_topic_level
from ocpp_mqtt.ocppj.session import Policy, Session
from ocpp_mqtt.ocppj.validation import Schemas
from ocpp_mqtt.ocppj.versions import CALLERROR, Version
from tests.fuzz.conformance import _shape, expect

SCHEMAS = Schemas()
# `make test` runs a few hundred examples each; `make fuzz` sets HYPOTHESIS_PROFILE=fuzz
settings.register_profile("fuzz", max_examples=20_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
_EXAMPLES = settings().max_examples if os.environ.get("HYPOTHESIS_PROFILE") else 100
FAST = settings(max_examples=_EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=max(40, _EXAMPLES // 4), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(
    allow_nan=False, allow_infinity=False) | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=4),
    max_leaves=20)
ACTIONS = st.sampled_from(["Heartbeat", "BootNotification", "StatusNotification", "MeterValues",
                           "StartTransaction", "TransactionEvent", "DataTransfer", "Reset",
                           "NotifyPeriodicEventStream", "FooBar", "", "heartbeat"])
ids = st.text(max_size=40) | st.integers(-(2**63), 2**63 - 1) | st.none()


@st.composite
def frames(draw: Any) -> str:
    """Near-valid OCPP-J arrays, arbitrary JSON, or arbitrary text."""
    kind = draw(st.sampled_from(["call", "result", "error", "json", "text"]))
    if kind == "call":
        body: Any = [draw(st.sampled_from([2, 2, 2, 6, 7, 0])), draw(ids), draw(ACTIONS),
                     draw(json_values)]
    elif kind == "result":
        body = [draw(st.sampled_from([3, 5])), draw(ids), draw(json_values)]
    elif kind == "error":
        body = [4, draw(ids), draw(st.text(max_size=30)), draw(st.text(max_size=30)),
                draw(json_values)]
    elif kind == "json":
        body = draw(json_values)
    else:
        return str(draw(st.text(max_size=200)))
    text = orjson.dumps(body).decode()
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] if draw(st.booleans()) else text[:cut] + draw(st.text(max_size=5))
    return text


# ---- identities and topics (ID-03) ----------------------------------------------------

@FAST
@given(st.text())
def test_any_identity_is_one_safe_reversible_topic_level(identity: str) -> None:
    level = escape_topic_level(identity)
    assert not any(c in level for c in "+#/\x00") and not level.startswith("$")
    assert unescape_topic_level(level) == identity


@FAST
@given(st.text(), st.text())
def test_distinct_identities_never_share_a_level(a: str, b: str) -> None:
    if a != b:
        assert escape_topic_level(a) != escape_topic_level(b)


@FAST
@given(st.text(min_size=1), st.text(), st.text(), st.integers())
def test_hostile_action_and_id_stay_inside_their_template_levels(
        identity: str, action: str, unique_id: str, kind: int) -> None:
    template = emqx.Template("ocpp/", "cp/${cid}/${action}/${id}/${type}")
    topic = template.for_message(escape_topic_level(identity), action, unique_id, kind)
    assert topic.startswith("ocpp/cp/") and len(topic.split("/")) == 6
    assert "+" not in topic and "#" not in topic
    assert not any(level.startswith("$") for level in topic.split("/"))


# ---- frames and the session core --------------------------------------------------------

@FAST
@given(st.sampled_from(list(Version)), frames())
def test_session_answers_any_frame_by_the_rules(version: Version, text: str) -> None:
    """One frame: a CALL becomes an UpCall or gets a CALLERROR with its id; nothing else is
    answered except as ER-05/ER-06 require; every frame written is well formed (ER-01..03)."""
    session = Session(version, SCHEMAS, Policy(call_timeout=1.0))
    events = session.receive(text, 0.0)
    sent = [orjson.loads(e.text) for e in events if isinstance(e, ev.SendFrame)]
    calls = [e for e in events if isinstance(e, ev.UpCall)]
    for reply in sent:
        assert not _shape(version, reply), (text, reply)
    want = expect(version, text)
    if want.reply == "none":
        assert not sent and not (calls and calls[0].message_type == 2), (text, sent)
    elif want.reply == "answer":
        assert len(sent) + len(calls) == 1, (text, sent, calls)
        assert (sent[0][1] if sent else calls[0].unique_id) == want.unique_id
    elif want.reply == "error":
        assert len(sent) == 1 and sent[0][0] == CALLERROR and not calls, (text, sent)
        if want.code:
            assert sent[0][2] == want.code
    session.expire(10.0)
    session.close()


@SLOW
@given(st.sampled_from(list(Version)), st.lists(frames(), max_size=8),
       st.lists(st.tuples(st.sampled_from([2, 3, 4]), st.text(max_size=8), ACTIONS,
                          json_values), max_size=8))
def test_session_survives_any_interleaving(version: Version, cp_frames: list[str],
                                           backend: list[tuple[int, str, str, Any]]) -> None:
    session = Session(version, SCHEMAS, Policy(call_timeout=1.0))
    now = 0.0
    for index in range(max(len(cp_frames), len(backend))):
        now += 0.3
        if index < len(cp_frames):
            session.receive(cp_frames[index], now)
        if index < len(backend):
            kind, unique_id, action, payload = backend[index]
            if kind == 2:
                session.backend_call(unique_id, action, payload, None, now)
            elif kind == 3:
                session.backend_result(unique_id, payload, None, now)
            else:
                session.backend_error(unique_id, "GenericError", "x", payload, None, now)
        for event in session.expire(now):
            if isinstance(event, ev.SendFrame):
                assert isinstance(orjson.loads(event.text), list)
    session.close()


# ---- MQTT payload decoders ----------------------------------------------------------------

@FAST
@given(st.binary(max_size=200) | json_values.map(orjson.dumps))
def test_downstream_decoder_returns_a_message_or_a_decode_error(data: bytes) -> None:
    try:
        down = emqx.decode_downstream(data)
    except emqx.DecodeError as exc:
        assert str(exc)
        return
    assert down.message_type in (2, 3, 4, 5)


@SLOW
@given(st.binary(max_size=200) | json_values.map(orjson.dumps))
def test_thingsboard_decoders_return_a_request_or_say_why(data: bytes) -> None:
    try:
        request = parse_rpc(data)
    except BadRpc as exc:
        assert str(exc)
    else:
        if request is not None:
            try:
                map_method(request.method, request.params)
            except BadRpc as exc:
                assert str(exc)
    parse_attribute_update(data)


@FAST
@given(st.text(max_size=30), json_values)
def test_thingsboard_methods_map_or_refuse(method: str, params: Any) -> None:
    try:
        name, args = map_method(method, params)
    except BadRpc as exc:
        assert str(exc)
        return
    assert isinstance(name, str)
    assert args is None or isinstance(args, dict)


class _Answering:
    """A charge point that accepts whatever it is sent."""

    async def __call__(self, action: str, payload: dict[str, Any]) -> CommandResult:
        assert isinstance(payload, dict)
        return CommandResult("answered", action, result={"status": "Accepted"})


_SETTINGS = load_settings(None, limit_min_interval=0)


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
@SLOW
@given(name=st.text(max_size=30) | st.sampled_from([
    "start_charging", "stop_charging", "set_current_limit", "set_power_limit", "reset",
    "unlock", "trigger", "set_available", "get_configuration", "change_configuration",
    "RemoteStartTransaction", "SetChargingProfile", "clear_limit"]) | json_values,
    args=json_values)
def test_any_command_is_answered_or_refused(version: str, name: Any, args: Any) -> None:
    cp = ChargePointState("CP1", "CP1", version=version, online=True)
    cp.connector(1).status = "Available"
    result = asyncio.run(run_command(name, args, cp=cp, version=version, settings=_SETTINGS,
                                     call=_Answering(), limits=Limits()))
    assert result.status in ("answered", "invalid", "limited"), result
    assert result.status != "invalid" or result.reason
