"""Who may open a WebSocket on a listener, decided from the request alone (no I/O).

The listener calls :func:`decide` before any upgrade (SEC-03) with the identity from the URL,
the Authorization header, the stored credential (profiles 1/2), the peer certificate and TLS
version (profiles 2/3). The answer is :class:`Allow`, :class:`Deny` (an HTTP status, a reason
safe to send and log, and the security event's name) or :class:`Check` (a password hash to
verify, which is slow and so done by the caller off the event loop).

Reasons never contain the password or the header: only what was wrong with it.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from ..credentials import Credential
from ..listeners import ListenerSpec
from ..ocppj.versions import Version

WWW_AUTHENTICATE = 'Basic realm="ocpp-mqtt", charset="UTF-8"'


@dataclass(frozen=True, slots=True)
class Allow:
    event: str | None = None  # a security event to report although admitted
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Deny:
    status: int  # 401 credentials, 403 certificate, 404 unknown identity (HS-09), 400 TLS
    reason: str
    event: str  # security event name: auth_failed, unknown_identity, certificate_rejected...


@dataclass(frozen=True, slots=True)
class Check:
    credential: Credential
    presented: bytes  # what followed `identity:` in the header; never logged


def parse_basic(header: str | None, identity: str) -> bytes | Deny:
    """The password bytes of `Basic base64(identity ":" password)` (SEC-04). The header is
    decoded to bytes and split after `identity:`, not at the first colon, because a 1.6
    AuthorizationKey sent raw may contain 0x3A (SEC-05)."""
    if not header:
        return Deny(401, "HTTP Basic credentials required (security profile 1/2)", "auth_failed")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return Deny(401, f"expected the Basic scheme, got {scheme[:20]!r}", "auth_failed")
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return Deny(401, "Authorization: not valid base64", "auth_failed")
    user = identity.encode("utf-8") + b":"
    if not decoded.startswith(user):
        return Deny(401, "the Basic user name is not the charge point identity (ID-04)",
                    "auth_failed")
    return decoded[len(user):]


def _subject(cert: dict[str, Any]) -> dict[str, list[str]]:
    """`getpeercert()`'s subject as attribute -> values."""
    out: dict[str, list[str]] = {}
    for rdn in cert.get("subject", ()):
        for name, value in rdn:
            out.setdefault(name, []).append(value)
    return out


def check_certificate(identity: str, cert: dict[str, Any] | None,
                      spec: ListenerSpec) -> Allow | Deny:
    """SEC-09: the verified client certificate must name this charge point (identities are
    case-insensitive, ID-01) and, when configured, carry the CPO's organisation name."""
    if not cert:
        return Deny(403, "security profile 3 needs a TLS client certificate", "certificate_missing")
    subject = _subject(cert)
    wanted = identity.lower()
    if spec.client_identity == "serial_number":
        names = subject.get("serialNumber", [])
        ok = any(v.lower() == wanted for v in names)
        rule = "subject serialNumber"
    else:
        names = subject.get("commonName", [])
        ok = any(v.lower() == wanted if spec.client_identity == "cn" else wanted in v.lower()
                 for v in names)
        rule = "subject CN" if spec.client_identity == "cn" else "subject CN (contains)"
    if not ok:
        shown = ", ".join(repr(n[:64]) for n in names) or "none"
        return Deny(403, f"client certificate {rule} {shown} does not match the identity "
                         "(SEC-09)", "certificate_mismatch")
    if spec.client_organization is not None and \
            spec.client_organization not in subject.get("organizationName", []):
        return Deny(403, "client certificate organization (O) is not "
                         f"{spec.client_organization!r} (SEC-09)", "certificate_mismatch")
    return Allow()


def decide(spec: ListenerSpec, identity: str, version: Version | None,
           authorization: str | None, credential: Credential | None, allow_unknown: bool,
           peer_cert: dict[str, Any] | None = None,
           tls_version: str | None = None) -> Allow | Deny | Check:
    """The listener's profile decides what is asked (SEC-01, SEC-07): nothing (0), Basic (1,
    2) or a client certificate (3, where an Authorization header is ignored)."""
    if spec.tls and version is not None and version.is_2x and tls_version in ("TLSv1",
                                                                              "TLSv1.1"):
        return Deny(400, f"OCPP {version.value} needs TLS 1.2 or later; this connection uses "
                         f"{tls_version} (SEC-08)", "tls_refused")
    if spec.profile == 0:
        return Allow()
    if spec.profile == 3:
        return check_certificate(identity, peer_cert, spec)
    presented = parse_basic(authorization, identity)
    if isinstance(presented, Deny):
        return presented
    if credential is None:
        if allow_unknown:
            return Allow("unknown_identity_admitted",
                         "no stored credentials; admitted by auth_allow_unknown")
        return Deny(404, "unknown charge point identity (HS-09)", "unknown_identity")
    return Check(credential, presented)
