"""Secrets never reach the frame log: each kind the README lists, in the frames that carry it."""

from __future__ import annotations

import orjson
import pytest

from ocpp_mqtt.redact import MASK, redact_frame

SECRET = "s3cr3t-Pa55"
PEM = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBx\n-----END EC PRIVATE KEY-----"


def _redacted(frame: list[object]) -> str:
    text = redact_frame(orjson.dumps(frame).decode())
    assert SECRET not in text and "MHcCAQEEIBx" not in text, text
    assert MASK in text
    return text


def test_frames_without_secrets_are_kept_byte_for_byte() -> None:
    # odd spacing and key order survive: the log shows what was on the wire
    text = '[2, "1","BootNotification",  {"chargePointVendor":"V","chargePointModel":"M"}]'
    assert redact_frame(text) is text
    other_key = '[2,"2","ChangeConfiguration",{"key":"HeartbeatInterval","value":"300"}]'
    assert redact_frame(other_key) == other_key


def test_v16_change_configuration_authorization_key() -> None:
    text = _redacted([2, "1", "ChangeConfiguration",
                      {"key": "AuthorizationKey", "value": SECRET}])
    assert orjson.loads(text)[3] == {"key": "AuthorizationKey", "value": MASK}


def test_v16_get_configuration_result() -> None:
    text = _redacted([3, "1", {"configurationKey": [
        {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
        {"key": "AuthorizationKey", "readonly": False, "value": SECRET}],
        "unknownKey": []}])
    keys = orjson.loads(text)[2]["configurationKey"]
    assert keys[0]["value"] == "300"  # other keys stay readable
    assert keys[1] == {"key": "AuthorizationKey", "readonly": False, "value": MASK}


@pytest.mark.parametrize("variable", ["BasicAuthPassword", "ApnPassword", "VpnKey", "SimPin"])
def test_v2_set_variables(variable: str) -> None:
    text = _redacted([2, "1", "SetVariables", {"setVariableData": [
        {"attributeValue": SECRET, "component": {"name": "SecurityCtrlr"},
         "variable": {"name": variable}},
        {"attributeValue": "60", "component": {"name": "OCPPCommCtrlr"},
         "variable": {"name": "HeartbeatInterval"}}]}])
    data = orjson.loads(text)[3]["setVariableData"]
    assert data[0]["attributeValue"] == MASK and data[1]["attributeValue"] == "60"


def test_v2_get_variables_result_and_notify_report() -> None:
    _redacted([3, "1", {"getVariableResult": [
        {"attributeStatus": "Accepted", "attributeValue": SECRET,
         "component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}}]}])
    _redacted([2, "1", "NotifyReport", {"requestId": 1, "generatedAt": "2024-01-01T00:00:00Z",
                                        "seqNo": 0, "reportData": [
        {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"},
         "variableAttribute": [{"type": "Actual", "value": SECRET}]}]}])


def test_set_network_profile_connection_data() -> None:
    text = _redacted([2, "1", "SetNetworkProfile", {"configurationSlot": 1, "connectionData": {
        "ocppVersion": "OCPP20", "ocppTransport": "JSON", "ocppCsmsUrl": "wss://csms/x",
        "messageTimeout": 30, "securityProfile": 2, "ocppInterface": "Wireless0",
        "basicAuthPassword": SECRET,
        "apn": {"apn": "internet", "apnAuthentication": "AUTO", "apnUserName": "u",
                "apnPassword": SECRET, "simPin": 1234},
        "vpn": {"server": "vpn", "user": "u", "password": SECRET, "key": SECRET,
                "type": "IPSec"}}}])
    data = orjson.loads(text)[3]["connectionData"]
    assert data["apn"]["simPin"] == MASK and data["vpn"]["key"] == MASK
    assert data["ocppCsmsUrl"] == "wss://csms/x" and data["apn"]["apnUserName"] == "u"


def test_private_keys_anywhere() -> None:
    _redacted([2, "1", "CertificateSigned", {"certificateChain": PEM}])
    _redacted([2, "1", "DataTransfer", {"vendorId": "x", "data": "key=" + PEM}])


def test_not_json_with_a_secret_is_withheld() -> None:
    text = redact_frame('[2,"1","ChangeConfiguration",{"key":"AuthorizationKey","value":"' +
                        SECRET)
    assert SECRET not in text and "withheld" in text
    assert redact_frame("[2,") == "[2,"  # nothing secret-looking: shown for debugging


def test_names_spelt_with_json_escapes_are_still_found() -> None:
    text = '[2,"1","SetNetworkProfile",{"connectionData":{"vpn":{"\\u0070assword":"' + \
        SECRET + '","k\\u0065y":"' + SECRET + '"}}}]'
    assert orjson.loads(text)[3]["connectionData"]["vpn"]["password"] == SECRET
    out = redact_frame(text)
    assert SECRET not in out
    assert orjson.loads(out)[3]["connectionData"]["vpn"] == {"password": MASK, "key": MASK}


def test_snake_case_names_are_found() -> None:
    _redacted([2, "1", "DataTransfer", {"vendorId": "x", "data": {"sim_pin": SECRET}}])
