"""Load generator: N OCPP 1.6 charge points sending MeterValues CALLs (picows client + uvloop).

closed: each charge point keeps one CALL outstanding, sends the next on the reply.
paced:  each charge point sends `--rate` CALLs/s on a fixed schedule (staggered across CPs).
The measured phase starts after `--warmup` s and lasts `--duration` s; the relay's CPU and
the machine's foreign load are read from /proc at the exact phase boundaries. Prints one
JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from pathlib import Path

import orjson
import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import CpuSnapshot, percentile

MEASURANDS = (  # (measurand, phase, unit, value) -- all valid OCPP 1.6 enum values
    ("Energy.Active.Import.Register", None, "Wh", "1234567.8"),
    ("Current.Import", "L1", "A", "16.02"), ("Current.Import", "L2", "A", "15.98"),
    ("Current.Import", "L3", "A", "16.10"),
    ("Voltage", "L1-N", "V", "229.8"), ("Voltage", "L2-N", "V", "231.2"),
    ("Voltage", "L3-N", "V", "230.4"),
    ("Power.Active.Import", None, "W", "11060.2"),
)


def meter_values(connector: int = 1, transaction: int = 4711) -> bytes:
    """A ~1.2 kB OCPP 1.6 MeterValues.req payload, valid against the 1.6 JSON schema."""
    sampled = []
    for measurand, phase, unit, value in MEASURANDS:
        sv = {"value": value, "context": "Sample.Periodic", "format": "Raw",
              "measurand": measurand, "location": "Outlet", "unit": unit}
        if phase:
            sv["phase"] = phase
        sampled.append(sv)
    return orjson.dumps({
        "connectorId": connector, "transactionId": transaction,
        "meterValue": [{"timestamp": "2025-01-01T12:00:00.000Z", "sampledValue": sampled}],
    })


class Stats:
    def __init__(self, mode: str) -> None:
        self.closed = mode == "closed"
        self.sending = True  # False once the measured phase is over
        self.measuring = False
        self.rtts: list[float] = []
        self.pending = 0  # CALLs sent and not yet answered
        self.drained = asyncio.Event()  # set when sending stopped and nothing is pending
        self.sent = self.errors = self.late = 0


class ChargePoint(WSListener):
    def __init__(self, stats: Stats, cid: str, payload: bytes) -> None:
        self.stats = stats
        self.head = f'[2,"{cid}-'.encode()
        self.tail = b'","MeterValues",' + payload + b"]"
        self.seq = 0
        self.expect = b""
        self.sent_at = 0.0
        self.outstanding = False
        self.send_when_answered = False
        self.transport: WSTransport | None = None

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def send_call(self) -> None:
        self.seq += 1
        seq = str(self.seq).encode()
        self.expect = b'[3,"' + self.head[4:] + seq + b'"'
        self.outstanding = True
        self.stats.sent += 1
        self.stats.pending += 1
        self.sent_at = time.perf_counter()
        self.transport.send(WSMsgType.TEXT, self.head + seq + self.tail)  # type: ignore[union-attr]

    def tick(self) -> None:
        """Paced mode: the scheduled time for the next CALL has come."""
        if self.outstanding:
            self.send_when_answered = True
            self.stats.late += 1
        else:
            self.send_call()

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type != WSMsgType.TEXT:
            if frame.msg_type == WSMsgType.CLOSE:
                transport.disconnect()
            return
        now = time.perf_counter()
        if not self.outstanding:
            return
        data = frame.get_payload_as_bytes()
        if not data.startswith(self.expect):
            msg = orjson.loads(data)
            if msg[0] not in (3, 4) or msg[1].encode() != self.expect[4:-1]:
                return  # not the answer to our CALL (e.g. a CALL from the server): ignore
            if msg[0] == 4:
                self.stats.errors += 1
        st = self.stats
        self.outstanding = False
        st.pending -= 1
        if st.measuring:
            st.rtts.append(now - self.sent_at)
        if st.sending and (st.closed or self.send_when_answered):
            self.send_when_answered = False
            self.send_call()
        elif not st.sending and st.pending == 0:
            st.drained.set()


async def connect_all(url: str, n: int, stats: Stats) -> list[ChargePoint]:
    payload = meter_values()
    cps = [ChargePoint(stats, f"CP{i}", payload) for i in range(n)]
    sem = asyncio.Semaphore(50)

    async def one(cp: ChargePoint, i: int) -> None:
        async with sem:
            await asyncio.wait_for(ws_connect(lambda: cp, f"{url}/CP{i}",
                                              extra_headers={"Sec-WebSocket-Protocol": "ocpp1.6"}),
                                   10.0)

    await asyncio.gather(*(one(cp, i) for i, cp in enumerate(cps)))
    return cps


async def run(args: argparse.Namespace) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    stats = Stats(args.mode)
    cps = await connect_all(args.url, args.n, stats)
    await asyncio.sleep(args.settle)
    own = [int(p) for p in args.own_pids.split(",") if p] + [os.getpid()]
    start = loop.time()
    handles: list[asyncio.TimerHandle] = []
    if args.mode == "closed":
        for cp in cps:
            cp.send_call()
    else:
        period = 1.0 / args.rate
        end = start + args.warmup + args.duration
        for i, cp in enumerate(cps):
            k = 0
            while (t := start + i * period / len(cps) + k * period) < end:
                handles.append(loop.call_at(t, cp.tick))
                k += 1
    await asyncio.sleep(args.warmup)
    stats.measuring = True
    snap0 = CpuSnapshot(args.relay_pid, own)
    await asyncio.sleep(args.duration)
    snap1 = CpuSnapshot(args.relay_pid, own)
    stats.measuring = False
    stats.sending = False
    for h in handles:
        h.cancel()
    if stats.pending == 0:
        stats.drained.set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stats.drained.wait(), args.drain)
    lost = sum(cp.outstanding for cp in cps)
    for cp in cps:
        if cp.transport is not None:
            cp.transport.send_close()
            cp.transport.disconnect()
    return summarize(stats, snap1.delta(snap0), lost)


def summarize(stats: Stats, cpu: dict[str, float], lost: int) -> dict[str, float]:
    rtts = sorted(stats.rtts)
    count = len(rtts)
    return {
        "round_trips": count,
        "rt_per_s": count / cpu["elapsed"],
        "us_per_rt": cpu["relay_cpu_s"] * 1e6 / count if count else float("nan"),
        "relay_cores": cpu["relay_cpu_s"] / cpu["elapsed"],
        "p50_ms": percentile(rtts, 0.50) * 1e3,
        "p99_ms": percentile(rtts, 0.99) * 1e3,
        "max_ms": (rtts[-1] if rtts else float("nan")) * 1e3,
        "foreign_cores": cpu["foreign_cores"],
        "own_cores": cpu["own_cores"],
        "sent": stats.sent, "errors": stats.errors, "late": stats.late, "lost": lost,
    }


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True, help="base URL, e.g. ws://127.0.0.1:9000/ocpp")
    ap.add_argument("--n", type=int, default=100, help="charge points")
    ap.add_argument("--mode", choices=("closed", "paced"), default="closed")
    ap.add_argument("--rate", type=float, default=10.0, help="CALLs/s per CP (paced)")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--settle", type=float, default=0.3, help="pause after connecting")
    ap.add_argument("--drain", type=float, default=3.0, help="max wait for last replies")
    ap.add_argument("--relay-pid", type=int, required=True)
    ap.add_argument("--own-pids", default="", help="comma-separated pids of the benchmark")
    return ap.parse_args()


if __name__ == "__main__":
    result = uvloop.run(run(parse_args()))
    print(orjson.dumps(result).decode(), flush=True)
