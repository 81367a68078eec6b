"""B4 reconnect storm: N charge points connect at once, each sends BootNotification and then
StatusNotification; time to the last Boot result, connect rate, errors, lost Boots.

    .venv/bin/python bench/storm.py [--n 2000] [--quick] [--relays thin,gateway] [--json FILE]

Each run starts a fresh Mosquitto, relay and backend (a storm follows a restart). Runs
alternate between the relays. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BENCH_DIR, Harness, aggregate_runs, interleaved_runs
from idle import cap_n, common_args, errors, fmt, fresh_stack, relays_from


def lost(r: dict[str, Any]) -> float:
    """Boots (and StatusNotifications) sent and never answered by the deadline."""
    return float(r["boot_lost"] + r["status_lost"])


def measure(args: argparse.Namespace, relays: list[str]) -> dict[str, dict[str, Any]]:
    wanted = 1 if args.quick else 3
    deadline = 60.0 + args.n / 100

    def one(relay: str) -> dict[str, Any]:
        def load(port: int, pid: int) -> list[str]:
            return [sys.executable, str(BENCH_DIR / "fleet.py"), "--url",
                    f"ws://127.0.0.1:{port}/ocpp", "--n", str(args.n), "--concurrency",
                    str(args.concurrency), "--status", "--deadline", str(deadline),
                    "--connect-timeout", "30", "--relay-pid", str(pid)]
        return fresh_stack(h, args, relay, load, deadline + 60)

    def show(r: dict[str, Any]) -> str:
        return (f"last Boot {r['last_boot_s']:5.2f} s  {r['connect_per_s']:6.0f} conn/s  "
                f"{r['us_per_cp']:6.0f} us/cp  boot p99 {r['boot_p99_ms']:7.1f} ms  "
                f"SYN rtx {r.get('tcp_TCPSynRetrans', 0)}  "
                f"err {errors(r) - lost(r):.0f}  lost {lost(r):.0f}")

    with Harness() as h:
        runs = interleaved_runs(relays, wanted, one, f"B4 n={args.n}", show)
    return {relay: aggregate_runs(rs, wanted) for relay, rs in runs.items()}


def table(results: dict[str, dict[str, Any]]) -> str:
    head = (f"{'relay':8} {'bench':5} {'N':>6} {'last Boot s':>11} {'conn/s':>7} "
            f"{'conn p90 s':>10} {'boot p99 ms':>11} {'us/cp':>6} {'SYN rtx':>7} {'foreign':>8} "
            f"{'runs':>5} {'err':>4} {'lost':>4} {'x conn/s':>8} {'x us/cp':>7}")
    lines = [head, "-" * len(head)]
    thin = results.get("thin")
    for relay, r in results.items():
        foreign = f"{r['foreign_cores']:.2f}" + ("" if r["clean"] else "!")
        runs = f"{r['runs']}/{r['made']}"
        base = thin if relay != "thin" else None
        x_conn = r["connect_per_s"] / base["connect_per_s"] if base else None
        x_us = r["us_per_cp"] / base["us_per_cp"] if base else None
        lines.append(
            f"{relay:8} {'B4':5} {r['n']:6.0f} {r['last_boot_s']:11.2f} "
            f"{r['connect_per_s']:7.0f} {r['connect_p90_s']:10.2f} {r['boot_p99_ms']:11.1f} "
            f"{r['us_per_cp']:6.0f} {r.get('tcp_TCPSynRetrans', 0):7.0f} {foreign:>8} {runs:>5}"
            f" {errors(r) - lost(r):4.0f} {lost(r):4.0f} "
            f"{fmt(x_conn, '8.2f'):>8} {fmt(x_us, '7.2f'):>7}")
    lines.append("targets (gateway): x conn/s >= 0.7; 0 lost or timed-out Boots")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int,
                    help="charge points (default 2000, --quick 500; e.g. 10000)")
    ap.add_argument("--concurrency", type=int, default=0,
                    help="handshakes at a time (default 0: all at once)")
    ap.add_argument("--quick", action="store_true", help="1 run each, N 500")
    common_args(ap)
    args = ap.parse_args()
    args.n = cap_n(args.n or (500 if args.quick else 2000))
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
