"""The admin listener: its own aiohttp site on the gateway's event loop, serving the API,
the dashboard (`/`), `/metrics`, `/healthz` and `/readyz`."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from ..config import ConfigError
from ..transport.websocket import probe
from .api import Api
from .auth import bearer_middleware, json_errors
from .credentials import CredentialsApi
from .dashboard import Dashboard
from .metrics import Metrics
from .openapi import document
from .stream import Stream

if TYPE_CHECKING:
    from ..gateway import Gateway

log = logging.getLogger("ocpp_mqtt.admin")

SHUTDOWN_TIMEOUT = 2.0  # seconds open requests (a long CALL) get when the gateway stops


class AdminServer:
    def __init__(self, gateway: Gateway, stream: Stream) -> None:
        self.gateway = gateway
        self.stream = stream
        self.metrics = Metrics(gateway)
        self.port = 0
        self.url = ""
        self._runner: web.AppRunner | None = None
        self.credentials = CredentialsApi(gateway)
        token = gateway.settings.admin_token
        self.app = web.Application(middlewares=[
            json_errors,
            bearer_middleware(token.get_secret_value().encode() if token else None),
        ])
        self.app.add_routes([
            web.get("/healthz", self.healthz),
            web.get("/readyz", self.readyz),
            web.get("/metrics", self.prometheus),
            web.get("/api/v1/openapi.json", self.openapi),
            *Api(gateway, stream).routes(),
            *Dashboard().routes(),
            *self.credentials.routes(),
        ])

    async def healthz(self, request: web.Request) -> web.Response:
        return probe(self.gateway, readiness=False)

    async def readyz(self, request: web.Request) -> web.Response:
        return probe(self.gateway, readiness=True)

    async def prometheus(self, request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.render(),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def openapi(self, request: web.Request) -> web.Response:
        return web.json_response(document())

    async def start(self, host: str, port: int) -> None:
        """Bind, or raise ConfigError naming admin_listen (a taken port ends start-up)."""
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False,
                                     shutdown_timeout=SHUTDOWN_TIMEOUT)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await self.stop()
            why = os.strerror(exc.errno) if exc.errno else str(exc)  # uvloop: no strerror
            raise ConfigError(f"admin_listen: cannot listen on {host}:{port}: "
                              f"{why}; choose another --admin-listen HOST:PORT "
                              "or turn the admin API off with --admin-listen off") from exc
        sockets = getattr(site._server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}"
        log.info("admin API listening", extra={"url": self.url,
                                               "auth": self.gateway.settings.admin_token
                                               is not None})

    async def stop(self) -> None:
        self.stream.close()  # event streams end, so their handlers return
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.credentials.close()
