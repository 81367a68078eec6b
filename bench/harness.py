"""Shared helpers for the benchmarks: processes, broker, readiness, CPU accounting.

Everything here is bounded in time: no wait loops without a deadline.
"""

from __future__ import annotations

import base64
import io
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")
FOREIGN_LOAD_LIMIT = 0.25  # cores; runs above this are flagged and discarded
BENCH_DIR = Path(__file__).resolve().parent


# ---------------------------------------------------------------- CPU accounting


def proc_jiffies(pid: int) -> int:
    """utime + stime of a process (all its threads), in clock ticks; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return 0
    fields = data[data.rindex(b")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


def cpu_seconds(pid: int) -> float:
    return proc_jiffies(pid) / CLK_TCK


def system_busy_jiffies() -> int:
    """Busy ticks of the whole machine: everything in /proc/stat but idle and iowait."""
    with open("/proc/stat", "rb") as f:
        vals = [int(v) for v in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = vals
    return user + nice + system + irq + softirq + steal


class CpuSnapshot:
    """CPU of the relay under test, of all benchmark processes, and of the machine."""

    def __init__(self, relay_pid: int, own_pids: Iterable[int]) -> None:
        self.relay_pid = relay_pid
        self.own_pids = sorted(set(own_pids) | {relay_pid})
        self.t = time.perf_counter()
        self.relay = proc_jiffies(relay_pid)
        self.own = sum(proc_jiffies(p) for p in self.own_pids)
        self.busy = system_busy_jiffies()

    def delta(self, start: CpuSnapshot) -> dict[str, float]:
        """relay CPU seconds and foreign load (cores) between `start` and this snapshot."""
        elapsed = max(self.t - start.t, 1e-9)
        foreign = (self.busy - start.busy) - (self.own - start.own)
        return {
            "elapsed": elapsed,
            "relay_cpu_s": (self.relay - start.relay) / CLK_TCK,
            "own_cores": (self.own - start.own) / CLK_TCK / elapsed,
            "foreign_cores": max(foreign, 0) / CLK_TCK / elapsed,
        }


# ---------------------------------------------------------------- statistics


def percentile(sorted_vals: Sequence[float], q: float) -> float:
    if not sorted_vals:
        return float("nan")
    return sorted_vals[min(len(sorted_vals) - 1, int(q * len(sorted_vals)))]


def median_result(results: list[dict[str, float]]) -> dict[str, float]:
    """Per-figure median over runs (numeric keys only)."""
    keys = [k for k, v in results[0].items() if isinstance(v, (int, float))]
    return {k: statistics.median(r[k] for r in results) for k in keys}


# ---------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


class Proc:
    """A child process in its own process group, output to a log file."""

    def __init__(self, name: str, cmd: list[str], logdir: Path,
                 stdout: Path | None = None) -> None:
        """Output goes to `{logdir}/{name}.log`; with `stdout`, only stderr does."""
        self.name = name
        self.cmd = cmd
        self.log = logdir / f"{name}.log"
        with open(self.log, "wb") as out, open(stdout or os.devnull, "wb") as sout:
            self.popen = subprocess.Popen(
                cmd, stdout=sout if stdout else out,
                stderr=out if stdout else subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def wait_for(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited ({self.popen.returncode}):\n{self.tail()}")
            if ready():
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.name}: no {what} within {timeout:.0f}s:\n{self.tail()}")

    def wait_line(self, line: str, timeout: float = 10.0) -> None:
        self.wait_for(lambda: line in self.log.read_text(errors="replace").split("\n"),
                      timeout, repr(line))

    def stop(self, grace: float = 3.0) -> None:
        if self.popen.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.popen.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue


class Harness:
    """Owns a temp dir and every process it starts; `close()` kills them all."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ocpp-bench-"))
        self.procs: list[Proc] = []

    def __enter__(self) -> Harness:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        self.close()
        if exc_type is None:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            print(f"logs kept in {self.dir}", file=sys.stderr)

    def close(self) -> None:
        for p in reversed(self.procs):
            p.stop()

    def own_pids(self) -> list[int]:
        return [os.getpid()] + [p.pid for p in self.procs if p.alive()]

    def spawn(self, name: str, cmd: list[str], stdout: Path | None = None) -> Proc:
        proc = Proc(name, cmd, self.dir, stdout)
        self.procs.append(proc)
        return proc

    def stop(self, proc: Proc) -> None:
        proc.stop()
        if proc in self.procs:
            self.procs.remove(proc)

    def start_mosquitto(self, binary: str = "mosquitto") -> tuple[Proc, int]:
        port = free_port()
        conf = self.dir / "mosquitto.conf"
        conf.write_text(
            f"listener {port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "set_tcp_nodelay true\n"
            "max_inflight_messages 0\n"
            "max_queued_messages 1000000\n"
            "persistence false\n"
            "log_dest stderr\n"
            "log_type error\nlog_type warning\n"
        )
        proc = self.spawn("mosquitto", [binary, "-c", str(conf)])
        proc.wait_for(lambda: port_open(port), 10.0, f"listener on port {port}")
        return proc, port

    def start_backend(self, bport: int, prefix: str, qos: int, name: str,
                      extra: Sequence[str] = ()) -> Proc:
        cmd = [sys.executable, str(BENCH_DIR / "backend.py"), "--mqtt", f"127.0.0.1:{bport}",
               "--prefix", prefix, "--qos", str(qos), *extra]
        proc = self.spawn(name, cmd)
        proc.wait_line("READY", 10.0)
        return proc


    def start_counter(self, bport: int, topic: str, qos: int, name: str) -> Counter:
        """A C subscriber (mosquitto_sub) on `topic` that writes one byte per message.

        Ready once a probe published (by mosquitto_pub, QoS 1) on a topic matching `topic` has
        been counted; the probes stay in the count, so callers read a baseline first."""
        sub, pub = mosquitto_clients()
        out = self.dir / f"{name}.count"
        proc = self.spawn(name, [sub, "-h", "127.0.0.1", "-p", str(bport), "-t", topic,
                                 "-q", str(qos), "-N", "-F", ".", "-i", f"bench-{name}"],
                          stdout=out)
        counter = Counter(proc, out)
        probe_topic = topic.replace("#", "_probe").replace("+", "_probe")
        deadline = time.monotonic() + 10.0
        while counter.count() == 0:
            if time.monotonic() > deadline or not proc.alive():
                raise RuntimeError(f"{name}: the probe message was not counted:\n{proc.tail()}")
            subprocess.run([pub, "-h", "127.0.0.1", "-p", str(bport), "-t", probe_topic,
                            "-m", "probe", "-q", "1"], capture_output=True, timeout=5)
            time.sleep(0.1)
        return counter


class Counter:
    """Messages received by a mosquitto_sub started with `-N -F .`: the size of its output."""

    def __init__(self, proc: Proc, path: Path) -> None:
        self.proc = proc
        self.path = path

    def count(self) -> int:
        try:
            return os.stat(self.path).st_size
        except OSError:
            return 0


def mosquitto_clients() -> tuple[str, str]:
    """Paths of mosquitto_sub and mosquitto_pub (Debian package mosquitto-clients)."""
    sub, pub = shutil.which("mosquitto_sub"), shutil.which("mosquitto_pub")
    if not sub or not pub:
        raise RuntimeError("mosquitto_sub/mosquitto_pub not found: `make mosquitto` or "
                           "`apt-get install mosquitto-clients`")
    return sub, pub


def tcp_ext_counters(names: Sequence[str] = ("TCPSynRetrans", "ListenOverflows",
                                              "ListenDrops")) -> dict[str, int]:
    """Machine-wide TcpExt counters of /proc/net/netstat (SYN retransmissions, accept-queue
    overflows): a connection storm that overflows a listen backlog shows up here."""
    try:
        with open("/proc/net/netstat") as f:
            lines = f.read().splitlines()
    except OSError:
        return {}
    for head, values in zip(lines[::2], lines[1::2], strict=False):
        if head.startswith("TcpExt:"):
            table = dict(zip(head.split()[1:], values.split()[1:], strict=False))
            return {n: int(table.get(n, 0)) for n in names}
    return {}


def export_gateway(rev: str, into: Path) -> Path:
    """`src/` of the repository at commit `rev` (git archive), extracted under `into`; put the
    returned directory first on PYTHONPATH to run that gateway rather than the working tree
    (which may hold someone's unfinished edits)."""
    repo = BENCH_DIR.parent
    tar = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", rev, "src"],
                         capture_output=True, timeout=60)
    if tar.returncode != 0:
        raise RuntimeError(f"git archive {rev} failed: {tar.stderr.decode()[-500:]}")
    with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as archive:
        archive.extractall(into, filter="data")
    return into / "src"


# ---------------------------------------------------------------- memory and limits


def proc_status_kib(pid: int, field: str = "VmRSS") -> int:
    """A figure of /proc/<pid>/status in KiB (VmRSS, VmHWM, ...); 0 if the process is gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(field.encode() + b":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def raise_nofile(wanted: int) -> tuple[int, int]:
    """Raise this process's RLIMIT_NOFILE soft limit toward `wanted`, never past the hard
    limit (children started afterwards inherit it). Returns the (soft, hard) limits now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            print(f"cannot raise RLIMIT_NOFILE to {target}: {exc}", file=sys.stderr)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft, hard


# ---------------------------------------------------------------- runs and their medians


def run_json(cmd: list[str], timeout: float) -> dict[str, Any]:
    """Run a load generator in its own process group; its last stdout line is a JSON object.

    Killed (the whole group) when it outlives `timeout`."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"{Path(cmd[1]).name} timed out after {timeout:.0f}s") from exc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    lines = out.decode().strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{Path(cmd[1]).name} failed ({proc.returncode}):\n"
                           f"{err.decode()[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def interleaved_runs(keys: Sequence[str], wanted: int, run_one: Callable[[str], dict[str, Any]],
                     label: str, show: Callable[[dict[str, Any]], str]
                     ) -> dict[str, list[dict[str, Any]]]:
    """`wanted` runs per key, interleaved (a, b, a, b, ...) so drift hits all keys alike.

    Runs with more than FOREIGN_LOAD_LIMIT of foreign load are redone, at most 2 extra rounds;
    a key whose run raises RuntimeError is reported and dropped."""
    runs: dict[str, list[dict[str, Any]]] = {}
    failed: set[str] = set()
    for _attempt in range(wanted + 2):
        todo = [k for k in keys if k not in failed
                and sum(r["foreign_cores"] <= FOREIGN_LOAD_LIMIT for r in runs.get(k, []))
                < wanted]
        if not todo:
            break
        for key in todo:
            try:
                r = run_one(key)
            except RuntimeError as exc:
                print(f"  {key:8} {label}  FAILED: {exc}", file=sys.stderr, flush=True)
                failed.add(key)
                continue
            runs.setdefault(key, []).append(r)
            print(f"  {key:8} {label}  run {len(runs[key])}: {show(r)}  "
                  f"foreign {r['foreign_cores']:.2f}", file=sys.stderr, flush=True)
    return runs


def aggregate_runs(runs: list[dict[str, Any]], wanted: int) -> dict[str, Any]:
    """Median of the clean runs (flagged ones only if no clean run is left), as in run.py."""
    clean = [r for r in runs if r["foreign_cores"] <= FOREIGN_LOAD_LIMIT]
    used = (clean if clean else runs)[:wanted]
    out: dict[str, Any] = median_result(used)
    out.update(runs=len(used), made=len(runs), clean=bool(clean), all_runs=runs)
    return out


# ---------------------------------------------------------------- readiness probe


def ws_probe(port: int, path: str = "/ocpp/probe", subprotocol: str = "ocpp1.6",
             timeout: float = 1.0) -> bool:
    """WebSocket handshake offering `subprotocol`, then a close frame; True if it was accepted.

    Raw socket on purpose: no client library, and nothing else to go wrong.
    """
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {subprotocol}\r\n\r\n")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(request.encode())
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 16384:
                chunk = sock.recv(4096)
                if not chunk:
                    return False
                head += chunk
            lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in lines[1:])}
            ok = (lines[0].split()[1:2] == ["101"]
                  and headers.get("sec-websocket-protocol") == subprotocol)
            sock.sendall(b"\x88\x82\x00\x00\x00\x00\x03\xe8")  # masked (zero key) close 1000
            return ok
    except OSError:
        return False


def wait_ws_ready(proc: Proc, port: int, timeout: float = 10.0) -> None:
    proc.wait_for(lambda: port_open(port) and ws_probe(port), timeout, "WebSocket probe success")
