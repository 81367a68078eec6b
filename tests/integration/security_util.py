"""Helpers of the security tests: handshakes that report the HTTP status, TLS client contexts,
and a gateway with listeners and a credential store."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import websockets
from websockets.exceptions import InvalidStatus

from tests.certs import Issued, Pki

PASSWORD = "s3cret-Password-2x"  # 18 characters (SEC-06)
KEY16 = "0001020304050607FFFFFFFFFFFFFFFFFFFFFFFF"  # SEC-05's AL1000 example key


async def status_of(url: str, protocol: str = "ocpp2.0.1", headers: dict[str, str] | None = None,
                    ssl_context: ssl.SSLContext | None = None) -> tuple[int, dict[str, str]]:
    """The HTTP status of the handshake (101 when upgraded) and the answer's headers."""
    kwargs: dict[str, Any] = {"ssl": ssl_context} if ssl_context is not None else {}
    try:
        async with websockets.connect(url, subprotocols=[protocol],  # type: ignore[list-item]
                                      additional_headers=headers or {}, open_timeout=5,
                                      **kwargs) as ws:
            return 101, dict(ws.response.headers) if ws.response else {}
    except InvalidStatus as exc:
        return exc.response.status_code, {k.lower(): v for k, v in exc.response.headers.items()}


def client_tls(pki: Pki, cert: Issued | None = None, ciphers: str | None = None,
               max_version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki.path))
    if cert is not None:
        ctx.load_cert_chain(str(cert.cert), str(cert.key))
    if ciphers is not None:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # TLS 1.3 suites ignore set_ciphers
        ctx.set_ciphers(ciphers)
    if max_version is not None:
        ctx.maximum_version = max_version
    return ctx


def tls_listener(address: str, profile: int, server: list[Issued], ca: Path | None = None,
                 **extra: Any) -> dict[str, Any]:
    table: dict[str, Any] = {"address": address, "profile": profile,
                             "cert": [str(s.cert) for s in server],
                             "key": [str(s.key) for s in server], **extra}
    if ca is not None:
        table["ca"] = str(ca)
    return table


async def secure_gateway(make_gateway: Callable[..., Any], tmp_path: Path,
                         listeners: list[dict[str, Any]], **overrides: Any) -> Any:
    return await make_gateway(listen="", listeners=listeners,
                              credentials_store=str(tmp_path / "credentials.sqlite3"),
                              **overrides)
