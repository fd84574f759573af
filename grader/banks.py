"""What an assignment's answer banks hold, and how the kit reads them (the banks live with the assignment).

An assignment's `banks` package (instructor-only, beside its notebook) defines
`CORRECT` (honest answers, the first of each question its reference), `WRONG` (known
misconceptions, each losing exactly its question, with the words its message names it by and,
for the few no visible check may show, why), `MANUAL` (model answers of hand-graded questions)
and `BROKEN` (builders of broken submission files).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

__all__ = ["Answer", "Mistake", "BrokenFile", "Banks"]


@dataclass(frozen=True)
class Answer:
    """One answer: `source` is the whole solution cell whose grade_id is `question`."""

    name: str  # unique across the banks, readable as a pytest id
    question: str  # a question id of the notebook
    source: str  # self-contained cell text; relies only on the notebook's first (import) cell
    note: str  # for WRONG: the misconception in a student's words; for CORRECT: the style
    cause: str = ""  # for WRONG: words the student's message holds when it names this misconception
    # for WRONG: why only the grading-time tests may show it (a visible check would hand out the
    # answer itself); "" when the notebook's visible tests must show it before submission
    left_to_hidden: str = ""


@dataclass(frozen=True)
class Mistake:
    """A misconception of a compared question, written as edits of the notebook's own solution
    cell: each (text, replacement) pair replaces text that occurs exactly once in it."""

    name: str  # unique across the banks, readable as a pytest id
    edits: tuple[str, str] | tuple[tuple[str, str], ...]  # one pair, or several
    note: str  # the misconception in a student's words
    cause: str = ""  # as Answer's
    left_to_hidden: str = ""  # as Answer's

    def answer(self, question: str, solution: str, where: str) -> Answer:
        """The whole answer cell this mistake makes of `solution`; ValueError, naming `where`,
        when an edit's text is not found exactly once."""
        pairs = (self.edits,) if self.edits and isinstance(self.edits[0], str) else self.edits
        source = solution
        for text, replacement in pairs:
            found = source.count(text) if text else 0
            if found != 1:
                raise ValueError(f"{where}: Mistake {self.name!r} replaces {text!r}, which the solution cell of "
                                 f"{question} holds {found} times (an edit names text found exactly once)")
            source = source.replace(text, replacement)
        return Answer(self.name, question, source, self.note, self.cause, self.left_to_hidden)


@dataclass(frozen=True)
class BrokenFile:
    """A broken submission: `build(release_bytes) -> submitted bytes`, and what must happen."""

    name: str
    build: Callable[[bytes], bytes]
    expected: str


class Banks:
    """An assignment's banks, read from its `banks` package."""

    def __init__(self, module: ModuleType) -> None:
        self.correct: tuple[Answer, ...] = tuple(getattr(module, "CORRECT", ()))
        self.wrong: tuple[Answer, ...] = tuple(getattr(module, "WRONG", ()))
        self.manual: tuple[Answer, ...] = tuple(getattr(module, "MANUAL", ()))
        self.broken: tuple[BrokenFile, ...] = tuple(getattr(module, "BROKEN", ()))

    def with_answers(self, correct: tuple[Answer, ...], wrong: tuple[Answer, ...]) -> "Banks":
        """These banks with more honest answers and misconceptions (a compared question's own)."""
        self.correct += tuple(correct)
        self.wrong += tuple(wrong)
        return self

    def correct_for(self, question_id: str) -> tuple[Answer, ...]:
        """The honest answers of one question, the reference first."""
        return tuple(a for a in self.correct if a.question == question_id)

    def wrong_for(self, question_id: str) -> tuple[Answer, ...]:
        """The known misconceptions that target one question."""
        return tuple(a for a in self.wrong if a.question == question_id)

    def reference(self, question_id: str) -> Answer:
        """A question's reference answer: its first honest (or model) answer."""
        answers = self.correct_for(question_id) or tuple(a for a in self.manual if a.question == question_id)
        if not answers:
            raise KeyError(f"the banks have no correct answer for question {question_id!r}")
        return answers[0]

    def answer(self, name: str) -> Answer:
        """The answer with this name, from any bank; KeyError otherwise."""
        for a in (*self.correct, *self.manual, *self.wrong):
            if a.name == name:
                return a
        raise KeyError(f"no answer named {name!r} in the banks")

    def broken_file(self, name: str) -> BrokenFile:
        """The broken-file scenario with this name; KeyError names the known ones."""
        for b in self.broken:
            if b.name == name:
                return b
        raise KeyError(f"no broken file {name!r}; known: {', '.join(b.name for b in self.broken)}")

    def reference_namespace(self, question_ids, setup: str) -> dict:
        """A namespace that ran `setup` (the notebook's import cell) and every reference answer.

        For warming up a trusted process (a judge) on the instructor's answers; never a worker.
        """
        import matplotlib

        matplotlib.use("Agg")
        namespace: dict = {}
        exec(setup, namespace)
        for qid in question_ids:
            exec(self.reference(qid).source, namespace)
        return namespace
