"""Cost of HTTP Basic authentication (security profile 1) in a reconnect storm.

    .venv/bin/python bench/auth.py [--n 500] [--concurrency 200] [--workers 2] [--json FILE]

Prints the argon2id check time, then three storms of N charge point handshakes against one
`ocpp-mqtt serve` (embedded broker) and their ratio to the profile-0 storm:

- profile 0: no authentication (the baseline);
- profile 1 cold: every identity's first connection, so every handshake is a hash check
  (the storm after a gateway restart);
- profile 1 warm: the same charge points again within `auth_cache_ttl` (a network blip).

During each storm a probe asks `/health` every 20 ms; its worst latency shows whether the
event loop stayed responsive (hash checks run in `auth_workers` threads).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _hash(_: int) -> str:
    from ocpp_mqtt.credentials import HASHER

    return HASHER.hash(PASSWORD)


def fill_store(path: Path, n: int) -> None:
    from ocpp_mqtt.credentials import CredentialStore

    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        hashes = list(pool.map(_hash, range(n), chunksize=16))
    store = CredentialStore(path)
    for i, digest in enumerate(hashes):  # one salt per charge point, as `credentials add`
        store.put(f"CP{i}", "password", digest)
    store.close()


def micro() -> dict[str, float]:
    import hashlib
    import hmac

    from ocpp_mqtt.credentials import HASHER, Credential, verify

    cred = Credential("CP0", "password", HASHER.hash(PASSWORD))
    times = []
    for _ in range(10):
        start = time.perf_counter()
        verify(cred, PASSWORD.encode())
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(10000):
        hmac.new(b"k" * 32, cred.hash.encode() + b"\0" + PASSWORD.encode(),
                 hashlib.sha256).digest()
    cached = (time.perf_counter() - start) / 10000
    return {"argon2_check_ms": statistics.median(times) * 1000, "cache_check_us": cached * 1e6}


async def storm(port: int, n: int, concurrency: int, auth: bool) -> dict[str, Any]:
    sem = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    failures: dict[str, int] = {}
    probe_worst = 0.0
    done = asyncio.Event()

    async def one(session: aiohttp.ClientSession, i: int) -> None:
        headers = {}
        if auth:
            token = base64.b64encode(f"CP{i}:{PASSWORD}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        async with sem:
            start = time.perf_counter()
            try:
                ws = await session.ws_connect(f"http://127.0.0.1:{port}/ocpp/CP{i}",
                                              protocols=("ocpp1.6",), headers=headers,
                                              timeout=aiohttp.ClientWSTimeout(ws_close=5))
                latencies.append(time.perf_counter() - start)
                await ws.close()
            except aiohttp.WSServerHandshakeError as exc:
                failures[str(exc.status)] = failures.get(str(exc.status), 0) + 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1

    async def probe(session: aiohttp.ClientSession) -> None:
        nonlocal probe_worst
        while not done.is_set():
            start = time.perf_counter()
            async with session.get(f"http://127.0.0.1:{port}/health") as resp:
                await resp.read()
            probe_worst = max(probe_worst, time.perf_counter() - start)
            await asyncio.sleep(0.02)

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session, \
            aiohttp.ClientSession() as probe_session:
        prober = asyncio.create_task(probe(probe_session))
        start = time.perf_counter()
        await asyncio.gather(*(one(session, i) for i in range(n)))
        wall = time.perf_counter() - start
        done.set()
        await prober
    latencies.sort()
    pick = (lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000) \
        if latencies else (lambda q: float("nan"))
    return {"n": n, "ok": len(latencies), "failures": failures, "wall_s": wall,
            "conn_per_s": len(latencies) / wall, "p50_ms": pick(0.5), "p99_ms": pick(0.99),
            "health_worst_ms": probe_worst * 1000}


def start_gateway(port: int, store: Path, profile: int, workers: int) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "ocpp_mqtt", "serve", "--embedded-listen",
            f"127.0.0.1:{free_port()}", "--log-level", "error", "--credentials-store",
            str(store), "--auth-workers", str(workers), "--auth-max-failures", "1000000"]
    if profile:
        args += ["--listen", "", "--listeners",
                 json.dumps([{"address": f"127.0.0.1:{port}", "profile": profile}])]
    else:
        args += ["--listen", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if b"charge points connect" not in line:
        raise SystemExit(f"gateway did not start: {line!r}")
    return proc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2, help="auth_workers")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    results: dict[str, Any] = {"micro": micro()}
    print(f"argon2id check {results['micro']['argon2_check_ms']:.1f} ms, cache hit "
          f"{results['micro']['cache_check_us']:.2f} us")
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "c.sqlite3"
        start = time.perf_counter()
        fill_store(store, args.n)
        print(f"store of {args.n} credentials filled in {time.perf_counter() - start:.1f} s")
        for name, profile, rounds in (("profile 0", 0, 1), ("profile 1", 1, 2)):
            port = free_port()
            proc = start_gateway(port, store, profile, args.workers)
            try:
                for r in range(rounds):
                    label = name + ("" if not profile else (" cold", " warm")[r])
                    res = asyncio.run(storm(port, args.n, args.concurrency, bool(profile)))
                    results[label] = res
            finally:
                proc.terminate()
                proc.wait(10)
    base = results["profile 0"]
    print(f"\n{'storm':18} {'N':>5} {'ok':>5} {'wall s':>7} {'conn/s':>7} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'/health worst ms':>16} {'x conn/s':>8}  failures")
    for label in ("profile 0", "profile 1 cold", "profile 1 warm"):
        r = results[label]
        print(f"{label:18} {r['n']:5} {r['ok']:5} {r['wall_s']:7.2f} {r['conn_per_s']:7.0f} "
              f"{r['p50_ms']:8.1f} {r['p99_ms']:8.1f} {r['health_worst_ms']:16.1f} "
              f"{r['conn_per_s'] / base['conn_per_s']:8.2f}  {r['failures'] or '-'}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
