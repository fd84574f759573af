"""The autograde progress line: done/total, rate, ETA and counts by status."""

from __future__ import annotations

import io

from sample import AUTOGRADED

from grader.judge.results import QuestionResult, SubmissionResult, ungraded_result
from grader.report.progress import Progress


def graded(student: str, score: float) -> SubmissionResult:
    return SubmissionResult(student, "derivatives.ipynb", "graded", [QuestionResult("SQ", score, 16, "passed")])


def test_progress_line_counts_by_status_and_shows_an_eta():
    """Does the line show done/total, a rate, an ETA and how many of each status so far?"""
    stream = io.StringIO()
    progress = Progress(10, stream=stream)
    for result in (graded("a", 16), graded("b", 3), ungraded_result("c", "x.ipynb", "unreadable", ["bad json"], AUTOGRADED)):
        progress.advance(result)
    line = progress.line()
    assert line.startswith("[") and " 3/10 " in line and "/s ETA " in line
    assert "full marks 1" in line and "graded 1" in line and "unreadable 1" in line


def test_progress_prints_the_final_line_once_when_not_a_terminal():
    """Does a non-interactive run end with exactly one 10/10 line?"""
    stream = io.StringIO()
    progress = Progress(10, stream=stream)
    for n in range(10):
        progress.advance(graded(str(n), 16))
    progress.finish()
    assert stream.getvalue().count("10/10") == 1
