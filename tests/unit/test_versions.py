"""Versions, subprotocol tokens and error-code vocabularies (HS-03, HS-05, FR-03, ER-01..ER-03)."""

from __future__ import annotations

import pytest

from ocpp_mqtt.ocppj.versions import (
    BY_SUBPROTOCOL,
    ERROR_CODES,
    MESSAGE_TYPES,
    Version,
    error_code,
    normalise_error_code,
    parse_protocol_header,
    select_subprotocol,
)

ALL = list(Version)
V16, V201, V21 = Version.V16, Version.V201, Version.V21

SPEC_CODES_16 = {
    "NotImplemented", "NotSupported", "InternalError", "ProtocolError", "SecurityError",
    "FormationViolation", "PropertyConstraintViolation", "OccurenceConstraintViolation",
    "TypeConstraintViolation", "GenericError",
}
SPEC_CODES_2X = {
    "FormatViolation", "GenericError", "InternalError", "MessageTypeNotSupported",
    "NotImplemented", "NotSupported", "OccurrenceConstraintViolation",
    "PropertyConstraintViolation", "ProtocolError", "RpcFrameworkError", "SecurityError",
    "TypeConstraintViolation",
}


# ---- HS-03: exact tokens -----------------------------------------------------------------

def test_hs03_subprotocol_tokens_are_exact() -> None:
    assert V16.subprotocol == "ocpp1.6"
    assert V201.subprotocol == "ocpp2.0.1"
    assert V21.subprotocol == "ocpp2.1"
    assert set(BY_SUBPROTOCOL) == {"ocpp1.6", "ocpp2.0.1", "ocpp2.1"}


@pytest.mark.parametrize("token", ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"])
def test_hs03_each_token_selects_its_version(token: str) -> None:
    chosen = select_subprotocol([token], ALL)
    assert chosen is not None
    assert chosen.subprotocol == token


@pytest.mark.parametrize(
    "token", ["OCPP1.6", "ocpp2.0", "Ocpp2.1", "ocpp16", "ocpp2.0.1.0", "ocpp1.5", "ocpp2.01", ""]
)
def test_hs03_near_misses_are_no_common_subprotocol(token: str) -> None:
    assert select_subprotocol([token], ALL) is None


# ---- HS-05: the client's preference order -------------------------------------------------

@pytest.mark.parametrize(
    ("offered", "expected"),
    [
        (["ocpp2.0.1", "ocpp1.6"], V201),
        (["ocpp1.6", "ocpp2.0.1"], V16),
        (["ocpp1.6", "ocpp2.1", "ocpp2.0.1"], V16),
        (["ocpp2.1", "ocpp1.6"], V21),
        (["ocpp1.5", "OCPP2.1", "ocpp2.0.1", "ocpp1.6"], V201),
    ],
)
def test_hs05_client_preference_order(offered: list[str], expected: Version) -> None:
    assert select_subprotocol(offered, ALL) is expected


def test_hs05_server_list_order_does_not_matter() -> None:
    """HS-05: the server's own list order must not override the client's order."""
    assert select_subprotocol(["ocpp1.6", "ocpp2.1"], [V21, V201, V16]) is V16
    assert select_subprotocol(["ocpp2.1", "ocpp1.6"], [V16, V201, V21]) is V21


def test_hs05_only_enabled_versions_are_chosen() -> None:
    assert select_subprotocol(["ocpp2.1", "ocpp1.6"], [V16]) is V16
    assert select_subprotocol(["ocpp2.1"], [V16, V201]) is None


def test_hs06_nothing_offered_is_none() -> None:
    assert select_subprotocol([], ALL) is None


def test_hs05_header_values_keep_their_order() -> None:
    assert parse_protocol_header(["ocpp2.0.1, ocpp1.6", "ocpp2.1"]) == [
        "ocpp2.0.1", "ocpp1.6", "ocpp2.1",
    ]
    assert parse_protocol_header([" ocpp1.6 ,, "]) == ["ocpp1.6"]
    assert parse_protocol_header([]) == []


# ---- FR-03: MessageTypeIds per version ----------------------------------------------------

def test_fr03_message_types_per_version() -> None:
    assert MESSAGE_TYPES[V16] == {2, 3, 4}
    assert MESSAGE_TYPES[V201] == {2, 3, 4}
    assert MESSAGE_TYPES[V21] == {2, 3, 4, 5, 6}


# ---- ER-01 / ER-02: vocabularies ---------------------------------------------------------

def test_er01_ocpp16_has_exactly_the_ten_codes() -> None:
    assert ERROR_CODES[V16] == SPEC_CODES_16
    assert len(ERROR_CODES[V16]) == 10


@pytest.mark.parametrize("version", [V201, V21])
def test_er02_ocpp2x_has_exactly_the_twelve_codes(version: Version) -> None:
    assert ERROR_CODES[version] == SPEC_CODES_2X
    assert len(ERROR_CODES[version]) == 12


def test_er03_ocpp16_lacks_rpcframeworkerror_and_messagetypenotsupported() -> None:
    assert "RpcFrameworkError" not in ERROR_CODES[V16]
    assert "MessageTypeNotSupported" not in ERROR_CODES[V16]
    assert "FormatViolation" not in ERROR_CODES[V16]
    assert "OccurrenceConstraintViolation" not in ERROR_CODES[V16]


# ---- ER-03: spelling per version ----------------------------------------------------------

@pytest.mark.parametrize(
    ("version", "given", "expected"),
    [
        (V16, "FormatViolation", "FormationViolation"),
        (V16, "FormationViolation", "FormationViolation"),
        (V16, "OccurrenceConstraintViolation", "OccurenceConstraintViolation"),
        (V16, "OccurenceConstraintViolation", "OccurenceConstraintViolation"),
        (V201, "FormationViolation", "FormatViolation"),
        (V201, "OccurenceConstraintViolation", "OccurrenceConstraintViolation"),
        (V21, "FormationViolation", "FormatViolation"),
        (V21, "OccurrenceConstraintViolation", "OccurrenceConstraintViolation"),
        (V16, "GenericError", "GenericError"),
        (V21, "NotImplemented", "NotImplemented"),
    ],
)
def test_er03_error_code_spelling(version: Version, given: str, expected: str) -> None:
    assert error_code(version, given) == expected


@pytest.mark.parametrize("version", ALL)
def test_er03_every_code_spells_into_the_version_vocabulary(version: Version) -> None:
    """ER-03: any code of either vocabulary that exists in `version` maps into its list."""
    for code in SPEC_CODES_16 | SPEC_CODES_2X:
        spelled = normalise_error_code(version, code)
        if spelled is not None:
            assert spelled in ERROR_CODES[version]


@pytest.mark.parametrize(
    ("version", "given", "expected"),
    [
        (V16, "FormatViolation", "FormationViolation"),
        (V16, "OccurrenceConstraintViolation", "OccurenceConstraintViolation"),
        (V201, "FormationViolation", "FormatViolation"),
        (V21, "OccurenceConstraintViolation", "OccurrenceConstraintViolation"),
        (V201, "RpcFrameworkError", "RpcFrameworkError"),
        (V21, "MessageTypeNotSupported", "MessageTypeNotSupported"),
    ],
)
def test_er03_normalise_accepts_both_spellings(version: Version, given: str, expected: str) -> None:
    assert normalise_error_code(version, given) == expected


@pytest.mark.parametrize(
    ("version", "code"),
    [
        (V16, "RpcFrameworkError"),
        (V16, "MessageTypeNotSupported"),
        (V201, "FooError"),
        (V21, "notimplemented"),
        (V16, ""),
    ],
)
def test_er03_normalise_rejects_codes_not_in_the_version(version: Version, code: str) -> None:
    assert normalise_error_code(version, code) is None


# ---- Version.parse (used by configuration) ------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.6", V16), ("ocpp1.6", V16), ("2.0.1", V201), ("ocpp2.0.1", V201), ("2.1", V21)],
)
def test_version_parse(text: str, expected: Version) -> None:
    assert Version.parse(text) is expected


@pytest.mark.parametrize("text", ["2.0", "1.5", "ocpp", "", "3"])
def test_version_parse_rejects_unknown(text: str) -> None:
    with pytest.raises(ValueError):
        Version.parse(text)
