"""The frame log's cost per frame, against the relay's own per-round-trip cost in the same run.

    .venv/bin/python bench/framelog.py

Prints µs per frame for the redaction alone (a frame with no secret is parsed and walked, one
with a secret is also re-serialised) and for a whole logged frame (redaction, formatting, a
line-buffered append to a file), text and JSON, then the ratio of a B1 round trip with both
frames logged to one without (bench/micro.py's relay_round_trip, measured here too). A
charge point not in `frame_log` pays one `is None` test per frame, not measured.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from ocpp_mqtt.framelog import FrameLog
from ocpp_mqtt.redact import redact_frame

try:  # run as `python bench/framelog.py`: micro.py sits beside it
    from micro import CASES, relay_round_trip
except ImportError:  # pragma: no cover - run from elsewhere
    from bench.micro import CASES, relay_round_trip

N = 20_000


def per_call(fn: Callable[[int], object], n: int = N, rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for i in range(n):
            fn(i)
        best = min(best, (time.perf_counter() - start) / n * 1e6)
    return best


def main() -> None:
    meter = orjson.dumps([2, "m1", "MeterValues", CASES["1.6 MeterValues 1.2 kB"][2]]).decode()
    reply = '[3,"m1",{}]'
    secret = orjson.dumps([3, "g1", {"configurationKey": [
        {"key": f"Key{i}", "readonly": False, "value": str(i)} for i in range(30)]
        + [{"key": "AuthorizationKey", "readonly": False, "value": "0123456789abcdef"}]}]
    ).decode()
    rows: list[tuple[str, float]] = [
        ("redact: MeterValues 1.2 kB, no secret", per_call(lambda i: redact_frame(meter))),
        (f"redact: GetConfiguration result {len(secret)} B, AuthorizationKey",
         per_call(lambda i: redact_frame(secret))),
        ("redact: CALLRESULT {}", per_call(lambda i: redact_frame(reply))),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("text", "json"):
            log = FrameLog(["*"], str(Path(tmp) / f"frames-{fmt}.log"), fmt)
            rows.append((f"logged frame ({fmt}, file): MeterValues 1.2 kB",
                         per_call(lambda i, log=log: log.write("CP1", "in", meter))))
            log.close()
    relay = min(relay_round_trip(N) for _ in range(3))
    with tempfile.TemporaryDirectory() as tmp:
        log = FrameLog(["*"], str(Path(tmp) / "frames.log"), "text")
        both = per_call(lambda i: (log.write("CP1", "in", meter), log.write("CP1", "out", reply)))
        log.close()
    width = max(len(name) for name, _ in rows) + 2
    for name, us in rows:
        print(f"{name:<{width}}{us:8.2f} µs")
    print(f"{'relay round trip (B1 in-process)':<{width}}{relay:8.2f} µs")
    print(f"{'frame log of that round trip (in + out)':<{width}}{both:8.2f} µs"
          f"   ratio {(relay + both) / relay:.2f}x the relay alone")


if __name__ == "__main__":
    main()
