"""The fleet: N charge points started at the ramp-up rate, run until the duration is over,
every one is idle (--until-idle) or a signal comes, then stopped cleanly (transactions ended,
queues flushed within --stop-timeout) and summed up."""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import aiohttp

from ..ocppj.validation import Schemas
from .chargepoint import ChargePoint
from .link import AiohttpConnect, Connect
from .options import SimOptions
from .output import Progress, total
from .stats import VersionStats


class Fleet:
    """The charge points of one run; usable without the CLI (tests, benchmarks)."""

    def __init__(self, options: SimOptions, connect: Connect,
                 schemas: Schemas | None = None) -> None:
        self.options = options
        self.seed = options.seed if options.seed is not None else random.SystemRandom(
        ).randrange(2**32)
        self.schemas = schemas or Schemas()
        self.stats = {v: VersionStats() for v in dict.fromkeys(options.versions)}
        self.charge_points = [
            ChargePoint(options.identity_of(i), options.version_of(i), options, connect,
                        self.schemas, self.stats[options.version_of(i)],
                        random.Random(f"{self.seed}/{i}"), url_turn=i)
            for i in range(options.count)]
        self.tasks: list[asyncio.Task[None]] = []
        self.started = time.monotonic()

    async def ramp(self) -> None:
        """Start the charge points, `rate` per second."""
        loop = asyncio.get_running_loop()
        begin = loop.time()
        rate = self.options.rate
        for i, cp in enumerate(self.charge_points):
            if rate > 0:
                delay = begin + i / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            self.tasks.append(asyncio.create_task(cp.run()))

    def idle(self) -> bool:
        return (len(self.tasks) == len(self.charge_points)
                and all(cp.idle for cp in self.charge_points))

    async def stop(self) -> None:
        started = self.charge_points[: len(self.tasks)]
        grace = self.options.stop_timeout + self.options.call_timeout
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await asyncio.gather(*(cp.stop() for cp in started), return_exceptions=True)
        for cp in self.charge_points:
            cp.stopping.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await asyncio.gather(*self.tasks, return_exceptions=True)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def summary(self) -> dict[str, Any]:
        return {
            "url": self.options.url, "seed": self.seed,
            "elapsed_s": round(time.monotonic() - self.started, 3),
            "versions": {v.value: s.summary() for v, s in self.stats.items()},
            "total": total(self.stats).summary(),
        }


async def run(options: SimOptions, stop: asyncio.Event | None = None,
              stream: TextIO = sys.stderr, wrap: Callable[[Connect], Connect] | None = None,
              on_fleet: Callable[[Fleet], None] | None = None) -> dict[str, Any]:
    """One run from start to summary. `stop` ends it early (signals); `wrap` decorates the
    connection factory and `on_fleet` is handed the fleet (tests watch both)."""
    stop = stop or asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        connect: Connect = AiohttpConnect(session)
        fleet = Fleet(options, wrap(connect) if wrap else connect)
        if on_fleet is not None:
            on_fleet(fleet)
        progress = None if options.quiet or options.json else Progress(
            fleet.stats, options.count, stream)
        ramp = asyncio.create_task(fleet.ramp())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + options.duration if options.duration > 0 else None
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)
                if progress is not None:
                    progress.tick()
                if deadline is not None and loop.time() >= deadline:
                    break
                if options.until_idle and fleet.idle():
                    break
        finally:
            ramp.cancel()
            await asyncio.gather(ramp, return_exceptions=True)
            await fleet.stop()
            if progress is not None:
                progress.finish()
    return fleet.summary()


def main(args: Any) -> int:
    """`ocpp-mqtt simulate`: 0 after a run in which charge points connected, 1 when none ever
    could, 2 for a bad option."""
    import orjson

    from .options import OptionError, from_args
    from .output import table

    try:
        options = from_args(args)
    except OptionError as exc:
        print(f"ocpp-mqtt simulate: error: {exc}", file=sys.stderr)
        return 2

    async def runner() -> dict[str, Any]:
        import signal

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        current = asyncio.current_task()

        def on_signal() -> None:
            if stop.is_set() and current is not None:  # a second Ctrl-C: stop at once
                current.cancel()
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        return await run(options, stop)

    try:
        import uvloop

        summary = uvloop.run(runner())
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        summary = asyncio.run(runner())
    except asyncio.CancelledError:
        print("ocpp-mqtt simulate: stopped", file=sys.stderr)
        return 130
    if options.json:
        print(orjson.dumps(summary).decode())
    else:
        print(table(summary))
    return 0 if summary["total"]["connects"] else 1
