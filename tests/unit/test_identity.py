"""Charge point identity: URL decoding (HS-02), checks (ID-01, ID-02), topic escaping (ID-03)."""

from __future__ import annotations

import unicodedata

import pytest

from ocpp_mqtt.ocppj.identity import (
    IdentityError,
    check_identity,
    escape_topic_level,
    identity_from_path,
    unescape_topic_level,
)
from ocpp_mqtt.ocppj.versions import Version

V16, V201, V21 = Version.V16, Version.V201, Version.V21
V2X = [V201, V21]


# ---- HS-02: the last path segment, percent-decoded ----------------------------------------

@pytest.mark.parametrize(
    ("path", "identity"),
    [
        ("/ocpp/RDAM%7C123", "RDAM|123"),
        ("/ocppj/RDAM%20123", "RDAM 123"),
        ("/ocpp/CP1", "CP1"),
        ("/a/b/c/CP1?token=x", "CP1"),
        ("/ocpp/CP%2B1", "CP+1"),
        ("/ocpp/CP+1", "CP+1"),  # a path, not a form: + is not a space
        ("/ocpp/%C3%A9t%C3%A9", "été"),
        ("/CP1", "CP1"),
    ],
)
def test_hs02_identity_is_last_segment_percent_decoded(path: str, identity: str) -> None:
    assert identity_from_path(path) == identity


def test_hs02_encoded_slash_stays_inside_the_identity() -> None:
    """Split before decoding, so `%2F` is part of the identity (and ID-02 refuses it)."""
    assert identity_from_path("/ocpp/a%2Fb") == "a/b"


def test_station_query_when_the_path_names_no_identity() -> None:
    """ocpp2mqtt bug 1: its chargers may be set up as ws://host:3000/?station=<id>; the last
    path segment still wins when there is one."""
    assert identity_from_path("/?station=CP%2F7") == "CP/7"  # decoded, then ID-02 refuses it
    assert identity_from_path("/ocpp/?a=1&station=GRIZZL-E") == "GRIZZL-E"
    assert identity_from_path("/ocpp/CP1?station=OTHER") == "CP1"


@pytest.mark.parametrize("path", ["/ocpp/", "/", "", "/?station=", "/?stations=CP1"])
def test_hs02_empty_identity_is_rejected(path: str) -> None:
    with pytest.raises(IdentityError):
        identity_from_path(path)


def test_hs02_invalid_utf8_is_rejected() -> None:
    with pytest.raises(IdentityError):
        identity_from_path("/ocpp/%FF%FE")


# ---- ID-01: 2.x identifierString ----------------------------------------------------------

@pytest.mark.parametrize("version", V2X)
@pytest.mark.parametrize("identity", ["A*b-c_d=e+f|g@h.i", "CP1", "a" * 48, "RDAM|123", "x"])
def test_id01_identifierstring_accepted(version: Version, identity: str) -> None:
    check_identity(identity, version)


@pytest.mark.parametrize("version", V2X)
@pytest.mark.parametrize(
    "identity", ["CP:1", "a" * 49, "", "RDAM 123", "CP/1", "été", "CP#1", "CP%1", "CP\x00"]
)
def test_id01_non_identifierstring_rejected(version: Version, identity: str) -> None:
    with pytest.raises(IdentityError):
        check_identity(identity, version)


@pytest.mark.parametrize("version", V2X)
def test_id01_length_limit_is_48_whatever_the_16_cap(version: Version) -> None:
    with pytest.raises(IdentityError):
        check_identity("a" * 49, version, max_length=200)


# ---- ID-02: 1.6 identities ----------------------------------------------------------------

@pytest.mark.parametrize("identity", ["RDAM 123", "CP:1", "été", "CP+1#2", "$SYS", "a" * 48])
def test_id02_any_non_empty_string_is_accepted_on_16(identity: str) -> None:
    check_identity(identity, V16)


@pytest.mark.parametrize("identity", ["a/b", "\x00", "a\x00b", "a\x1fb", "tab\there", "a\x7f", ""])
def test_id02_slash_control_and_nul_rejected_on_16(identity: str) -> None:
    with pytest.raises(IdentityError):
        check_identity(identity, V16)


@pytest.mark.parametrize("identity", ["a\x85b", "\x9b1m", "x\x80"])
def test_id02_c1_control_characters_rejected_on_16(identity: str) -> None:
    assert any(unicodedata.category(c) == "Cc" for c in identity)
    with pytest.raises(IdentityError):
        check_identity(identity, V16)


@pytest.mark.parametrize("path", ["/ocpp/a%2Fb", "/ocpp/%00", "/ocpp/a%0Ab"])
def test_id02_decoded_paths_rejected_on_16(path: str) -> None:
    with pytest.raises(IdentityError):
        check_identity(identity_from_path(path), V16)


def test_id02_length_cap_is_configurable() -> None:
    check_identity("x" * 48, V16)
    with pytest.raises(IdentityError):
        check_identity("x" * 49, V16)
    check_identity("x" * 49, V16, max_length=100)
    with pytest.raises(IdentityError):
        check_identity("x" * 11, V16, max_length=10)


def test_id02_unknown_version_uses_16_rules() -> None:
    check_identity("RDAM 123", None)
    with pytest.raises(IdentityError):
        check_identity("a/b", None)


# ---- ID-03: identities as MQTT topic levels -----------------------------------------------

NASTY = [
    "CP1",
    "CP+1",
    "CP#1",
    "a/b",
    "a%2Fb",
    "%",
    "%25",
    "%zz",
    "100%",
    "$SYS",
    "$",
    "$$",
    "a$b",
    "\x00",
    "a\x00b",
    "\x01\x1f\x7f\x80\x9f",
    "+",
    "#",
    "/",
    "//",
    "+/#",
    "été",
    "日本語",
    "😀+😀",
    "\u2028\ufeff",
    "RDAM 123",
    "A*b-c_d=e+f|g@h.i",
    "x" * 10_000,
    "+#/%$\x00" * 2000,
    "é/" * 5000,
]


@pytest.mark.parametrize("identity", NASTY, ids=lambda s: repr(s[:20]))
def test_id03_escaped_level_has_no_wildcard_separator_nul_or_dollar(identity: str) -> None:
    level = escape_topic_level(identity)
    assert "+" not in level
    assert "#" not in level
    assert "/" not in level
    assert "\x00" not in level
    assert not level.startswith("$")
    assert not any(unicodedata.category(c) == "Cc" for c in level)
    level.encode("utf-8")  # MQTT topics are UTF-8


@pytest.mark.parametrize("identity", NASTY, ids=lambda s: repr(s[:20]))
def test_id03_escaping_round_trips(identity: str) -> None:
    assert unescape_topic_level(escape_topic_level(identity)) == identity


def test_id03_documented_escaped_forms() -> None:
    assert escape_topic_level("CP+1") == "CP%2B1"
    assert escape_topic_level("$SYS") == "%24SYS"
    assert escape_topic_level("a${id}") == "a%24{id}"  # never a placeholder in a template
    assert escape_topic_level("\uffff") == "%EF%BF%BF"  # non-characters: brokers reject them
    assert escape_topic_level("CP1") == "CP1"


def test_id03_escaping_is_injective() -> None:
    escaped = {escape_topic_level(i) for i in NASTY}
    assert len(escaped) == len(set(NASTY))
