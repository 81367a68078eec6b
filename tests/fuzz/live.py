"""Live fuzzing (issue 5, point 7): hostile frames against a running gateway, every reply
judged by the OCPP-J rules, the gateway watched for crashes, hangs and error logs.

    .venv/bin/python -m tests.fuzz.live --frames 100000        # what `make fuzz` runs

Starts its own Mosquitto and a central-mode gateway (so every CALL is answered by the gateway
itself), opens charge points of every version, and sends each frame followed by a probe CALL:
the replies before the probe's answer are the reply to the frame (tests/fuzz/conformance.py).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import websockets

from ocpp_mqtt.ocppj.versions import Version
from tests.conftest import Mosquitto, free_port
from tests.soak.rig import GatewayProcess

from .conformance import problems
from .frames import frame

REPLY_TIMEOUT = 5.0


@dataclass
class Report:
    frames: int = 0
    replies: Counter[str] = field(default_factory=Counter)  # none / result / error
    problems: list[str] = field(default_factory=list)
    hangs: int = 0
    closes: list[str] = field(default_factory=list)

    def add_problem(self, text: str) -> None:
        self.problems.append(text)

    @property
    def clean(self) -> bool:
        return not self.problems and not self.hangs and not self.closes


async def charge_point(url: str, version: Version, frames: int, seed: int,
                       report: Report) -> None:
    rng = random.Random(seed)
    number = 0
    while number < frames:
        async with websockets.connect(url, subprotocols=[version.subprotocol],  # type: ignore[list-item]
                                      open_timeout=10, max_size=None,
                                      ping_interval=None) as ws:
            while number < frames:
                text = frame(rng, version, number)
                probe = f"probe-{seed}-{number}"
                number += 1
                report.frames += 1
                try:
                    await ws.send(text)
                    await ws.send(orjson.dumps([2, probe, "Heartbeat", {}]).decode())
                    before = await _until_probe(ws, probe)
                except TimeoutError:
                    report.hangs += 1
                    report.add_problem(f"{version.value}: no answer to the probe after "
                                       f"{text[:200]!r}")
                    break
                except websockets.ConnectionClosed as exc:
                    report.closes.append(f"{version.value}: closed ({exc}) after {text[:200]!r}")
                    break
                report.replies["none" if not before else
                               "result" if before[0].startswith("[3") else "error"] += 1
                for problem in problems(version, text, before):
                    report.add_problem(f"{version.value}: {problem}; frame {text[:300]!r}")


async def _until_probe(ws: Any, probe: str) -> list[str]:
    before: list[str] = []
    deadline = asyncio.get_running_loop().time() + REPLY_TIMEOUT
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise TimeoutError
        text = await asyncio.wait_for(ws.recv(), remaining)
        try:
            reply = orjson.loads(text)
        except orjson.JSONDecodeError:
            before.append(text)
            continue
        if isinstance(reply, list) and len(reply) > 1 and reply[1] == probe:
            if reply[0] != 3:
                raise AssertionError(f"the probe got {reply!r}")
            return before
        before.append(text)


async def fuzz(frames: int, seed: int, connections: int, workdir: Path) -> tuple[Report, str]:
    """Run against a fresh Mosquitto and gateway; return the report and the gateway's log."""
    broker = Mosquitto(workdir)
    broker.start()
    port = free_port()
    log = workdir / "gateway.log"
    gateway = GatewayProcess(port, broker.port, "fuzz/", "fuzz", log, "--mode", "central",
                             "--store", str(workdir / "fuzz.sqlite3"),
                             "--trigger-after-connect", "0", "--log-level", "info")
    report = Report()
    try:
        await gateway.start()
        versions = list(Version)
        tasks = []
        for index in range(connections):
            version = versions[index % len(versions)]
            url = f"ws://127.0.0.1:{port}/ocpp/FZ{index}"
            share = frames // connections + (index < frames % connections)
            tasks.append(charge_point(url, version, share, seed + index, report))
        await asyncio.gather(*tasks)
        alive = gateway.proc is not None and gateway.proc.poll() is None
        if not alive:
            report.add_problem("the gateway process died")
        code = gateway.stop()
        if alive and code != 0:
            report.add_problem(f"the gateway exited with {code} on SIGTERM")
    finally:
        gateway.kill()
        broker.stop()
    return report, log.read_text(errors="replace")


def log_problems(text: str) -> list[str]:
    """Error lines and tracebacks in the gateway's log (a hostile frame is never an error)."""
    return [line for line in text.splitlines()
            if re.match(r"\S+ (error|critical) ", line) or "Traceback" in line][:20]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--connections", type=int, default=6)
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        report, log = asyncio.run(fuzz(args.frames, args.seed, args.connections, Path(tmp)))
    logged = log_problems(log)
    seconds = time.monotonic() - started
    print(f"live fuzz: {report.frames} frames in {seconds:.0f} s (seed {args.seed}): "
          f"replies {dict(report.replies)}, {len(report.problems)} non-conformant, "
          f"{report.hangs} hangs, {len(report.closes)} closes, {len(logged)} error log lines")
    for line in report.problems[:20] + report.closes[:10] + logged:
        print("  " + line)
    return 0 if report.clean and not logged else 1


if __name__ == "__main__":
    sys.exit(main())
