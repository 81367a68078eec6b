"""`--workers N`: N gateway processes on one machine, sharing the listen port.

Each worker binds the port with SO_REUSEPORT, so the kernel spreads new connections over them,
and each is a whole gateway instance with its own `gateway_id` (`<gateway_id>-w<i>`) and MQTT
session. They share nothing but the broker, exactly like instances on different machines: a
charge point that reconnects through another worker is taken over, and a message for a charge
point connected nowhere is answered by one of them. This process only starts the workers,
restarts one that dies, and stops them all on SIGINT/SIGTERM.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

from .config import Settings

log = logging.getLogger("ocpp_mqtt.workers")

START_TIMEOUT = 60.0  # seconds for a worker to reach its broker and listen
RESTART_MAX = 30.0  # longest delay before a crashed worker is started again


def worker_settings(settings: Settings, index: int) -> Settings:
    update: dict[str, Any] = {"gateway_id": f"{settings.gateway_id}-w{index}"}
    if settings.mqtt_client_id:
        update["mqtt_client_id"] = f"{settings.mqtt_client_id}-w{index}"
    admin = settings.admin_address
    if admin is not None and admin[1]:
        # Each worker is an instance with its own charge points, counters and metrics: worker
        # i serves its admin API on port + i (one scrape target per worker).
        host = f"[{admin[0]}]" if ":" in admin[0] else admin[0]
        update["admin_listen"] = f"{host}:{admin[1] + index}"
    return settings.model_copy(update=update)


def _die_with_parent(parent: int) -> None:
    """A worker whose supervisor was killed (SIGKILL, OOM) stops too, gracefully, instead of
    serving on alone with nobody to stop it. Linux only (prctl PR_SET_PDEATHSIG)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl: too late for the signal
        os.kill(os.getpid(), signal.SIGTERM)


def _worker_main(settings: Settings, ready: Connection, parent: int) -> None:
    """Entry point of a worker process (spawned: a fresh interpreter)."""
    from .cli import run_gateway
    from .logs import setup_logging

    setup_logging(settings.log_level, settings.log_format, settings.log_levels)
    _die_with_parent(parent)
    def on_ready(line: str) -> None:
        ready.send(line)

    code = run_gateway(settings, on_ready)
    sys.exit(code)


@dataclass
class _Worker:
    index: int
    settings: Settings
    process: BaseProcess | None = None
    pipe: Connection | None = None
    started: float = 0.0
    delay: float = 1.0  # next restart delay
    restart_at: float | None = None
    ready: str | None = field(default=None, repr=False)


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.context = multiprocessing.get_context("spawn")
        self.workers = [_Worker(i, worker_settings(settings, i)) for i in range(settings.workers)]
        self.stopping = False

    def _spawn(self, worker: _Worker) -> None:
        parent, child = self.context.Pipe(duplex=False)
        process = self.context.Process(target=_worker_main,
                                       args=(worker.settings, child, os.getpid()),
                                       name=f"ocpp-mqtt-w{worker.index}", daemon=False)
        process.start()
        child.close()
        worker.process, worker.pipe, worker.ready = process, parent, None
        worker.started, worker.restart_at = time.monotonic(), None

    def _await_ready(self, workers: list[_Worker]) -> int:
        """0 once every worker listens; else the exit status of the first that failed."""
        deadline = time.monotonic() + START_TIMEOUT
        waiting = list(workers)
        while waiting and not self.stopping:
            for worker in list(waiting):
                assert worker.process is not None and worker.pipe is not None
                if worker.pipe.poll():
                    try:
                        worker.ready = worker.pipe.recv()
                        waiting.remove(worker)
                        continue
                    except EOFError:
                        pass
                if worker.process.exitcode is not None:
                    return worker.process.exitcode or 1
            if time.monotonic() > deadline:
                print(f"ocpp-mqtt: {len(waiting)} worker(s) not ready after {START_TIMEOUT:.0f} "
                      "s; is the broker reachable?", file=sys.stderr)
                return 1
            wait([w.pipe for w in waiting if w.pipe is not None]
                 + [w.process.sentinel for w in waiting if w.process is not None], 0.5)
        return 0

    def run(self) -> int:
        def on_signal(signum: int, frame: FrameType | None) -> None:
            self.stopping = True

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        first, rest = self.workers[0], self.workers[1:]
        # The first worker alone: a configuration problem (port taken, broker unreachable)
        # is then reported once, not by every worker.
        self._spawn(first)
        code = self._await_ready([first])
        if code == 0:
            for worker in rest:
                self._spawn(worker)
            code = self._await_ready(rest)
        if code != 0 or self.stopping:
            self._stop_all()
            return code
        print(f"{first.ready}; {len(self.workers)} workers (pids "
              f"{', '.join(str(w.process.pid) for w in self.workers if w.process)})", flush=True)
        self._watch()
        self._stop_all()
        return 0

    def _watch(self) -> None:
        while not self.stopping:
            now = time.monotonic()
            for worker in self.workers:
                process = worker.process
                if worker.restart_at is not None:
                    if now >= worker.restart_at:
                        log.info("starting worker again", extra={"worker": worker.index})
                        self._spawn(worker)
                    continue
                if process is None or process.exitcode is None:
                    continue
                # A worker that ran a while was fine: start it again soon. One that dies at once
                # again and again backs off, up to RESTART_MAX.
                worker.delay = 1.0 if now - worker.started > 60 else min(
                    RESTART_MAX, worker.delay * 2)
                worker.restart_at = now + worker.delay
                log.error("worker exited; it will be started again", extra={
                    "worker": worker.index, "pid": process.pid, "exit_status": process.exitcode,
                    "restart_in_s": worker.delay})
            sentinels = [w.process.sentinel for w in self.workers
                         if w.process is not None and w.process.exitcode is None]
            wait(sentinels, 0.5) if sentinels else time.sleep(0.5)

    def _stop_all(self) -> None:
        """SIGTERM to every worker (each stops gracefully), then SIGKILL past the deadline."""
        alive = [w.process for w in self.workers
                 if w.process is not None and w.process.exitcode is None]
        for process in alive:
            if process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.settings.shutdown_timeout + 10
        for process in alive:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.exitcode is None:
                log.warning("worker did not stop in time: killed", extra={"pid": process.pid})
                process.kill()
                process.join(5)


def supervise(settings: Settings) -> int:
    return Supervisor(settings).run()
