"""A simulated class drawn from the answer banks, for the demo and the benchmark."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import nbformat

from grader.banks import Banks, BrokenFile
from grader.course import Course, CourseError
from grader.demo.scenarios import load_release, with_answers, write_submission

__all__ = ["SimulatedStudent", "simulate_class", "student_notebook"]

HONEST_EXTRAS = (
    "import warnings\nwarnings.warn('a harmless warning from a student cell')\n",
    "print('checking my work:', torch.tensor(2.0) ** 2)\n",
    "import sys\nprint('debug output', file=sys.stderr)\n",
)

# A broken file of any assignment, for banks whose BROKEN is empty (the audit allows it).
TRUNCATED = BrokenFile("truncated", lambda data: data[: len(data) // 2], "unreadable: 0, the batch goes on")


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
    release = load_release(course)
    release_bytes = course.release_notebook().read_bytes()
    banks = course.spec.banks
    ids = [q.id for q in course.autograded]
    _require_honest_answers(course, ids)
    students = []
    for number in range(1, size + 1):
        student = SimulatedStudent(f"student{number:04d}", *_pick(banks, number, rng))
        content = student_notebook(banks, ids, release, release_bytes, student, rng)
        write_submission(course.root, student.id, content, course.assignment, course.notebook)
        students.append(student)
    return students


def _require_honest_answers(course: Course, ids: list[str]) -> None:
    """Every simulated student builds on the honest answers: a question without one stops the demo."""
    banks = course.spec.banks
    lacking = [qid for qid in ids if not banks.correct_for(qid)]
    if lacking:
        raise CourseError(f"{course.spec.folder / 'banks'}: CORRECT has no answer to {', '.join(lacking)}; "
                          "the demo's students start from one")


def _pick(banks: Banks, number: int, rng: random.Random) -> tuple[str, str]:
    slot = number % 12
    if slot in (1, 2, 3, 4) or (slot in (5, 6, 7, 8, 9, 10) and not banks.wrong):
        return "correct", ("reference style" if slot % 2 else "alternate style")
    if slot in (5, 6, 7, 8, 9):
        return "one mistake", rng.choice(banks.wrong).name
    if slot == 10:
        return "several mistakes", ", ".join(a.name for a in _distinct_questions(banks, rng, 3))
    if slot == 11:
        return "blank", "handed in the release unchanged"
    return "broken file", rng.choice(_broken_files(banks)).name


def _broken_files(banks: Banks) -> tuple[BrokenFile, ...]:
    return banks.broken or (TRUNCATED,)


def student_notebook(banks: Banks, ids: list[str], release, release_bytes: bytes,
                     student: SimulatedStudent, rng: random.Random):
    """The notebook (or raw bytes, for a broken file) this student hands in."""
    everything_passes = {qid: True for qid in ids}
    if student.kind == "blank":
        student.expected_pass = {qid: False for qid in ids}
        return release
    if student.kind == "broken file":
        student.expected_pass = {}
        broken = next(b for b in _broken_files(banks) if b.name == student.description)
        return broken.build(release_bytes)
    answers = _correct_answers(banks, ids, student.description == "alternate style")
    mistakes = _mistakes(banks, student)
    answers.update({a.question: a.source for a in mistakes})
    student.expected_pass = {**everything_passes, **{a.question: False for a in mistakes}}
    nb = with_answers(release, answers)
    if student.kind == "correct":
        nb.cells.append(nbformat.v4.new_code_cell(rng.choice(HONEST_EXTRAS)))
    return nb


def _correct_answers(banks: Banks, ids: list[str], alternate: bool) -> dict[str, str]:
    answers = {}
    for qid in ids:
        styles = banks.correct_for(qid)
        answers[qid] = (styles[-1] if alternate else styles[0]).source
    answers.update({a.question: a.source for a in banks.manual})
    return answers


def _mistakes(banks: Banks, student: SimulatedStudent) -> list:
    if student.kind not in ("one mistake", "several mistakes"):
        return []
    names = student.description.split(", ")
    return [a for a in banks.wrong if a.name in names]


def _distinct_questions(banks: Banks, rng: random.Random, count: int) -> list:
    chosen, seen = [], set()
    for answer in rng.sample(list(banks.wrong), len(banks.wrong)):
        if answer.question not in seen:
            chosen.append(answer)
            seen.add(answer.question)
        if len(chosen) == count:
            break
    return chosen
