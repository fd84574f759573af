"""A judge process's state: the trusted plan and a warm parent for its workers."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from .course import Course
from .judge import GradingPlan, judge_notebook, judge_submission
from .remote import WorkerSession
from .results import SubmissionResult

__all__ = ["Grader"]


class Grader:
    """Grades submissions of one course, one worker per submission, from one warm parent."""

    def __init__(self, course: Course | None, plan: GradingPlan | None = None, *, limits=None):
        from .sandbox import WarmParent

        self.course = course
        self.plan = plan or GradingPlan.for_course(course)
        self.parent = WarmParent(limits=limits) if limits is not None else WarmParent()

    def __enter__(self) -> "Grader":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self.parent.close()

    @property
    def containment(self) -> dict:
        return self.parent.containment

    def grade_student(self, student: str) -> SubmissionResult:
        """Grade submitted/<student>/; a broken submission still gets a status and a score."""
        try:
            return judge_submission(self.course, student, self.plan, self._session)
        except Exception as exc:  # the batch must never lose a student to a judge-side fault
            return _crashed(student, f"{self.course.notebook}.ipynb", exc)

    def grade_notebook(self, path: Path, student: str = "student") -> SubmissionResult:
        """Grade a notebook file that is not in submitted/."""
        try:
            return judge_notebook(Path(path), student, self.plan, self._session)
        except Exception as exc:
            return _crashed(student, Path(path).name, exc)

    @contextmanager
    def _session(self):
        with WorkerSession(self.parent) as session:
            yield session


def _crashed(student: str, notebook: str, exc: Exception) -> SubmissionResult:
    from .judge import ungraded_result

    return ungraded_result(student, notebook, "crashed", [f"grading failed: {type(exc).__name__}: {exc}"])
