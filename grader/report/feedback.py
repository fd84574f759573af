"""Per-student feedback HTML through nbgrader, from the autograded notebooks."""

from __future__ import annotations

from pathlib import Path

from grader.course import Course
from grader.intake.text import printable

__all__ = ["generate_feedback", "FeedbackError"]


class FeedbackError(RuntimeError):
    """nbgrader could not write feedback; the message is its first error line."""


def generate_feedback(course: Course, students: list[str] | None = None) -> list[Path]:
    """Write feedback/<student>/<assignment>/<notebook>.html for each autograded student.

    A student whose feedback fails does not stop the others: every student is tried, then
    FeedbackError names those that failed.
    """
    from nbgrader.apps import NbGraderAPI

    api = NbGraderAPI(coursedir=course.coursedir)
    students = students if students is not None else _autograded_students(course)
    paths, failed = [], []
    for student in students:
        outcome = api.generate_feedback(course.assignment, student)
        if outcome.get("success"):
            paths.append(course.feedback_html(student))
        else:
            failed.append(f"{printable(student)} ({printable(_first_error(outcome))})")
    if failed:
        raise FeedbackError(f"feedback written for {len(paths)} students; failed for {len(failed)}: {'; '.join(failed)}")
    return paths


def _autograded_students(course: Course) -> list[str]:
    base = course.root / "autograded"
    return sorted(p.parent.parent.name for p in base.glob(f"*/{course.assignment}/{course.notebook}.ipynb"))


def _first_error(outcome: dict) -> str:
    text = (outcome.get("error") or outcome.get("log") or "unknown error").strip().splitlines()
    return text[-1] if text else "unknown error"
