"""`make bench`, as docs/performance.md shows it, at a tiny size: a smoke test of its output format (not a timing test)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

KIT_ROOT = Path(__file__).resolve().parent.parent
DOC_BLOCK = re.compile(r"^```console\n(.*?)^```", re.MULTILINE | re.DOTALL)
FIGURE = r"[a-z_0-9]+=[\d.]+\((>=|<=|<)[\d.]+\)"


@pytest.mark.slow(55)
def test_bench_prints_each_figure_next_to_its_target(tmp_path):
    """Does the benchmark run end to end and end with every figure next to its target?"""
    [command] = [line[2:] for block in DOC_BLOCK.findall((KIT_ROOT / "docs" / "performance.md").read_text())
                 for line in block.splitlines() if line.startswith("$ ")]
    assert command == "make bench", command
    tiny = f"--students 3 --class 2 --sample 1 --passes 1 --output {tmp_path}"
    # as a person types it: not a sub-make of `make test`, which would add its own lines to the output
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    env["BENCH_ARGS"] = tiny
    done = subprocess.run(["bash", "-c", command], cwd=KIT_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert re.fullmatch(rf"({FIGURE} ){{12}}grades_equal=True targets_met=\d+/12", last), last
    names = [figure.split("=")[0] for figure in last.split()]
    assert names[:12] == ["grade_vs_nbgrader", "served_grade_vs_nbgrader", "release_vs_generate",
                          "question_release_s", "question_vs_release", "class2_vs_nbgrader", "nbgrader_path_vs_kit",
                          "class3_s", "ratio_to_floor", "peak_mb", "feedback_vs_nbgrader", "after_collect_3_s"], names
