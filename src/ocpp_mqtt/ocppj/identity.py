"""Charge point identity: read from the URL path, checked per version, made safe for MQTT topics.

Escaping (ID-03) is percent-encoding of exactly these characters: `%` `+` `#` `/` `$`,
U+0000-U+001F, U+007F-U+009F, and the Unicode non-characters (U+FDD0-U+FDEF and U+xFFFE/U+xFFFF
of every plane, which brokers may reject as malformed). So `CP+1` appears in topics as `CP%2B1`
and `$SYS` as `%24SYS`; an identity can never add a topic level, a wildcard, a `$`-topic or a
`${...}` placeholder, nor make a broker drop the connection. The mapping is reversible
(:func:`unescape_topic_level`).
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from .versions import Version

# ID-01: identifierString without ':' (it separates the Basic-auth user name), at most 48.
_IDENTIFIER_2X = re.compile(r"[A-Za-z0-9*\-_=+|@.]{1,48}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(17))
_UNSAFE = re.compile("[%+#/$\x00-\x1f\x7f-\x9f" + _NONCHARACTERS + "]")
_ESCAPED = re.compile(r"%([0-9A-F]{2})")


class IdentityError(ValueError):
    """The identity in the URL cannot be accepted; the message says why (HTTP 400 reason)."""


def identity_from_path(raw_path: str) -> str:
    """The last path segment, percent-decoded (HS-02); when the path ends with `/`, the
    `station` query parameter (ocpp2mqtt's alternative) if there is one.

    The path is split *before* decoding, so an encoded `/` (%2F) stays inside the identity, where
    the checks below refuse it (ID-02).
    """
    path, _, query = raw_path.split("#", 1)[0].partition("?")
    segment = path.rsplit("/", 1)[-1]
    if not segment:
        # ocpp2mqtt's alternative, for chargers configured as ws://host:port/?station=<id>
        station = [v for k, _, v in (p.partition("=") for p in query.split("&"))
                   if k == "station" and v]
        if not station:
            raise IdentityError("the URL path must end with the charge point identity")
        segment = station[0]
    try:
        return unquote_to_bytes(segment).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IdentityError("the identity is not valid UTF-8 after percent-decoding") from exc


def check_identity(identity: str, version: Version | None, max_length: int = 48) -> None:
    """Apply ID-01 (2.x) or ID-02 (1.6 and unknown versions); raise IdentityError."""
    if version is not None and version.is_2x:
        if _IDENTIFIER_2X.fullmatch(identity) is None:
            raise IdentityError(
                f"identity {identity[:60]!r} is not an OCPP {version.value} identifierString "
                "(1-48 of A-Z a-z 0-9 * - _ = + | @ .)"
            )
        return
    if not identity:
        raise IdentityError("the identity is empty")
    if len(identity) > max_length:
        raise IdentityError(f"the identity is longer than {max_length} characters")
    if "/" in identity:
        raise IdentityError("the identity contains '/'")
    if _CONTROL.search(identity):
        raise IdentityError("the identity contains a control character")


def _escape_char(match: re.Match[str]) -> str:
    return "".join(f"%{b:02X}" for b in match.group(0).encode("utf-8"))


def escape_topic_level(identity: str) -> str:
    """The identity as one safe MQTT topic level (ID-03)."""
    return _UNSAFE.sub(_escape_char, identity)


def unescape_topic_level(level: str) -> str:
    return unquote_to_bytes(level).decode("utf-8") if "%" in level else level
