"""B3 idle capacity: N charge points connect, boot, then idle; RSS per charge point, idle CPU.

    .venv/bin/python bench/idle.py [--n 5000] [--quick] [--relays thin,gateway] [--json FILE]

Each run starts a fresh Mosquitto, relay and backend, so no run inherits another's memory.
Runs alternate between the relays (thin, gateway, thin, ...). See bench/README.md.
"""

from __future__ import annotations

import argparse
import atexit
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as b12
from harness import (
    BENCH_DIR,
    Harness,
    aggregate_runs,
    export_gateway,
    interleaved_runs,
    raise_nofile,
    run_json,
)

QOS = 1  # upstream QoS of both relays and of the backend's answers in B3 and B4
FD_MARGIN = 256  # descriptors each process needs besides the charge points' sockets


def cap_n(n: int) -> int:
    """Raise RLIMIT_NOFILE (inherited by every process started afterwards) for `n` sockets
    per process; if the hard limit is too low, say so and return the largest n it allows."""
    soft, hard = raise_nofile(n + FD_MARGIN)
    if soft < n + FD_MARGIN:
        capped = max(soft - FD_MARGIN, 1)
        print(f"RLIMIT_NOFILE: hard limit {hard}, soft {soft}: N capped from {n} to {capped} "
              "(raise the hard limit, e.g. `ulimit -Hn`, for more)", file=sys.stderr)
        return capped
    return n


def fresh_stack(h: Harness, args: argparse.Namespace, relay: str,
                load: Callable[[int, int], list[str]], timeout: float) -> dict[str, Any]:
    """Mosquitto, relay and backend started for this run only; `load(port, relay_pid)` is the
    load generator's command line; everything started here is stopped before returning."""
    spawned = len(h.procs)
    try:
        _, bport = h.start_mosquitto(args.mosquitto)
        proc, port = b12.start_relay(h, relay, bport, QOS)
        h.start_backend(bport, b12.PREFIX[relay], QOS, f"backend-{relay}", ["--boot-result"])
        time.sleep(1.0)  # the relay settles (readiness probe done, MQTT subscribed)
        own = ",".join(map(str, h.own_pids()))
        result = run_json([*load(port, proc.pid), "--own-pids", own], timeout)
        if not proc.alive():
            raise RuntimeError(f"{relay} exited during the run:\n{proc.tail()}")
        return result
    finally:
        for p in reversed(h.procs[spawned:]):
            h.stop(p)


def errors(r: dict[str, Any]) -> float:
    """Everything that should be 0 in B3 and B4."""
    return float(r["connect_errors"] + r["not_connected"] + r["dropped"] + r["boot_errors"]
                 + r["boot_lost"] + r["status_errors"] + r["status_lost"])


def fmt(v: float | None, spec: str) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def measure(args: argparse.Namespace, relays: list[str]) -> dict[str, dict[str, Any]]:
    wanted = 1 if args.quick else 3
    deadline = 30.0 + args.n / 100

    def one(relay: str) -> dict[str, Any]:
        def load(port: int, pid: int) -> list[str]:
            return [sys.executable, str(BENCH_DIR / "fleet.py"), "--url",
                    f"ws://127.0.0.1:{port}/ocpp", "--n", str(args.n), "--concurrency",
                    str(args.concurrency), "--deadline", str(deadline), "--idle",
                    str(args.idle), "--settle", "2", "--relay-pid", str(pid)]
        return fresh_stack(h, args, relay, load, deadline + args.idle + 60)

    def show(r: dict[str, Any]) -> str:
        return (f"{r['kib_per_cp']:5.1f} KiB/cp  idle {100 * r['idle_cores']:5.2f} % "
                f"({r['idle_pct_per_5k']:.2f} %/5k)  booted {r['boot_ok']}/{r['n']}  "
                f"err {errors(r):.0f}")

    with Harness() as h:
        runs = interleaved_runs(relays, wanted, one, f"B3 n={args.n}", show)
    return {relay: aggregate_runs(rs, wanted) for relay, rs in runs.items()}


def table(results: dict[str, dict[str, Any]]) -> str:
    head = (f"{'relay':8} {'bench':5} {'N':>6} {'KiB/cp':>7} {'RSS0 MiB':>8} {'RSS MiB':>8} "
            f"{'idle %':>7} {'%/5k':>6} {'foreign':>8} {'runs':>5} {'err':>4} {'x KiB':>6} "
            f"{'x idle':>6}")
    lines = [head, "-" * len(head)]
    thin = results.get("thin")
    for relay, r in results.items():
        foreign = f"{r['foreign_cores']:.2f}" + ("" if r["clean"] else "!")
        runs = f"{r['runs']}/{r['made']}"
        base = thin if relay != "thin" else None
        x_kib = r["kib_per_cp"] / base["kib_per_cp"] if base else None
        x_idle = (r["idle_cores"] / base["idle_cores"]
                  if base and base["idle_cores"] > 0 else None)
        lines.append(
            f"{relay:8} {'B3':5} {r['n']:6.0f} {r['kib_per_cp']:7.1f} "
            f"{r['rss_before_kib'] / 1024:8.1f} {r['rss_end_kib'] / 1024:8.1f} "
            f"{100 * r['idle_cores']:7.2f} {r['idle_pct_per_5k']:6.2f} {foreign:>8} "
            f"{runs:>5} {errors(r):4.0f} {fmt(x_kib, '6.2f'):>6} "
            f"{fmt(x_idle, '6.2f'):>6}")
    lines.append("targets (gateway): KiB/cp <= 25, idle < 2 %/5k. The load generator offers no "
                 "permessage-deflate; the thin relay sends no pings, the gateway one per charge "
                 "point every 20 s")
    return "\n".join(lines)


def common_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--relays", default="thin,gateway", help="comma list of thin, gateway")
    ap.add_argument("--gateway-args", default="",
                    help="extra flags for the gateway, e.g. '--no-validate-cp-calls'")
    ap.add_argument("--gateway-rev", default="",
                    help="run the gateway of this commit (git archive of src/, e.g. HEAD) "
                    "instead of the installed working tree")
    ap.add_argument("--json", type=Path, help="write results to this file")
    ap.add_argument("--mosquitto", default=shutil.which("mosquitto") or "/usr/sbin/mosquitto")


def relays_from(ap: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    b12.GATEWAY_ARGS.extend(args.gateway_args.split())
    args.gateway_src = ""
    if args.gateway_rev:
        rev = subprocess.run(["git", "-C", str(BENCH_DIR.parent), "rev-parse", "--short",
                              args.gateway_rev], capture_output=True, text=True, timeout=30)
        into = Path(tempfile.mkdtemp(prefix="ocpp-bench-gw-"))
        atexit.register(shutil.rmtree, into, True)
        src = export_gateway(args.gateway_rev, into)
        os.environ["PYTHONPATH"] = os.pathsep.join(  # inherited by the gateway processes
            p for p in (str(src), os.environ.get("PYTHONPATH", "")) if p)
        args.gateway_src = f"{args.gateway_rev} ({rev.stdout.strip()})"
        print(f"gateway: src/ of {args.gateway_src}", file=sys.stderr)
    relays = [r.strip() for r in args.relays.split(",") if r.strip()]
    if unknown := set(relays) - {"thin", "gateway"}:
        ap.error(f"unknown relays: {', '.join(sorted(unknown))}")
    if "gateway" in relays and not b12.gateway_available():
        relays.remove("gateway")
    print(f"relays: {', '.join(relays)}; {os.cpu_count()} CPUs; "
          f"python {sys.version.split()[0]}", file=sys.stderr)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` kills children
    return relays


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int,
                    help="charge points (default 5000, --quick 1000; e.g. 50000: capped by "
                    "RLIMIT_NOFILE)")
    ap.add_argument("--idle", type=float, default=20.0,
                    help="idle window, s (default 20: one gateway ping interval, so each "
                    "charge point is pinged once in it)")
    ap.add_argument("--concurrency", type=int, default=200, help="handshakes at a time")
    ap.add_argument("--quick", action="store_true", help="1 run each, N 1000")
    common_args(ap)
    args = ap.parse_args()
    args.n = cap_n(args.n or (1000 if args.quick else 5000))
    relays = relays_from(ap, args)
    if not relays:
        return 1
    try:
        results = measure(args, relays)
    except KeyboardInterrupt:
        print("interrupted; all benchmark processes stopped", file=sys.stderr)
        return 130
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps({"gateway": args.gateway_src or "working tree",
                                         "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
