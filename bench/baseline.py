"""In-process benchmarks (micro.py, observe.py) against their committed baseline file."""

from __future__ import annotations

import json
from pathlib import Path


def report(results: dict[str, float], path: Path, unit: str, save: bool) -> None:
    """Print each figure beside its baseline and the ratio, flag anything over 2x (a finding,
    per benchmarks.md's B6), and with `save` make these figures the new baseline."""
    baseline = json.loads(path.read_text()) if path.exists() else {}
    width = max(len(name) for name in results)
    print(f"{'case':{width}} {unit:>8} {'baseline':>9} {'ratio':>6}")
    for name, value in results.items():
        base = baseline.get(name)
        ratio = f"{value / base:6.2f}" if base else "     -"
        flag = "  <- finding (> 2x baseline)" if base and value > 2 * base else ""
        print(f"{name:{width}} {value:8.2f} {base or 0:9.2f} {ratio}{flag}")
    if save:
        path.write_text(json.dumps({k: round(v, 2) for k, v in results.items()}, indent=1)
                        + "\n")
        print(f"baseline written to {path}")
