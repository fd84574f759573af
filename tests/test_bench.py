"""`make bench` at a tiny size, as a smoke test of its output format (not a timing test)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench_autograde.py"
FIGURE = r"[a-z_0-9]+=[\d.]+\((>=|<=|<)[\d.]+\)"


@pytest.mark.slow(55)
def test_bench_prints_each_figure_next_to_its_target(tmp_path):
    """Does the benchmark run end to end and end with every figure next to its target?"""
    done = subprocess.run([sys.executable, str(BENCH), "--students", "3", "--class", "2", "--sample", "1",
                           "--passes", "1", "--output", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert re.fullmatch(rf"({FIGURE} ){{9}}grades_equal=True targets_met=\d/9", last), last
    names = [figure.split("=")[0] for figure in last.split()]
    assert names[:9] == ["grade_vs_nbgrader", "served_grade_vs_nbgrader", "release_vs_generate",
                         "question_release_s", "class2_vs_nbgrader", "class3_s", "ratio_to_floor", "peak_mb",
                         "feedback_vs_nbgrader"], names
