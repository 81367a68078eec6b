"""Run B1 (saturated) and B2 (paced) against the thin relay and the gateway; print a table.

    .venv/bin/python bench/run.py [--relays thin,gateway] [--quick] [--json FILE]

Both relays run side by side on one Mosquitto (separate topic prefixes) and the runs are
interleaved, so drift on a shared machine hits both alike. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (
    BENCH_DIR,
    FOREIGN_LOAD_LIMIT,
    Harness,
    Proc,
    free_port,
    median_result,
    wait_ws_ready,
)

PREFIX = {"thin": "thin/", "thin-floor": "thinfloor/", "thin-aiohttp": "thinaio/",
          "gateway": "ocpp/", "gateway-picows": "gwpicows/"}
GATEWAY_ARGS: list[str] = []  # --gateway-args, e.g. to measure with validation off


@dataclass(frozen=True)
class Bench:
    name: str
    mode: str  # closed | paced
    qos: int


BENCHES = [Bench("B1", "closed", 0), Bench("B2", "paced", 0),
           Bench("B1", "closed", 1), Bench("B2", "paced", 1)]


def relay_cmd(relay: str, port: int, bport: int, qos: int) -> list[str]:
    if relay == "gateway-picows":
        return [sys.executable, str(BENCH_DIR / "gateway_picows.py"), "--listen",
                f"127.0.0.1:{port}", "--mqtt", f"mqtt://127.0.0.1:{bport}", "--qos", str(qos),
                "--prefix", PREFIX[relay]]
    if relay.startswith("thin"):
        script = "thin_relay_aiohttp.py" if relay == "thin-aiohttp" else "thin_relay.py"
        floor = ["--floor"] if relay == "thin-floor" else []
        return [sys.executable, str(BENCH_DIR / script), "--listen", f"127.0.0.1:{port}",
                "--mqtt", f"127.0.0.1:{bport}", "--qos", str(qos), "--prefix", PREFIX[relay],
                *floor]
    return [sys.executable, "-m", "ocpp_mqtt", "serve", "--listen", f"127.0.0.1:{port}",
            "--mqtt", f"mqtt://127.0.0.1:{bport}", "--prefix", PREFIX[relay], "--qos", str(qos),
            "--log-level", "warning", *GATEWAY_ARGS]


def start_relay(h: Harness, relay: str, bport: int, qos: int) -> tuple[Proc, int]:
    port = free_port()
    proc = h.spawn(f"{relay}-q{qos}", relay_cmd(relay, port, bport, qos))
    if relay.startswith("thin") or relay == "gateway-picows":
        proc.wait_line("READY", 10.0)
    else:
        wait_ws_ready(proc, port, 10.0)
    return proc, port


def run_loadgen(h: Harness, bench: Bench, relay: Proc, port: int, quick: bool) -> dict:
    warmup, duration = (0.5, 2.0) if quick else (1.0, 5.0)
    cmd = [sys.executable, str(BENCH_DIR / "loadgen.py"), "--url", f"ws://127.0.0.1:{port}/ocpp",
           "--n", "100", "--mode", bench.mode, "--rate", "10", "--warmup", str(warmup),
           "--duration", str(duration), "--relay-pid", str(relay.pid),
           "--own-pids", ",".join(map(str, h.own_pids()))]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=warmup + duration + 40)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError("loadgen timed out") from exc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait(5)
    lines = out.decode().strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"loadgen failed ({proc.returncode}):\n{err.decode()[-2000:]}")
    return json.loads(lines[-1])


def aggregate(runs: list[dict], wanted: int) -> dict:
    """Median of the clean runs; flagged runs only if there are not enough clean ones."""
    clean = [r for r in runs if r["foreign_cores"] <= FOREIGN_LOAD_LIMIT]
    used = clean if clean else runs
    out = median_result(used[:wanted])
    out["runs"] = len(used[:wanted])
    out["flagged"] = len(runs) - len(clean)
    out["clean"] = bool(clean)
    return out


def clean_runs(rs: list[dict]) -> int:
    return sum(r["foreign_cores"] <= FOREIGN_LOAD_LIMIT for r in rs)


def measure_qos(h: Harness, args: argparse.Namespace, relays: list[str], bport: int,
                qos: int) -> dict[tuple[str, str], list[dict]]:
    """All benchmarks of one QoS, runs interleaved across relays; flagged runs are redone."""
    started: dict[str, tuple[Proc, int]] = {}
    spawned = len(h.procs)
    try:
        for relay in relays:
            try:
                started[relay] = start_relay(h, relay, bport, qos)
            except RuntimeError as exc:
                print(f"{relay} q{qos} did not start, skipped: {exc}", file=sys.stderr)
                continue
            h.start_backend(bport, PREFIX[relay], qos, f"backend-{relay}-q{qos}")
        return run_all(h, args, started, qos)
    finally:
        for proc in h.procs[spawned:]:
            h.stop(proc)


def run_all(h: Harness, args: argparse.Namespace, started: dict[str, tuple[Proc, int]],
            qos: int) -> dict[tuple[str, str], list[dict]]:
    wanted = 1 if args.quick else 3
    runs: dict[tuple[str, str], list[dict]] = {}
    failed: set[tuple[str, str]] = set()
    for _attempt in range(wanted + 2):  # at most 2 extra runs to replace flagged ones
        todo = [(b, r, (r, f"{b.name} q{qos}")) for b in BENCHES if b.qos == qos
                for r in started]
        todo = [t for t in todo if t[2] not in failed and clean_runs(runs.get(t[2], [])) < wanted]
        if not todo:
            break
        for bench, relay, key in todo:
            proc, port = started[relay]
            try:
                if not proc.alive():
                    raise RuntimeError(f"{relay} exited:\n{proc.tail()}")
                r = run_loadgen(h, bench, proc, port, args.quick)
            except RuntimeError as exc:
                print(f"  {relay:8} {key[1]}  FAILED: {exc}", file=sys.stderr, flush=True)
                failed.add(key)
                continue
            runs.setdefault(key, []).append(r)
            print(f"  {relay:8} {key[1]}  run {len(runs[key])}: {r['rt_per_s']:6.0f} rt/s "
                  f"{r['us_per_rt']:6.1f} us/rt  p99 {r['p99_ms']:6.2f} ms  "
                  f"foreign {r['foreign_cores']:.2f}  err {r['errors'] + r['lost']}",
                  file=sys.stderr, flush=True)
    return runs


def measure(args: argparse.Namespace, relays: list[str]) -> dict[str, dict[str, dict]]:
    wanted = 1 if args.quick else 3
    results: dict[str, dict[str, dict]] = {r: {} for r in relays}
    with Harness() as h:
        _, bport = h.start_mosquitto(args.mosquitto)
        for qos in (0, 1):
            runs = measure_qos(h, args, relays, bport, qos)
            for (relay, name), rs in runs.items():
                results[relay][name] = aggregate(rs, wanted) | {"all_runs": rs}
    return results


def fmt(v: float, spec: str) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def table(results: dict[str, dict[str, dict]]) -> str:
    head = (f"{'relay':8} {'bench':6} {'rt/s':>7} {'us/rt':>6} {'p50 ms':>7} {'p99 ms':>7} "
            f"{'max ms':>7} {'foreign':>8} {'runs':>5} {'err':>4} {'x us/rt':>7} {'x p99':>6}")
    lines = [head, "-" * len(head)]
    thin = results.get("thin", {})
    for relay, benches in results.items():
        for name, r in benches.items():
            foreign = f"{r['foreign_cores']:.2f}" + ("" if r["clean"] else "!")
            runs = f"{r['runs']}/{len(r['all_runs'])}"
            base = thin.get(name) if relay != "thin" else None
            x_us = r["us_per_rt"] / base["us_per_rt"] if base else None
            x_p99 = r["p99_ms"] / base["p99_ms"] if base else None
            lines.append(f"{relay:8} {name:6} {r['rt_per_s']:7.0f} {r['us_per_rt']:6.1f} "
                         f"{r['p50_ms']:7.2f} {r['p99_ms']:7.2f} {r['max_ms']:7.2f} {foreign:>8} "
                         f"{runs:>5} {r['errors'] + r['lost']:4.0f} {fmt(x_us, '7.2f'):>7} "
                         f"{fmt(x_p99, '6.2f'):>6}")
    return "\n".join(lines)


def gateway_available() -> bool:
    try:
        res = subprocess.run([sys.executable, "-c", "import ocpp_mqtt"], capture_output=True,
                             timeout=60)
    except subprocess.TimeoutExpired:
        return False
    if res.returncode != 0:
        print("gateway skipped: `import ocpp_mqtt` failed:\n" + res.stderr.decode()[-500:],
              file=sys.stderr)
    return res.returncode == 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--relays", default="thin,thin-aiohttp,gateway",
                    help="comma list of thin, thin-floor, thin-aiohttp, gateway, "
                    "gateway-picows")
    ap.add_argument("--quick", action="store_true", help="1 run each, 0.5 s warm-up + 2 s")
    ap.add_argument("--gateway-args", default="",
                    help="extra flags for the gateway, e.g. '--no-validate-cp-calls'")
    ap.add_argument("--json", type=Path, help="write results to this file")
    ap.add_argument("--mosquitto", default=shutil.which("mosquitto") or "/usr/sbin/mosquitto")
    args = ap.parse_args()
    GATEWAY_ARGS.extend(args.gateway_args.split())
    relays = [r.strip() for r in args.relays.split(",") if r.strip()]
    if unknown := set(relays) - set(PREFIX):
        ap.error(f"unknown relays: {', '.join(sorted(unknown))}")
    if "gateway" in relays and not gateway_available():
        relays.remove("gateway")
    if not relays:
        return 1
    print(f"relays: {', '.join(relays)}; {os.cpu_count()} CPUs; python {sys.version.split()[0]}",
          file=sys.stderr)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` kills children
    try:
        results = measure(args, relays)
    except KeyboardInterrupt:
        print("interrupted; all benchmark processes stopped", file=sys.stderr)
        return 130
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
