"""The short form of the live fuzz run (`make fuzz` runs 100,000 frames)."""

from __future__ import annotations

from pathlib import Path

from .live import fuzz, log_problems


async def test_hostile_frames_get_conformant_replies_no_crash_no_hang(tmp_path: Path) -> None:
    report, log = await fuzz(frames=3000, seed=7, connections=3, workdir=tmp_path)
    assert report.frames >= 2990
    assert not report.problems, report.problems[:10]
    assert not report.hangs and not report.closes, report.closes[:5]
    assert not log_problems(log), log_problems(log)
    # the mix reached every kind of reply
    assert set(report.replies) == {"none", "result", "error"}, report.replies
