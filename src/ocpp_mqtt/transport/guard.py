"""The listener's gatekeeper: runs :func:`auth.decide` for a handshake and does its slow part.

Password hashes (argon2id, ~50-200 ms each by design) are checked in a small thread pool, never
on the event loop. A reconnect storm is bounded three ways:

- a successful check is remembered per identity for `auth_cache_ttl` seconds (keyed by a
  keyed digest of the stored hash and the presented password, so a changed password or a
  wrong one never hits the cache);
- concurrent handshakes presenting the same identity and password share one check;
- at most `auth_workers * 256` checks wait (5-15 s of work); beyond that a handshake gets
  503 + Retry-After.

Failures are counted per identity and per remote address in one-minute windows; past
`auth_max_failures` for the identity, or ten times that for the address (many charge points
can share one address behind a carrier's NAT), the handshake gets 429 without a hash check
(and one event per identity and window).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web

from ..config import Settings
from ..credentials import CredentialStore, verify
from ..listeners import ListenerSpec
from ..ocppj.versions import Version
from ..security_events import SecurityEvents
from .auth import Allow, Check, Deny, decide

log = logging.getLogger("ocpp_mqtt.ws")

WINDOW = 60.0  # seconds of the failure counters
ADDRESS_FACTOR = 10  # an address may fail this many times more often than one identity
CACHE_MAX = 200_000  # remembered successes (about 150 bytes each)


class Guard:
    def __init__(self, settings: Settings, events: SecurityEvents) -> None:
        self.settings = settings
        self.events = events
        self.allow_unknown = settings.auth_allow_unknown
        self.ttl = settings.auth_cache_ttl
        self.max_failures = settings.auth_max_failures
        needs_store = any(spec.profile in (1, 2) for spec in settings.endpoints) or \
            bool(settings.credentials_topic)
        self.store = CredentialStore(settings.credentials_store) if needs_store else None
        self._executor = ThreadPoolExecutor(settings.auth_workers, thread_name_prefix="auth")
        self.max_waiting = settings.auth_workers * 256  # ~5-15 s of checks at 30-60 ms
        self._secret = os.urandom(32)  # keys the cache digests; never leaves the process
        self._cache: dict[str, tuple[bytes, float]] = {}
        self._inflight: dict[bytes, asyncio.Future[bool]] = {}
        self._failures: dict[str, tuple[float, int]] = {}
        self.checks = 0  # hash checks run (bench/auth.py reads it)

    async def admit(self, spec: ListenerSpec, request: web.Request, identity: str,
                    version: Version | None) -> Deny | None:
        """None when the charge point may upgrade; a Deny (already reported) otherwise."""
        remote = request.remote or ""
        now = time.monotonic()
        peer_cert: dict[str, Any] | None = None
        tls_version: str | None = None
        if spec.tls and request.transport is not None:
            ssl_object = request.transport.get_extra_info("ssl_object")
            if ssl_object is not None:
                peer_cert = ssl_object.getpeercert() or None
                tls_version = ssl_object.version()
        authorization = request.headers.get("Authorization")
        if spec.profile in (1, 2) and self._limited(identity, remote, now):
            return self._deny(spec, identity, remote, Deny(
                429, f"too many failed logins; retry after {int(WINDOW)} s", "rate_limited"),
                quiet=True)
        credential = self.store.get(identity) if self.store is not None and \
            spec.profile in (1, 2) else None
        decision = decide(spec, identity, version, authorization, credential,
                          self.allow_unknown, peer_cert, tls_version)
        if isinstance(decision, Check):
            decision = await self._check(decision)
        if isinstance(decision, Deny):
            if decision.status == 401:
                self._failed(identity, remote, now)
            return self._deny(spec, identity, remote, decision)
        if decision.event is not None:
            self.events.report(decision.event, identity, remote=remote, listener=spec.address,
                               profile=spec.profile, reason=decision.reason)
        return None

    async def _check(self, check: Check) -> Allow | Deny:
        credential = check.credential
        digest = hmac.new(self._secret, credential.hash.encode() + b"\0" + check.presented,
                          hashlib.sha256).digest()
        now = time.monotonic()
        cached = self._cache.get(credential.identity)
        if cached is not None and cached[1] > now and hmac.compare_digest(cached[0], digest):
            return Allow()
        future = self._inflight.get(digest)
        if future is None:
            if len(self._inflight) >= self.max_waiting:
                return Deny(503, "busy checking passwords; retry in a few seconds", "busy")
            loop = asyncio.get_running_loop()
            future = loop.run_in_executor(self._executor, verify, credential, check.presented)
            self._inflight[digest] = future
            self.checks += 1
            future.add_done_callback(lambda _f: self._inflight.pop(digest, None))
        ok = await asyncio.shield(future)
        if not ok:
            return Deny(401, "wrong password for this identity", "auth_failed")
        if self.ttl > 0:
            if len(self._cache) >= CACHE_MAX:
                self._cache = {k: v for k, v in self._cache.items() if v[1] > now}
                if len(self._cache) >= CACHE_MAX:
                    self._cache.clear()
            self._cache[credential.identity] = (digest, now + self.ttl)
        return Allow()

    def _limited(self, identity: str, remote: str, now: float) -> bool:
        for key, limit in (("id:" + identity, self.max_failures),
                           ("ip:" + remote, self.max_failures * ADDRESS_FACTOR)):
            entry = self._failures.get(key)
            if entry is not None and now - entry[0] < WINDOW and entry[1] >= limit:
                return True
        return False

    def _failed(self, identity: str, remote: str, now: float) -> None:
        if len(self._failures) > CACHE_MAX:
            self._failures = {k: v for k, v in self._failures.items() if now - v[0] < WINDOW}
        for key in ("id:" + identity, "ip:" + remote):
            start, count = self._failures.get(key, (now, 0))
            if now - start >= WINDOW:
                start, count = now, 0
            self._failures[key] = (start, count + 1)

    def _deny(self, spec: ListenerSpec, identity: str, remote: str, deny: Deny,
              quiet: bool = False) -> Deny:
        if quiet:  # one event per identity and window, however many attempts
            key = "rl:" + identity
            start, _ = self._failures.get(key, (0.0, 0))
            now = time.monotonic()
            if now - start < WINDOW:
                return deny
            self._failures[key] = (now, 1)
        self.events.report(deny.event, identity, remote=remote, listener=spec.address,
                           profile=spec.profile, status=deny.status, reason=deny.reason)
        return deny

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self.store is not None:
            self.store.close()
