"""Security profiles 1-3 with real websockets clients and real TLS (SEC-01..SEC-09, ID-04,
HS-09): the right credentials connect, wrong or missing ones get the right status before any
upgrade, and each refusal is a security event on MQTT."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.exceptions import InvalidMessage

from tests.certs import Pki
from tests.conftest import Backend, basic_auth

from .security_util import (
    KEY16,
    PASSWORD,
    client_tls,
    secure_gateway,
    status_of,
    tls_listener,
)
from .wsutil import connect, recv_json

BOOT16 = [2, "b1", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]


def url(gw: Any, index: int, identity: str, scheme: str = "ws") -> str:
    return f"{scheme}://127.0.0.1:{gw.gateway.ws_ports[index]}/ocpp/{identity}"


async def test_profile1_basic_auth(make_gateway: Any, backend: Backend, tmp_path: Path) -> None:
    """SEC-01/SEC-03/SEC-04/ID-04/HS-09 on a ws:// profile-1 listener."""
    gw = await secure_gateway(make_gateway, tmp_path,
                              [{"address": "127.0.0.1:0", "profile": 1}])
    assert gw.gateway.guard.store is not None
    gw.gateway.guard.store.set("CP1", "password", PASSWORD)
    await backend.subscribe(gw.prefix + "#")
    good = {"Authorization": basic_auth("CP1", PASSWORD)}
    async with connect(url(gw, 0, "CP1"), ["ocpp2.0.1"], additional_headers=good) as ws:
        assert ws.subprotocol == "ocpp2.0.1"
    # SEC-03: wrong password, no header: 401 with a Basic challenge, no upgrade
    for headers in ({"Authorization": basic_auth("CP1", PASSWORD + "x")}, {}):
        status, answer = await status_of(url(gw, 0, "CP1"), headers=headers)
        assert status == 401 and answer["www-authenticate"].startswith("Basic")
    # ID-04: the user name must be the identity of the URL
    status, _ = await status_of(url(gw, 0, "CP1"),
                                headers={"Authorization": basic_auth("CP2", PASSWORD)})
    assert status == 401
    # HS-09: an identity without credentials is unknown
    status, _ = await status_of(url(gw, 0, "NOBODY"),
                                headers={"Authorization": basic_auth("NOBODY", PASSWORD)})
    assert status == 404
    event = await backend.wait_for(gw.prefix + "security/CP1",
                                   where=lambda b: b["event"] == "auth_failed")
    assert event["status"] == 401 and event["profile"] == 1 and event["identity"] == "CP1"
    unknown = await backend.wait_for(gw.prefix + "security/NOBODY")
    assert unknown["event"] == "unknown_identity" and unknown["status"] == 404
    # SEC-03: nothing but security events for refused charge points
    assert not [t for t, _, _ in backend.messages
                if "NOBODY" in t and not t.startswith(gw.prefix + "security/")]


async def test_sec05_authorization_key_raw_bytes_and_hex(make_gateway: Any,
                                                         tmp_path: Path) -> None:
    """SEC-05: the AL1000 example header (raw key bytes) and the same key as hex text."""
    gw = await secure_gateway(make_gateway, tmp_path,
                              [{"address": "127.0.0.1:0", "profile": 1}])
    gw.gateway.guard.store.set("AL1000", "key", KEY16)
    raw = {"Authorization": "Basic QUwxMDAwOgABAgMEBQYH////////////////"}
    async with connect(url(gw, 0, "AL1000"), ["ocpp1.6"], additional_headers=raw) as ws:
        await ws.send(orjson.dumps(BOOT16).decode())
    hex_text = {"Authorization": basic_auth("AL1000", KEY16)}
    async with connect(url(gw, 0, "AL1000"), ["ocpp1.6"], additional_headers=hex_text) as ws:
        assert ws.subprotocol == "ocpp1.6"
    wrong = {"Authorization": basic_auth("AL1000", KEY16[:-2] + "00")}
    assert (await status_of(url(gw, 0, "AL1000"), "ocpp1.6", wrong))[0] == 401


async def test_profile2_tls_rsa_and_ecdsa(make_gateway: Any, tmp_path: Path) -> None:
    """SEC-01/SEC-08: wss:// with Basic; RSA-only and ECDSA-only clients both connect; TLS
    1.1 is refused; no Basic credentials on the profile-2 port is 401 (SEC-07)."""
    pki = Pki(tmp_path)
    rsa = pki.issue("server-rsa", "localhost", server=True)
    ecdsa = pki.issue("server-ec", "localhost", server=True, kind="ec")
    gw = await secure_gateway(make_gateway, tmp_path,
                              [tls_listener("127.0.0.1:0", 2, [rsa, ecdsa])])
    gw.gateway.guard.store.set("CP2", "password", PASSWORD)
    auth = {"Authorization": basic_auth("CP2", PASSWORD)}
    target = url(gw, 0, "CP2", "wss")
    for suite in ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                  "AES128-GCM-SHA256", "AES256-GCM-SHA384"):
        ctx = client_tls(pki, ciphers=suite)
        async with connect(target, ["ocpp2.0.1"], additional_headers=auth, ssl=ctx) as ws:
            ssl_object = ws.transport.get_extra_info("ssl_object")
            assert ssl_object.cipher()[0] == suite
    assert (await status_of(target, headers={}, ssl_context=client_tls(pki)))[0] == 401
    old = client_tls(pki)
    old.minimum_version = ssl.TLSVersion.TLSv1
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises((ssl.SSLError, OSError)):
        await status_of(target, headers=auth, ssl_context=old)


async def test_profile3_client_certificates(make_gateway: Any, backend: Backend,
                                            tmp_path: Path) -> None:
    """SEC-01/SEC-09: the certificate must be signed by the CA and name the identity; a
    mismatch or a missing certificate is refused (403) and reported."""
    pki = Pki(tmp_path)
    server = pki.issue("server", "localhost", server=True)
    cp3 = pki.issue("cp3", "CP3", server=False, kind="ec", organization="Good CPO")
    other = pki.issue("other", "CP4", server=False, organization="Good CPO")
    (tmp_path / "stranger").mkdir()
    stranger_pki = Pki(tmp_path / "stranger")
    stranger = stranger_pki.issue("cp3-stranger", "CP3", server=False)
    gw = await secure_gateway(make_gateway, tmp_path, [tls_listener(
        "127.0.0.1:0", 3, [server], pki.path, client_organization="Good CPO")])
    await backend.subscribe(gw.prefix + "security/#")
    target = url(gw, 0, "CP3", "wss")
    async with connect(target, ["ocpp2.0.1"], ssl=client_tls(pki, cp3)) as ws:
        assert ws.subprotocol == "ocpp2.0.1"
    status, _ = await status_of(target, ssl_context=client_tls(pki, other))
    assert status == 403
    event = await backend.wait_for(gw.prefix + "security/CP3")
    assert event["event"] == "certificate_mismatch" and "SEC-09" in event["reason"]
    assert (await status_of(target, ssl_context=client_tls(pki)))[0] == 403
    missing = await backend.wait_for(gw.prefix + "security/CP3")
    assert missing["event"] == "certificate_missing"
    # a chain the CA did not sign: the TLS handshake fails (with TLS 1.3 the client learns
    # it as a connection closed instead of an HTTP answer)
    with pytest.raises((ssl.SSLError, OSError, InvalidMessage)):
        await status_of(target, ssl_context=client_tls(pki, stranger))


async def test_sec07_one_profile_per_listener(make_gateway: Any, tmp_path: Path) -> None:
    """Profiles 1, 2 and 3 side by side; each port takes only its own profile's charge
    points (SEC-07)."""
    pki = Pki(tmp_path)
    server = pki.issue("server", "localhost", server=True)
    cp = pki.issue("cp", "CP5", server=False)
    gw = await secure_gateway(make_gateway, tmp_path, [
        {"address": "127.0.0.1:0", "profile": 1},
        tls_listener("127.0.0.1:0", 2, [server]),
        tls_listener("127.0.0.1:0", 3, [server], pki.path)])
    gw.gateway.guard.store.set("CP5", "password", PASSWORD)
    auth = {"Authorization": basic_auth("CP5", PASSWORD)}
    assert (await status_of(url(gw, 0, "CP5"), headers=auth))[0] == 101
    assert (await status_of(url(gw, 1, "CP5", "wss"), headers=auth,
                            ssl_context=client_tls(pki)))[0] == 101
    assert (await status_of(url(gw, 2, "CP5", "wss"),
                            ssl_context=client_tls(pki, cp)))[0] == 101
    # a profile-3 charge point (certificate, no password) on profile 1 and 2 ports
    assert (await status_of(url(gw, 0, "CP5")))[0] == 401
    assert (await status_of(url(gw, 1, "CP5", "wss"),
                            ssl_context=client_tls(pki, cp)))[0] == 401
    # a profile-2 charge point (password, no certificate) on the profile-3 port
    assert (await status_of(url(gw, 2, "CP5", "wss"), headers=auth,
                            ssl_context=client_tls(pki)))[0] == 403
    # plain ws:// on a TLS port is no handshake at all
    with pytest.raises((OSError, asyncio.TimeoutError, Exception)):
        await status_of(url(gw, 1, "CP5"), headers=auth)
    assert "profile 1" in gw.gateway.describe() and "wss://" in gw.gateway.describe()


async def test_reload_keeps_connections(make_gateway: Any, tmp_path: Path) -> None:
    """New certificates (SIGHUP) serve the next handshakes; an open connection keeps going."""
    pki = Pki(tmp_path)
    first = pki.issue("server", "localhost", server=True)
    gw = await secure_gateway(make_gateway, tmp_path, [tls_listener("127.0.0.1:0", 2, [first])])
    gw.gateway.guard.store.set("CP6", "password", PASSWORD)
    gw.gateway.guard.store.set("CP6B", "password", PASSWORD)
    auth = {"Authorization": basic_auth("CP6", PASSWORD)}
    auth_b = {"Authorization": basic_auth("CP6B", PASSWORD)}
    target = url(gw, 0, "CP6", "wss")
    async with connect(target, ["ocpp1.6"], additional_headers=auth,
                       ssl=client_tls(pki)) as old:
        before = old.transport.get_extra_info("ssl_object").getpeercert(binary_form=True)
        pki.issue("server", "localhost", server=True)  # new files at the same paths
        assert gw.gateway.reload_certificates()
        async with connect(url(gw, 0, "CP6B", "wss"), ["ocpp1.6"], additional_headers=auth_b,
                           ssl=client_tls(pki)) as new:
            after = new.transport.get_extra_info("ssl_object").getpeercert(binary_form=True)
            assert after != before
        await asyncio.wait_for(await old.ping(), 3)  # the old TLS session still carries data
        assert old.close_code is None
    # files that do not load leave the current certificates in service
    first.key.write_text("not a key")
    assert not gw.gateway.reload_certificates()
    assert (await status_of(url(gw, 0, "CP6B", "wss"), "ocpp1.6", auth_b,
                             client_tls(pki)))[0] == 101


async def test_allow_unknown_and_rate_limit(make_gateway: Any, backend: Backend,
                                            tmp_path: Path) -> None:
    gw = await secure_gateway(make_gateway, tmp_path,
                              [{"address": "127.0.0.1:0", "profile": 1}],
                              auth_allow_unknown=True, auth_max_failures=3)
    await backend.subscribe(gw.prefix + "security/#")
    gw.gateway.guard.store.set("CP7", "password", PASSWORD)
    assert (await status_of(url(gw, 0, "NEW1"),
                            headers={"Authorization": basic_auth("NEW1", "anything")}))[0] == 101
    admitted = await backend.wait_for(gw.prefix + "security/NEW1")
    assert admitted["event"] == "unknown_identity_admitted"
    bad = {"Authorization": basic_auth("CP7", "wrong-password-123")}
    statuses = [(await status_of(url(gw, 0, "CP7"), headers=bad))[0] for _ in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    good = {"Authorization": basic_auth("CP7", PASSWORD)}
    status, headers = await status_of(url(gw, 0, "CP7"), headers=good)
    assert status == 429 and headers["retry-after"] == "60"


async def test_security_event_notification_is_published(make_gateway: Any, backend: Backend,
                                                        tmp_path: Path) -> None:
    gw = await make_gateway()
    await backend.subscribe(gw.prefix + "#")
    async with connect(gw.url("CP8"), ["ocpp2.0.1"]) as ws:
        await ws.send(orjson.dumps([2, "s1", "SecurityEventNotification", {
            "type": "FirmwareUpdated", "timestamp": "2026-11-21T10:00:00Z",
            "techInfo": "v2"}]).decode())
        event = await backend.wait_for(gw.prefix + "security/CP8")
        assert event["event"] == "cp_notification"
        assert event["notification"] == {"type": "FirmwareUpdated",
                                         "timestamp": "2026-11-21T10:00:00Z", "techInfo": "v2"}
        # it is relayed as usual too
        call = await backend.wait_for(gw.prefix + "cp/CP8")
        assert call["Action"] == "SecurityEventNotification"
        backend.publish(gw.prefix + "cs/CP8", {"MessageTypeId": 3, "UniqueId": "s1",
                                               "Payload": {}})
        assert await recv_json(ws) == [3, "s1", {}]


async def test_proxy_mode_checks_here_first_then_forwards(make_gateway: Any,
                                                          tmp_path: Path) -> None:
    """Proxy mode on a profile-1 listener: a refused charge point never reaches the upstream
    CSMS (SEC-03); an admitted one's Authorization header is forwarded unchanged."""
    from .csms import Csms

    server = await Csms(users={"CPP": PASSWORD}).start()
    try:
        gw = await secure_gateway(make_gateway, tmp_path,
                                  [{"address": "127.0.0.1:0", "profile": 1}],
                                  mode="proxy", upstream=server.url)
        gw.gateway.guard.store.set("CPP", "password", PASSWORD)
        wrong = {"Authorization": basic_auth("CPP", PASSWORD + "x")}
        assert (await status_of(url(gw, 0, "CPP"), "ocpp1.6", wrong))[0] == 401
        assert server.handshakes == []
        good = {"Authorization": basic_auth("CPP", PASSWORD)}
        async with connect(url(gw, 0, "CPP"), ["ocpp1.6"], additional_headers=good):
            await server.connected("CPP")
        assert server.handshakes[-1]["auth"] == good["Authorization"]
    finally:
        await server.stop()


async def test_sec08_legacy_tls_for_16_only(make_gateway: Any, tmp_path: Path) -> None:
    """tls_min_version 1.0: a TLS 1.1 client connects with OCPP 1.6, never with 2.0.1."""
    pki = Pki(tmp_path)
    server = pki.issue("server", "localhost", server=True)
    gw = await secure_gateway(make_gateway, tmp_path, [tls_listener(
        "127.0.0.1:0", 2, [server], tls_min_version="1.0")])
    gw.gateway.guard.store.set("OLD1", "password", PASSWORD)
    auth = {"Authorization": basic_auth("OLD1", PASSWORD)}
    old = client_tls(pki, ciphers="ECDHE-RSA-AES128-SHA:@SECLEVEL=0",
                     max_version=ssl.TLSVersion.TLSv1_1)
    old.minimum_version = ssl.TLSVersion.TLSv1_1
    target = url(gw, 0, "OLD1", "wss")
    async with connect(target, ["ocpp1.6"], additional_headers=auth, ssl=old) as ws:
        assert ws.transport.get_extra_info("ssl_object").version() == "TLSv1.1"
    status, _ = await status_of(target, "ocpp2.0.1", auth, old)
    assert status == 400


async def test_reload_takes_a_new_client_ca(make_gateway: Any, tmp_path: Path) -> None:
    """Profile 3: after a reload the CA bundle's new contents decide (SEC-09 chain check)."""
    pki = Pki(tmp_path)
    server = pki.issue("server", "localhost", server=True)
    (tmp_path / "next").mkdir()
    next_pki = Pki(tmp_path / "next")
    bundle = tmp_path / "cp-ca.pem"
    bundle.write_bytes(pki.path.read_bytes())
    gw = await secure_gateway(make_gateway, tmp_path,
                              [tls_listener("127.0.0.1:0", 3, [server], bundle)])
    cert = next_pki.issue("cp", "CPN", server=False)
    target = url(gw, 0, "CPN", "wss")
    with pytest.raises((ssl.SSLError, OSError, InvalidMessage)):
        await status_of(target, ssl_context=client_tls(pki, cert))
    old_cert = pki.issue("cp-old", "CPN", server=False)
    assert (await status_of(target, ssl_context=client_tls(pki, old_cert)))[0] == 101
    # the CA is replaced: the new one's certificates are accepted, the old one's no longer
    # (the two test CAs share a subject name, so a bundle holds one at a time)
    bundle.write_bytes(next_pki.path.read_bytes())
    assert gw.gateway.reload_certificates()
    assert (await status_of(target, ssl_context=client_tls(pki, cert)))[0] == 101
    with pytest.raises((ssl.SSLError, OSError, InvalidMessage)):
        await status_of(target, ssl_context=client_tls(pki, old_cert))


async def test_limit_hits_are_security_events(make_gateway: Any, backend: Backend) -> None:
    """Issue 5 point 8: a limit hit (here the message rate) is published as a security event,
    once per offender a minute like its log line."""
    gw = await make_gateway(rate_limit=1, rate_burst=1)
    await backend.subscribe(gw.prefix + "security/#")
    async with connect(gw.url("CPR"), ["ocpp1.6"]) as ws:
        for i in range(4):
            await ws.send(orjson.dumps([2, f"h{i}", "Heartbeat", {}]).decode())
        event = await backend.wait_for(gw.prefix + "security/CPR")
        assert event["event"] == "limit_hit" and event["limit"] == "rate_limit"
        assert "messages a second" in event["reason"]
        await backend.silence(gw.prefix + "security/CPR", 0.5)  # once a minute, not per hit
