"""Fleet load generator for B3 (idle capacity) and B4 (reconnect storm): N OCPP 1.6 charge points.

Each charge point connects (picows client, subprotocol `ocpp1.6`, no permessage-deflate
offered), sends a BootNotification at once and, with `--status`, a StatusNotification when the
Boot is answered. The storm phase ends when every charge point is finished (answered, failed to
connect, or dropped) or at `--deadline`; the relay's CPU and the machine's foreign load are read
from /proc at its boundaries. With `--idle S` the fleet then stays connected: after `--settle`
s the relay's RSS is read and its CPU is measured over an idle window of S s.

Prints one JSON object on stdout. Every wait has a deadline; connections are dropped on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import CpuSnapshot, percentile, proc_status_kib, tcp_ext_counters

BOOT = orjson.dumps({"chargePointVendor": "ocpp-mqtt-bench", "chargePointModel": "fleet",
                     "firmwareVersion": "1.0.0"})
STATUS = orjson.dumps({"connectorId": 1, "errorCode": "NoError", "status": "Available"})
PER_SOURCE_ADDRESS = 25_000  # connections per 127.0.0.x source address (ephemeral ports)


class Fleet:
    def __init__(self, n: int, status: bool) -> None:
        self.n = n
        self.status = status
        self.cps: list[FleetCP] = []
        self.finished = 0
        self.done = asyncio.Event()
        self.closing = False
        self.connect_errors: dict[str, int] = {}
        self.abandoned: list[asyncio.Future[Any]] = []  # timed-out connects, cancelled
        self.boot_errors = self.status_errors = self.dropped = 0
        self.t0 = 0.0

    def finish(self, cp: FleetCP) -> None:
        if cp.finished:
            return
        cp.finished = True
        self.finished += 1
        if self.finished >= self.n:
            self.done.set()


class FleetCP(WSListener):
    def __init__(self, fleet: Fleet, i: int) -> None:
        self.fleet = fleet
        self.cid = f"CP{i}"
        self.boot_id = f"b{i}"
        self.status_id = f"s{i}"
        self.transport: WSTransport | None = None
        self.t_connected = self.t_boot = self.t_status = 0.0
        self.finished = False
        self.disconnected = False

    def on_ws_connected(self, transport: WSTransport) -> None:
        if self.finished:  # counted as a connect error already (timed out): too late
            transport.disconnect()
            return
        self.transport = transport
        self.t_connected = time.perf_counter()
        transport.send(WSMsgType.TEXT,
                       b'[2,"' + self.boot_id.encode() + b'","BootNotification",' + BOOT + b"]")

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type != WSMsgType.TEXT:
            if frame.msg_type == WSMsgType.CLOSE:
                transport.disconnect()
            return
        now = time.perf_counter()
        try:
            msg = orjson.loads(frame.get_payload_as_bytes())
        except orjson.JSONDecodeError:
            return
        if not isinstance(msg, list) or len(msg) < 3 or msg[0] not in (3, 4):
            return  # e.g. a CALL from the central system: not part of this benchmark
        fleet = self.fleet
        if msg[1] == self.boot_id and not self.t_boot:
            self.t_boot = now
            if msg[0] == 4:
                fleet.boot_errors += 1
            if fleet.status and msg[0] == 3:
                transport.send(WSMsgType.TEXT, b'[2,"' + self.status_id.encode()
                               + b'","StatusNotification",' + STATUS + b"]")
            else:
                fleet.finish(self)
        elif msg[1] == self.status_id and not self.t_status:
            self.t_status = now
            if msg[0] == 4:
                fleet.status_errors += 1
            fleet.finish(self)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.disconnected = True
        if not self.fleet.closing and not self.finished:
            self.fleet.dropped += 1
            self.fleet.finish(self)


async def connect_fleet(args: argparse.Namespace, fleet: Fleet) -> None:
    """Start every connection (at most `--concurrency` handshakes at a time; 0: all at once)."""
    sem = asyncio.Semaphore(args.concurrency or args.n)
    headers = {"Sec-WebSocket-Protocol": "ocpp1.6"}

    async def one(cp: FleetCP, i: int) -> None:
        extra: dict[str, Any] = {}
        if args.n > PER_SOURCE_ADDRESS:  # past one address's ephemeral ports: 127.0.0.2, ...
            extra["local_addr"] = (f"127.0.0.{1 + i // PER_SOURCE_ADDRESS}", 0)
        async with sem:
            # asyncio.wait, not wait_for: a timed-out connect is cancelled and left behind, so
            # a cancellation that never completes cannot hold this slot (seen once in 20,000)
            task = asyncio.ensure_future(
                ws_connect(lambda: cp, f"{args.url}/{cp.cid}", extra_headers=headers,
                           websocket_handshake_timeout=args.connect_timeout,
                           read_buffer_init_size=1024, **extra))
            await asyncio.wait({task}, timeout=args.connect_timeout + 1.0)
            exc: BaseException | None
            if task.done() and task.cancelled():  # ended by a cancellation inside picows
                exc = asyncio.CancelledError()
            elif task.done():
                exc = task.exception()
            else:
                task.cancel()
                task.add_done_callback(lambda t: t.cancelled() or t.exception())
                fleet.abandoned.append(task)
                exc = TimeoutError()
            if cp.t_connected:  # connected (maybe just as the timeout fired): the Boot was
                return  # sent; its answer, or the drop, finishes it
            # picows' ws_connect returns normally, without on_ws_connected, when the connection
            # is lost before the upgrade is answered (e.g. reset after a listen overflow)
            name = "ClosedBeforeHandshake" if exc is None else type(exc).__name__
            fleet.connect_errors[name] = fleet.connect_errors.get(name, 0) + 1
            fleet.finish(cp)

    fleet.cps = [FleetCP(fleet, i) for i in range(args.n)]
    fleet.t0 = time.perf_counter()
    await asyncio.gather(*(one(cp, i) for i, cp in enumerate(fleet.cps)))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    own = [int(p) for p in args.own_pids.split(",") if p] + [os.getpid()]
    rss_before = proc_status_kib(args.relay_pid)
    fleet = Fleet(args.n, args.status)
    tcp0 = tcp_ext_counters()
    snap0 = CpuSnapshot(args.relay_pid, own)
    connecting = asyncio.create_task(connect_fleet(args, fleet))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(fleet.done.wait(), args.deadline)
    snap1 = CpuSnapshot(args.relay_pid, own)
    tcp1 = tcp_ext_counters()
    connecting.cancel()
    result = storm_figures(fleet, snap1.delta(snap0), args.relay_pid)
    # machine-wide: SYNs sent again because a listen backlog overflowed, during the storm
    result.update({f"tcp_{k}": tcp1[k] - tcp0.get(k, 0) for k in tcp1})
    result["rss_before_kib"] = rss_before
    if args.idle > 0:
        await asyncio.sleep(args.settle)
        rss_after = proc_status_kib(args.relay_pid)
        idle0 = CpuSnapshot(args.relay_pid, own)
        await asyncio.sleep(args.idle)
        idle1 = CpuSnapshot(args.relay_pid, own)
        rss_end = proc_status_kib(args.relay_pid)
        still = sum(cp.transport is not None and not cp.disconnected for cp in fleet.cps)
        idle = idle1.delta(idle0)
        held = max(result["connected"], 1)
        result.update(
            rss_after_kib=rss_after, rss_end_kib=rss_end,
            hwm_kib=proc_status_kib(args.relay_pid, "VmHWM"),
            kib_per_cp=(rss_end - rss_before) / held,
            idle_s=idle["elapsed"], idle_cores=idle["relay_cpu_s"] / idle["elapsed"],
            idle_pct_per_5k=100 * idle["relay_cpu_s"] / idle["elapsed"] * 5000 / held,
            idle_foreign_cores=idle["foreign_cores"], still_connected=still,
            # the figure the runner checks against the foreign-load limit: the idle window's
            foreign_cores=idle["foreign_cores"],
        )
    fleet.closing = True
    for cp in fleet.cps:
        if cp.transport is not None:
            cp.transport.disconnect()
    await asyncio.sleep(0.2)
    return result


def storm_figures(fleet: Fleet, cpu: dict[str, float], relay_pid: int) -> dict[str, Any]:
    cps = fleet.cps
    connected = [cp for cp in cps if cp.t_connected]
    booted = [cp for cp in connected if cp.t_boot]
    statused = [cp for cp in connected if cp.t_status]
    t0 = fleet.t0
    last_connect = max((cp.t_connected for cp in connected), default=t0) - t0
    last_boot = max((cp.t_boot for cp in booted), default=t0) - t0
    last_status = max((cp.t_status for cp in statused), default=t0) - t0
    boot_s = sorted(cp.t_boot - cp.t_connected for cp in booted)
    connect_s = sorted(cp.t_connected - t0 for cp in connected)
    n_connected = len(connected)
    return {
        "n": fleet.n,
        "connected": n_connected,
        "connect_errors": sum(fleet.connect_errors.values()),
        "connect_error_types": fleet.connect_errors,
        # timed-out connects whose cancellation had not completed at the end of the phase
        "connect_cancel_pending": sum(not t.done() for t in fleet.abandoned),
        # neither connected nor failed by the deadline (their handshakes were cancelled)
        "not_connected": sum(1 for cp in cps if not cp.t_connected and not cp.finished),
        "dropped": fleet.dropped,
        "boot_ok": len(booted) - fleet.boot_errors,
        "boot_errors": fleet.boot_errors,
        # connected, Boot sent, no answer by the deadline and not dropped
        "boot_lost": sum(1 for cp in connected if not cp.t_boot and not cp.finished),
        "status_ok": len(statused) - fleet.status_errors,
        "status_errors": fleet.status_errors,
        "status_lost": (sum(1 for cp in booted if not cp.t_status and not cp.finished)
                        if fleet.status else 0),
        "last_connect_s": last_connect,
        "last_boot_s": last_boot,
        "last_status_s": last_status,
        "connect_per_s": n_connected / last_connect if last_connect > 0 else float("nan"),
        "connect_p50_s": percentile(connect_s, 0.50),
        "connect_p90_s": percentile(connect_s, 0.90),
        "boot_p50_ms": percentile(boot_s, 0.50) * 1e3,
        "boot_p99_ms": percentile(boot_s, 0.99) * 1e3,
        "storm_s": cpu["elapsed"],
        "storm_cpu_s": cpu["relay_cpu_s"],
        "us_per_cp": cpu["relay_cpu_s"] * 1e6 / n_connected if n_connected else float("nan"),
        "storm_foreign_cores": cpu["foreign_cores"],
        "foreign_cores": cpu["foreign_cores"],
        "own_cores": cpu["own_cores"],
        "relay_alive": os.path.exists(f"/proc/{relay_pid}"),
    }


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True, help="base URL, e.g. ws://127.0.0.1:9000/ocpp")
    ap.add_argument("--n", type=int, default=1000, help="charge points")
    ap.add_argument("--concurrency", type=int, default=0,
                    help="handshakes in progress at most (0: all at once)")
    ap.add_argument("--status", action="store_true", help="StatusNotification after the Boot")
    ap.add_argument("--connect-timeout", type=float, default=30.0)
    ap.add_argument("--deadline", type=float, default=60.0,
                    help="max seconds for all connections and answers")
    ap.add_argument("--idle", type=float, default=0.0, help="idle window, s (0: none)")
    ap.add_argument("--settle", type=float, default=2.0, help="pause before the idle window")
    ap.add_argument("--relay-pid", type=int, required=True)
    ap.add_argument("--own-pids", default="", help="comma-separated pids of the benchmark")
    return ap.parse_args()


if __name__ == "__main__":
    print(orjson.dumps(uvloop.run(run(parse_args()))).decode(), flush=True)
