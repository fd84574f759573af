"""A course's grades leave it as CSV files, one folder per assignment: the kit's table, and the
gradebook imports of Canvas and Moodle; every file inert in a spreadsheet."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from grader.course import Course
from grader.report.csvsafe import write_csv
from grader.report.lms import StudentRecord, canvas_file, moodle_file

__all__ = ["export_grades", "exports_folder", "grade_columns", "grade_rows", "read_status", "Exported",
           "TOTAL_COLUMNS", "TIME_COLUMNS", "EXPORTS", "GRADES_CSV", "CANVAS_CSV", "MOODLE_CSV"]

STATUS_FILE = "grading.json"
NOT_AUTOGRADED = "not autograded"
EXPORTS = "exports"  # <course>/exports/<assignment>/: one assignment's files never replace another's
GRADES_CSV, CANVAS_CSV, MOODLE_CSV = "grades.csv", "canvas.csv", "moodle.csv"
# What each total counts, in its name: the gradebook's total includes manual scores and, as
# nbgrader's own export's `score`, is less the late penalty.
TOTAL_COLUMNS = ("total_with_manual", "max_total", "autograded", "max_autograded", "late_penalty")
# When it was handed in (UTC, the time lateness counts from), how late, and why that time is not
# the student's timestamp.txt when it is not.
TIME_COLUMNS = ("submitted", "hours_late", "timestamp_note")


@dataclass
class Exported:
    """Where one assignment's exports were written, and who an LMS file had to leave out."""

    folder: Path
    grades: Path
    canvas: Path
    moodle: Path
    left_out: dict[str, list[str]] = field(default_factory=dict)  # file name -> "student: why"
    students: int = 0  # rows of grades.csv
    awaiting: list[str] = field(default_factory=list)  # "student (cells)" with a grade a TA has not given or confirmed

    @property
    def paths(self) -> list[Path]:
        return [self.grades, self.canvas, self.moodle]


def exports_folder(course: Course) -> Path:
    return course.root / EXPORTS / course.assignment


def export_grades(course: Course, folder: Path | None = None, *, lms_id: str = "id") -> Exported:
    """Assign late penalties (nbgrader's AssignLatePenalties under the course's rule), then write
    grades.csv, canvas.csv and moodle.csv under `folder` (default exports/<assignment>/).

    `lms_id` is the nbgrader field the LMS knows students by: `id` (nbgrader's student id, the
    hub's user name) or `email`.
    """
    from grader.record.late import apply_late_penalties

    apply_late_penalties(course)
    folder = Path(folder) if folder else exports_folder(course)
    rows = grade_rows(course)
    columns = ["student", "status", *TOTAL_COLUMNS, *TIME_COLUMNS, *grade_columns(course).values(),
               "needs_manual_grade"]
    grades = write_csv(folder / GRADES_CSV, columns, [[row[c] for c in columns] for row in rows])
    totals = {row["student"]: row["total_with_manual"] for row in rows}
    max_total = max((row["max_total"] for row in rows), default=course.spec.max_score)
    records = student_records(course)
    canvas = canvas_file(course.assignment, max_total, totals, records, lms_id)
    moodle = moodle_file(course.assignment, totals, records, lms_id)
    return Exported(folder, grades, write_csv(folder / CANVAS_CSV, canvas.header, canvas.rows),
                    write_csv(folder / MOODLE_CSV, moodle.header, moodle.rows),
                    {name: lms.left_out for name, lms in ((CANVAS_CSV, canvas), (MOODLE_CSV, moodle)) if lms.left_out},
                    len(rows), [f"{row['student']} ({row['needs_manual_grade']})" for row in rows if row["needs_manual_grade"]])


def grade_columns(course: Course) -> dict[str, str]:
    """{grade cell id: column name} in the release notebook's order; a test cell `test_<id>` is column <id>."""
    release = nbformat.read(course.release_notebook(), as_version=4)
    ids = [c.metadata.nbgrader["grade_id"] for c in release.cells if c.metadata.get("nbgrader", {}).get("grade")]
    return {grade_id: grade_id.removeprefix("test_") for grade_id in ids}


def grade_rows(course: Course) -> list[dict]:
    """Per-student rows from the gradebook, sorted by student id; totals are the gradebook's
    (numbers, and None for a cell not graded yet)."""
    from grader.report.gradebook_rows import submission_rows

    columns = grade_columns(course)
    with Gradebook(course.db_url, course.course_id) as gb:
        try:
            submissions = submission_rows(gb, course.assignment)
        except MissingEntry:
            return []
        by_hand = _hand_graded(gb, course.assignment)
    rows = [_row(course, submission, columns, by_hand) for submission in submissions]
    return sorted(rows, key=lambda row: row["student"])


def student_records(course: Course) -> dict[str, StudentRecord]:
    """nbgrader's record of every student of the course: id, names, email, LMS user id."""
    with Gradebook(course.db_url, course.course_id) as gb:
        return {s.id: StudentRecord(s.id, s.first_name, s.last_name, s.email, s.lms_user_id) for s in gb.students}


def read_status(course: Course, student: str) -> dict:
    """The kit's grading record for a student (status, notes, tamper evidence), or {}."""
    path = course.autograded_notebook(student).parent / STATUS_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _hand_graded(gb, assignment: str) -> set[str]:
    """A grade cell that is also an answer cell is graded by hand (nbgrader's manually graded answer)."""
    return {cell.name for notebook in gb.find_assignment(assignment).notebooks for cell in notebook.solution_cells}


def _row(course: Course, submission, columns: dict[str, str], by_hand: set[str]) -> dict:
    student, grades = submission.student, submission.grades
    record = read_status(course, student)
    # no record of the kit's: nbgrader's own autograde stopped before the kit's judge (a
    # notebook it could not read or did not find), or the submission was never autograded
    row = {"student": student, "status": record.get("status", NOT_AUTOGRADED)}
    for grade_id, column in columns.items():
        row[column] = grades[grade_id].score if grade_id in grades else None
    autograded = [g for name, g in grades.items() if name not in by_hand]
    penalty = submission.late_penalty
    row.update(
        total_with_manual=max(0.0, submission.score - penalty), max_total=submission.max_score,
        autograded=sum(g.auto_score or 0.0 for g in autograded),
        max_autograded=sum(g.max_score for g in autograded), late_penalty=penalty,
        submitted=submission.timestamp.strftime("%Y-%m-%d %H:%M:%S UTC") if submission.timestamp else None,
        hours_late=round(submission.seconds_late / 3600, 4),  # 9 s late is 0.0025, not 0
        timestamp_note=record.get("timestamp_note") if isinstance(record.get("timestamp_note"), str) else None,
        needs_manual_grade=" ".join(sorted(columns.get(g.name, g.name) for g in grades.values() if g.needs_manual_grade)),
    )
    return row
