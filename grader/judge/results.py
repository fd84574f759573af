"""What grading one submission produced, as plain data that can cross processes and machines."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["PartScore", "QuestionResult", "CellOutcome", "SubmissionResult", "STATUSES", "ungraded_result",
           "withhold_for_review", "REVIEW_NOTE", "REVIEW_MESSAGE"]

STATUSES = ("passed", "failed", "error", "timeout", "missing", "review")  # review: score withheld for a TA


@dataclass
class PartScore:
    """What one part of a question checks, the points it is worth, and whether it earned them."""

    title: str
    points: float
    passed: bool


@dataclass
class QuestionResult:
    """One autograded question's verdict; `parts` when its points are split over parts."""

    id: str
    score: float
    max_score: float
    status: str
    messages: list[str] = field(default_factory=list)
    parts: list[PartScore] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict) -> "QuestionResult":
        parts = [PartScore(**p) for p in data.get("parts", [])]
        return cls(**{k: v for k, v in data.items() if k != "parts"}, parts=parts)


@dataclass
class CellOutcome:
    """One submitted cell: its text and what happened when it ran in the worker."""

    index: int
    cell_type: str
    source: str
    grade_id: str | None
    status: str = "not run"  # ok | error | died | timeout | skipped | not run
    output: str = ""
    error: str | None = None
    attachments: dict = field(default_factory=dict)  # a markdown cell's pasted images, as submitted


@dataclass
class SubmissionResult:
    """The whole verdict on one student's notebook."""

    student: str
    notebook: str
    status: str  # graded | review | unreadable | no notebook | crashed (unrecordable when recorded)
    questions: list[QuestionResult]
    cells: list[CellOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tamper: list[str] = field(default_factory=list)
    timestamp: str | None = None  # the submission time lateness counts from (UTC, nbgrader's format)
    timestamp_note: str | None = None  # why it is not the student's timestamp.txt (also among the notes)
    seconds: float = 0.0
    review: list[str] = field(default_factory=list)  # why the verdict needs a TA (see withhold_for_review)

    @property
    def score(self) -> float:
        return sum(q.score for q in self.questions)

    @property
    def max_score(self) -> float:
        return sum(q.max_score for q in self.questions)

    def status_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for q in self.questions:
            counts[q.status] = counts.get(q.status, 0) + 1
        return counts

    def to_json(self) -> dict:
        """The verdict as `grader grade --json` prints it (with status and review when a TA must
        review it): the same for a regrade of the same file, so it holds no timing-dependent
        evidence (the command adds notes and tamper evidence, see `evidence_json`)."""
        document = {
            "notebook": self.notebook,
            "score": self.score,
            "max_score": self.max_score,
            "questions": [
                {"id": q.id, "score": q.score, "max_score": q.max_score, "status": q.status,
                 "messages": q.messages, "parts": [asdict(p) for p in q.parts]}
                for q in self.questions
            ],
        }
        if self.status == "review":
            document.update(status=self.status, review=list(self.review))
        return document

    def evidence_json(self) -> dict:
        """`to_json`, with what a TA should know (`notes`) and evidence of tampering (`tamper`)
        when there are any: what `grader grade --json` prints."""
        document = self.to_json()
        for key, lines in (("notes", self.notes), ("tamper", self.tamper)):
            if lines:
                document[key] = list(lines)
        return document

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SubmissionResult":
        return cls(
            **{k: v for k, v in data.items() if k not in ("questions", "cells")},
            questions=[QuestionResult.from_dict(q) for q in data["questions"]],
            cells=[CellOutcome(**c) for c in data.get("cells", [])],
        )


def ungraded_result(student: str, notebook: str, status: str, notes: list[str],
                    autograded) -> SubmissionResult:
    """A submission that could not be run: every autograded question scores 0 as missing."""
    questions = [QuestionResult(q.id, 0.0, float(q.points), "missing", list(notes)) for q in autograded]
    return SubmissionResult(student, notebook, status, questions, notes=list(notes))


REVIEW_NOTE = ("autograded score withheld: the notebook changed the grader's own machinery while it "
               "ran, so its answers could not be trusted; a TA must review it")
REVIEW_MESSAGE = "This notebook needs a review by a TA before it gets a score for this question."


def withhold_for_review(result: SubmissionResult, reasons: list[str]) -> SubmissionResult:
    """Status `review`: every autograded score becomes 0 with a note, never the (possibly forged) score."""
    result.status, result.review = "review", list(dict.fromkeys(reasons))
    for question in result.questions:
        question.status, question.score = "review", 0.0
        question.parts = [PartScore(p.title, p.points, False) for p in question.parts]
        question.messages = [REVIEW_MESSAGE, *question.messages]
    result.notes.insert(0, REVIEW_NOTE)
    return result
