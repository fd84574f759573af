"""A class report from nbgrader's gradebook and the kit's grading records, as plain data.

Works on any nbgrader course: question ids, points and which answers are graded by hand
come from the gradebook; the kit's `grading.json` (when present) adds each autograded
question's status and its check's message. Scores always come from the gradebook.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from pathlib import Path

from grader.intake.timestamps import MISSING_NOTE
from grader.report.misconceptions import Misconception, clean_text, group_misconceptions
from grader.report.similar.compare import LookAlike, compare_submissions
from grader.report.similar.course import look_alike_in_course

__all__ = ["ClassReport", "QuestionStats", "HandGradedStats", "StudentRow", "HelpReason",
           "gather_report", "OUTCOMES"]

STATUS_FILE = "grading.json"
STATUS_BYTES = 4_000_000
NO_RESPONSE = "No response."
TEST_PREFIX = "test_"
OUTCOMES = ("passed", "partial", "wrong", "error", "blank")  # every autograded answer has exactly one


@dataclass
class QuestionStats:
    """One autograded question across the submitted class."""

    id: str
    max_score: float
    submitted: int = 0
    passed: int = 0
    partial: int = 0  # some of its points (some parts passed), not all
    wrong: int = 0
    error: int = 0
    blank: int = 0  # blank (the release's cell unchanged) or missing (not defined, unreadable file)
    total_score: float = 0.0
    misconceptions: list[Misconception] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.passed + self.partial + self.wrong + self.error

    @property
    def pass_rate(self) -> float:
        """Share of submitted students who passed."""
        return self.passed / self.submitted if self.submitted else 0.0

    @property
    def mean_score(self) -> float:
        return self.total_score / self.submitted if self.submitted else 0.0


@dataclass
class HandGradedStats:
    """One answer graded by hand (a solution cell that is also a grade cell)."""

    id: str
    max_score: float
    graded: list[str] = field(default_factory=list)  # a TA set a manual score
    awaiting: list[str] = field(default_factory=list)  # answered, no manual score yet
    to_confirm: list[str] = field(default_factory=list)  # scored by a TA, flagged again by a regrade
    no_response: list[str] = field(default_factory=list)  # unchanged from the release: nbgrader scores 0
    total_manual: float = 0.0

    @property
    def mean_manual(self) -> float | None:
        return self.total_manual / len(self.graded) if self.graded else None


@dataclass
class HelpReason:
    kind: str  # not submitted | unreadable | blank | below threshold | flagged for review | suspicious timestamp
    detail: str = ""


@dataclass
class StudentRow:
    """One student of the gradebook, submitted or not."""

    student: str
    submitted: bool
    status: str = "not submitted"  # graded | review | unreadable | no notebook | crashed | not submitted
    score: float | None = None  # the gradebook's total, manual scores included
    counted_max: float = 0.0  # points of the cells that have a score
    scores: dict[str, float | None] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)  # autograded question -> one of OUTCOMES
    messages: dict[str, list[str]] = field(default_factory=dict)  # the kit's first message per question
    notes: list[str] = field(default_factory=list)
    tamper: list[str] = field(default_factory=list)
    reasons: list[HelpReason] = field(default_factory=list)
    submitted_at: str | None = None  # the gradebook's submission time (UTC), lateness counts from it
    seconds_late: float = 0.0  # past the due date, the student's extension included
    late_penalty: float = 0.0  # deducted from `score`, as the gradebook records it
    timestamp_note: str | None = None  # why the submission time is not the student's timestamp.txt
    to_confirm: list[str] = field(default_factory=list)  # hand-graded answers a regrade flagged for review again

    @property
    def fraction(self) -> float | None:
        return self.score / self.counted_max if self.score is not None and self.counted_max else None


@dataclass
class ClassReport:
    course_id: str
    assignment: str
    threshold: float
    generated: str
    autograded_points: float
    hand_graded_points: float
    students: list[StudentRow]
    questions: list[QuestionStats]
    hand_graded: list[HandGradedStats]
    due: str | None = None  # the assignment's due date in the gradebook (UTC)
    look_alike: LookAlike | None = None  # submissions whose work is unusually close: leads, not verdicts

    @property
    def submitted(self) -> list[StudentRow]:
        return [s for s in self.students if s.submitted]

    @property
    def late(self) -> list[StudentRow]:
        return [s for s in self.students if s.seconds_late > 0]

    @property
    def doubtful_times(self) -> list[StudentRow]:
        return [s for s in self.students if s.timestamp_note]

    @property
    def needs_help(self) -> list[StudentRow]:
        return [s for s in self.students if s.reasons]

    def counts_note(self) -> str:
        """What the scores in this report count, in one sentence."""
        auto = f"autograded tests ({_points(self.autograded_points)})"
        if not self.hand_graded:
            return f"Scores count {auto}; this assignment has no hand-graded answers."
        names = ", ".join(h.id for h in self.hand_graded)
        graded = sum(len(h.graded) for h in self.hand_graded)
        awaiting = sum(len(h.awaiting) for h in self.hand_graded)
        if not graded:
            return (f"Scores count {auto} only: no hand-graded answer ({names}, "
                    f"{_points(self.hand_graded_points)}) has a TA's score yet; {awaiting} await a TA.")
        to_confirm = sum(len(h.to_confirm) for h in self.hand_graded)
        again = (f"; {to_confirm} of the scored ones flagged for a TA to confirm again since a regrade "
                 "(their scores count as they stand)") if to_confirm else ""
        return (f"Scores count {auto} plus the hand-graded answers ({names}) a TA has scored: {graded} scored, "
                f"{awaiting} awaiting a TA (counted as 0 until then){again}.")


def _points(value: float) -> str:
    return f"{value:g} point" + ("" if value == 1 else "s")


def gather_report(root: str | Path, assignment: str, *, threshold: float = 0.5,
                  compare=compare_submissions) -> ClassReport:
    """Read the course's gradebook (and grading records) into a ClassReport, rows sorted by student;
    its look-alike section is what `compare` returns (see `look_alike_in_course`)."""
    from nbgrader.api import Gradebook, Student

    from grader.report.gradebook_rows import require_gradebook, submission_rows

    coursedir = _coursedir(Path(root).resolve())
    require_gradebook(coursedir.db_url)
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        cells = _grade_cells(gb, assignment)
        due = gb.find_assignment(assignment).duedate
        submitted = {s.student: s for s in submission_rows(gb, assignment)}
        rows = []
        for student in sorted(student for (student,) in gb.db.query(Student.id)):
            row = StudentRow(student, student in submitted)
            if row.submitted:
                _fill_from_gradebook(row, submitted[student], cells)
                _fill_from_record(row, _read_record(coursedir, student, assignment))
            rows.append(row)
        report = _summarise(coursedir.course_id, assignment, threshold, cells, rows, due)
        report.look_alike = look_alike_in_course(coursedir, gb, assignment, [r.student for r in report.submitted],
                                                 compare=compare)
    return report


def _coursedir(root: Path):
    """nbgrader's CourseDirectory for the course at root, configured by its nbgrader_config.py."""
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    if not (root / "nbgrader_config.py").is_file():
        raise FileNotFoundError(f"{root} is not a course directory (no nbgrader_config.py)")
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    coursedir = CourseDirectory(config=config)
    coursedir.root = str(root)
    return coursedir


@dataclass(frozen=True)
class _Cell:
    name: str  # the grade cell's name in the gradebook
    question: str  # what the report calls it: the answer's id
    max_score: float
    manual: bool


def _grade_cells(gb, assignment: str) -> list[_Cell]:
    """The assignment's grade cells in notebook order; a grade cell that is also a solution cell
    is graded by hand (nbgrader's rule), a test cell `test_<id>` reports as the answer `<id>`."""
    from grader.report.gradebook_rows import recorded_assignment

    notebooks = recorded_assignment(gb, assignment).notebooks
    cells = []
    for notebook in notebooks:
        solutions = {cell.name for cell in notebook.solution_cells}
        for cell in notebook.grade_cells:
            manual = cell.name in solutions
            answer = cell.name[len(TEST_PREFIX):] if cell.name.startswith(TEST_PREFIX) else cell.name
            question = answer if not manual and answer in solutions else cell.name
            cells.append(_Cell(cell.name, question, float(cell.max_score), manual))
    return cells


def _fill_from_gradebook(row: StudentRow, submission, cells: list[_Cell]) -> None:
    """From a grader.report.gradebook_rows.SubmissionRow: each cell's score and outcome, the total."""
    grades, comments = submission.grades, submission.comments
    row.status, row.score = "graded", 0.0
    for cell in cells:
        grade = grades[cell.name]
        comment = comments.get(cell.question)
        blank = comment is not None and comment.auto_comment == NO_RESPONSE
        if cell.manual:
            row.outcomes[cell.question] = _hand_graded_state(grade, blank)
            if grade.to_confirm:
                row.to_confirm.append(cell.question)
        else:
            row.outcomes[cell.question] = _outcome(grade.score, cell.max_score, blank)
        awaiting = row.outcomes[cell.question] == "awaiting"
        row.scores[cell.question] = None if awaiting else grade.score
        row.score += grade.score or 0.0
        row.counted_max += 0.0 if awaiting or grade.score is None else cell.max_score
    _fill_lateness(row, submission)


def _fill_lateness(row: StudentRow, submission) -> None:
    """The submission time and the late penalty nbgrader's AssignLatePenalties recorded; the total
    is less the penalty, as nbgrader's own export and feedback count it."""
    row.submitted_at = _utc(submission.timestamp)
    row.seconds_late = submission.seconds_late
    row.late_penalty = submission.late_penalty
    row.score = max(0.0, row.score - row.late_penalty)


def _outcome(score: float | None, max_score: float, blank: bool) -> str:
    """passed (full points), blank (the release's cell unchanged), partial (some points) or wrong."""
    if _full(score, max_score):
        return "passed"
    if blank:
        return "blank"
    return "partial" if score else "wrong"


def _hand_graded_state(grade, blank: bool) -> str:
    if grade.manual_score is not None:
        return "graded"
    return "no response" if blank and grade.auto_score is not None else "awaiting"


def _full(score: float | None, max_score: float) -> bool:
    return score is not None and score >= max_score - 1e-9


def _read_record(coursedir, student: str, assignment: str) -> dict:
    """The kit's grading.json for a student, or {} (another tool graded it, or it is unusable)."""
    if not student or student in (".", "..") or "/" in student or "\\" in student:
        return {}
    path = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment)) / STATUS_FILE
    try:
        if not path.is_file() or path.stat().st_size > STATUS_BYTES:
            return {}
        record = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _fill_from_record(row: StudentRow, record: dict) -> None:
    """The kit's status and messages; a passed/not-passed split stays the gradebook's."""
    row.status = clean_text(record.get("status") or "graded", 40)
    row.notes = _texts(record.get("notes"))
    row.tamper = _texts(record.get("tamper"))
    note = record.get("timestamp_note")
    row.timestamp_note = clean_text(note) if isinstance(note, str) else None
    questions = record.get("questions") if isinstance(record.get("questions"), list) else []
    for question in questions:
        if not isinstance(question, dict) or question.get("id") not in row.outcomes:
            continue
        qid, status = question["id"], question.get("status")
        row.messages[qid] = _texts(question.get("messages"))[:1]
        if row.outcomes[qid] in ("passed", "partial", "blank"):  # the gradebook's points say so
            continue
        if status == "missing":
            row.outcomes[qid] = "blank"
        elif status in ("error", "timeout"):
            row.outcomes[qid] = "error"


def _texts(value) -> list[str]:
    return [clean_text(item) for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _summarise(course_id, assignment, threshold, cells, rows, due=None) -> ClassReport:
    questions = [QuestionStats(c.question, c.max_score) for c in cells if not c.manual]
    hand = [HandGradedStats(c.question, c.max_score) for c in cells if c.manual]
    for row in rows:
        if row.submitted:
            _count_student(row, questions, hand)
        row.reasons = _help_reasons(row, threshold, has_due_date=due is not None)
    for question in questions:
        failures = [(row.student, row.messages[question.id][0]) for row in rows
                    if row.outcomes.get(question.id) in ("partial", "wrong", "error") and row.messages.get(question.id)]
        question.misconceptions = group_misconceptions(failures)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return ClassReport(course_id, assignment, threshold, now,
                       sum(q.max_score for q in questions), sum(h.max_score for h in hand), rows, questions, hand,
                       _utc(due))


def _utc(moment) -> str | None:
    """A gradebook time (naive UTC) as the report shows it."""
    return None if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _count_student(row: StudentRow, questions: list[QuestionStats], hand: list[HandGradedStats]) -> None:
    for question in questions:
        question.submitted += 1
        question.total_score += row.scores.get(question.id) or 0.0
        outcome = row.outcomes[question.id]
        setattr(question, outcome, getattr(question, outcome) + 1)
    for answer in hand:
        state = row.outcomes[answer.id]
        {"graded": answer.graded, "awaiting": answer.awaiting, "no response": answer.no_response}[state].append(row.student)
        if state == "graded":
            answer.total_manual += row.scores.get(answer.id) or 0.0
        if answer.id in row.to_confirm:
            answer.to_confirm.append(row.student)


def _blank(row: StudentRow) -> bool:
    """A notebook handed in as it was released: no autograded answer, no hand-graded one either."""
    return row.status == "graded" and bool(row.outcomes) and all(
        outcome in ("blank", "no response") for outcome in row.outcomes.values())


def _help_reasons(row: StudentRow, threshold: float, *, has_due_date: bool = False) -> list[HelpReason]:
    if not row.submitted:
        return [HelpReason("not submitted")]
    reasons = []
    if row.status == "review":  # the score is withheld until a TA has looked
        reasons.append(HelpReason("flagged for review", "review: " + (row.notes[0] if row.notes else "score withheld")))
    elif row.status != "graded":
        prefix = "" if row.status == "unreadable" else f"{row.status}: "
        reasons.append(HelpReason("unreadable", prefix + (row.notes[0] if row.notes else "no grading record")))
    elif _blank(row):
        reasons.append(HelpReason("blank", "submitted the notebook with no answer (every answer cell as released)"))
    if row.fraction is not None and row.fraction < threshold and not _blank(row):
        penalty = f", after a late penalty of {row.late_penalty:g}" if row.late_penalty else ""
        reasons.append(HelpReason("below threshold",
                                  f"{row.score:g}/{row.counted_max:g} ({row.fraction:.0%}) of the points graded so far{penalty}"))
    if row.tamper:
        more = f" (+{len(row.tamper) - 1} more)" if len(row.tamper) > 1 else ""
        reasons.append(HelpReason("flagged for review", row.tamper[0] + more))
    # a timestamp.txt the kit did not trust; a missing one matters only where there is a due date
    if row.timestamp_note and (has_due_date or not row.timestamp_note.startswith(MISSING_NOTE)):
        reasons.append(HelpReason("suspicious timestamp", row.timestamp_note))
    return reasons
