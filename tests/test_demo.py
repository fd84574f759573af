"""`grader demo` end to end: a simulated class released, graded, exported, fed back and summarised."""

from __future__ import annotations

import csv
import json

import pytest
from sample import SAMPLE, question

from grader.demo.run import run_demo


@pytest.mark.slow(25)
def test_demo_grades_a_class_of_thirty_and_every_student_as_expected(tmp_path):
    """Does the demo grade 30 simulated students exactly as their answers deserve (a mistake loses at
    least part of its question, an honest answer keeps all of it), with charts and CSV?"""
    summary = run_demo(tmp_path, students=30, jobs=2, assignment=SAMPLE)
    assert "audit: passed" in summary, summary
    roster = json.loads((tmp_path / "class.json").read_text())
    rows = {row["student"]: row for row in csv.DictReader(open(tmp_path / "course" / "exports" / "derivatives" / "grades.csv"))}
    assert len(roster) == 30 and set(rows) == {s["id"] for s in roster}
    kinds = {s["kind"] for s in roster}
    assert {"correct", "one mistake", "several mistakes", "blank", "broken file"} <= kinds
    for student in roster:
        for qid, should_pass in student["expected_pass"].items():
            got, full = float(rows[student["id"]][qid]), question(qid).points
            assert (got == full) == should_pass and got <= full, \
                f"{student['id']} ({student['description']}): {qid} scored {got} of {full}"
    for chart in ("score-distribution.png", "question-outcomes.png"):
        assert (tmp_path / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "class report:" in summary and (tmp_path / "report.html").is_file()
    assert "pass rate by question" in summary and "student0001" in summary
    assert len(list((tmp_path / "course" / "feedback").glob("*/derivatives/derivatives.html"))) == 30
