"""OCPP versions, their subprotocol tokens, message types and error-code vocabularies.

Where is the subprotocol chosen? :func:`select_subprotocol` (HS-03..HS-07).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable


class Version(enum.Enum):
    V16 = "1.6"
    V201 = "2.0.1"
    V21 = "2.1"

    @property
    def subprotocol(self) -> str:
        return "ocpp" + self.value

    @property
    def is_2x(self) -> bool:
        return self is not Version.V16

    @classmethod
    def parse(cls, text: str) -> Version:
        """Accept `1.6`, `ocpp1.6`, `2.0.1`, `ocpp2.0.1`, `2.1`, `ocpp2.1`."""
        value = text.strip()
        if value.startswith("ocpp"):
            value = value[4:]
        for v in cls:
            if v.value == value:
                return v
        raise ValueError(f"unknown OCPP version {text!r}; use one of 1.6, 2.0.1, 2.1")


# Subprotocol token -> version (HS-03: exact tokens, case-sensitive).
BY_SUBPROTOCOL: dict[str, Version] = {v.subprotocol: v for v in Version}

CALL = 2
CALLRESULT = 3
CALLERROR = 4
CALLRESULTERROR = 5  # 2.1 only (FR-04)
SEND = 6  # 2.1 only (FR-05)

MESSAGE_TYPES: dict[Version, frozenset[int]] = {
    Version.V16: frozenset({CALL, CALLRESULT, CALLERROR}),
    Version.V201: frozenset({CALL, CALLRESULT, CALLERROR}),
    Version.V21: frozenset({CALL, CALLRESULT, CALLERROR, CALLRESULTERROR, SEND}),
}

# ER-01 / ER-02, each in its version's own spelling (ER-03).
ERROR_CODES: dict[Version, frozenset[str]] = {
    Version.V16: frozenset(
        {
            "NotImplemented",
            "NotSupported",
            "InternalError",
            "ProtocolError",
            "SecurityError",
            "FormationViolation",
            "PropertyConstraintViolation",
            "OccurenceConstraintViolation",
            "TypeConstraintViolation",
            "GenericError",
        }
    ),
}
ERROR_CODES[Version.V201] = frozenset(
    {
        "FormatViolation",
        "GenericError",
        "InternalError",
        "MessageTypeNotSupported",
        "NotImplemented",
        "NotSupported",
        "OccurrenceConstraintViolation",
        "PropertyConstraintViolation",
        "ProtocolError",
        "RpcFrameworkError",
        "SecurityError",
        "TypeConstraintViolation",
    }
)
ERROR_CODES[Version.V21] = ERROR_CODES[Version.V201]

# The two codes whose spelling differs between 1.6 and 2.x (J16E §5.1/§5.2, "will not fix").
_TO_16 = {
    "FormatViolation": "FormationViolation",
    "OccurrenceConstraintViolation": "OccurenceConstraintViolation",
}
_TO_2X = {v: k for k, v in _TO_16.items()}


def error_code(version: Version, code: str) -> str:
    """Spell a (2.x-named or 1.6-named) error code the way `version` requires (ER-03)."""
    if version is Version.V16:
        return _TO_16.get(code, code)
    return _TO_2X.get(code, code)


def normalise_error_code(version: Version, code: str) -> str | None:
    """Map a code given in either spelling to the version's vocabulary; None if it has none."""
    spelled = error_code(version, code)
    return spelled if spelled in ERROR_CODES[version] else None


def select_subprotocol(
    offered: Iterable[str], enabled: Iterable[Version]
) -> Version | None:
    """The first client-offered token we support, in the client's preference order (HS-05).

    None means "no common version": the handshake then completes without a protocol and the
    connection is closed right away (HS-06). Near-misses such as `OCPP1.6` never match (HS-03).
    """
    allowed = {v.subprotocol for v in enabled}
    for token in offered:
        token = token.strip()
        if token in allowed:
            return BY_SUBPROTOCOL[token]
    return None


def parse_protocol_header(values: Iterable[str]) -> list[str]:
    """Split `Sec-WebSocket-Protocol` header values into tokens, keeping their order."""
    tokens: list[str] = []
    for value in values:
        tokens.extend(t.strip() for t in value.split(",") if t.strip())
    return tokens
