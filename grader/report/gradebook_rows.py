"""An assignment's submissions as nbgrader's gradebook holds them, read in four queries for the whole class.

nbgrader's objects load each submission's notebooks, grades, comments, score and late penalty
lazily, one query each: some 14 queries per student, a minute of a 1,000-student export. The
values here are nbgrader's own (its column properties `Grade.score`, `SubmittedAssignment.score`,
`max_score`, `late_submission_penalty`, and `total_seconds_late`), selected for every
submission at once.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import BaseCell, Comment, Grade, SubmittedAssignment, SubmittedNotebook
from sqlalchemy.orm import undefer

from grader.course import Course

SQLITE = "sqlite:///"

__all__ = ["GradeRow", "CommentRow", "SubmissionRow", "submission_rows", "require_gradebook",
           "recorded_assignment", "require_recorded"]


@dataclass(frozen=True)
class GradeRow:
    """One grade cell of one submission (a test cell, a hand-graded answer or a task)."""

    name: str
    score: float  # nbgrader's: the manual score if any, else the auto score, plus extra credit; 0 when neither
    auto_score: float | None
    manual_score: float | None
    max_score: float
    needs_manual_grade: bool

    @property
    def to_confirm(self) -> bool:
        """A TA's score that a regrade kept and flagged for review again (nbgrader's rule)."""
        return self.manual_score is not None and self.needs_manual_grade


@dataclass(frozen=True)
class CommentRow:
    name: str
    auto_comment: str | None
    manual_comment: str | None


@dataclass
class SubmissionRow:
    """One student's submission of the assignment: totals, time, penalty, and grades and comments by cell name."""

    student: str
    timestamp: datetime.datetime | None  # naive UTC
    seconds_late: float  # past the due date, the student's extension included
    score: float  # the gradebook's total, manual scores included, before the late penalty
    max_score: float
    late_penalty: float
    grades: dict[str, GradeRow] = field(default_factory=dict)
    comments: dict[str, CommentRow] = field(default_factory=dict)


def submission_rows(gb, assignment: str) -> list[SubmissionRow]:
    """Every submission of `assignment` in `gb` (an nbgrader Gradebook), in no particular order;
    nbgrader's MissingEntry when the gradebook has no such assignment."""
    assignment_id = gb.find_assignment(assignment).id  # loaded once: each submission's due date is its
    submissions = (gb.db.query(SubmittedAssignment)
                   .filter(SubmittedAssignment.assignment_id == assignment_id)
                   .options(undefer(SubmittedAssignment.score), undefer(SubmittedAssignment.max_score),
                            undefer(SubmittedAssignment.late_submission_penalty))
                   .all())
    rows = {s.id: SubmissionRow(s.student_id, s.timestamp, float(s.total_seconds_late), float(s.score),
                                float(s.max_score), float(s.late_submission_penalty or 0.0))
            for s in submissions}
    for submission_id, name, *values in _cells(gb, Grade, assignment_id, Grade.score, Grade.auto_score,
                                                Grade.manual_score, Grade.max_score, Grade.needs_manual_grade):
        score, auto, manual, max_score, needs = values
        rows[submission_id].grades[name] = GradeRow(name, float(score), auto, manual, float(max_score), bool(needs))
    for submission_id, name, auto, manual in _cells(gb, Comment, assignment_id, Comment.auto_comment,
                                                    Comment.manual_comment):
        rows[submission_id].comments[name] = CommentRow(name, auto, manual)
    return list(rows.values())


def to_confirm(course: Course, students: list[str]) -> list[str]:
    """"student (cells)" for each of `students` with a TA's score that nbgrader flagged for review
    again (a regrade keeps the score and sets needs_manual_grade)."""
    from nbgrader.api import Gradebook, MissingEntry

    wanted = set(students)
    with Gradebook(course.db_url, course.course_id) as gb:
        try:
            rows = [row for row in submission_rows(gb, course.assignment) if row.student in wanted]
        except MissingEntry:
            return []
    flagged = {row.student: sorted(g.name for g in row.grades.values() if g.to_confirm)
               for row in rows}
    return [f"{student} ({' '.join(cells)})" for student, cells in sorted(flagged.items()) if cells]


def _cells(gb, model, assignment_id: str, *columns):
    """(submission id, cell name, *columns) of every `model` row (Grade or Comment) of the assignment's submissions."""
    return (gb.db.query(SubmittedNotebook.assignment_id, BaseCell.name, *columns)
            .select_from(model)
            .join(SubmittedNotebook, model.notebook_id == SubmittedNotebook.id)
            .join(SubmittedAssignment, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
            .join(BaseCell, model.cell_id == BaseCell.id)
            .filter(SubmittedAssignment.assignment_id == assignment_id)
            .all())


def require_gradebook(db_url: str) -> None:
    """Opening a Gradebook creates an empty one: a command that reads grades from a course never
    graded must say so instead."""
    if db_url.startswith(SQLITE) and not Path(db_url.removeprefix(SQLITE)).is_file():
        raise FileNotFoundError(f"no gradebook at {db_url.removeprefix(SQLITE)}: release and autograde the assignment first")


def recorded_assignment(gb, assignment: str):
    """nbgrader's row of the assignment; FileNotFoundError naming those the gradebook holds when it lacks it."""
    from nbgrader.api import MissingEntry

    try:
        return gb.find_assignment(assignment)
    except MissingEntry:
        known = ", ".join(sorted(a.name for a in gb.assignments)) or "none yet"
        raise FileNotFoundError(f"the gradebook has no assignment {assignment!r} (it has: {known})") from None


def require_recorded(course: Course) -> None:
    """Stop a command that reads the assignment's grades (export, feedback) before it writes
    anything, when the gradebook is missing or holds no record of the assignment."""
    from nbgrader.api import Gradebook

    require_gradebook(course.db_url)
    with Gradebook(course.db_url, course.course_id) as gb:
        recorded_assignment(gb, course.assignment)
