"""A short coverage-guided run of each atheris target (`make fuzz` runs them longer)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris", reason="atheris has wheels for x86_64 Linux only")
ROOT = Path(__file__).resolve().parents[2]
# not imported from atheris_targets: that would instrument the modules of this whole test run
TARGETS = ("downstream", "identity", "session", "thingsboard")


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_target_finds_nothing_in_a_short_run(target: str, tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "tests.fuzz.atheris_targets", target, "-runs=5000",
         "-max_total_time=20", f"-artifact_prefix={tmp_path}/"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=120)
    tail = "\n".join(line for line in run.stderr.splitlines()
                     if not line.startswith("INFO: Instrumenting"))[-3000:]
    assert run.returncode == 0, tail
    assert "DONE" in run.stderr, tail
    assert not list(tmp_path.glob("crash-*")), tail
