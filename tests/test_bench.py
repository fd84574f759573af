"""`make bench` at a tiny size, as a smoke test of its output format (not a timing test)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench_autograde.py"


@pytest.mark.slow
def test_bench_prints_its_stable_last_line(tmp_path):
    """Does the benchmark run end to end and end with the ratio line tools parse?"""
    done = subprocess.run([sys.executable, str(BENCH), "--students", "6", "--sample", "2", "--output", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    pattern = r"ratio_vs_nbgrader=[\d.]+ ratio_to_floor=[\d.]+ per_submission_s=[\d.]+ peak_rss_mb=\d+"
    assert re.fullmatch(pattern, last), last
    assert "parallel grades equal one-at-a-time grades on the sample: True" in done.stdout
