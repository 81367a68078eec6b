"""The WebSocket handshake decision, without sockets: identity and OCPP version (HS-*, ID-*)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..ocppj.identity import IdentityError, check_identity, identity_from_path
from ..ocppj.versions import Version, parse_protocol_header, select_subprotocol


@dataclass(frozen=True, slots=True)
class Accept:
    identity: str
    version: Version | None  # None: complete the handshake, then close at once (HS-06)
    echo: str | None  # the Sec-WebSocket-Protocol to answer with (never one not offered)
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Reject:
    status: int
    reason: str


def negotiate(
    raw_path: str,
    protocol_headers: Iterable[str],
    enabled: list[Version],
    legacy: Version | None,
    identity_max_length: int,
) -> Accept | Reject:
    offered = parse_protocol_header(protocol_headers)
    version = select_subprotocol(offered, enabled)
    echo = version.subprotocol if version is not None else None
    problem = None
    if version is None:
        if not offered and legacy is not None:
            version = legacy  # HS-07 opt-in; no header in the 101, since none was offered
        elif not offered:
            problem = "no Sec-WebSocket-Protocol offered (OCPP-J requires one)"
        else:
            supported = ", ".join(v.subprotocol for v in enabled)
            problem = f"no common OCPP version: offered {', '.join(offered)}; " \
                      f"supported {supported}"
    try:
        identity = identity_from_path(raw_path)
        check_identity(identity, version, identity_max_length)
    except IdentityError as exc:
        return Reject(400, str(exc))
    return Accept(identity, version, echo, problem)
