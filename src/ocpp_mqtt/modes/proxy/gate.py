"""Proxy mode's side of the charge point's handshake: how to reach the upstream CSMS for one
identity (URL, credentials forwarded or mapped, TLS), and the upstream connection opened before
the charge point gets its 101, so that a refusal there is the same refusal here."""

from __future__ import annotations

import base64
import logging
import ssl
from dataclasses import dataclass

from ...config import Settings, upstream_url
from ...ocppj.versions import Version
from ...transport.handshake import Reject
from ...transport.upstream import Refused, Unreachable, UpstreamClient, UpstreamLink, tls_for

log = logging.getLogger("ocpp_mqtt.proxy")


@dataclass(slots=True)
class Route:
    """How to reach a CSMS for one charge point: kept for reconnects (never logged)."""

    url: str
    authorization: str | None
    tls: ssl.SSLContext | None


@dataclass(slots=True)
class Opened:
    """What the handshake leaves on the connection: the upstream link (None when it was
    unreachable and `upstream_outage` is `central`) and how to reach it again."""

    link: UpstreamLink | None
    route: Route


class Gate:
    """The listener's gate in proxy mode."""

    def __init__(self, settings: Settings, client: UpstreamClient) -> None:
        self.settings = settings
        self.client = client
        self.central = settings.upstream_outage == "central"
        self._tls: dict[tuple[str | None, str | None], ssl.SSLContext | None] = {}

    def route(self, template: str, identity: str, authorization: str | None) -> Route:
        """`authorization` is the charge point's header: forwarded unless `upstream_auth` maps
        the identity (or `*`) to other credentials, or forwarding is off."""
        settings = self.settings
        entry = settings.upstream_auth.get(identity) or settings.upstream_auth.get("*") or {}
        if "username" in entry:
            secret = f"{entry['username']}:{entry.get('password', '')}".encode()
            authorization = "Basic " + base64.b64encode(secret).decode()
        elif not settings.upstream_forward_auth:
            authorization = None
        tls = None
        if template.startswith("wss:"):
            cert = entry.get("cert") or (str(settings.upstream_cert)
                                         if settings.upstream_cert else None)
            key = entry.get("key") if "cert" in entry else (
                str(settings.upstream_key) if settings.upstream_key else None)
            tls = self._tls_context(cert, key)
        return Route(upstream_url(template, identity), authorization, tls)

    def _tls_context(self, cert: str | None, key: str | None) -> ssl.SSLContext | None:
        if (cert, key) not in self._tls:  # one context per client certificate
            ca = self.settings.upstream_ca
            self._tls[(cert, key)] = tls_for(str(ca) if ca else None, cert, key)
        return self._tls[(cert, key)]

    async def open(self, identity: str, version: Version, authorization: str | None) -> object:
        """Open the upstream connection before the charge point gets its 101: refused there
        means refused here, the same way (HTTP status, or 101 without the version)."""
        try:
            route = self.route(self.settings.upstream, identity, authorization)
        except (OSError, ValueError) as exc:  # a certificate file that cannot be read
            log.error("cannot prepare the upstream connection", extra={
                "cid": identity, "error": str(exc)})
            return Reject(500, "the gateway cannot reach its upstream CSMS (configuration)")
        result = await self.client.connect(route.url, version, route.authorization, route.tls,
                                           "upstream")
        if isinstance(result, Refused):
            return Reject(result.status, result.reason)
        if isinstance(result, Unreachable):
            log.warning("upstream CSMS unreachable", extra={"cid": identity,
                                                            "reason": result.reason})
            if self.central:  # accept, answer locally, reconnect in the background
                return Opened(None, route)
            return Reject(502, f"upstream CSMS unreachable: {result.reason}")
        return Opened(result, route)

    async def discard(self, opened: object) -> None:
        if isinstance(opened, Opened) and opened.link is not None:
            await opened.link.close(1000, "the charge point went away during the handshake")
