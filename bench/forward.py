"""B5 upstream forwarding and B7 back-pressure: 100 charge points blast 60,000 OCPP 2.1 SEND
frames at the relay; a C subscriber (mosquitto_sub) counts what reaches MQTT.

    .venv/bin/python bench/forward.py [--bench B5,B7] [--quick] [--relays thin,gateway]
                                      [--json FILE]

B5 runs at QoS 0 and 1 with the relays side by side on one Mosquitto, runs interleaved. B7 is
B5 at QoS 1 with the broker stopped (SIGSTOP, by PID) for 5 s once the charge points have sent
half the frames (they go on sending), then continued (SIGCONT); each B7 run starts a fresh
relay so its peak RSS is its own. Loss is printed loudly. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as b12
from harness import (
    BENCH_DIR,
    Counter,
    Harness,
    Proc,
    aggregate_runs,
    interleaved_runs,
    mosquitto_clients,
    run_json,
)
from idle import common_args, fmt, relays_from

Results = dict[str, dict[str, dict[str, Any]]]  # relay -> bench -> figures


def blast_cmd(args: argparse.Namespace, h: Harness, relay: Proc, port: int, counter: Counter,
              extra: list[str]) -> list[str]:
    return [sys.executable, str(BENCH_DIR / "blast.py"), "--url", f"ws://127.0.0.1:{port}/ocpp",
            "--n", str(args.n), "--total", str(args.total), "--count-file", str(counter.path),
            "--relay-pid", str(relay.pid), "--own-pids", ",".join(map(str, h.own_pids())),
            "--deadline", str(args.deadline), *extra]


def show(r: dict[str, Any]) -> str:
    text = (f"{r['msg_per_s']:7.0f} msg/s {r['us_per_msg']:6.1f} us/msg  "
            f"delivered {r['delivered']}/{r['sent']}")
    if "sent_at_stop" in r:
        text += (f"  peak RSS {r['hwm_kib'] / 1024:.0f} MiB  max backlog "
                 f"{fmt(r['backlog_max'] if r['backlog_max'] >= 0 else None, 'd')}")
    if r["lost"] or r["extra"] or r["dropped"]:
        text += f"  LOST {r['lost']} EXTRA {r['extra']} DROPPED {r['dropped']}"
    return text


def totals(out: dict[str, Any]) -> dict[str, Any]:
    """Loss is summed over every run made, clean or flagged: it is never hidden by a median."""
    rs = out["all_runs"]
    for key in ("sent", "delivered", "lost", "extra", "dropped", "answers"):
        out[f"{key}_all"] = sum(r[key] for r in rs)
    out["incomplete_runs"] = sum(not r["complete"] for r in rs)
    out["hwm_max_kib"] = max(r["hwm_kib"] for r in rs)
    out["backlog_max_all"] = max(r["backlog_max"] for r in rs)
    return out


def b5(h: Harness, args: argparse.Namespace, relays: list[str], bport: int,
       qos: int) -> dict[str, dict[str, Any]]:
    wanted = 1 if args.quick else 3
    spawned = len(h.procs)
    try:
        started: dict[str, tuple[Proc, int, Counter]] = {}
        for relay in relays:
            try:
                proc, port = b12.start_relay(h, relay, bport, qos)
            except RuntimeError as exc:
                print(f"{relay} q{qos} did not start, skipped: {exc}", file=sys.stderr)
                continue
            counter = h.start_counter(bport, f"{b12.PREFIX[relay]}cp/+", qos,
                                      f"sub-{relay}-q{qos}")
            started[relay] = (proc, port, counter)

        def one(relay: str) -> dict[str, Any]:
            proc, port, counter = started[relay]
            if not proc.alive():
                raise RuntimeError(f"{relay} exited:\n{proc.tail()}")
            return run_json(blast_cmd(args, h, proc, port, counter, []), args.deadline + 60)

        runs = interleaved_runs(list(started), wanted, one, f"B5 q{qos}", show)
    finally:
        for p in reversed(h.procs[spawned:]):
            h.stop(p)
    return {relay: totals(aggregate_runs(rs, wanted)) for relay, rs in runs.items()}


def b7(h: Harness, args: argparse.Namespace, relays: list[str], broker: Proc,
       bport: int) -> dict[str, dict[str, Any]]:
    wanted = 1 if args.quick else 3
    spawned = len(h.procs)
    try:
        counters = {relay: h.start_counter(bport, f"{b12.PREFIX[relay]}cp/+", 1,
                                           f"sub-{relay}-b7") for relay in relays}

        def one(relay: str) -> dict[str, Any]:
            before = len(h.procs)
            try:
                proc, port = b12.start_relay(h, relay, bport, 1)
                extra = ["--stop-pid", str(broker.pid), "--stop-after", str(args.total // 2),
                         "--stop-for", str(args.stop_for), "--stall", str(args.stop_for + 10)]
                if relay == "gateway":
                    extra += ["--health-port", str(port)]
                return run_json(blast_cmd(args, h, proc, port, counters[relay], extra),
                                args.deadline + args.stop_for + 60)
            finally:
                os.kill(broker.pid, signal.SIGCONT)  # whatever happened to the blaster
                for p in reversed(h.procs[before:]):
                    h.stop(p)

        runs = interleaved_runs(relays, wanted, one, "B7 q1", show)
    finally:
        for p in reversed(h.procs[spawned:]):
            h.stop(p)
    return {relay: totals(aggregate_runs(rs, wanted)) for relay, rs in runs.items()}


def measure(args: argparse.Namespace, relays: list[str]) -> Results:
    results: Results = {relay: {} for relay in relays}
    with Harness() as h:
        broker, bport = h.start_mosquitto(args.mosquitto)
        if "B5" in args.bench:
            for qos in (0, 1):
                for relay, r in b5(h, args, relays, bport, qos).items():
                    results[relay][f"B5 q{qos}"] = r
        if "B7" in args.bench:
            for relay, r in b7(h, args, relays, broker, bport).items():
                results[relay]["B7"] = r
    return results


def table(results: Results) -> str:
    thin = results.get("thin", {})
    head = (f"{'relay':8} {'bench':6} {'msg/s':>7} {'us/msg':>6} {'cores':>5} "
            f"{'delivered/sent':>15} {'foreign':>8} {'runs':>5} {'x msg/s':>7} {'x us/msg':>8}")
    lines = [head, "-" * len(head)]
    for relay, benches in results.items():
        for name, r in benches.items():
            if name == "B7":
                continue
            base = thin.get(name) if relay != "thin" else None
            foreign = f"{r['foreign_cores']:.2f}" + ("" if r["clean"] else "!")
            lines.append(
                f"{relay:8} {name:6} {r['msg_per_s']:7.0f} {r['us_per_msg']:6.1f} "
                f"{r['relay_cores']:5.2f} {r['delivered_all']:>7}/{r['sent_all']:<7} "
                f"{foreign:>8} {r['runs']}/{r['made']:<3} "
                f"{fmt(r['msg_per_s'] / base['msg_per_s'] if base else None, '7.2f'):>7} "
                f"{fmt(r['us_per_msg'] / base['us_per_msg'] if base else None, '8.2f'):>8}")
    b7_rows = [(relay, b["B7"]) for relay, b in results.items() if "B7" in b]
    if b7_rows:
        lines += ["", f"{'relay':8} {'bench':6} {'delivered/sent':>15} {'lost':>5} "
                  f"{'RSS0 MiB':>8} {'peak MiB':>8} {'growth':>6} {'max backlog':>11} "
                  f"{'msg/s':>7} {'us/msg':>6} {'runs':>5}"]
        lines.append("-" * len(lines[-1]))
        for relay, r in b7_rows:
            backlog = r["backlog_max_all"]
            lines.append(
                f"{relay:8} {'B7':6} {r['delivered_all']:>7}/{r['sent_all']:<7} "
                f"{r['lost_all']:5d} {r['rss_before_kib'] / 1024:8.1f} "
                f"{r['hwm_max_kib'] / 1024:8.1f} "
                f"{(r['hwm_max_kib'] - r['rss_before_kib']) / 1024:6.1f} "
                f"{fmt(backlog if backlog >= 0 else None, 'd'):>11} {r['msg_per_s']:7.0f} "
                f"{r['us_per_msg']:6.1f} {r['runs']}/{r['made']:<3}")
    lines.append("targets (gateway): B5 x msg/s >= 0.5; B7 delivered == sent, bounded memory, "
                 "in flight <= --mqtt-max-inflight (not exposed: /health shows the backlog only)")
    loss = [f"{relay} {name}: {r['lost_all']} of {r['sent_all']} LOST, {r['extra_all']} extra, "
            f"{r['dropped_all']} connections dropped, {r['incomplete_runs']} incomplete runs"
            for relay, benches in results.items() for name, r in benches.items()
            if r["lost_all"] or r["extra_all"] or r["dropped_all"] or r["incomplete_runs"]]
    if loss:
        lines += ["", "!!! MESSAGES LOST OR RUNS INCOMPLETE !!!", *loss]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", default="B5,B7", help="comma list of B5, B7")
    ap.add_argument("--n", type=int, default=100, help="charge points")
    ap.add_argument("--total", type=int, default=60_000, help="frames per run")
    ap.add_argument("--stop-for", type=float, default=5.0, help="B7: seconds the broker stops")
    ap.add_argument("--deadline", type=float, default=120.0, help="max seconds per run")
    ap.add_argument("--quick", action="store_true", help="1 run each")
    common_args(ap)
    args = ap.parse_args()
    args.bench = {b.strip().upper() for b in args.bench.split(",")}
    if unknown := args.bench - {"B5", "B7"}:
        ap.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")
    try:
        mosquitto_clients()
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
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
