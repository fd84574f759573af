"""Answer banks as data: honest correct answers, known misconceptions and broken submission files."""

from dataclasses import dataclass

__all__ = [
    "Answer",
    "BrokenFile",
    "BROKEN",
    "CORRECT",
    "EXPLAIN_BUG",
    "WRONG",
    "answer",
    "broken_file",
    "correct_for",
    "reference",
    "reference_namespace",
    "wrong_for",
]


@dataclass(frozen=True)
class Answer:
    """One answer: `source` is the whole solution cell whose grade_id is `question`."""

    name: str  # unique across the banks, readable as a pytest id
    question: str  # a question id from grader/questions.py
    source: str  # self-contained cell text; relies only on `torch` and `plt` from the import cell
    note: str  # for WRONG: the misconception in a student's words; for CORRECT: the style


# The submodules import Answer from here, so they come after its definition.
from grader.banks.broken import BROKEN, BrokenFile, broken_file  # noqa: E402
from grader.banks.correct import CORRECT, EXPLAIN_BUG  # noqa: E402
from grader.banks.wrong import WRONG  # noqa: E402


def correct_for(question_id: str) -> tuple[Answer, ...]:
    """The CORRECT answers of one question, the reference first."""
    return tuple(a for a in CORRECT if a.question == question_id)


def wrong_for(question_id: str) -> tuple[Answer, ...]:
    """The WRONG answers that target one question."""
    return tuple(a for a in WRONG if a.question == question_id)


def reference(question_id: str) -> Answer:
    """The reference answer of a question: its first CORRECT answer (EXPLAIN_BUG for the manual one)."""
    if question_id == EXPLAIN_BUG.question:
        return EXPLAIN_BUG
    answers = correct_for(question_id)
    if not answers:
        raise KeyError(f"no correct answer for question {question_id!r}")
    return answers[0]


def answer(name: str) -> Answer:
    """The answer with this name, from either bank; KeyError otherwise."""
    for a in (*CORRECT, EXPLAIN_BUG, *WRONG):
        if a.name == name:
            return a
    raise KeyError(f"no answer named {name!r} in the banks")


def reference_namespace() -> dict:
    """A namespace holding every question's reference answer, as if a notebook had run them.

    Used to warm processes up on the kit's own answers, never on a student's.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from grader.questions import AUTOGRADED

    namespace = {"torch": torch, "plt": plt}
    for q in AUTOGRADED:
        exec(reference(q.id).source, namespace)
    return namespace
