"""Judge one submission: run its cells in a contained worker, then judge its answers from outside."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader.checks import run_question, seed_rng
from grader.course import Course, CourseError
from grader.intake.bounds import transform_refusals
from grader.intake.notebook import (
    Intake,
    UnreadableNotebook,
    find_submission_file,
    read_notebook,
    read_submitted_bytes,
)
from grader.intake.tamper import scan_cells
from grader.intake.text import printable
from grader.judge.results import CellOutcome, QuestionResult, SubmissionResult, ungraded_result
from grader.questions import AUTOGRADED, QUESTIONS
from grader.runtime.subject import ProbeFailed
from grader.worker.session import WorkerSession

__all__ = ["GradingPlan", "judge_submission", "judge_notebook", "ungraded_result"]


@dataclass(frozen=True)
class GradingPlan:
    """What the judge trusts, all read from the instructor's files and never from a submission."""

    notebook: str
    solution_ids: tuple[str, ...]
    test_sources: frozenset[str]
    secret: bytes

    @classmethod
    def for_course(cls, course: Course) -> "GradingPlan":
        source = nbformat.read(course.source_notebook(), as_version=4)
        release = nbformat.read(course.release_notebook(), as_version=4)
        ids = tuple(_grade_ids(source, solution=True))
        expected = tuple(q.id for q in QUESTIONS)
        if tuple(sorted(ids)) != tuple(sorted(expected)):
            raise CourseError(f"source notebook's solution ids {ids} do not match the questions {expected}")
        tests = {c.source for nb in (source, release) for c in nb.cells if _is_test_cell(c)}
        return cls(course.notebook, ids, frozenset(tests), course.secret())


def judge_submission(course: Course, student: str, plan: GradingPlan, session_factory) -> SubmissionResult:
    """Grade `submitted/<student>/<assignment>/`; never raises for anything the student did."""
    started = time.monotonic()
    path, notes = find_submission_file(course.submission_folder(student), course.notebook)
    if path is None:
        result = ungraded_result(student, f"{course.notebook}.ipynb", "no notebook", notes)
    elif not _inside_own_folder(course, student, path):
        why = f"{printable(path.name)} links to a file outside submitted/{student}/; it was not graded"
        result = ungraded_result(student, path.name, "unreadable", [*notes, why])
    else:
        result = judge_notebook(path, student, plan, session_factory)
        result.notes[:0] = notes
    result.timestamp = _timestamp(course.submission_folder(student))
    result.seconds = time.monotonic() - started
    return result


def judge_notebook(path: Path, student: str, plan: GradingPlan, session_factory) -> SubmissionResult:
    """Grade one notebook file with the hidden checks, seeded for `student` and this very file."""
    try:
        intake = read_notebook(path)
    except UnreadableNotebook as exc:
        return ungraded_result(student, path.name, "unreadable", [str(exc)])
    runnable = [c for c in intake.cells if c.cell_type == "code" and not _looks_like_test(c, plan)]
    refused = transform_refusals(runnable)  # the judge's own parsing is bounded before it starts
    runnable = [c for c in runnable if c.index not in refused]
    with session_factory() as session:  # its time budget starts here: the judge's own scan counts
        tamper = scan_cells((c.index, c.source) for c in runnable)
        outcomes = session.run_cells(runnable)
        questions = [_judge_question(q, session, plan, student, intake.digest) for q in AUTOGRADED]
        tamper += session.evidence()
    notes = _structure_notes(intake, plan) + list(refused.values())
    outcomes.update(_refused_outcomes(intake, refused))
    cells = _cell_outcomes(intake, outcomes)
    return SubmissionResult(student, path.name, "graded", questions, cells, notes, _unique(map(printable, tamper)))


def _judge_question(question, session: WorkerSession, plan: GradingPlan, student: str,
                    submission: str) -> QuestionResult:
    session.checking = question.id
    try:
        session.ensure_alive()
    except ProbeFailed as failure:  # the submission used up its restarts or time: this question errs
        return QuestionResult(question.id, 0.0, float(question.points), failure.status,
                              [f"{question.id}: {failure.message}"])
    rng = seed_rng(plan.secret, student, question.id, submission)
    verdict = run_question(question.id, session.subject(), rng)
    score = float(question.points) if verdict.status == "passed" else 0.0
    # a regrade must read the same (no addresses); students read these (no judge tracebacks,
    # no control codes from the values their code returned)
    messages = [printable(_student_safe(_ADDRESS.sub("", m)), multiline=True) for m in verdict.messages]
    return QuestionResult(question.id, score, float(question.points), verdict.status, messages)


# Default reprs name a memory address (`<Foo object at 0x7f...>`), which differs between judges.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_TRACEBACK = "Traceback (most recent call last):"


def _student_safe(message: str) -> str:
    """A message without a judge traceback (kit paths and source lines): students read these."""
    if _TRACEBACK not in message:
        return message
    head, _, trace = message.partition(_TRACEBACK)
    last = trace.strip().splitlines()[-1:] or ["an exception"]
    kind = last[0].split(":", 1)[0].strip()[:80]
    return f"{head.strip() or 'the grader hit an internal error'} ({kind}; the instructor can regrade this notebook)"


def _inside_own_folder(course: Course, student: str, path: Path) -> bool:
    """False for a notebook reached through a link out of submitted/<student>/ (the source
    notebook, a classmate's submission): it would be graded as this student's work."""
    own = course.submitted_dir().resolve() / student
    try:
        return path.resolve(strict=True).is_relative_to(own)
    except (OSError, RuntimeError):  # a dangling or looping link
        return False


def _refused_outcomes(intake: Intake, refused: dict[int, str]) -> dict[int, CellOutcome]:
    return {c.index: CellOutcome(c.index, c.cell_type, c.source, c.grade_id, "skipped", error=refused[c.index])
            for c in intake.cells if c.index in refused}


def _looks_like_test(cell, plan: GradingPlan) -> bool:
    return (cell.grade_id or "").startswith("test_") or cell.source in plan.test_sources


def _cell_outcomes(intake: Intake, outcomes: dict[int, CellOutcome]) -> list[CellOutcome]:
    return [outcomes.get(c.index) or CellOutcome(c.index, c.cell_type, c.source, c.grade_id) for c in intake.cells]


def _structure_notes(intake: Intake, plan: GradingPlan) -> list[str]:
    present = {c.grade_id for c in intake.cells}
    missing = [gid for gid in plan.solution_ids if gid not in present]
    # Manually graded questions (explain_bug) have no test cell to miss.
    tested = [q.id for q in AUTOGRADED if q.id in plan.solution_ids]
    tests_missing = [f"test_{gid}" for gid in tested if f"test_{gid}" not in present]
    notes = [f"answer cell {gid} is not in the notebook (answers were still looked up by name)" for gid in missing]
    if tests_missing:
        notes.append(f"test cells deleted or relabelled: {', '.join(tests_missing)} (the instructor's tests were used)")
    return notes


def _grade_ids(nb, *, solution: bool) -> list[str]:
    meta = (c.metadata.get("nbgrader", {}) for c in nb.cells)
    return [m["grade_id"] for m in meta if m.get("solution") is solution and "grade_id" in m]


def _is_test_cell(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution") and cell.cell_type == "code"


TIMESTAMP_BYTES = 100


def _timestamp(folder: Path) -> str | None:
    """nbgrader's timestamp.txt, read as a bounded regular file of the folder (a FIFO, a link
    to /dev/zero or a hard link is ignored, never waited on or read whole)."""
    try:
        text = read_submitted_bytes(folder / "timestamp.txt", TIMESTAMP_BYTES).decode("utf-8").strip()
    except (UnreadableNotebook, UnicodeDecodeError):
        return None
    from nbgrader.utils import parse_utc

    try:
        parse_utc(text)
    except Exception:  # a malformed timestamp is ignored, never fatal
        return None
    return text


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
