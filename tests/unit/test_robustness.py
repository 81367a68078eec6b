"""Inputs that once escaped as exceptions: deep JSON, null ids, padded null payloads, log lines."""

from __future__ import annotations

import logging

import orjson
import pytest

from ocpp_mqtt.logs import TextFormatter
from ocpp_mqtt.northbound import emqx
from ocpp_mqtt.ocppj import events as ev
from ocpp_mqtt.ocppj.frames import Call, CallResult, parse
from ocpp_mqtt.ocppj.session import Policy, Session
from ocpp_mqtt.ocppj.validation import Schemas
from ocpp_mqtt.ocppj.versions import Version

DEEP = orjson.loads("[" * 300 + "]" * 300)  # orjson reads 1024 levels but writes only 254


@pytest.fixture(scope="module")
def schemas() -> Schemas:
    return Schemas()


def test_deep_backend_payloads_refused_without_losing_state(schemas: Schemas) -> None:
    s = Session(Version.V16, schemas, Policy(validate_mqtt_calls=False,
                                            validate_mqtt_results=False))
    s.receive('[2,"h1","DataTransfer",{"vendorId":"V"}]', 0.0)
    out = s.backend_result("h1", {"status": "Accepted", "data": DEEP}, None, 0.0)
    assert [type(e) for e in out] == [ev.Outcome] and out[0].status == ev.INVALID
    out = s.backend_error("h1", "GenericError", "", {"d": DEEP}, None, 0.0)
    assert out[0].status == ev.INVALID  # type: ignore[union-attr]
    assert s.pending_action("h1") == "DataTransfer"  # still answerable
    out = s.backend_call("c1", "DataTransfer", {"vendorId": "V", "data": DEEP}, None, 0.0)
    assert out[0].status == ev.INVALID  # type: ignore[union-attr]


def test_deep_error_details_from_the_charge_point_still_relayed() -> None:
    body = orjson.loads(emqx.encode_error(
        ev.UpError("1", "Reset", "GenericError", "", {"d": DEEP}, 4), 0, False))
    assert body["ErrorCode"] == "GenericError" and "too deeply" in str(body["ErrorDetails"])


@pytest.mark.parametrize("data", [b'{"MessageTypeId":3,"UniqueId":null,"Payload":{}}',
                                  b'{"MessageTypeId":4,"UniqueId":null,"ErrorCode":"x",'
                                  b'"ErrorDescription":""}'])
def test_results_need_a_string_unique_id(data: bytes) -> None:
    with pytest.raises(emqx.DecodeError, match="UniqueId"):
        emqx.decode_downstream(data)


@pytest.mark.parametrize(("text", "kind"), [('[2,"a","Heartbeat", null]', Call),
                                            ('[3,"a", null ]', CallResult)])
def test_padded_null_payload_read_as_empty(text: str, kind: type) -> None:
    frame = parse(text, Version.V16)
    assert isinstance(frame, kind) and frame.raw_payload == "{}"  # type: ignore[attr-defined]


def test_text_logs_escape_control_characters() -> None:
    record = logging.makeLogRecord({"msg": "unknown_action: Foo\n12:00 info forged",
                                    "levelname": "WARNING", "name": "x"})
    line = TextFormatter().format(record)
    assert "\n" not in line and "\\x0a" in line


def test_json_logs_are_one_object_per_line_with_fields() -> None:
    from ocpp_mqtt.logs import JsonFormatter

    record = logging.makeLogRecord({"msg": "charge point connected", "levelname": "INFO",
                                    "name": "ocpp_mqtt.relay", "levelno": 20})
    record.__dict__.update(cid="CP\n1", version="1.6")
    line = JsonFormatter().format(record)
    assert "\n" not in line
    body = orjson.loads(line)
    assert body["msg"] == "charge point connected" and body["cid"] == "CP\n1"
    assert body["level"] == "info" and body["logger"] == "ocpp_mqtt.relay"
