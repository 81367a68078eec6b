"""The EMQX wire format (northbound/emqx.py): envelopes, topic templates, downstream decoding."""

from __future__ import annotations

import orjson
import pytest

from ocpp_mqtt.config import ConfigError, load_settings
from ocpp_mqtt.northbound import emqx
from ocpp_mqtt.ocppj import events as ev


def test_call_envelope_embeds_payload_text_verbatim() -> None:
    raw = '{"b" : 1.50, "a":[ 1,2 ]}'
    body = emqx.encode_call(ev.UpCall("u\"1", "MeterValues", raw, {}, 2), 1234, False)
    assert body == (b'{"MessageTypeId":2,"UniqueId":"u\\"1","Action":"MeterValues",'
                    b'"Payload":{"b" : 1.50, "a":[ 1,2 ]},"ReceivedAt":1234}')
    assert list(orjson.loads(body)) == ["MessageTypeId", "UniqueId", "Action", "Payload",
                                        "ReceivedAt"]


def test_strict_compat_has_exactly_emqx_keys() -> None:
    call = orjson.loads(emqx.encode_call(ev.UpCall("1", "Heartbeat", "{}", {}, 2), 0, True))
    assert set(call) == {"MessageTypeId", "UniqueId", "Action", "Payload"}
    result = orjson.loads(emqx.encode_result(ev.UpResult("1", "Reset", "{}", {}, None), 0, True))
    assert set(result) == {"MessageTypeId", "UniqueId", "Payload"}
    error = orjson.loads(emqx.encode_error(
        ev.UpError("1", "Reset", "NotSupported", "d", {"x": 1}, 4), 0, True))
    assert set(error) == {"MessageTypeId", "UniqueId", "ErrorCode", "ErrorDescription"}


def test_extras_on_results_and_errors() -> None:
    result = orjson.loads(emqx.encode_result(ev.UpResult("1", "Reset", '{"status":"Accepted"}',
                                                         {}, None), 7, False))
    assert result == {"MessageTypeId": 3, "UniqueId": "1", "Payload": {"status": "Accepted"},
                      "Action": "Reset", "ReceivedAt": 7}
    error = orjson.loads(emqx.encode_error(
        ev.UpError("1", "Reset", "NotSupported", "d", {"x": 1}, 4), 7, False))
    assert error["ErrorDetails"] == {"x": 1} and error["Action"] == "Reset"


def test_templates_fill_every_placeholder_escaped() -> None:
    template = emqx.Template("p/", "cp/${cid}/${action}/${id}/${type}")
    assert template.dynamic
    filled = template.for_message("CP%2B1", "Heartbeat", "a/b+#", 2)
    assert filled == "p/cp/CP%2B1/Heartbeat/a%2Fb%2B%23/2"
    assert emqx.Template("p/", "cs/${clientid}").render(cid="X") == "p/cs/X"
    assert not emqx.Template("p/", "cs/${cid}").dynamic


def test_template_values_are_never_read_as_placeholders() -> None:
    """A value that looks like a placeholder stays literal (one pass over the template)."""
    template = emqx.Template("p/", "cp/${cid}/${id}")
    assert template.render(cid="${id}", id="1") == "p/cp/${id}/1"


@pytest.mark.parametrize(("data", "reason"), [
    (b"{", "not valid JSON"),
    (b"[1]", "JSON object"),
    (b'{"MessageTypeId":"2"}', "integer"),
    (b'{"MessageTypeId":true,"UniqueId":"x"}', "integer"),
    (b'{"MessageTypeId":6,"UniqueId":"x"}', "cannot be sent"),
    (b'{"MessageTypeId":2,"UniqueId":"x","Action":"A"}', "Payload"),
    (b'{"MessageTypeId":3,"Payload":{}}', "UniqueId"),
    (b'{"MessageTypeId":4,"UniqueId":"x","ErrorCode":"GenericError"}', "ErrorDescription"),
    (b'{"MessageTypeId":4,"UniqueId":"x","ErrorCode":1,"ErrorDescription":""}', "strings"),
    (b'{"MessageTypeId":2,"UniqueId":5,"Action":"A","Payload":{}}', "string"),
])
def test_decode_downstream_says_what_is_wrong(data: bytes, reason: str) -> None:
    with pytest.raises(emqx.DecodeError, match=reason):
        emqx.decode_downstream(data)


def test_decode_downstream_forms() -> None:
    call = emqx.decode_downstream(b'{"MessageTypeId":2,"Action":"Reset","Payload":{"type":"Soft"}}')
    assert (call.message_type, call.unique_id, call.action) == (2, None, "Reset")
    error = emqx.decode_downstream(b'{"MessageTypeId":4,"UniqueId":"x","ErrorCode":"GenericError",'
                                   b'"ErrorDescription":"d","ErrorDetails":{"k":1}}')
    assert error.details == {"k": 1}


@pytest.mark.parametrize("bad", ["a/b", "+", "#", "$sys", ""])
def test_gateway_id_is_one_topic_level(bad: str) -> None:
    with pytest.raises(ConfigError, match="gateway_id"):
        load_settings(None, gateway_id=bad)


@pytest.mark.parametrize(("options", "named"), [
    ({"dnstream_action_topic": "cs/${cid}/${action}"}, "ack_topic"),
    ({"upstream_topic": "cs/${cid}"}, "upstream_topic"),
    ({"dnstream_action_topic": "cs/${cid}/call"}, "dnstream_action_topic"),
])
def test_topics_that_would_loop_are_refused(options: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_settings(None, **options)
