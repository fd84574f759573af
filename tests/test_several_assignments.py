"""A course of several assignments: the kit's entry points there (`grader demo`, `make demo`, the suite's fixtures)."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from guide import KIT_ROOT, empty_course, follow_guide
from sample import SAMPLE

pytestmark = pytest.mark.slow(90)

NEW = "second-order"  # what docs/authoring.md builds: `grader new` and its first question, BROKEN and MANUAL empty
KIT_FILES = ("Makefile", "pyproject.toml", "requirements.lock")


@pytest.fixture(scope="module")
def guided(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A course holding the kit's sample assignment and, beside it, the one docs/authoring.md
    builds by following it (its demo included); the output of each of its commands."""
    root = empty_course(tmp_path_factory.mktemp("several") / "course")
    for name in KIT_FILES:
        shutil.copy2(KIT_ROOT / name, root / name)
    for tree in ("source", "release"):
        shutil.copytree(KIT_ROOT / tree / SAMPLE, root / tree / SAMPLE, ignore=shutil.ignore_patterns("__pycache__"))
    return root, dict(follow_guide(root))


@pytest.fixture(scope="module")
def two_assignments(guided) -> Path:
    return guided[0]


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_demo_of_a_new_assignment_with_empty_broken_and_manual_banks(guided):
    """In a course of two, does the guide's `grader demo --assignment second-order` (fresh from
    `grader new` plus one question, no broken files, no hand-graded question) release, audit and
    grade a class of 30, naming it?"""
    root, outputs = guided
    [summary] = [out for command, out in outputs.items() if command.startswith(f"grader demo --assignment {NEW}")]
    assert summary.splitlines()[0] == f"demo of assignment {NEW}"
    assert "audit: passed" in summary
    rows = _rows(root / "demo-output" / "course" / "exports" / NEW / "grades.csv")
    assert len(rows) == 30 and {"unreadable", "graded"} <= {row["status"] for row in rows}


def test_make_demo_takes_the_first_assignment_and_says_so(two_assignments, tmp_path):
    """Does `make demo` in a course of three assignments run the demo on the first (in sorted order),
    naming it and the others, instead of stopping with "name the assignment"?"""
    venv = Path(sys.executable).parent.parent
    stamp = venv / ".installed"
    done = subprocess.run(["make", "-o", str(stamp), "demo", f"VENV={venv}",
                           f"DEMO_ARGS=--students 30 --output {tmp_path}"],
                          cwd=two_assignments, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    first = next(line for line in done.stdout.splitlines() if line.startswith("demo of assignment"))
    # the guide builds two assignments beside the sample: the minimal question's and second-order
    assert first.startswith(f"demo of assignment {SAMPLE}, the first of 3") and NEW in first and "losses" in first
    assert "audit: passed" in done.stdout
    assert len(_rows(tmp_path / "course" / "exports" / SAMPLE / "grades.csv")) == 30


def test_the_suites_fixtures_hold_beside_a_second_assignment(two_assignments):
    """Do the test suite's shared fixtures (a released course of the sample, a fresh one per test)
    work in a kit whose source/ holds a second assignment?"""
    shutil.copytree(KIT_ROOT / "tests", two_assignments / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                           "tests/test_course_secret.py",
                           "tests/test_authoring.py::test_unknown_assignment_is_refused_in_one_line"],
                          cwd=two_assignments, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "3 passed" in done.stdout
