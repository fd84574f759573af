"""A judge process's state: the trusted plan and a warm parent for its workers."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from grader.course import Course
from grader.heap import long_lived
from grader.judge.plan import GradingPlan
from grader.judge.results import SubmissionResult, ungraded_result

__all__ = ["Grader", "prepare_judge"]


class Grader:
    """Grades submissions of one course, one worker per submission, from one warm parent."""

    def __init__(self, course: Course | None, plan: GradingPlan | None = None, *, limits=None,
                 single: bool = False, control=None):
        """single=True: a judge for one notebook (`grader grade`, one student from nbgrader),
        whose warm parent skips the preparation that pays off only over many workers.
        `control`: this judge's socket to a warm parent that its JudgePool shares among judges."""
        from grader.worker import WarmParent

        self.course = course
        self.assignment = assignment = plan.assignment if plan is not None else course.spec
        self._plan = plan
        if course is not None:
            course.secret()  # made now, not midway through the first submission
        # The course root is hidden from workers even when it sits under a directory they see
        # (a course kept under /usr/local or beside the venv): source/, gradebook.db, autograded/.
        hidden = course.root if course is not None else None
        # Launched first, so its warm-up overlaps this process's own imports (torch, the checks).
        self.parent = WarmParent(limits=limits, course_root=hidden, functions=assignment.vocabulary_path,
                                 wait=False, many_workers=not single, control=control)
        self._prepare()
        self._killed: list[int] = []
        self._unsettled: list[list[int]] = []

    @property
    def plan(self) -> GradingPlan:
        """Read when first needed: a judge started before `grader release` rewrites the release
        notebook reads its test cells only when it is asked to grade."""
        if self._plan is None:
            self._plan = GradingPlan.for_course(self.course)
        return self._plan

    def _prepare(self) -> None:
        prepare_judge(self.assignment)

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
        from grader.judge.submission import judge_submission

        notebook = f"{self.course.notebook}.ipynb"
        return self._judged(lambda: judge_submission(self.course, student, self.plan, self._session),
                            student, notebook, settle)

    def grade_notebook(self, path: Path, student: str = "student", *, draw_rng=None,
                       only=None) -> SubmissionResult:
        """Grade a notebook file that is not in submitted/; returns once its workers are dead.

        `draw_rng` replaces drawing hidden inputs from the plan's secret (see judge_notebook);
        `only` (question ids) limits the judging to those autograded questions.
        """
        from grader.judge.submission import judge_notebook

        return self._judged(lambda: judge_notebook(Path(path), student, self.plan, self._session, draw_rng=draw_rng,
                                                   only=only), student, Path(path).name, True)

    def _judged(self, judge, student: str, notebook: str, settle: bool) -> SubmissionResult:
        try:
            result = judge()
        except Exception as exc:  # the batch must never lose a student to a judge-side fault
            result = _crashed(student, notebook, exc, self.assignment.autograded)
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
        from grader.worker.session import WorkerSession

        with WorkerSession(self.parent, cell_timeout=self.plan.cell_timeout,
                           answer_ids=self.plan.solution_ids) as session:
            try:
                yield session
            finally:
                session.close()
                self._killed.extend(session.killed)


def prepare_judge(assignment) -> None:
    """What every judge pays before its first verdict, paid while the warm parent starts:
    torch, the checks and IPython's cell transformer. A judge forked from a process that did
    this already finds it done.

    torch's first backward from an explicit gradient imports its symbolic-shapes module and
    sympy (0.3 s). It is left to the first check that needs one: the sample assignment's
    judges never do (its references are taken from scalar outputs; gradients given to a
    Function's backward travel to the worker).

    It runs as `long_lived` (0.15 s less start-up; later collections skip what it made)."""
    with long_lived():
        import torch  # noqa: F401

        import grader.judge.submission  # noqa: F401
        from grader.intake.tamper import scan_cells

        assignment.load_checks()
        scan_cells([(0, "%matplotlib inline\nimport torch\n")])


def _crashed(student: str, notebook: str, exc: Exception, autograded) -> SubmissionResult:
    """A judge-side fault: the TA's note names it; the student's messages name no kit internals."""
    result = ungraded_result(student, notebook, "crashed", [f"grading failed: {type(exc).__name__}: {exc}"],
                             autograded)
    for question in result.questions:
        question.messages = [f"grading failed ({type(exc).__name__}); the instructor can regrade this notebook"]
    return result
