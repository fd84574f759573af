"""A question's checks as parts: each part earns its points (see `.points`), visible cases first."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from types import ModuleType

import torch

from .compare import collecting_notes, not_defined
from .messages import failure, headline_of
from .points import Part, part_points, parts_of
from .subject import ProbeFailed, Subject
from .values import Missing

__all__ = ["Part", "PartResult", "Verdict", "STATUSES", "parts_of", "part_points", "run_question"]

STATUSES = ("passed", "failed", "error", "timeout", "missing")


@dataclass(frozen=True)
class PartResult:
    """How one part went."""

    name: str
    title: str
    weight: float
    status: str
    message: str = ""
    points: float | None = None  # as the part declares it


@dataclass(frozen=True)
class Verdict:
    """How one question went: a status of STATUSES, messages for the student, and its parts."""

    status: str
    messages: list[str] = field(default_factory=list)
    parts: tuple[PartResult, ...] = ()

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def part_points(self, points: float) -> tuple[float, ...]:
        """What each part is worth out of the question's `points` (`part_points`). A split the
        audit would refuse falls back to exact shares: grading never stops for it."""
        try:
            return part_points(self.parts, points)
        except ValueError:
            total = sum(p.weight for p in self.parts) or 1.0
            return tuple(round(points * p.weight / total, 4) for p in self.parts)

    def earned(self, points: float) -> float:
        """The points earned out of the question's `points`: all when it passed, else its passed parts'."""
        if self.passed:
            return float(points)
        return sum(worth for part, worth in zip(self.parts, self.part_points(points), strict=True)
                   if part.status == "passed")


def _function(module: ModuleType | None, part: Part, default: str):
    return getattr(module, part.name or default, None) if module is not None else None


def run_question(qid: str, answers: tuple[str, ...], visible: ModuleType, subject: Subject,
                 hidden: ModuleType | None = None, rng: random.Random | None = None) -> Verdict:
    """Run a question's parts: visible cases, then hidden ones when `hidden` is given.

    A part's visible functions take the subject; hidden ones take the subject and `rng`.
    Nothing a check does escapes: every outcome is a Verdict.
    """
    with collecting_notes() as notes, torch.enable_grad():
        missing: list[str] = []
        lookup = _attempt(qid, lambda: missing.extend(n for n in answers if isinstance(subject.get(n), Missing)))
        if lookup is not None:
            return Verdict(lookup[0], [lookup[1]])
        if missing:
            return Verdict("missing", [_missing_message(qid, missing)])
        results = [_run_part(qid, part, visible, hidden, subject, rng, notes)
                   for part in parts_of(visible)]
    failed = [r for r in results if r.status != "passed"]
    if not failed:
        return Verdict("passed", list(notes), tuple(results))
    # parts that failed for one reason (an answer of the wrong type, one slip seen in float32 and
    # float64) say it once: one message per headline
    said: dict[str, str] = {}
    for result in failed:
        said.setdefault(headline_of(result.message), result.message)
    return Verdict(failed[0].status, list(said.values()), tuple(results))


def _run_part(qid: str, part: Part, visible: ModuleType, hidden: ModuleType | None,
              subject: Subject, rng, notes: list[str]) -> PartResult:
    shown = len(notes)

    def check() -> None:
        run = _function(visible, part, "visible")
        if run is not None:
            run(subject)
        extra = _function(hidden, part, "hidden")
        if extra is not None:
            before = len(notes)
            extra(subject, rng)
            del notes[before:]  # hidden cases stay out of a passing verdict's messages

    failure = _attempt(qid, check)
    if failure is None:
        return PartResult(part.name, part.title, part.weight, "passed", points=part.points)
    del notes[shown:]
    return PartResult(part.name, part.title, part.weight, *failure, points=part.points)


def _attempt(qid: str, thunk) -> tuple[str, str] | None:
    """None when `thunk` ran through; else (status, message for the student), whatever it raised."""
    try:
        thunk()
    except AssertionError as exc:
        return "failed", str(exc) or f"{qid}: a check failed."
    except ProbeFailed as exc:
        status = exc.status if exc.status in ("error", "timeout") else "error"
        return status, failure(f"{qid}: the check could not finish ({status}).", f"{qid}: {exc.message}")
    except Exception as exc:  # a check that breaks must not leak its internals to a student
        return "error", (f"{qid}: the grader could not check this ({type(exc).__name__}); "
                         "a TA sees the details.")
    return None


def _missing_message(qid: str, names: list[str]) -> str:
    if len(names) == 1:
        return not_defined(names[0])
    return failure(f"{qid}: {len(names)} answers are not defined: write them in the answer cell above.",
                   f"{', '.join(names)} are not defined in this notebook's kernel. Define them in the answer "
                   "cell of this question (above this test), keep the names exactly as given, and run that cell.")
