"""The handshake decision without sockets: version (HS-03..HS-08) and identity (HS-02, ID-*)."""

from __future__ import annotations

import pytest

from ocpp_mqtt.ocppj.versions import Version
from ocpp_mqtt.transport.handshake import Accept, Reject, negotiate

V16, V201, V21 = Version.V16, Version.V201, Version.V21
ALL = [V16, V201, V21]


def accept(
    path: str = "/ocpp/CP1",
    headers: list[str] | None = None,
    enabled: list[Version] | None = None,
    legacy: Version | None = None,
    max_length: int = 48,
) -> Accept:
    result = negotiate(path, headers or [], enabled or ALL, legacy, max_length)
    assert isinstance(result, Accept), result
    return result


def reject(
    path: str,
    headers: list[str] | None = None,
    legacy: Version | None = None,
    max_length: int = 48,
) -> Reject:
    result = negotiate(path, headers or [], ALL, legacy, max_length)
    assert isinstance(result, Reject), result
    return result


# ---- HS-03 / HS-04: exactly one offered token echoed --------------------------------------

@pytest.mark.parametrize("token", ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"])
def test_hs03_token_echoed_unchanged(token: str) -> None:
    result = accept(headers=[token])
    assert result.echo == token
    assert result.version is not None and result.version.subprotocol == token
    assert result.problem is None


def test_hs04_echo_is_one_value_from_the_offer() -> None:
    offered = ["ocpp1.6, ocpp2.0.1"]
    result = accept(headers=offered)
    assert result.echo in ("ocpp1.6", "ocpp2.0.1")
    assert "," not in (result.echo or "")
    assert result.version is Version.parse(result.echo or "")


# ---- HS-05: client order -----------------------------------------------------------------

@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (["ocpp2.0.1, ocpp1.6"], V201),
        (["ocpp1.6, ocpp2.0.1"], V16),
        (["ocpp1.6", "ocpp2.1"], V16),  # two header lines keep their order
        (["ocpp2.1,ocpp2.0.1,ocpp1.6"], V21),
        (["ocpp1.5, ocpp2.0.1"], V201),
    ],
)
def test_hs05_client_preference_order(headers: list[str], expected: Version) -> None:
    result = accept(headers=headers)
    assert result.version is expected
    assert result.echo == expected.subprotocol


def test_hs05_disabled_versions_are_skipped() -> None:
    result = accept(headers=["ocpp2.1, ocpp1.6"], enabled=[V16])
    assert result.version is V16
    assert result.echo == "ocpp1.6"


# ---- HS-06: no common subprotocol: 101 without a protocol, then close ---------------------

@pytest.mark.parametrize("headers", [["ocpp1.5"], ["OCPP1.6"], ["ocpp2.0"], ["ocpp2.0, OCPP2.1"]])
def test_hs06_no_common_version_completes_without_protocol(headers: list[str]) -> None:
    result = accept(headers=headers)
    assert result.version is None
    assert result.echo is None
    assert result.problem


def test_hs06_offered_version_not_enabled() -> None:
    result = accept(headers=["ocpp2.1"], enabled=[V16, V201])
    assert result.version is None and result.echo is None


# ---- HS-07: no Sec-WebSocket-Protocol at all ---------------------------------------------

@pytest.mark.parametrize("headers", [[], [""], [" , "]])
def test_hs07_without_legacy_default_is_closed(headers: list[str]) -> None:
    result = accept(headers=headers)
    assert result.version is None
    assert result.echo is None
    assert result.problem


@pytest.mark.parametrize("legacy", ALL)
def test_hs07_legacy_default_version_without_echo(legacy: Version) -> None:
    """RFC 6455 forbids echoing a protocol the client did not offer: echo stays None."""
    result = accept(headers=[], legacy=legacy)
    assert result.version is legacy
    assert result.echo is None


def test_hs07_legacy_default_not_used_when_something_was_offered() -> None:
    """A CP that offers only unsupported tokens gets HS-06, not the legacy default."""
    result = accept(headers=["ocpp1.5"], legacy=V16)
    assert result.version is None
    assert result.echo is None


def test_hs07_offered_token_wins_over_legacy_default() -> None:
    result = accept(headers=["ocpp2.0.1"], legacy=V16)
    assert result.version is V201
    assert result.echo == "ocpp2.0.1"


# ---- HS-08: the URL path never determines the version -------------------------------------

@pytest.mark.parametrize(
    "path", ["/ocpp1.6/CP1", "/ocpp/ocpp1.6/CP1", "/ocpp/1.6/CP1", "/ocpp1.6/CP1?version=1.6"]
)
def test_hs08_version_in_path_is_ignored(path: str) -> None:
    result = accept(path=path, headers=["ocpp2.0.1"])
    assert result.version is V201
    assert result.echo == "ocpp2.0.1"
    assert result.identity == "CP1"


def test_hs08_path_version_with_no_offer_is_not_used() -> None:
    result = accept(path="/ocpp2.1/CP1", headers=[])
    assert result.version is None


# ---- HS-02 / ID-01 / ID-02 through the handshake -------------------------------------------

def test_hs02_identity_percent_decoded_21() -> None:
    result = accept(path="/ocpp/RDAM%7C123", headers=["ocpp2.1"])
    assert result.identity == "RDAM|123"


def test_hs02_identity_percent_decoded_16() -> None:
    result = accept(path="/ocppj/RDAM%20123", headers=["ocpp1.6"])
    assert result.identity == "RDAM 123"


@pytest.mark.parametrize("headers", [["ocpp1.6"], ["ocpp2.0.1"], ["ocpp2.1"], []])
def test_hs02_empty_identity_rejected_with_400(headers: list[str]) -> None:
    assert reject("/ocpp/", headers).status == 400


@pytest.mark.parametrize("token", ["ocpp2.0.1", "ocpp2.1"])
@pytest.mark.parametrize("path", ["/ocpp/CP:1", "/ocpp/CP%3A1", "/ocpp/" + "a" * 49,
                                  "/ocpp/RDAM%20123"])
def test_id01_rejected_before_upgrade(token: str, path: str) -> None:
    assert 400 <= reject(path, [token]).status < 500


@pytest.mark.parametrize("token", ["ocpp2.0.1", "ocpp2.1"])
def test_id01_accepted(token: str) -> None:
    result = accept(path="/ocpp/A*b-c_d=e+f%7Cg@h.i", headers=[token])
    assert result.identity == "A*b-c_d=e+f|g@h.i"


@pytest.mark.parametrize("path", ["/ocpp/a%2Fb", "/ocpp/%00", "/ocpp/" + "x" * 49])
def test_id02_rejected_on_16(path: str) -> None:
    assert 400 <= reject(path, ["ocpp1.6"]).status < 500


def test_id02_cap_is_the_configured_length() -> None:
    assert accept(path="/ocpp/" + "x" * 60, headers=["ocpp1.6"], max_length=60).identity
    assert 400 <= reject("/ocpp/" + "x" * 11, ["ocpp1.6"], max_length=10).status < 500


def test_id02_legacy_16_applies_16_identity_rules() -> None:
    result = accept(path="/ocpp/RDAM%20123", headers=[], legacy=V16)
    assert result.identity == "RDAM 123"
    assert 400 <= reject("/ocpp/RDAM%20123", [], legacy=V201).status < 500


def test_id02_identity_checked_even_without_common_version() -> None:
    assert 400 <= reject("/ocpp/a%2Fb", ["ocpp1.5"]).status < 500
