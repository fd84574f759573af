"""What a source notebook's hidden test region calls when nbgrader runs test cells in a kernel.

`check(question, globals())` runs every part of the question, visible and hidden, with
hidden inputs from the course's secret, and hands nbgrader the partial credit as the cell's
value: nothing when every part passed, the points earned when some did, CheckFailed when
none did. The course and assignment come from the notebook's folder
(`autograded/<student>/<assignment>/` or `source/<assignment>/`).
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from pathlib import Path

__all__ = ["check"]


def _course_here():
    from grader.course import Course, CourseError

    here = Path.cwd().resolve()
    for root in here.parents:
        if (root / "nbgrader_config.py").is_file():
            course = Course.at(root, here.name)
            return course, _student(here, root), _submission_digest(here, root, course.notebook)
    raise CourseError(f"{here} is not inside an nbgrader course: the hidden tests run at grading time")


def _submission_digest(here: Path, root: Path, notebook: str) -> str:
    """The digest the kit's judge seeds with: of the file in submitted/<student>/<assignment>/, if there."""

    from grader.intake.notebook import UnreadableNotebook, read_notebook

    relative = here.relative_to(root).parts
    if len(relative) != 3 or relative[0] != "autograded":
        return ""
    try:
        return read_notebook(root / "submitted" / relative[1] / relative[2] / f"{notebook}.ipynb").digest
    except (UnreadableNotebook, OSError):
        return ""


def _student(here: Path, root: Path) -> str:
    relative = here.relative_to(root).parts
    if len(relative) == 3 and relative[0] in ("autograded", "submitted"):
        return os.environ.get("GRADER_STUDENT", relative[1])
    return os.environ.get("GRADER_STUDENT", "")


def check(qid: str, namespace: dict) -> float | None:
    """Grade `qid` in this kernel: None for full marks, the points earned for partial credit."""
    from grader.judge.checks import grade_question, seed_rng
    from grader.runtime import CheckFailed, LocalSubject
    from grader.runtime.cell import failure_text

    course, student, digest = _course_here()
    assignment = course.spec
    question = assignment.question(qid)
    rng = seed_rng(course.secret(), student, qid, digest)
    # nbgrader scores a cell 0 when it writes to stderr, so warnings and stray stderr go nowhere.
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        verdict = grade_question(assignment, qid, LocalSubject(namespace, assignment.functions), rng)
    if verdict.passed:
        print(f"ok: {qid} passed its visible and hidden tests")
        return None
    earned = round(verdict.earned(question.points), 4)
    if earned <= 0:
        raise CheckFailed(failure_text(verdict.messages, f"{qid}: {verdict.status}")) from None
    for part in verdict.parts:
        print(f"{'ok' if part.status == 'passed' else 'FAILED'}: {part.title}")
    print("\n".join(verdict.messages))
    return earned
