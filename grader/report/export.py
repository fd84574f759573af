"""grades.csv from the gradebook: one row per student, one column per question."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from grader.course import Course

__all__ = ["export_grades", "grade_rows", "read_status"]

STATUS_FILE = "grading.json"


def export_grades(course: Course, out: Path | None = None) -> Path:
    """Write grades.csv (student, status, total, max, each question's score) and return its path."""
    out = Path(out) if out else course.root / "grades.csv"
    rows = grade_rows(course)
    columns = ["student", "status", "score", "max_score", *(q.id for q in course.questions), "needs_manual_grade"]
    with open(out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return out


def grade_rows(course: Course) -> list[dict]:
    """Per-student rows from the gradebook, manual grades included."""
    with Gradebook(course.db_url, course.course_id) as gb:
        return [_row(gb, course, student.id) for student in gb.students if _submitted(gb, course, student.id)]


def read_status(course: Course, student: str) -> dict:
    """The kit's grading record for a student (status, notes, tamper evidence), or {}."""
    path = course.autograded_notebook(student).parent / STATUS_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _submitted(gb: Gradebook, course: Course, student: str) -> bool:
    try:
        gb.find_submission(course.assignment, student)
    except MissingEntry:
        return False
    return True


def _row(gb: Gradebook, course: Course, student: str) -> dict:
    row = {"student": student, "status": read_status(course, student).get("status", "graded")}
    total = maximum = 0.0
    needs_manual = []
    for q in course.questions:
        grade = gb.find_grade(q.id if q.manual else f"test_{q.id}", course.notebook, course.assignment, student)
        row[q.id] = "" if grade.score is None else f"{grade.score:g}"
        total += grade.score or 0.0
        maximum += grade.max_score
        if grade.needs_manual_grade:
            needs_manual.append(q.id)
    row.update(score=f"{total:g}", max_score=f"{maximum:g}", needs_manual_grade=" ".join(needs_manual))
    return row
