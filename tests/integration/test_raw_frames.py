"""Every row of the raw-frame table (ocpp-j-rules.md §11), per version, against a live gateway."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from .wsutil import connect, no_frame, recv_json

VERSIONS = ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"]

BOOT = {
    "ocpp1.6": {"chargePointVendor": "V", "chargePointModel": "M"},
    "ocpp2.0.1": {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}},
}
BOOT["ocpp2.1"] = BOOT["ocpp2.0.1"]

# A valid CSMS-initiated CALL, sent (wrongly) by the charge point.
CSMS_ONLY = {
    "ocpp1.6": ("RemoteStartTransaction", '{"idTag":"T1"}'),
    "ocpp2.0.1": ("RequestStartTransaction", '{"idToken":{"idToken":"T","type":"ISO14443"},'
                                            '"remoteStartId":1}'),
}
CSMS_ONLY["ocpp2.1"] = CSMS_ONLY["ocpp2.0.1"]


def v16(proto: str) -> bool:
    return proto == "ocpp1.6"


def assert_error(frame: list[Any], unique_id: str, code: str) -> None:
    assert frame[0] == 4 and len(frame) == 5, frame
    assert frame[1] == unique_id
    assert frame[2] == code, frame
    assert isinstance(frame[3], str) and len(frame[3]) <= 255  # FR-09
    assert isinstance(frame[4], dict)


@pytest.fixture(params=VERSIONS)
def proto(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


async def test_er04_csms_only_action_from_cp_gets_notsupported(gateway: Any, proto: str) -> None:
    action, payload = CSMS_ONLY[proto]
    async with connect(gateway.url("RF1"), [proto]) as ws:
        await ws.send(f'[2,"ns-1","{action}",{payload}]')
        assert_error(await recv_json(ws), "ns-1", "NotSupported")


async def test_er04_unknown_action_gets_notimplemented(gateway: Any, proto: str) -> None:
    async with connect(gateway.url("RF2"), [proto]) as ws:
        await ws.send('[2,"x","FooBar",{}]')
        assert_error(await recv_json(ws), "x", "NotImplemented")
        await ws.send('[2,"y","heartbeat",{}]')  # FR-06: actions are case-sensitive
        assert_error(await recv_json(ws), "y", "NotImplemented")


async def test_er08_missing_required_field(gateway: Any, proto: str) -> None:
    async with connect(gateway.url("RF3"), [proto]) as ws:
        await ws.send('[2,"m1","BootNotification",{}]')
        code = "OccurenceConstraintViolation" if v16(proto) else "OccurrenceConstraintViolation"
        assert_error(await recv_json(ws), "m1", code)


async def test_er08_extra_property(gateway: Any, proto: str) -> None:
    payload = orjson.dumps(dict(BOOT[proto], bogus=1)).decode()
    async with connect(gateway.url("RF4"), [proto]) as ws:
        await ws.send(f'[2,"e1","BootNotification",{payload}]')
        assert_error(await recv_json(ws), "e1",
                     "FormationViolation" if v16(proto) else "FormatViolation")


async def test_er08_wrong_type(gateway: Any, proto: str) -> None:
    async with connect(gateway.url("RF5"), [proto]) as ws:
        if v16(proto):
            await ws.send('[2,"t1","BootNotification",{"chargePointVendor":1,'
                          '"chargePointModel":"M"}]')
        else:
            await ws.send('[2,"t1","BootNotification",{"reason":"PowerUp",'
                          '"chargingStation":{"model":5,"vendorName":"V"}}]')
        assert_error(await recv_json(ws), "t1", "TypeConstraintViolation")


async def test_er08_bad_enum(gateway: Any, proto: str) -> None:
    async with connect(gateway.url("RF6"), [proto]) as ws:
        if v16(proto):
            await ws.send('[2,"b1","StatusNotification",{"connectorId":1,'
                          '"errorCode":"NoError","status":"Bogus"}]')
        else:
            await ws.send('[2,"b1","BootNotification",{"reason":"Bogus",'
                          '"chargingStation":{"model":"M","vendorName":"V"}}]')
        assert_error(await recv_json(ws), "b1", "PropertyConstraintViolation")


async def test_er05_invalid_json(gateway: Any, proto: str) -> None:
    async with connect(gateway.url("RF7"), [proto]) as ws:
        await ws.send('[2,"id-8","Heartbeat",{')
        if v16(proto):
            await no_frame(ws)  # 1.6 defines no reply: the id is unreadable
        else:
            assert_error(await recv_json(ws), "-1", "RpcFrameworkError")
        await ws.send('{"a":1}')
        if v16(proto):
            await no_frame(ws)
        else:
            assert_error(await recv_json(ws), "-1", "RpcFrameworkError")


async def test_fr05_send_frame(gateway: Any, proto: str, backend: Any) -> None:
    await backend.subscribe(gateway.prefix + "cp/RF8")
    payload = '{"id":1,"pending":0,"basetime":"2025-01-01T00:00:00Z","data":[{"t":0,"v":"1"}]}'
    async with connect(gateway.url("RF8"), [proto]) as ws:
        await ws.send(f'[6,"s1","NotifyPeriodicEventStream",{payload}]')
        if proto == "ocpp2.0.1":
            assert_error(await recv_json(ws), "s1", "MessageTypeNotSupported")
        else:
            await no_frame(ws)
        if proto == "ocpp2.1":  # relayed, unanswered
            body = await backend.wait_for(gateway.prefix + "cp/RF8")
            assert body["MessageTypeId"] == 6 and body["UniqueId"] == "s1"
            assert body["Action"] == "NotifyPeriodicEventStream"
        else:
            await backend.silence(gateway.prefix + "cp/RF8", 0.3)


async def test_er06_unknown_message_type(gateway: Any, proto: str) -> None:
    async with connect(gateway.url("RF9"), [proto]) as ws:
        await ws.send('[7,"u1",{}]')
        if proto == "ocpp2.0.1":
            assert_error(await recv_json(ws), "u1", "MessageTypeNotSupported")
        else:
            await no_frame(ws)


async def test_mid01_long_and_numeric_ids(gateway: Any, proto: str) -> None:
    long_id = "x" * 40
    async with connect(gateway.url("RF10"), [proto]) as ws:
        await ws.send(f'[2,"{long_id}","Heartbeat",{{}}]')
        frame = await recv_json(ws)
        assert frame[0] == 4 and frame[1] == long_id
        await ws.send('[2,12345,"Heartbeat",{}]')
        if v16(proto):
            await no_frame(ws)
        else:
            assert_error(await recv_json(ws), "-1", "RpcFrameworkError")


async def test_fr07_null_payload_read_as_empty(gateway: Any, proto: str, backend: Any) -> None:
    await backend.subscribe(gateway.prefix + "cp/RF11")
    async with connect(gateway.url("RF11"), [proto]) as ws:
        await ws.send('[2,"n1","Heartbeat",null]')
        body = await backend.wait_for(gateway.prefix + "cp/RF11")
        assert body["Payload"] == {} and body["Action"] == "Heartbeat"


async def test_fr02_call_with_five_elements(gateway: Any, proto: str) -> None:
    async with connect(gateway.url("RF12"), [proto]) as ws:
        await ws.send('[2,"f1","Heartbeat",{},{}]')
        assert_error(await recv_json(ws), "f1",
                     "FormationViolation" if v16(proto) else "FormatViolation")


async def test_sy06_unsolicited_result_is_dropped(gateway: Any, proto: str, backend: Any) -> None:
    await backend.subscribe(gateway.prefix + "cp/RF13/Reply")
    async with connect(gateway.url("RF13"), [proto]) as ws:
        await ws.send('[3,"no-such-id",{}]')
        await ws.send('[4,"no-such-id","GenericError","",{}]')
        await no_frame(ws)  # ER-09: never answer a result or an error
        await backend.silence(gateway.prefix + "cp/RF13/Reply", 0.2)


async def test_fr04_callresulterror_relayed_on_21(gateway: Any, backend: Any) -> None:
    await backend.subscribe(gateway.prefix + "cp/RF14/Reply")
    async with connect(gateway.url("RF14"), ["ocpp2.1"]) as ws:
        await ws.send('[5,"abc","FormatViolation","bad result",{"k":1}]')
        await no_frame(ws)
        body = await backend.wait_for(gateway.prefix + "cp/RF14/Reply")
        assert body["MessageTypeId"] == 5 and body["UniqueId"] == "abc"
        assert body["ErrorCode"] == "FormatViolation" and body["ErrorDetails"] == {"k": 1}


async def test_fr01_binary_frame_closes_1003(gateway: Any) -> None:
    async with connect(gateway.url("RF15"), ["ocpp1.6"]) as ws:
        await ws.send(b"[2,\"b\",\"Heartbeat\",{}]")
        await ws.wait_closed()
        assert ws.close_code == 1003


async def test_fr12_custom_data_relayed_byte_identical(gateway: Any, backend: Any) -> None:
    await backend.subscribe(gateway.prefix + "cp/RF16")
    raw = '{ "customData" : {"vendorId":"X","foo":1.50},  "x" : 1 }'
    async with connect(gateway.url("RF16"), ["ocpp2.0.1"]) as ws:
        await ws.send('[2,"c1","Heartbeat",{"customData":{"vendorId":"X","foo":1.50}}]')
        payload, _ = await backend.wait_raw(gateway.prefix + "cp/RF16")
        assert b'"Payload":{"customData":{"vendorId":"X","foo":1.50}}' in payload
        # a payload failing validation is answered, never relayed
        await ws.send(f'[2,"c2","Heartbeat",{raw}]')
        assert_error(await recv_json(ws), "c2", "FormatViolation")
