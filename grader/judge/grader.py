"""A judge process's state: the trusted plan and a warm parent for its workers."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from grader.course import Course
from grader.judge.results import SubmissionResult, ungraded_result
from grader.judge.submission import GradingPlan, judge_notebook, judge_submission
from grader.worker.session import WorkerSession

__all__ = ["Grader"]


class Grader:
    """Grades submissions of one course, one worker per submission, from one warm parent."""

    def __init__(self, course: Course | None, plan: GradingPlan | None = None, *, limits=None):
        from grader.worker import WarmParent

        self.course = course
        self.plan = plan or GradingPlan.for_course(course)
        # The course root is hidden from workers even when it sits under a directory they see
        # (a course kept under /usr/local or beside the venv): source/, gradebook.db, autograded/.
        hidden = course.root if course is not None else None
        self.parent = WarmParent(limits=limits, course_root=hidden,
                                 functions=self.plan.assignment.vocabulary_path)
        self._killed: list[int] = []
        self._unsettled: list[list[int]] = []

    def warm_up(self) -> None:
        """Run every check once against the kit's own reference answers, in this (trusted) process.

        The first check of a kind pays one-time costs (lazy imports inside torch, first
        autograd calls, IPython's cell transformer, nbgrader's timestamp parser); paying them
        here keeps them out of the first students' grading.
        """
        import matplotlib.pyplot as plt

        from grader.intake.tamper import scan_cells
        from grader.judge.checks import grade_question, seed_rng
        from grader.runtime import LocalSubject

        assignment = self.plan.assignment
        ids = [q.id for q in assignment.autograded]
        subject = LocalSubject(assignment.banks.reference_namespace(ids, assignment.setup), assignment.functions)
        for qid in ids:
            grade_question(assignment, qid, subject, seed_rng(b"warm-up", "warm-up", qid))
        plt.close("all")
        scan_cells([(0, "%matplotlib inline\nimport torch\n")])  # imports IPython's cell transformer
        _import_timestamp_parser()

    def __enter__(self) -> "Grader":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self.settle()
        self.parent.close()

    @property
    def containment(self) -> dict:
        return self.parent.containment

    def grade_student(self, student: str, *, settle: bool = True) -> SubmissionResult:
        """Grade submitted/<student>/; a broken submission still gets a status and a score.

        With settle=False the caller must call `settle()` before recording the result: the
        workers were killed, but their deaths are confirmed later so the next job can start.
        """
        notebook = f"{self.course.notebook}.ipynb"
        return self._judged(lambda: judge_submission(self.course, student, self.plan, self._session),
                            student, notebook, settle)

    def grade_notebook(self, path: Path, student: str = "student", *, draw_rng=None) -> SubmissionResult:
        """Grade a notebook file that is not in submitted/; returns once its workers are dead.

        `draw_rng` replaces drawing hidden inputs from the plan's secret (see judge_notebook).
        """
        return self._judged(lambda: judge_notebook(Path(path), student, self.plan, self._session, draw_rng=draw_rng),
                            student, Path(path).name, True)

    def _judged(self, judge, student: str, notebook: str, settle: bool) -> SubmissionResult:
        try:
            result = judge()
        except Exception as exc:  # the batch must never lose a student to a judge-side fault
            result = _crashed(student, notebook, exc, self.plan.assignment.autograded)
        self._unsettled.append(self._killed)
        self._killed = []
        if settle:
            self.settle()
        return result

    def settle(self, keep_last: int = 0) -> None:
        """Confirm that the workers of all but the last `keep_last` graded submissions are dead."""
        while len(self._unsettled) > keep_last:
            self.parent.confirm_dead(self._unsettled.pop(0))

    @contextmanager
    def _session(self):
        with WorkerSession(self.parent) as session:
            try:
                yield session
            finally:
                session.close()
                self._killed.extend(session.killed)


def _crashed(student: str, notebook: str, exc: Exception, autograded) -> SubmissionResult:
    """A judge-side fault: the TA's note names it; the student's messages name no kit internals."""
    result = ungraded_result(student, notebook, "crashed", [f"grading failed: {type(exc).__name__}: {exc}"],
                             autograded)
    for question in result.questions:
        question.messages = [f"grading failed ({type(exc).__name__}); the instructor can regrade this notebook"]
    return result


def _import_timestamp_parser() -> None:
    """Submission timestamps are parsed with nbgrader's parser; importing nbgrader takes about a second."""
    from nbgrader.utils import parse_utc  # noqa: F401
