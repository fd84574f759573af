"""A simulated class drawn from the answer banks, for the demo and the benchmark."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import nbformat

from grader.banks import BROKEN, CORRECT, EXPLAIN_BUG, WRONG, reference
from grader.course import Course
from grader.demo.scenarios import load_release, with_answers, write_submission
from grader.questions import AUTOGRADED

__all__ = ["SimulatedStudent", "simulate_class", "student_notebook"]

HONEST_EXTRAS = (
    "import warnings\nwarnings.warn('a harmless warning from a student cell')\n",
    "print('checking my work:', torch.tensor(2.0) ** 2)\n",
    "import sys\nprint('debug output', file=sys.stderr)\n",
)


@dataclass
class SimulatedStudent:
    """One simulated student: what they handed in and which questions should pass."""

    id: str
    kind: str  # correct | one mistake | several mistakes | blank | broken file
    description: str
    expected_pass: dict[str, bool] = field(default_factory=dict)


def simulate_class(course: Course, size: int, *, seed: int = 0) -> list[SimulatedStudent]:
    """Write `size` submissions under submitted/ and return who is who (deterministic for a seed)."""
    rng = random.Random(seed)
    release = load_release(course.root)
    release_bytes = course.release_notebook().read_bytes()
    students = []
    for number in range(1, size + 1):
        student = SimulatedStudent(f"student{number:04d}", *_pick(number, rng))
        content = student_notebook(release, release_bytes, student, rng)
        write_submission(course.root, student.id, content)
        students.append(student)
    return students


def _pick(number: int, rng: random.Random) -> tuple[str, str]:
    slot = number % 12
    if slot in (1, 2, 3, 4):
        return "correct", ("reference style" if slot % 2 else "alternate style")
    if slot in (5, 6, 7, 8, 9):
        return "one mistake", rng.choice(WRONG).name
    if slot == 10:
        return "several mistakes", ", ".join(a.name for a in _distinct_questions(rng, 3))
    if slot == 11:
        return "blank", "handed in the release unchanged"
    return "broken file", rng.choice(BROKEN).name


def student_notebook(release, release_bytes: bytes, student: SimulatedStudent, rng: random.Random):
    """The notebook (or raw bytes, for a broken file) this student hands in."""
    everything_passes = {q.id: True for q in AUTOGRADED}
    if student.kind == "blank":
        student.expected_pass = {q.id: False for q in AUTOGRADED}
        return release
    if student.kind == "broken file":
        student.expected_pass = {}
        return next(b for b in BROKEN if b.name == student.description).build(release_bytes)
    answers = _correct_answers(student.description == "alternate style")
    mistakes = _mistakes(student)
    answers.update({a.question: a.source for a in mistakes})
    student.expected_pass = {**everything_passes, **{a.question: False for a in mistakes}}
    nb = with_answers(release, answers)
    if student.kind == "correct":
        nb.cells.append(nbformat.v4.new_code_cell(rng.choice(HONEST_EXTRAS)))
    return nb


def _correct_answers(alternate: bool) -> dict[str, str]:
    answers = {}
    for q in AUTOGRADED:
        styles = [a for a in CORRECT if a.question == q.id]
        answers[q.id] = (styles[-1] if alternate else reference(q.id)).source
    answers[EXPLAIN_BUG.question] = EXPLAIN_BUG.source
    return answers


def _mistakes(student: SimulatedStudent) -> list:
    if student.kind not in ("one mistake", "several mistakes"):
        return []
    names = student.description.split(", ")
    return [a for a in WRONG if a.name in names]


def _distinct_questions(rng: random.Random, count: int) -> list:
    chosen, seen = [], set()
    for answer in rng.sample(list(WRONG), len(WRONG)):
        if answer.question not in seen:
            chosen.append(answer)
            seen.add(answer.question)
        if len(chosen) == count:
            break
    return chosen
