"""Credentials through the admin API: set, generate, list, remove, each change effective at the
next handshake of a profile-1 listener; bad input answered 400 with the reason; no answer but
a generated one ever holds a secret (SEC-05, SEC-06, HS-09)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from tests.conftest import basic_auth

from .admin_client import admin
from .security_util import KEY16, PASSWORD, secure_gateway, status_of


async def test_admin_credentials_round_trip(make_gateway: Any, tmp_path: Path) -> None:
    gw = await secure_gateway(make_gateway, tmp_path,
                              [{"address": "127.0.0.1:0", "profile": 1}])
    base = f"ws://127.0.0.1:{gw.gateway.ws_port}/ocpp/"
    async with admin(gw.admin_url) as api:
        put = await api.request("PUT", "/api/v1/credentials/CPA", json={"password": PASSWORD})
        assert put.status == 200 and put.body == {"identity": "CPA", "kind": "password"}
        key = await api.request("PUT", "/api/v1/credentials/AL1000", json={"key": KEY16})
        assert key.status == 200 and key.body == {"identity": "AL1000", "kind": "key"}
        made = await api.request("PUT", "/api/v1/credentials/CPG",
                                 json={"generate": "password"})
        assert made.status == 200 and len(made.body["password"]) == 32
        assert made.headers["Cache-Control"] == "no-store"
        listing = await api.get("/api/v1/credentials")
        assert [(c["identity"], c["kind"]) for c in listing.body["credentials"]] == [
            ("AL1000", "key"), ("CPA", "password"), ("CPG", "password")]
        assert PASSWORD not in listing.text and made.body["password"] not in listing.text
        for identity, secret in (("CPA", PASSWORD), ("CPG", made.body["password"]),
                                 ("AL1000", KEY16)):
            headers = {"Authorization": basic_auth(identity, secret)}
            assert (await status_of(base + identity, "ocpp1.6", headers))[0] == 101
        for body, reason in (({"password": "too-short"}, "16-40"),
                             ({"key": "xyz"}, "SEC-05"),
                             ({"password": PASSWORD, "key": KEY16}, "exactly one"),
                             ({"generate": "pin"}, "generate"),
                             ({"password": 12345678901234567}, "expected a string")):
            bad = await api.request("PUT", "/api/v1/credentials/CPB", json=body)
            assert bad.status == 400 and reason in bad.body["reason"], bad.text
            assert "too-short" not in orjson.dumps(bad.body).decode().split('"reason"')[0]
        colon = await api.request("PUT", "/api/v1/credentials/CP%3A1",
                                  json={"password": PASSWORD})
        assert colon.status == 400 and "ID-04" in colon.body["reason"]
        junk = await api.request("PUT", "/api/v1/credentials/CPB", data=b"{nope",
                                 headers={"Content-Type": "application/json"})
        assert junk.status == 400 and "not valid JSON" in junk.body["reason"]
        gone = await api.request("DELETE", "/api/v1/credentials/CPA")
        assert gone.status == 204
        again = await api.request("DELETE", "/api/v1/credentials/CPA")
        assert again.status == 404 and again.body["error"] == "not_found"
    headers = {"Authorization": basic_auth("CPA", PASSWORD)}
    assert (await status_of(base + "CPA", "ocpp1.6", headers))[0] == 404  # HS-09


async def test_admin_credentials_without_profile_listeners(make_gateway: Any) -> None:
    """Provisioning ahead of switching profiles on: the store is the setting's file."""
    gw = await make_gateway()
    async with admin(gw.admin_url) as api:
        assert (await api.get("/api/v1/credentials")).body == {"credentials": []}
        put = await api.request("PUT", "/api/v1/credentials/CPZ", json={"generate": "key"})
        assert put.status == 200 and len(bytes.fromhex(put.body["key"])) == 20
    assert [i for i, _, _ in gw.gateway.admin.credentials.store.list()] == ["CPZ"]
