"""Raw-frame parsing and serialisation (ocpp-j-rules.md §11, FR-*, MID-01, ER-05, ER-06, ER-09)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ocpp_mqtt.ocppj.frames import (
    BadFrame,
    Call,
    CallError,
    CallResult,
    Frame,
    Ignored,
    call_frame,
    error_frame,
    parse,
    result_frame,
)
from ocpp_mqtt.ocppj.versions import ERROR_CODES, Version

V16, V201, V21 = Version.V16, Version.V201, Version.V21
ALL = [V16, V201, V21]
V2X = [V201, V21]

NPES = '{"id":1,"pending":0,"basetime":"2025-01-01T00:00:00Z","data":[{"t":0,"v":"1"}]}'


def one_array(text: str) -> list[Any]:
    """FR-01: exactly one JSON array (json.loads raises on trailing data)."""
    value = json.loads(text)
    assert isinstance(value, list)
    return value


def reply_of(frame: Frame) -> list[Any]:
    assert isinstance(frame, BadFrame), frame
    assert frame.reply is not None, frame
    return one_array(frame.reply)


def check_callerror(reply: list[Any], version: Version) -> None:
    """FR-02/FR-09/ER-03: 5 elements, a code of the version, a short string, an object."""
    assert len(reply) == 5
    assert reply[0] == 4
    assert isinstance(reply[1], str)
    assert reply[2] in ERROR_CODES[version]
    assert isinstance(reply[3], str) and len(reply[3]) <= 255
    assert isinstance(reply[4], dict)


def no_reply(frame: Frame) -> bool:
    return isinstance(frame, Ignored) or (isinstance(frame, BadFrame) and frame.reply is None)


# ---- invalid JSON / not an array (ER-05) --------------------------------------------------

@pytest.mark.parametrize("version", V2X)
@pytest.mark.parametrize("text", ['[2,"id-8","Heartbeat",{', '{"a":1}', "[]", '"x"', "42"])
def test_er05_corrupt_message_gets_rpcframeworkerror_minus_one(version: Version, text: str) -> None:
    reply = reply_of(parse(text, version))
    check_callerror(reply, version)
    assert reply[1] == "-1"
    assert reply[2] == "RpcFrameworkError"


def test_er05_invalid_json_is_not_answered_on_16() -> None:
    """§11: 1.6 has no defined reply when the id is unreadable."""
    assert no_reply(parse('[2,"id-8","Heartbeat",{', V16))


@pytest.mark.parametrize("text", ['{"a":1}', "[]"])
def test_er03_non_array_on_16_never_uses_a_2x_code(text: str) -> None:
    frame = parse(text, V16)
    if not no_reply(frame):
        check_callerror(reply_of(frame), V16)


def test_er05_invalid_json_is_not_echoed() -> None:
    text = '[2,"id-8","Heartbeat",{"secret":"<x>"'
    reply = reply_of(parse(text, V201))
    assert "<x>" not in reply[3]


# ---- unknown MessageTypeIds (FR-03, ER-06) ------------------------------------------------

@pytest.mark.parametrize("version", [V16, V21])
def test_er06_type7_is_ignored_on_16_and_21(version: Version) -> None:
    assert isinstance(parse('[7,"x",{}]', version), Ignored)


def test_er06_type7_gets_messagetypenotsupported_on_201() -> None:
    reply = reply_of(parse('[7,"x",{}]', V201))
    check_callerror(reply, V201)
    assert reply[1] == "x"
    assert reply[2] == "MessageTypeNotSupported"


def test_fr05_send_is_a_call_of_type_6_on_21() -> None:
    frame = parse(f'[6,"s-1","NotifyPeriodicEventStream",{NPES}]', V21)
    assert isinstance(frame, Call)
    assert frame.message_type == 6
    assert frame.unique_id == "s-1"
    assert frame.action == "NotifyPeriodicEventStream"
    assert frame.raw_payload == NPES


def test_fr03_send_is_ignored_on_16() -> None:
    assert no_reply(parse(f'[6,"s-1","NotifyPeriodicEventStream",{NPES}]', V16))


def test_fr03_send_gets_messagetypenotsupported_on_201() -> None:
    reply = reply_of(parse(f'[6,"s-1","NotifyPeriodicEventStream",{NPES}]', V201))
    check_callerror(reply, V201)
    assert reply[2] == "MessageTypeNotSupported"
    assert reply[1] == "s-1"


def test_fr04_callresulterror_parses_on_21() -> None:
    frame = parse('[5,"abc","FormatViolation","",{}]', V21)
    assert isinstance(frame, CallError)
    assert frame.message_type == 5
    assert (frame.unique_id, frame.code, frame.description, frame.details) == (
        "abc", "FormatViolation", "", {},
    )


def test_fr03_type5_is_ignored_on_16() -> None:
    assert no_reply(parse('[5,"abc","FormatViolation","",{}]', V16))


def test_fr03_type5_gets_messagetypenotsupported_on_201() -> None:
    reply = reply_of(parse('[5,"abc","FormatViolation","",{}]', V201))
    assert reply[2] == "MessageTypeNotSupported"


# ---- message ids (MID-01) -----------------------------------------------------------------

@pytest.mark.parametrize("version", ALL)
@pytest.mark.parametrize("length", [37, 40])
def test_mid01_overlong_id_gets_a_callerror(version: Version, length: int) -> None:
    uid = "x" * length
    reply = reply_of(parse(f'[2,"{uid}","Heartbeat",{{}}]', version))
    check_callerror(reply, version)
    assert reply[1] in (uid, "-1")


@pytest.mark.parametrize("version", ALL)
def test_mid01_36_char_id_is_accepted(version: Version) -> None:
    uid = "0123456789abcdef0123456789abcdef0123"
    frame = parse(f'[2,"{uid}","Heartbeat",{{}}]', version)
    assert isinstance(frame, Call) and frame.unique_id == uid


@pytest.mark.parametrize("version", V2X)
@pytest.mark.parametrize("raw_id", ["12345", "null", "1.5", '{"a":1}'])
def test_mid01_non_string_id_gets_rpcframeworkerror_minus_one(
    version: Version, raw_id: str
) -> None:
    reply = reply_of(parse(f'[2,{raw_id},"Heartbeat",{{}}]', version))
    check_callerror(reply, version)
    assert reply[1] == "-1"
    assert reply[2] == "RpcFrameworkError"


def test_mid01_numeric_id_on_16_never_uses_a_2x_code() -> None:
    frame = parse('[2,12345,"Heartbeat",{}]', V16)
    if not no_reply(frame):
        check_callerror(reply_of(frame), V16)


# ---- CALL shape (FR-02, FR-07) ------------------------------------------------------------

@pytest.mark.parametrize("version", ALL)
def test_fr07_null_payload_is_read_as_empty_object(version: Version) -> None:
    """FR-07: either treat `null` as `{}` or answer a CALLERROR; never relay a null."""
    frame = parse('[2,"n1","Heartbeat",null]', version)
    if isinstance(frame, Call):
        assert frame.payload == {}
        assert frame.raw_payload == "{}"
    else:
        check_callerror(reply_of(frame), version)


@pytest.mark.parametrize("version", ALL)
@pytest.mark.parametrize("text", ['[2,"c5","Heartbeat",{},{}]', '[2,"c5","Heartbeat"]'])
def test_fr02_call_with_wrong_element_count_gets_callerror(version: Version, text: str) -> None:
    reply = reply_of(parse(text, version))
    check_callerror(reply, version)
    assert reply[1] == "c5"  # MID-03: the CALL's id verbatim
    allowed = (
        {"FormatViolation", "RpcFrameworkError", "ProtocolError"}
        if version.is_2x
        else {"FormationViolation", "ProtocolError"}
    )
    assert reply[2] in allowed


@pytest.mark.parametrize("version", ALL)
@pytest.mark.parametrize("payload", ["[]", '"x"', "1"])
def test_fr07_non_object_payload_gets_callerror(version: Version, payload: str) -> None:
    reply = reply_of(parse(f'[2,"p1","Heartbeat",{payload}]', version))
    check_callerror(reply, version)
    assert reply[1] == "p1"
    # ER-08: payload not an object -> FormatViolation (1.6: FormationViolation) or ProtocolError
    assert reply[2] in (
        {"FormatViolation", "ProtocolError"} if version.is_2x
        else {"FormationViolation", "ProtocolError"}
    )


@pytest.mark.parametrize("version", ALL)
def test_fr02_well_formed_call(version: Version) -> None:
    frame = parse('[2,"c1","Heartbeat",{}]', version)
    assert isinstance(frame, Call)
    assert (frame.unique_id, frame.action, frame.payload, frame.raw_payload) == (
        "c1", "Heartbeat", {}, "{}",
    )
    assert frame.message_type == 2


# ---- results and errors are never answered (ER-09) ----------------------------------------

@pytest.mark.parametrize("version", ALL)
@pytest.mark.parametrize(
    "text",
    [
        '[3,"r1"]',
        '[3,"r1",{},{}]',
        '[3,"r1",[]]',
        '[3,12345,{}]',
        '[4,"e1","GenericError",""]',
        '[4,"e1","GenericError","",{},1]',
        '[4,12345,"GenericError","",{}]',
    ],
)
def test_er09_malformed_result_or_error_is_not_answered(version: Version, text: str) -> None:
    assert no_reply(parse(text, version))


@pytest.mark.parametrize("version", ALL)
def test_fr02_callresult_parses(version: Version) -> None:
    frame = parse('[3,"r1",{"status":"Accepted"}]', version)
    assert isinstance(frame, CallResult)
    assert frame.unique_id == "r1"
    assert frame.payload == {"status": "Accepted"}
    assert frame.raw_payload == '{"status":"Accepted"}'


@pytest.mark.parametrize("version", ALL)
@pytest.mark.parametrize("code", ["OccurenceConstraintViolation", "OccurrenceConstraintViolation"])
def test_fr02_callerror_parses_either_spelling(version: Version, code: str) -> None:
    frame = parse(f'[4,"e1","{code}","bad",{{"k":1}}]', version)
    assert isinstance(frame, CallError)
    assert frame.message_type == 4
    assert (frame.unique_id, frame.code, frame.description, frame.details) == (
        "e1", code, "bad", {"k": 1},
    )


# ---- raw payload kept byte-identical (FR-12) ----------------------------------------------

ODD = '{"b":1, "a": 2.50, "customData":{"vendorId":"X","foo":1}}'


@pytest.mark.parametrize("version", ALL)
@pytest.mark.parametrize(
    ("template", "payload"),
    [
        ('[2 ,  "id-1" ,\n "BootNotification" ,\t{p}  ]', ODD),
        ('[2,"i\\"d","Data\\u0054ransfer",{p}]', '{"v":"]] \\u00e9","n":[1 ,2.0e1]}'),
        ('  [ 2,"x","Heartbeat",{p}]\n', "{ }"),
    ],
)
def test_fr12_call_raw_payload_is_byte_identical(
    version: Version, template: str, payload: str
) -> None:
    frame = parse(template.replace("{p}", payload), version)
    assert isinstance(frame, Call)
    assert frame.raw_payload == payload
    assert frame.payload == json.loads(payload)


@pytest.mark.parametrize("version", ALL)
def test_fr12_result_raw_payload_is_byte_identical(version: Version) -> None:
    payload = '{"z": 1.0,"a":[1, 2],  "s":"\\u00e9]"}'
    frame = parse(f'[3, "r1",   {payload} ]', version)
    assert isinstance(frame, CallResult)
    assert frame.raw_payload == payload


def test_fr12_send_raw_payload_is_byte_identical() -> None:
    payload = NPES.replace(",", " , ")
    frame = parse(f'[6 , "s1" , "NotifyPeriodicEventStream" , {payload} ]', V21)
    assert isinstance(frame, Call)
    assert frame.raw_payload == payload


# ---- serialisation (FR-01, FR-07, FR-09) --------------------------------------------------

NASTY_IDS = ["plain", 'q"uote', "back\\slash", "new\nline", "é€😀", "\u2028", "]", "-1"]


@pytest.mark.parametrize("uid", NASTY_IDS)
def test_fr01_serialised_frames_are_exactly_one_json_array(uid: str) -> None:
    assert one_array(call_frame(uid, "Heartbeat", "{}")) == [2, uid, "Heartbeat", {}]
    assert one_array(result_frame(uid, '{"a":1}')) == [3, uid, {"a": 1}]
    err = one_array(error_frame(uid, "GenericError", f"desc {uid}", {"d": uid}))
    assert err == [4, uid, "GenericError", f"desc {uid}", {"d": uid}]


def test_fr09_description_at_most_255_characters() -> None:
    err = one_array(error_frame("x", "GenericError", "é" * 1000))
    assert isinstance(err[3], str)
    assert len(err[3]) <= 255


@pytest.mark.parametrize("details", [None, {}])
def test_fr09_details_default_to_an_empty_object(details: dict[str, Any] | None) -> None:
    err = one_array(error_frame("x", "GenericError", "", details))
    assert err[3] == ""
    assert err[4] == {}


def test_fr04_callresulterror_serialises_with_type_5() -> None:
    err = one_array(error_frame("x", "FormatViolation", "bad", None, 5))
    assert err == [5, "x", "FormatViolation", "bad", {}]


def test_fr07_empty_payload_serialises_as_object() -> None:
    assert call_frame("x", "Heartbeat", "{}") == '[2,"x","Heartbeat",{}]'
