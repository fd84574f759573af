"""grades.csv from the gradebook: one row per student (sorted), one column per graded cell, totals with manual scores."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from grader.course import Course

__all__ = ["export_grades", "grade_columns", "grade_rows", "read_status", "TOTAL_COLUMNS"]

STATUS_FILE = "grading.json"
NOT_AUTOGRADED = "not autograded"
# What each total counts, in its name: the gradebook's total includes manual scores.
TOTAL_COLUMNS = ("total_with_manual", "max_total", "autograded", "max_autograded")


def export_grades(course: Course, out: Path | None = None) -> Path:
    """Write grades.csv (student, status, totals, each graded cell's score), sorted by student; return its path."""
    out = Path(out) if out else course.root / "grades.csv"
    columns = ["student", "status", *TOTAL_COLUMNS, *grade_columns(course).values(), "needs_manual_grade"]
    with open(out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(grade_rows(course))
    return out


def grade_columns(course: Course) -> dict[str, str]:
    """{grade cell id: column name} in the release notebook's order; a test cell `test_<id>` is column <id>."""
    release = nbformat.read(course.release_notebook(), as_version=4)
    ids = [c.metadata.nbgrader["grade_id"] for c in release.cells if c.metadata.get("nbgrader", {}).get("grade")]
    return {grade_id: grade_id.removeprefix("test_") for grade_id in ids}


def grade_rows(course: Course) -> list[dict]:
    """Per-student rows from the gradebook, sorted by student id; totals equal the gradebook's."""
    columns = grade_columns(course)
    with Gradebook(course.db_url, course.course_id) as gb:
        try:
            submissions = gb.find_assignment(course.assignment).submissions
        except MissingEntry:
            return []
        rows = [_row(course, submission, columns) for submission in submissions]
    return sorted(rows, key=lambda row: row["student"])


def read_status(course: Course, student: str) -> dict:
    """The kit's grading record for a student (status, notes, tamper evidence), or {}."""
    path = course.autograded_notebook(student).parent / STATUS_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _row(course: Course, submission, columns: dict[str, str]) -> dict:
    student = submission.student.id
    grades = {g.name: g for notebook in submission.notebooks for g in notebook.grades}
    # no record of the kit's: nbgrader's own autograde stopped before the kit's judge (a
    # notebook it could not read or did not find), or the submission was never autograded
    row = {"student": student, "status": read_status(course, student).get("status", NOT_AUTOGRADED)}
    for grade_id, column in columns.items():
        score = grades[grade_id].score if grade_id in grades else None
        row[column] = "" if score is None else f"{score:g}"
    # a grade cell that is also an answer cell is graded by hand (nbgrader's manually graded answer)
    by_hand = {cell.name for notebook in submission.notebooks for cell in notebook.notebook.solution_cells}
    autograded = [g for name, g in grades.items() if name not in by_hand]
    row.update(
        total_with_manual=f"{submission.score:g}", max_total=f"{submission.max_score:g}",
        autograded=f"{sum(g.auto_score or 0.0 for g in autograded):g}",
        max_autograded=f"{sum(g.max_score for g in autograded):g}",
        needs_manual_grade=" ".join(sorted(columns.get(g.name, g.name) for g in grades.values() if g.needs_manual_grade)),
    )
    return row
