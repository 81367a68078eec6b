"""The handshake's authentication decision (transport/auth.py) and the credential rules
(credentials.py), without sockets: SEC-01, SEC-03..SEC-09, ID-04, HS-09."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from ocpp_mqtt.credentials import (
    HASHER,
    Credential,
    CredentialError,
    CredentialStore,
    check_secret,
    generate,
    parse_import,
    verify,
)
from ocpp_mqtt.listeners import ListenerSpec
from ocpp_mqtt.ocppj.versions import Version
from ocpp_mqtt.transport.auth import Allow, Check, Deny, decide, parse_basic

AL1000_KEY = "0001020304050607FFFFFFFFFFFFFFFFFFFFFFFF"
AL1000_HEADER = "Basic QUwxMDAwOgABAgMEBQYH////////////////"  # SEC-05's example, raw bytes


def spec(profile: int, **kw: object) -> ListenerSpec:
    return ListenerSpec.model_validate({"address": "127.0.0.1:0", "profile": profile, **kw})


def basic(user: str, password: bytes | str) -> str:
    raw = password.encode() if isinstance(password, str) else password
    return "Basic " + base64.b64encode(user.encode() + b":" + raw).decode()


def cred(identity: str, kind: str, secret: str) -> Credential:
    return Credential(identity, kind, HASHER.hash(check_secret(kind, secret)))  # type: ignore[arg-type]


PASSWORD = "correct horse battery"  # 21 characters


def test_profile_0_admits_without_credentials() -> None:
    assert decide(spec(0), "CP1", Version.V16, None, None, False) == Allow()


@pytest.mark.parametrize("profile", [1, 2])
def test_sec03_missing_or_malformed_header_is_401(profile: int) -> None:
    for header in (None, "", "Bearer abc", "Basic !!!notbase64", "Basic"):
        result = decide(spec(profile) if profile == 1 else ListenerSpec.model_construct(
            address="x:1", profile=2, cert=[], key=[]), "CP1", Version.V201, header,
            cred("CP1", "password", PASSWORD), False)
        assert isinstance(result, Deny) and result.status == 401, header


def test_id04_user_name_must_be_the_identity() -> None:
    result = decide(spec(1), "CP1", Version.V201, basic("CP2", PASSWORD),
                    cred("CP1", "password", PASSWORD), False)
    assert isinstance(result, Deny) and result.status == 401 and "ID-04" in result.reason
    # a user name that merely starts with the identity is not it either
    assert isinstance(parse_basic(basic("CP10", PASSWORD), "CP1"), Deny)


def test_hs09_unknown_identity_404_unless_allowed() -> None:
    result = decide(spec(1), "CPX", Version.V201, basic("CPX", PASSWORD), None, False)
    assert isinstance(result, Deny) and result.status == 404 and "HS-09" in result.reason
    admitted = decide(spec(1), "CPX", Version.V201, basic("CPX", PASSWORD), None, True)
    assert isinstance(admitted, Allow) and admitted.event == "unknown_identity_admitted"


def test_sec04_sec06_utf8_password_checked_against_the_hash() -> None:
    stored = cred("CP1", "password", "pässwörd-16-chars")
    result = decide(spec(1), "CP1", Version.V201, basic("CP1", "pässwörd-16-chars"), stored,
                    False)
    assert isinstance(result, Check)
    assert verify(result.credential, result.presented)
    assert not verify(stored, "pässwörd-16-charz".encode())


def test_sec05_al1000_raw_bytes_and_hex_text_both_match_the_stored_key() -> None:
    stored = cred("AL1000", "key", AL1000_KEY)
    raw = parse_basic(AL1000_HEADER, "AL1000")
    assert raw == bytes.fromhex(AL1000_KEY)  # split after "AL1000:", not at the first 0x3A
    assert isinstance(raw, bytes) and verify(stored, raw)
    hex_upper = parse_basic(basic("AL1000", AL1000_KEY), "AL1000")
    hex_lower = parse_basic(basic("AL1000", AL1000_KEY.lower()), "AL1000")
    assert isinstance(hex_upper, bytes) and verify(stored, hex_upper)
    assert isinstance(hex_lower, bytes) and verify(stored, hex_lower)
    assert not verify(stored, bytes.fromhex(AL1000_KEY)[:-1] + b"\x00")
    # a key whose bytes contain ':' (0x3A) still splits after the identity
    colon_key = "3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a"
    colon = parse_basic(basic("AL1000", bytes.fromhex(colon_key)), "AL1000")
    assert isinstance(colon, bytes) and verify(cred("AL1000", "key", colon_key), colon)


def test_sec06_password_length_and_sec05_key_form_enforced() -> None:
    with pytest.raises(CredentialError, match="16-40"):
        check_secret("password", "x" * 15)
    with pytest.raises(CredentialError, match="16-40"):
        check_secret("password", "x" * 41)
    check_secret("password", "x" * 16)
    for bad in ("00" * 15, "00" * 21, "zz" * 16, "0" * 33):
        with pytest.raises(CredentialError, match="SEC-05"):
            check_secret("key", bad)
    assert check_secret("key", AL1000_KEY) == AL1000_KEY.lower()
    assert len(generate("password")) == 32 and len(bytes.fromhex(generate("key"))) == 20


def test_sec07_profile_3_ignores_basic_and_needs_a_matching_certificate() -> None:
    p3 = ListenerSpec.model_construct(address="x:1", profile=3, cert=[], key=[], ca=None,
                                      client_identity="cn", client_organization=None)
    no_cert = decide(p3, "CP1", Version.V201, basic("CP1", PASSWORD), None, False)
    assert isinstance(no_cert, Deny) and no_cert.status == 403
    assert no_cert.event == "certificate_missing"
    good = {"subject": ((("commonName", "cp1"),), (("organizationName", "CPO"),))}
    assert decide(p3, "CP1", Version.V201, None, None, False, good) == Allow()
    wrong = {"subject": ((("commonName", "CP2"),),)}
    result = decide(p3, "CP1", Version.V201, None, None, False, wrong)
    assert isinstance(result, Deny) and result.event == "certificate_mismatch"
    assert "SEC-09" in result.reason


def test_sec09_identity_rules_and_organization() -> None:
    def p3(rule: str, org: str | None = None) -> ListenerSpec:
        return ListenerSpec.model_construct(address="x:1", profile=3, cert=[], key=[],
                                            ca=None, client_identity=rule,
                                            client_organization=org)

    cert = {"subject": ((("commonName", "CPO-SN-CP1"),), (("serialNumber", "CP1"),),
                        (("organizationName", "Good CPO"),))}
    assert isinstance(decide(p3("cn"), "CP1", Version.V16, None, None, False, cert), Deny)
    assert decide(p3("cn_contains"), "CP1", Version.V16, None, None, False, cert) == Allow()
    assert decide(p3("serial_number"), "CP1", Version.V16, None, None, False, cert) == Allow()
    assert decide(p3("serial_number", "Good CPO"), "CP1", Version.V16, None, None, False,
                  cert) == Allow()
    bad_org = decide(p3("serial_number", "Other CPO"), "CP1", Version.V16, None, None, False,
                     cert)
    assert isinstance(bad_org, Deny) and "organization" in bad_org.reason


def test_sec08_old_tls_refused_for_2x_only() -> None:
    p2 = ListenerSpec.model_construct(address="x:1", profile=2, cert=[], key=[])
    header, stored = basic("CP1", PASSWORD), cred("CP1", "password", PASSWORD)
    refused = decide(p2, "CP1", Version.V201, header, stored, False, None, "TLSv1.1")
    assert isinstance(refused, Deny) and "SEC-08" in refused.reason
    assert isinstance(decide(p2, "CP1", Version.V16, header, stored, False, None, "TLSv1.1"),
                      Check)


def test_reasons_never_carry_the_secret() -> None:
    for header in (basic("CP2", PASSWORD), basic("CP1", PASSWORD + "x")):
        result = decide(spec(1), "CP1", Version.V201, header, None, False)
        assert isinstance(result, Deny)
        assert PASSWORD not in result.reason and header not in result.reason


def test_store_round_trip_and_import(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "c.sqlite3")
    store.set("CP1", "password", PASSWORD)
    store.set("AL1000", "key", AL1000_KEY)
    assert [(i, k) for i, k, _ in store.list()] == [("AL1000", "key"), ("CP1", "password")]
    stored = store.get("CP1")
    assert stored is not None and PASSWORD not in stored.hash and verify(stored, PASSWORD.encode())
    assert store.remove("CP1") and not store.remove("CP1") and store.get("CP1") is None
    rows = parse_import(f"identity,password,key\nA,{PASSWORD},\nB,,{AL1000_KEY}\n", "csv")
    assert [(i, k) for i, k, _ in rows] == [("A", "password"), ("B", "key")]
    with pytest.raises(CredentialError, match=r"line 3 .B.: .*SEC-06"):
        parse_import(f"identity,password\nA,{PASSWORD}\nB,short\n", "csv")
    with pytest.raises(CredentialError, match="2: needs `identity`"):
        parse_import(f'[{{"identity": "A", "password": "{PASSWORD}"}}, {{"identity": "B"}}]',
                     "json")
    with pytest.raises(CredentialError, match="without ':'"):
        store.set("CP:1", "password", PASSWORD)
