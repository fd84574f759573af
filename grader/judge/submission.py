"""Judge one submission: run its cells in a contained worker, then judge its answers from outside."""

from __future__ import annotations

import re
import time
from functools import partial
from pathlib import Path

from grader.assignment import Assignment
from grader.course import Course
from grader.intake.bounds import transform_refusals
from grader.intake.notebook import (
    Intake,
    UnreadableNotebook,
    find_submission_file,
    read_notebook,
)
from grader.intake.tamper import scan_cells, split_findings
from grader.intake.text import printable
from grader.judge.checks import grade_question, seed_rng
from grader.judge.handed_in import stamp_submission_time
from grader.judge.plan import GradingPlan
from grader.judge.results import (
    CellOutcome,
    PartScore,
    QuestionResult,
    SubmissionResult,
    ungraded_result,
    withhold_for_review,
)
from grader.runtime.parts import Verdict
from grader.runtime.structure import names_read
from grader.runtime.subject import ProbeFailed
from grader.worker.session import WorkerSession

__all__ = ["GradingPlan", "judge_submission", "judge_notebook", "ungraded_result"]


def judge_submission(course: Course, student: str, plan: GradingPlan, session_factory) -> SubmissionResult:
    """Grade `submitted/<student>/<assignment>/`; never raises for anything the student did."""
    started = time.monotonic()
    path, notes = find_submission_file(course.submission_folder(student), course.notebook)
    if path is None:
        result = ungraded_result(student, f"{course.notebook}.ipynb", "no notebook", notes, plan.assignment.autograded)
    elif not _inside_own_folder(course, student, path):
        why = f"{printable(path.name)} links to a file outside submitted/{student}/; it was not graded"
        result = ungraded_result(student, path.name, "unreadable", [*notes, why], plan.assignment.autograded)
    else:
        result = judge_notebook(path, student, plan, session_factory)
        result.notes[:0] = notes
    stamp_submission_time(result, course.submission_folder(student), path, plan.released)
    result.seconds = time.monotonic() - started
    return result


def judge_notebook(path: Path, student: str, plan: GradingPlan, session_factory, *,
                   draw_rng=None, only=None) -> SubmissionResult:
    """Grade one notebook file with the hidden checks, seeded for `student` and this very file.

    `draw_rng(student, question id, file digest)` stands in for `seed_rng` under plan.secret
    where the secret is not at hand (a Dask worker holds only this file's seeds). `only` (question
    ids) judges those autograded questions alone: the release audit of one question.
    """
    draw_rng = draw_rng or partial(seed_rng, plan.secret)
    try:
        intake = read_notebook(path)
    except UnreadableNotebook as exc:
        return ungraded_result(student, path.name, "unreadable", [str(exc)], plan.assignment.autograded)
    runnable = [c for c in intake.cells if c.cell_type == "code" and not _looks_like_test(c, plan)]
    refused = transform_refusals(runnable)  # the judge's own parsing is bounded before it starts
    runnable = [c for c in runnable if c.index not in refused]
    judged = [q for q in plan.assignment.autograded if only is None or q.id in only]
    with session_factory() as session:  # its time budget starts here: the judge's own scan counts
        tamper, dynamic = split_findings(scan_cells((c.index, c.source) for c in runnable))
        judge = partial(_judge_question, session=session, assignment=plan.assignment, draw_rng=draw_rng,
                        student=student, submission=intake.digest)
        where_tested = _where_tested(intake, judged)
        waiting = sorted((q for q in judged if q.id in where_tested), key=lambda q: where_tested[q.id])
        early: dict[str, QuestionResult] = {}

        def judge_where_tested(index: int) -> None:
            """Before cell `index`: each question whose test cell stands above it, and whose
            answers the cells above that define, is judged on the notebook as it is there (the
            others wait for the last cell)."""
            while waiting and where_tested[waiting[0].id] < index:
                question = waiting.pop(0)
                horizon = where_tested[question.id]
                if set(question.answers) <= session.names_bound(before=horizon):
                    with session.checks_between(horizon):
                        early[question.id] = judge(question, outcomes=session.outcomes)

        outcomes = session.run_cells(runnable, before=judge_where_tested)
        questions = [_later_of(early.get(q.id), q, session, where_tested, partial(judge, q, outcomes=outcomes))
                     for q in judged]
        session.look_from_outside("after the checks")
        tamper += session.evidence()
        happened, review = _unique(session.notes), _unique(session.review)
    notes = _structure_notes(intake, plan) + list(refused.values()) + [printable(n) for n in happened + dynamic]
    outcomes.update(_refused_outcomes(intake, refused))
    cells = _cell_outcomes(intake, outcomes)
    result = SubmissionResult(student, path.name, "graded", questions, cells, notes, _unique(map(printable, tamper)))
    return withhold_for_review(result, [printable(r) for r in review]) if review else result


def _where_tested(intake: Intake, questions: list) -> dict[str, int]:
    """The index of each question's (first) test cell in the submitted notebook, where it has one."""
    found: dict[str, int] = {}
    for cell in intake.cells:
        if cell.grade_id and cell.grade_id.startswith("test_"):
            found.setdefault(cell.grade_id.removeprefix("test_"), cell.index)
    return {q.id: found[q.id] for q in questions if q.id in found}


def _later_of(early: QuestionResult | None, question, session: WorkerSession, where_tested: dict[str, int],
              judge_now) -> QuestionResult:
    """A question's result: as judged where its test cell stands, or now, after every cell.

    Judged where its test stands, a question keeps that result unless it lost points there and
    a later cell binds a name its answer is or reads (a scratch cell that pastes the tutorial's
    SQ, a helper defined below the test or redefined for another question, an answer fixed
    below its test): then it is judged again on the notebook as it ends, and the better of the
    two counts. A question whose test cell is gone, or whose answers the cells above it do not
    define (answers placed after their tests), is judged after every cell."""
    if early is None:
        return judge_now()
    if early.score >= early.max_score or not _rebound_later(question, session, where_tested[question.id]):
        return early
    late = judge_now()
    return late if late.score > early.score else early


def _rebound_later(question, session: WorkerSession, horizon: int) -> bool:
    """Whether a cell after the test cell binds a name the question's answers are, or read from
    the notebook (a helper defined, or defined again, below the test)."""
    names = set(question.answers)
    for name in question.answers:
        names |= names_read(session.source_of(name, before=horizon))
    return bool(names & session.names_bound(after=horizon))


def _judge_question(question, session: WorkerSession, assignment: Assignment, draw_rng, student: str,
                    submission: str, outcomes: dict) -> QuestionResult:
    session.checking = question
    try:
        session.ensure_alive()
    except ProbeFailed as failure:  # the submission used up its restarts or time: this question errs
        return QuestionResult(question.id, 0.0, float(question.points), failure.status,
                              [f"{question.id}: {failure.message}"])
    rng = draw_rng(student, question.id, submission)
    verdict = grade_question(assignment, question.id, session.subject(), rng)
    session.notes.extend(verdict.crashes)  # the details a student's message leaves to the TA
    # Checks run between cells read everything after them: the cells that run next could set back a
    # raw write (one that leaves a namespace's version as it was) before the last look, after all checks.
    session.look_from_outside(f"during the {question.id} check", quick=session.horizon is None)
    if verdict.status == "missing":
        verdict = _missing_because_its_cell_failed(question, session, outcomes) or verdict
    score = round(verdict.earned(question.points), 4)
    # a regrade must read the same (no addresses); students read these (no judge tracebacks,
    # no control codes from the values their code returned)
    messages = [printable(_student_safe(_ADDRESS.sub("", m)), multiline=True) for m in verdict.messages]
    parts = [PartScore(printable(p.title), round(worth, 4), p.status == "passed")
             for p, worth in zip(verdict.parts, verdict.part_points(question.points), strict=True)
             ] if len(verdict.parts) > 1 else []
    return QuestionResult(question.id, score, float(question.points), verdict.status, messages, parts)


def _missing_because_its_cell_failed(question, session: WorkerSession, outcomes: dict):
    """An answer that is not defined because the cell that defines it raised (or died) first:
    an error of that cell, not a blank answer. A cell that does not parse (a SyntaxError) defines
    nothing the judge can find: then the question's own answer cell is the one."""
    own = next((i for i, outcome in outcomes.items() if outcome.grade_id == question.id), None)
    for name in question.answers:
        index = session.definition_index(name)
        role = f"which defines {name}"
        if index is None and own is not None:
            index, role = own, f"the answer cell of {question.id}"
        outcome = outcomes.get(index)
        if outcome is None or outcome.status not in ("error", "died", "timeout", "skipped"):
            continue
        lines = [line for line in (outcome.error or "").splitlines() if line.strip()]
        if lines and lines[-1].strip().startswith("NotImplementedError"):
            return None  # the release's own placeholder: a blank answer
        if outcome.status == "skipped":  # the notebook's time ran out on the cells before it
            return Verdict("error", [f"{name} is not defined: cell {index}, {role}, was not run.\n"
                                     f"Cell {index} was {outcome.error or 'not run'}, by the cells before it (the "
                                     "notes name them). Keep slow or risky experiments short, or out of the "
                                     "notebook you hand in."])
        if outcome.status == "error":
            raised = lines[-1].strip()[:300] if lines else ""
            what = f"raised {raised.split(':')[0][:60]}" if raised else "raised an error"
            why = (f"Cell {index} stopped{f' with {raised}' if raised else ''} before {name} was defined, so {name} "
                   "does not exist when it is checked. Fix that cell")
        else:
            what = (f"ran past its time limit of {session.cell_timeout:g} s" if outcome.status == "timeout"
                    else "ended its worker")
            why = (f"A cell that {what} is stopped and skipped as the notebook runs on, so nothing it defines exists "
                   f"when {name} is checked, even what it defined before it stopped. Keep slow or risky work (a "
                   "long loop that tries your answer out, say) out of the answer cell, in a scratch cell of its own")
        return Verdict("error", [f"{name} is not defined: cell {index}, {role}, {what}.\n{why}, then run the "
                                 "notebook from the top (Kernel → Restart Kernel and Run All Cells…)."])
    return None


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
    return [outcomes.get(c.index) or CellOutcome(c.index, c.cell_type, c.source, c.grade_id, attachments=c.attachments)
            for c in intake.cells]


def _structure_notes(intake: Intake, plan: GradingPlan) -> list[str]:
    present = {c.grade_id for c in intake.cells}
    missing = [gid for gid in plan.solution_ids if gid not in present]
    # Manually graded questions (explain_bug) have no test cell to miss.
    tested = [q.id for q in plan.assignment.autograded]
    tests_missing = [f"test_{gid}" for gid in tested if f"test_{gid}" not in present]
    notes = [f"answer cell {gid} is not in the notebook (answers were still looked up by name)" for gid in missing]
    if tests_missing:
        notes.append(f"test cells deleted or relabelled: {', '.join(tests_missing)} (the instructor's tests were used)")
    edited = sorted({c.grade_id for c in intake.cells if (c.grade_id or "").startswith("test_")
                     and c.grade_id in {f"test_{gid}" for gid in tested} and c.source not in plan.test_sources})
    if edited:
        notes.append(f"test cells edited: {', '.join(edited)} (the instructor's tests were used)")
    return notes + _answers_written_below(intake, plan)


def _answers_written_below(intake: Intake, plan: GradingPlan) -> list[str]:
    """A hand-graded answer cell left as released with a markdown cell of the student's right
    after it: the answer is likely there, and the gradebook scores the released cell 0."""
    notes = []
    for question in plan.assignment.manual:
        cell = intake.cell_with_grade_id(question.id)
        after = next((c for c in intake.cells if cell is not None and c.index == cell.index + 1), None)
        if (cell is not None and cell.source in plan.texts and after is not None and after.cell_type == "markdown"
                and after.grade_id is None and after.source.strip() and after.source not in plan.texts):
            notes.append(f"{question.id}: the answer cell is as released, and the cell added after it holds "
                         "text: the answer may be there (the gradebook scores the released cell 0; grade it by "
                         "hand in formgrader)")
    return notes


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
