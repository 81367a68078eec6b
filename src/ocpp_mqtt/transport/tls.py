"""TLS for profile 2/3 listeners (SEC-08, SEC-09) and certificate reloads on SIGHUP.

A listener's server context holds every configured certificate at once (OpenSSL keeps one per
key type, so an RSA and an ECDSA pair serve both kinds of client, SEC-08). A reload builds a
fresh context from the files; the live context's SNI callback (called for every ClientHello,
with or without SNI) then hands each new handshake the fresh one. Established connections keep
the context they were made with, so none is dropped. A reload whose files do not load leaves
the previous certificates in service and says why.
"""

from __future__ import annotations

import logging
import ssl

from ..listeners import SEC08_CIPHERS, ListenerSpec

log = logging.getLogger("ocpp_mqtt.ws")

LEGACY_CIPHERS = ("ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES128-SHA:"
                  "ECDHE-RSA-AES256-SHA:AES128-SHA256:AES256-SHA256:AES128-SHA:AES256-SHA")
_VERSIONS = {"1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1,
             "1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


class TlsError(Exception):
    """A certificate, key or CA file that does not load, naming the file."""


def build_context(spec: ListenerSpec) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = _VERSIONS[spec.tls_min_version]
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    ciphers = spec.ciphers
    if spec.tls_min_version in ("1.0", "1.1"):
        # TLS 1.0/1.1 have no GCM suites: a listener for legacy 1.6 charge points adds the
        # AES-CBC ones they speak (unless its own `ciphers` are given), and lowers OpenSSL's
        # security level, which otherwise refuses TLS < 1.2. OCPP 2.x is still refused on
        # such connections (auth.decide).
        if ciphers == SEC08_CIPHERS:
            ciphers += ":" + LEGACY_CIPHERS
        ciphers += ":@SECLEVEL=0"
    try:
        ctx.set_ciphers(ciphers)
    except ssl.SSLError as exc:
        raise TlsError(f"listener {spec.address}: ciphers {spec.ciphers!r}: {exc}") from exc
    for cert, key in zip(spec.cert, spec.key, strict=True):
        try:
            ctx.load_cert_chain(str(cert), str(key))
        except (OSError, ssl.SSLError) as exc:
            raise TlsError(f"listener {spec.address}: cannot load cert {cert} with key {key}: "
                           f"{exc}; give a PEM certificate chain and its private key") from exc
    if spec.profile == 3:
        assert spec.ca is not None
        try:
            ctx.load_verify_locations(cafile=str(spec.ca))
        except (OSError, ssl.SSLError) as exc:
            raise TlsError(f"listener {spec.address}: cannot load ca {spec.ca}: {exc}") from exc
        # Optional at the TLS layer, so a charge point without a certificate gets an HTTP
        # answer and a security event naming it; one with an unverifiable chain still fails
        # the TLS handshake. auth.check_certificate requires it for profile 3.
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


class ServerTls:
    """The context a listener was started with, and the reloadable one behind it."""

    def __init__(self, spec: ListenerSpec) -> None:
        self.spec = spec
        self.current = build_context(spec)
        self.context = build_context(spec)  # given to the server; its callback hands over
        self.context.sni_callback = self._hand_over
        self.reloads = 0

    def _hand_over(self, ssl_object: ssl.SSLObject, server_name: str | None,
                   context: ssl.SSLContext) -> None:
        if self.reloads:
            ssl_object.context = self.current
        return None

    def reload(self) -> str | None:
        """New certificates for the next handshakes; None, or why the old ones stay."""
        try:
            self.current = build_context(self.spec)
        except TlsError as exc:
            return str(exc)
        self.reloads += 1
        return None
