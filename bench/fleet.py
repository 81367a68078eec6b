"""Fleet load generator for B3 (idle capacity) and B4 (reconnect storm): N OCPP 1.6 charge
points, each the simulator's `ChargePoint` (`ocpp_mqtt.simulate`) over a picows WebSocket.

Each charge point connects (subprotocol `ocpp1.6`, no permessage-deflate offered), sends
BootNotification at once and, with `--status`, a StatusNotification for its connector when the
Boot is answered; then it idles (no transactions, no Heartbeat within the run, no reconnect).
The storm phase ends when every charge point is finished (its StatusNotification, or its Boot
without `--status`, answered; failed to connect; or dropped) or at `--deadline`; the relay's CPU
and the machine's foreign load are read from /proc at its boundaries. With `--idle S` the fleet
then stays connected: after `--settle` s the relay's RSS is read and its CPU is measured over an
idle window of S s.

The simulator's edge is aiohttp; here a picows `Link` replaces it (1 KiB read buffer, as the
load generator had before it used the simulator), so the client stays cheap beside the relay
it measures. Prints one JSON object on stdout. Every wait has a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

import orjson
import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from ocpp_mqtt.ocppj.validation import Schemas
from ocpp_mqtt.ocppj.versions import Version
from ocpp_mqtt.simulate.chargepoint import ChargePoint
from ocpp_mqtt.simulate.link import ConnectError, Link
from ocpp_mqtt.simulate.options import SimOptions
from ocpp_mqtt.simulate.runner import Fleet as SimFleet

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import CpuSnapshot, percentile, proc_status_kib, tcp_ext_counters

PER_SOURCE_ADDRESS = 25_000  # connections per 127.0.0.x source address (ephemeral ports)
NEVER = 10**7  # seconds: no Heartbeat, no reconnect, no transaction within a run


class PicowsLink(WSListener):
    """The simulator's `Link` over a picows connection."""

    def __init__(self) -> None:
        self.transport: WSTransport | None = None
        self.frames: deque[str] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.is_closed = False

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.TEXT:
            self.frames.append(frame.get_payload_as_ascii_text())
            self._wake()
        elif frame.msg_type == WSMsgType.CLOSE:
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.is_closed = True
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    @property
    def closed(self) -> bool:
        return self.is_closed

    async def send(self, text: str) -> None:
        if self.transport is None or self.is_closed:
            raise ConnectionError("closed")
        self.transport.send(WSMsgType.TEXT, text.encode())

    async def receive(self) -> str | None:
        while not self.frames:
            if self.is_closed:
                return None
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
        return self.frames.popleft()

    async def close(self, code: int = 1000) -> None:
        if self.transport is not None and not self.is_closed:
            self.transport.disconnect()


class PicowsConnect:
    """At most `concurrency` handshakes at a time (0: all at once); source addresses spread
    over 127.0.0.x past 25,000 connections."""

    def __init__(self, n: int, concurrency: int) -> None:
        self.n = n
        self.sem = asyncio.Semaphore(concurrency or n)
        self.index: dict[str, int] = {}

    async def __call__(self, url: str, subprotocol: str, identity: str,
                       password: str | None, handshake_s: float) -> Link:
        link = PicowsLink()
        extra: dict[str, Any] = {}
        if self.n > PER_SOURCE_ADDRESS:
            extra["local_addr"] = (f"127.0.0.{1 + self.index[identity] // PER_SOURCE_ADDRESS}",
                                   0)
        async with self.sem:
            try:
                await ws_connect(lambda: link, url,
                                 extra_headers={"Sec-WebSocket-Protocol": subprotocol},
                                 websocket_handshake_timeout=handshake_s,
                                 read_buffer_init_size=1024, **extra)
            except Exception as exc:  # picows raises OSError, TimeoutError and its own
                raise ConnectError(type(exc).__name__, str(exc)) from exc
        if link.transport is None:
            # picows returns normally, without on_ws_connected, when the connection is lost
            # before the upgrade is answered (e.g. reset after a listen overflow)
            raise ConnectError("ClosedBeforeHandshake", "closed before the handshake")
        return link


class Tracker:
    """When each charge point connected, booted and reported; when all are finished."""

    def __init__(self, n: int, status: bool) -> None:
        self.n = n
        self.status = status
        self.finished: set[str] = set()
        self.done = asyncio.Event()
        self.closing = False
        self.connected: dict[str, float] = {}
        self.booted: dict[str, float] = {}
        self.reported: dict[str, float] = {}
        self.dropped = 0
        self.connect_errors: dict[str, int] = {}

    def finish(self, cp: ChargePoint) -> None:
        if cp.identity not in self.finished:
            self.finished.add(cp.identity)
            if len(self.finished) >= self.n:
                self.done.set()

    def on_event(self, cp: ChargePoint, event: str, detail: str) -> None:
        now = time.perf_counter()
        if event == "connected":
            self.connected.setdefault(cp.identity, now)
        elif event == "booted":
            self.booted.setdefault(cp.identity, now)
            if not self.status:
                self.finish(cp)
        elif event == "reported":
            self.reported.setdefault(cp.identity, now)
            self.finish(cp)
        elif event == "connect_failed" and cp.identity not in self.connected:
            self.connect_errors[detail] = self.connect_errors.get(detail, 0) + 1
            self.finish(cp)
        elif (event == "disconnected" and not self.closing
              and cp.identity not in self.finished):
            self.dropped += 1
            self.finish(cp)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    own = [int(p) for p in args.own_pids.split(",") if p] + [os.getpid()]
    rss_before = proc_status_kib(args.relay_pid)
    options = SimOptions(
        count=args.n, url=args.url, versions=(Version.V16,), identity="CP{n}", first=0,
        rate=0, heartbeat_interval=NEVER, transactions=0, call_timeout=args.deadline,
        connect_timeout=args.connect_timeout, reconnect_min=NEVER, reconnect_range=0,
        status_connector_zero=False, report_status=args.status, quiet=True)
    connect = PicowsConnect(args.n, args.concurrency)
    for i in range(args.n):
        connect.index[options.identity_of(i)] = i
    tracker = Tracker(args.n, args.status)
    fleet = SimFleet(options, connect, Schemas())
    for cp in fleet.charge_points:
        cp.on_event = tracker.on_event
    tcp0 = tcp_ext_counters()
    snap0 = CpuSnapshot(args.relay_pid, own)
    t0 = time.perf_counter()
    await fleet.ramp()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(tracker.done.wait(), args.deadline)
    snap1 = CpuSnapshot(args.relay_pid, own)
    tcp1 = tcp_ext_counters()
    result = storm_figures(tracker, t0, fleet.stats[Version.V16].errors_by_action,
                           snap1.delta(snap0), args.relay_pid)
    result.update({f"tcp_{k}": tcp1[k] - tcp0.get(k, 0) for k in tcp1})
    result["rss_before_kib"] = rss_before
    if args.idle > 0:
        await asyncio.sleep(args.settle)
        rss_after = proc_status_kib(args.relay_pid)
        idle0 = CpuSnapshot(args.relay_pid, own)
        await asyncio.sleep(args.idle)
        idle1 = CpuSnapshot(args.relay_pid, own)
        rss_end = proc_status_kib(args.relay_pid)
        still = fleet.stats[Version.V16].connected
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
    tracker.closing = True
    for cp in fleet.charge_points:  # drop the connections at once: no clean stop needed
        cp.stopping.set()
        if cp.link is not None:
            await cp.link.close()
    for task in fleet.tasks:
        task.cancel()
    await asyncio.gather(*fleet.tasks, return_exceptions=True)
    return result


def storm_figures(t: Tracker, t0: float, failed: Any, cpu: dict[str, float],
                  relay_pid: int) -> dict[str, Any]:
    connected = t.connected
    boot_s = sorted(t.booted[c] - connected[c] for c in t.booted)
    connect_s = sorted(v - t0 for v in connected.values())
    last_connect = max(connected.values(), default=t0) - t0
    boot_errors = failed.get("BootNotification", 0)
    status_errors = failed.get("StatusNotification", 0)
    unfinished = [c for c in connected if c not in t.finished]
    return {
        "n": t.n,
        "connected": len(connected),
        "connect_errors": sum(t.connect_errors.values()),
        "connect_error_types": t.connect_errors,
        "connect_cancel_pending": 0,
        "not_connected": t.n - len(connected) - sum(t.connect_errors.values()),
        "dropped": t.dropped,
        "boot_ok": len(t.booted),
        "boot_errors": boot_errors,
        # connected, Boot sent, no accepted answer by the deadline and not dropped
        "boot_lost": sum(1 for c in unfinished if c not in t.booted),
        "status_ok": len(t.reported) if t.status else 0,
        "status_errors": status_errors,
        "status_lost": (sum(1 for c in unfinished if c in t.booted) if t.status else 0),
        "last_connect_s": last_connect,
        "last_boot_s": max(t.booted.values(), default=t0) - t0,
        "last_status_s": max(t.reported.values(), default=t0) - t0,
        "connect_per_s": len(connected) / last_connect if last_connect > 0 else float("nan"),
        "connect_p50_s": percentile(connect_s, 0.50),
        "connect_p90_s": percentile(connect_s, 0.90),
        "boot_p50_ms": percentile(boot_s, 0.50) * 1e3,
        "boot_p99_ms": percentile(boot_s, 0.99) * 1e3,
        "storm_s": cpu["elapsed"],
        "storm_cpu_s": cpu["relay_cpu_s"],
        "us_per_cp": cpu["relay_cpu_s"] * 1e6 / len(connected) if connected else float("nan"),
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
