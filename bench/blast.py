"""Upstream blaster for B5 (forwarding) and B7 (back-pressure): OCPP 2.1 SEND frames, no answers.

N charge points (picows client, subprotocol `ocpp2.1`) send `--total` frames in all,
`[6,"<cid>-<seq>","NotifyPeriodicEventStream",{...}]` (~1.2 kB, valid against the 2.1 schema),
as fast as their sockets take them (at most 64 KiB waiting in each client's write buffer). SEND
is OCPP 2.1's one-way message: never answered and exempt from the one-outstanding-CALL rule,
so blasting it is legal OCPP, unlike CALLs sent before the previous one is answered.

A mosquitto_sub started with `-N -F .` counts what reaches MQTT: one byte per message in
`--count-file`. The phase runs from the first frame sent until everything sent has been counted
(or nothing new was counted for `--stall` s, or `--deadline`); the relay's CPU and the machine's
foreign load are read from /proc at its boundaries.

B7: `--stop-pid` (the broker) is sent SIGSTOP once the charge points have sent `--stop-after`
frames (the middle of the blast: they go on sending while it is stopped) and SIGCONT `--stop-for`
s later (always, even on error). The relay's RSS is sampled every 0.1 s, and
with `--health-port` the gateway's `/health` (MQTT backlog). Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

import orjson
import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import CpuSnapshot, proc_status_kib

WRITE_HIGH = 64 * 1024  # bytes waiting in a client's write buffer before it stops sending
BURST = 32  # frames per charge point per round


def stream_payload() -> bytes:
    """A ~1.2 kB OCPP 2.1 NotifyPeriodicEventStream payload, valid against its schema."""
    data = [{"t": round(0.25 * k, 2), "v": f"{229.5 + (k % 9) * 0.1:.1f}"} for k in range(49)]
    return orjson.dumps({"id": 7, "pending": 0, "basetime": "2026-11-21T12:00:00.000Z",
                         "data": data})


class Stats:
    def __init__(self) -> None:
        self.sent = 0
        self.received = 0  # frames the relay sent back (a SEND is never answered: should be 0)
        self.dropped = 0  # connections closed during the run


class Sender(WSListener):
    def __init__(self, stats: Stats, cid: str, payload: bytes, count: int) -> None:
        self.stats = stats
        self.head = f'[6,"{cid}-'.encode()
        self.tail = b'","NotifyPeriodicEventStream",' + payload + b"]"
        self.left = count
        self.seq = 0
        self.transport: WSTransport | None = None
        self.closed = False

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            transport.disconnect()
        elif frame.msg_type == WSMsgType.TEXT:
            self.stats.received += 1

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if not self.closed:
            self.closed = True
            self.stats.dropped += 1

    def burst(self) -> int:
        """Send up to BURST frames while the socket takes them; returns how many were sent."""
        transport = self.transport
        if transport is None or self.closed or not self.left:
            return 0
        buffered = transport.underlying_transport.get_write_buffer_size
        k = 0
        while self.left and k < BURST and buffered() < WRITE_HIGH:
            self.seq += 1
            transport.send(WSMsgType.TEXT, self.head + str(self.seq).encode() + self.tail)
            self.left -= 1
            k += 1
        self.stats.sent += k
        return k


class Count:
    """Messages counted by mosquitto_sub since `start()`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.base = 0

    def raw(self) -> int:
        try:
            return os.stat(self.path).st_size
        except OSError:
            return 0

    def start(self) -> None:
        self.base = self.raw()

    def __call__(self) -> int:
        return self.raw() - self.base


async def health_backlog(port: int) -> int | None:
    """The MQTT backlog the gateway reports on GET /health (None if it did not answer)."""
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1.0)
        writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = await asyncio.wait_for(reader.read(), 1.0)
        body = orjson.loads(data.split(b"\r\n\r\n", 1)[1])
        return int(body["mqtt"]["backlog"])
    except (OSError, TimeoutError, ValueError, KeyError, IndexError, TypeError):
        return None
    finally:
        if writer is not None:
            writer.close()


class Sampler:
    """RSS of the relay (and the gateway's MQTT backlog) every 0.1 s."""

    def __init__(self, pid: int, health_port: int) -> None:
        self.pid = pid
        self.health_port = health_port
        self.rss_max = 0
        self.backlog_max = -1  # -1: not observed
        self.health_failures = 0
        self.samples = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.rss_max = max(self.rss_max, proc_status_kib(self.pid))
            if self.health_port:
                backlog = await health_backlog(self.health_port)
                if backlog is None:
                    self.health_failures += 1
                else:
                    self.backlog_max = max(self.backlog_max, backlog)
            self.samples += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)


async def freeze_broker(args: argparse.Namespace, count: Count, stats: Stats,
                        out: dict[str, Any]) -> None:
    """B7: SIGSTOP the broker now, SIGCONT `--stop-for` s later (also when cancelled)."""
    stopped = False
    try:
        os.kill(args.stop_pid, signal.SIGSTOP)
        stopped = True
        out.update(delivered_at_stop=count(), sent_at_stop=stats.sent)
        await asyncio.sleep(args.stop_for)
    finally:
        if stopped:
            os.kill(args.stop_pid, signal.SIGCONT)
            out.update(delivered_at_cont=count(), sent_at_cont=stats.sent)


async def connect_all(args: argparse.Namespace, stats: Stats) -> list[Sender]:
    payload = stream_payload()
    per_cp, extra = divmod(args.total, args.n)
    senders = [Sender(stats, f"CP{i}", payload, per_cp + (i < extra)) for i in range(args.n)]
    sem = asyncio.Semaphore(50)
    headers = {"Sec-WebSocket-Protocol": "ocpp2.1"}

    async def one(s: Sender, i: int) -> None:
        async with sem:
            await asyncio.wait_for(ws_connect(lambda: s, f"{args.url}/CP{i}",
                                              extra_headers=headers), 10.0)

    await asyncio.gather(*(one(s, i) for i, s in enumerate(senders)))
    return senders


async def run(args: argparse.Namespace) -> dict[str, Any]:
    stats = Stats()
    senders = await connect_all(args, stats)
    await asyncio.sleep(0.3)
    own = [int(p) for p in args.own_pids.split(",") if p] + [os.getpid()]
    count = Count(args.count_file)
    count.start()
    rss_before = proc_status_kib(args.relay_pid)
    b7: dict[str, Any] = {}
    sampling = asyncio.Event()
    sampler = Sampler(args.relay_pid, args.health_port)
    tasks = [asyncio.create_task(sampler.run(sampling))]
    loop = asyncio.get_running_loop()
    snap0 = CpuSnapshot(args.relay_pid, own)
    t0 = loop.time()
    deadline = t0 + args.deadline
    last_seen, last_progress = 0, t0
    try:
        while True:
            sent = sum(s.burst() for s in senders)
            now = loop.time()
            seen = count()
            if seen != last_seen:
                last_seen, last_progress = seen, now
            if args.stop_pid and len(tasks) == 1 and stats.sent >= args.stop_after:
                tasks.append(asyncio.create_task(freeze_broker(args, count, stats, b7)))
            sending = any(s.left and not s.closed for s in senders)
            if not sending and seen >= stats.sent:
                break
            if now > deadline or now - last_progress > args.stall:
                break
            await asyncio.sleep(0 if sent else 0.001)
    finally:
        snap1 = CpuSnapshot(args.relay_pid, own)
        t_end = last_progress
        for task in tasks[1:]:  # the broker is sent SIGCONT by the task's `finally`
            task.cancel()
        sampling.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    cpu = snap1.delta(snap0)
    delivered = count()
    for s in senders:
        s.closed = True
        if s.transport is not None:
            s.transport.send_close()
            s.transport.disconnect()
    elapsed = max(t_end - t0, 1e-9)
    result: dict[str, Any] = {
        "n": args.n, "planned": args.total, "sent": stats.sent, "delivered": delivered,
        "lost": max(stats.sent - delivered, 0), "extra": max(delivered - stats.sent, 0),
        "answers": stats.received, "dropped": stats.dropped,
        "elapsed_s": elapsed, "msg_per_s": delivered / elapsed,
        "us_per_msg": cpu["relay_cpu_s"] * 1e6 / delivered if delivered else float("nan"),
        "relay_cores": cpu["relay_cpu_s"] / cpu["elapsed"],
        "foreign_cores": cpu["foreign_cores"], "own_cores": cpu["own_cores"],
        "rss_before_kib": rss_before, "rss_max_kib": max(sampler.rss_max, rss_before),
        "hwm_kib": proc_status_kib(args.relay_pid, "VmHWM"),
        "rss_after_kib": proc_status_kib(args.relay_pid),
        "backlog_max": sampler.backlog_max, "health_failures": sampler.health_failures,
        "complete": stats.sent == args.total and delivered >= stats.sent,
    }
    result.update(b7)
    return result


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True, help="base URL, e.g. ws://127.0.0.1:9000/ocpp")
    ap.add_argument("--n", type=int, default=100, help="charge points")
    ap.add_argument("--total", type=int, default=60_000, help="frames in all")
    ap.add_argument("--count-file", required=True, help="output file of mosquitto_sub -N -F .")
    ap.add_argument("--stall", type=float, default=10.0,
                    help="end when nothing new was counted for this long, s")
    ap.add_argument("--deadline", type=float, default=120.0)
    ap.add_argument("--stop-pid", type=int, default=0, help="B7: the broker to SIGSTOP")
    ap.add_argument("--stop-after", type=int, default=30_000, help="B7: frames sent first")
    ap.add_argument("--stop-for", type=float, default=5.0, help="B7: seconds stopped")
    ap.add_argument("--health-port", type=int, default=0, help="B7: the gateway's port")
    ap.add_argument("--relay-pid", type=int, required=True)
    ap.add_argument("--own-pids", default="", help="comma-separated pids of the benchmark")
    return ap.parse_args()


if __name__ == "__main__":
    print(orjson.dumps(uvloop.run(run(parse_args()))).decode(), flush=True)
