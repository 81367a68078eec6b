"""The live dashboard: static files shipped in the package (admin/static/), served by the admin
listener at `/` and `/ui/<file>`, with no build step and nothing fetched from elsewhere.

The files hold no data, so they are served without the bearer token (the page asks for it and
sends it with every API request). They are read once, at start-up, into memory: a fixed set of
names, so no request path ever reaches the file system.
"""

from __future__ import annotations

import hashlib
import importlib.resources

from aiohttp import hdrs, web

from .auth import json_error

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Everything from this origin, nothing inline, nothing from elsewhere, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def load() -> dict[str, tuple[bytes, str]]:
    """{file name: (content, content type)} of every servable file in admin/static/."""
    files: dict[str, tuple[bytes, str]] = {}
    for entry in importlib.resources.files(__package__).joinpath("static").iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in CONTENT_TYPES:
            files[entry.name] = (entry.read_bytes(), CONTENT_TYPES[suffix])
    return files


class Dashboard:
    def __init__(self) -> None:
        self.files = load()

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.get("/", self.index), web.get("/ui/{name}", self.file)]

    def _serve(self, request: web.Request, name: str) -> web.Response:
        found = self.files.get(name)
        if found is None:
            return json_error(404, "not_found", f"no such dashboard file: {name}; the "
                              "dashboard is at /")
        body, content_type = found
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        # no-cache: revalidated on every load, so an upgraded gateway serves its own page
        headers = {hdrs.CONTENT_TYPE: content_type, hdrs.CACHE_CONTROL: "no-cache",
                   hdrs.ETAG: etag, **SECURITY_HEADERS}
        if request.headers.get(hdrs.IF_NONE_MATCH) == etag:
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, headers=headers)

    async def index(self, request: web.Request) -> web.Response:
        return self._serve(request, "index.html")

    async def file(self, request: web.Request) -> web.Response:
        return self._serve(request, request.match_info["name"])
