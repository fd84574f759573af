"""The kit's sample assignment (source/derivatives), read through the engine as any course's would be."""

from __future__ import annotations

from pathlib import Path

from grader.assignment import Assignment
from grader.banks import Answer  # noqa: F401 (for the tests)
from grader.demo import scenarios

KIT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE = "derivatives"  # the kit's sample assignment: named, since the course may hold others beside it
ASSIGNMENT = Assignment.load(KIT_ROOT / "source" / SAMPLE)
BANKS = ASSIGNMENT.banks
QUESTIONS = ASSIGNMENT.questions
AUTOGRADED = ASSIGNMENT.autograded
MANUAL = ASSIGNMENT.manual
CHECKS = tuple(q.id for q in AUTOGRADED)
AUTOGRADED_POINTS = sum(q.points for q in AUTOGRADED)
CORRECT, WRONG, BROKEN = BANKS.correct, BANKS.wrong, BANKS.broken
(EXPLAIN_BUG,) = BANKS.manual
correct_for, wrong_for, reference, answer = BANKS.correct_for, BANKS.wrong_for, BANKS.reference, BANKS.answer
broken_file = BANKS.broken_file
question = ASSIGNMENT.question
with_answers, with_extra_cell = scenarios.with_answers, scenarios.with_extra_cell


# A popular tutorial's SQ: its backward returns the local derivative alone, ignoring grad_output.
TUTORIAL_SQ = """class SQ(torch.autograd.Function):
    @staticmethod
    def forward(ctx, i):
        ctx.save_for_backward(i)
        return i ** 2

    @staticmethod
    def backward(ctx, grad_output):
        i, = ctx.saved_tensors
        grad_output = 2 * i
        return grad_output
"""


def solved(nb, style: str = "reference"):
    """The notebook with every question answered from the sample's banks."""
    return scenarios.solved(nb, BANKS, style)


def write_submission(course_root, student_id: str, nb_or_bytes, assignment: str = SAMPLE):
    """submitted/<student>/<assignment>/derivatives.ipynb in a course of the sample assignment."""
    return scenarios.write_submission(course_root, student_id, nb_or_bytes, assignment, ASSIGNMENT.notebook)


def run_question(qid: str, subject, rng=None, *, hidden: bool = True):
    """A question's verdict: visible parts, and hidden ones (seeded by `rng`) unless hidden=False."""
    from grader.runtime import run_question as run

    q = ASSIGNMENT.question(qid)
    hidden_module = ASSIGNMENT.hidden_checks(qid) if hidden else None
    return run(qid, q.answers, ASSIGNMENT.visible_checks(qid), subject, hidden_module, rng)


def local_subject(namespace: dict, source_lookup=None):
    """The in-process Subject over a namespace, with the sample's vocabulary."""
    from grader.runtime import LocalSubject

    return LocalSubject(namespace, ASSIGNMENT.functions, source_lookup=source_lookup)


def check_visible(qid: str, namespace: dict) -> None:
    """What a release test cell runs: the visible checks, `ok:` lines or CheckFailed."""
    from grader.runtime import notebook_check

    notebook_check(f"{ASSIGNMENT.package}.checks", ASSIGNMENT.functions)(qid, namespace)
