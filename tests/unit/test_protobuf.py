"""The protobuf envelope of OCPP over MQTT (ocppj/ocpp_frame.proto): round trips with the
payload bytes kept, the wire format protoc writes, and clear errors for broken input."""

from __future__ import annotations

import pytest

from ocpp_mqtt.ocppj import protobuf
from ocpp_mqtt.ocppj.versions import Version

V16, V21 = Version.V16, Version.V21

FRAMES = [
    '[2,"19223201","BootNotification",{"chargePointVendor": "V", "chargePointModel":"M"}]',
    '[3,"19223201",{"status":"Accepted","currentTime":"2026-01-01T00:00:00Z","interval":300}]',
    '[4,"x1","NotImplemented","unknown action \\"Foo\\"",{"a":1}]',
    '[2,"é-1","DataTransfer",{"vendorId":"ü"}]',
]


@pytest.mark.parametrize("text", FRAMES)
def test_round_trip_keeps_the_frame(text: str) -> None:
    back = protobuf.to_text(protobuf.from_text(text, V16))
    import orjson
    assert orjson.loads(back) == orjson.loads(text)


def test_payload_bytes_are_kept_as_written() -> None:
    text = '[2,"1","Heartbeat",{ }]'
    assert protobuf.to_text(protobuf.from_text(text, V16)) == '[2,"1","Heartbeat",{ }]'


def test_wire_format_is_protobufs() -> None:
    # what protoc's encoder writes for Frame{message_type: 2, unique_id: "a", action: "B",
    # payload: "{}"}: tag 0x08 varint 2, tag 0x12 len 1 "a", tag 0x1a len 1 "B", tag 0x22 "{}"
    assert protobuf.encode(2, "a", "B", b"{}") == b"\x08\x02\x12\x01a\x1a\x01B\x22\x02{}"
    assert protobuf.decode(b"\x08\x02\x12\x01a\x1a\x01B\x22\x02{}\x2d\x00\x00\x00\x00") == {
        "message_type": 2, "unique_id": b"a", "action": b"B", "payload": b"{}"}  # fixed32 skipped


def test_send_of_21() -> None:
    text = '[6,"s1","NotifyPeriodicEventStream",{"id":1}]'
    assert protobuf.to_text(protobuf.from_text(text, V21)) == text


@pytest.mark.parametrize(("data", "message"), [
    (b"\x08", "truncated varint"),
    (b"\x08\x02\x12\x05ab", "runs past the end"),
    (b"\x08\x09", "is not 2, 3, 4, 5 or 6"),
    (b"\x0b", "unsupported wire type 3"),
    (b"\x08\x02\x12\x02\xff\xfe", "not UTF-8"),
])
def test_broken_envelopes_say_what_is_wrong(data: bytes, message: str) -> None:
    with pytest.raises(protobuf.DecodeError, match=message):
        protobuf.to_text(data)


def _official_frame_class() -> type:
    """ocpp_frame.proto's Frame built with Google's protobuf library (no protoc needed)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    fdp = descriptor_pb2.FileDescriptorProto(name="ocpp_frame.proto", package="ocpp_mqtt",
                                             syntax="proto3")
    msg = fdp.message_type.add(name="Frame")
    types = descriptor_pb2.FieldDescriptorProto
    for number, name, kind in [(1, "message_type", types.TYPE_UINT32),
                               (2, "unique_id", types.TYPE_STRING),
                               (3, "action", types.TYPE_STRING), (4, "payload", types.TYPE_BYTES),
                               (5, "error_code", types.TYPE_STRING),
                               (6, "error_description", types.TYPE_STRING),
                               (7, "error_details", types.TYPE_BYTES)]:
        msg.field.add(name=name, number=number, type=kind, label=types.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("ocpp_mqtt.Frame"))


def test_the_proto_file_says_what_the_codec_does() -> None:
    from pathlib import Path

    proto = (Path(protobuf.__file__).parent / "ocpp_frame.proto").read_text()
    for number, name in protobuf._FIELDS.items():
        assert f" {name} = {number};" in proto


@pytest.mark.parametrize("text", FRAMES)
def test_interoperates_with_googles_protobuf(text: str) -> None:
    frame_class = _official_frame_class()
    ours = protobuf.from_text(text, V16)
    official = frame_class()
    official.ParseFromString(ours)  # Google's parser reads ours ...
    assert official.SerializeToString() == ours  # ... and writes the same bytes
    assert protobuf.to_text(official.SerializeToString()) == protobuf.to_text(ours)
