"""Proxy mode's price: round trips charge point -> CSMS -> charge point through the gateway
(`--mode proxy`, every frame mirrored to Mosquitto) against the same CSMS reached directly.

Processes: Mosquitto, a CSMS (aiohttp, this file with --csms), the gateway, and this process
as N charge points each sending Heartbeats one after another for a fixed time. Prints round
trips per second, latency percentiles, the gateway's CPU per round trip, the mirror messages
counted on MQTT, and the ratios proxy/direct. Figures, not a pass/fail test.

    .venv/bin/python bench/proxy.py [--cps 20] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

import orjson
from harness import CpuSnapshot, Harness, free_port, percentile, port_open, wait_ws_ready

HEARTBEAT_RESULT = '{"currentTime":"2026-01-01T00:00:00Z"}'


def serve_csms(port: int) -> None:
    """A minimal CSMS: answers every CALL with a Heartbeat result (bench only)."""
    from aiohttp import WSMsgType, web

    async def handle(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("ocpp1.6",), compress=False)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                frame = orjson.loads(msg.data)
                if frame[0] == 2:
                    await ws.send_str(f'[3,{orjson.dumps(frame[1]).decode()},'
                                      f'{HEARTBEAT_RESULT}]')
        return ws

    app = web.Application()
    app.router.add_get("/ocpp/{cid}", handle)
    print("READY", flush=True)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def charge_points(url: str, cps: int, seconds: float) -> dict[str, float]:
    import websockets

    latencies: list[float] = []

    async def one(n: int) -> None:
        async with websockets.connect(f"{url}/BENCH{n}", subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                                      compression=None, open_timeout=10) as ws:
            deadline = time.monotonic() + seconds
            i = 0
            while time.monotonic() < deadline:
                i += 1
                start = time.perf_counter()
                await ws.send(f'[2,"{n}-{i}","Heartbeat",{{}}]')
                await ws.recv()
                latencies.append(time.perf_counter() - start)

    started = time.monotonic()
    await asyncio.gather(*(one(n) for n in range(cps)))
    elapsed = time.monotonic() - started
    latencies.sort()
    return {"round_trips": len(latencies), "per_s": len(latencies) / elapsed,
            "p50_ms": percentile(latencies, 0.50) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cps", type=int, default=20, help="charge points (default 20)")
    parser.add_argument("--seconds", type=float, default=5.0, help="per run (default 5)")
    parser.add_argument("--csms", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--profile", default="", help="write the gateway's cProfile here")
    args = parser.parse_args()
    if args.csms:
        serve_csms(args.csms)
        return 0
    with Harness() as h:
        _, bport = h.start_mosquitto()
        cport = free_port()
        csms = h.spawn("csms", [sys.executable, __file__, "--csms", str(cport)])
        csms.wait_for(lambda: port_open(cport), 10, "CSMS listening")
        counter = h.start_counter(bport, "bench/#", 0, "mirror")
        gport = free_port()
        profile = ["-m", "cProfile", "-o", args.profile] if args.profile else []
        gateway = h.spawn("gateway", [
            sys.executable, *profile, "-m", "ocpp_mqtt", "serve", "--mode", "proxy",
            "--upstream", f"ws://127.0.0.1:{cport}/ocpp/{{cid}}", "--listen",
            f"127.0.0.1:{gport}", "--mqtt", f"mqtt://127.0.0.1:{bport}", "--prefix", "bench/",
            "--no-compression", "--qos", "0", "--log-level", "warning",
            "--gateway-id", "bench"])
        wait_ws_ready(gateway, gport)
        results: dict[str, Any] = {}
        direct = asyncio.run(charge_points(f"ws://127.0.0.1:{cport}/ocpp", args.cps,
                                           args.seconds))
        results["direct"] = direct
        before_count = counter.count()
        start = CpuSnapshot(gateway.pid, h.own_pids())
        proxied = asyncio.run(charge_points(f"ws://127.0.0.1:{gport}/ocpp", args.cps,
                                            args.seconds))
        cpu = CpuSnapshot(gateway.pid, h.own_pids()).delta(start)
        time.sleep(1.0)  # let the last mirror messages arrive
        mirrored = counter.count() - before_count
        proxied["gateway_cpu_us_per_rt"] = cpu["relay_cpu_s"] / proxied["round_trips"] * 1e6
        proxied["mirror_msgs_per_rt"] = mirrored / proxied["round_trips"]
        results["proxy"] = proxied
        proxied["foreign_cores"] = cpu["foreign_cores"]
        results["ratio"] = {"per_s": proxied["per_s"] / direct["per_s"],
                            "p50": proxied["p50_ms"] / direct["p50_ms"],
                            "p99": proxied["p99_ms"] / direct["p99_ms"]}
        print(f"{args.cps} charge points, Heartbeat round trips for {args.seconds:g} s each way")
        for name in ("direct", "proxy"):
            r = results[name]
            line = (f"{name:>7}: {r['per_s']:8.0f} rt/s  p50 {r['p50_ms']:.2f} ms  "
                    f"p99 {r['p99_ms']:.2f} ms")
            if name == "proxy":
                line += (f"  gateway CPU {r['gateway_cpu_us_per_rt']:.0f} us/rt  "
                         f"mirror {r['mirror_msgs_per_rt']:.2f} msgs/rt")
            print(line)
        ratio = results["ratio"]
        print(f"  ratio proxy/direct: throughput {ratio['per_s']:.2f}  p50 {ratio['p50']:.2f}  "
              f"p99 {ratio['p99']:.2f}")
        print(orjson.dumps(results).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
