"""A question's checks as parts: each part earns its points (see `.points`), visible cases first."""

from __future__ import annotations

import random
import sysconfig
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import torch

from .compare import collecting_notes, not_defined
from .messages import CHECK_RAISED, failure, headline_of
from .points import Part, part_points, parts_of
from .subject import ProbeFailed, Subject
from .values import Missing

__all__ = ["Part", "PartResult", "Verdict", "STATUSES", "CHECK_RAISED", "parts_of", "part_points", "run_question"]

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
    crash: str = ""  # for the TA, when the check itself raised: what, and at which line of which check


@dataclass(frozen=True)
class Verdict:
    """How one question went: a status of STATUSES, messages for the student, and its parts."""

    status: str
    messages: list[str] = field(default_factory=list)
    parts: tuple[PartResult, ...] = ()

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def crashes(self) -> tuple[str, ...]:
        """For the TA: each part whose check raised something other than its own failure, and where."""
        return tuple(p.crash for p in self.parts if p.crash)

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
    Nothing a check does escapes: every outcome is a Verdict. After a part passes, a subject
    with `between_parts` is told before the next part's first probe.
    """
    with collecting_notes() as notes, torch.enable_grad():
        missing: list[str] = []
        lookup = _attempt(qid, lambda: missing.extend(n for n in answers if isinstance(subject.get(n), Missing)))
        if lookup is not None:
            return Verdict(lookup[0], [lookup[1]])
        if missing:
            return Verdict("missing", [_missing_message(qid, missing)])
        results = []
        for part in parts_of(visible):
            if results and results[-1].status == "passed":
                _attempt(qid, getattr(subject, "between_parts", _nothing))
            results.append(_run_part(qid, part, visible, hidden, subject, rng, notes))
    failed = [r for r in results if r.status != "passed"]
    if not failed:
        return Verdict("passed", list(notes), tuple(results))
    # parts that failed for one reason (an answer of the wrong type, one slip seen in float32 and
    # float64) say it once: one message per headline
    said: dict[str, str] = {}
    for result in failed:
        said.setdefault(headline_of(result.message), result.message)
    return Verdict(failed[0].status, list(said.values()), tuple(results))


def _nothing() -> None:
    return None


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

    crashed: list[str] = []
    failure = _attempt(qid, check, crashed)
    if failure is None:
        return PartResult(part.name, part.title, part.weight, "passed", points=part.points)
    del notes[shown:]
    crash = f"{CHECK_RAISED} in {qid} part {part.title!r}: {crashed[0]}" if crashed else ""
    return PartResult(part.name, part.title, part.weight, *failure, points=part.points, crash=crash)


def _attempt(qid: str, thunk, crashed: list[str] | None = None) -> tuple[str, str] | None:
    """None when `thunk` ran through; else (status, message for the student), whatever it raised.

    A check that raised anything but its own failure is described for the TA in `crashed`."""
    try:
        thunk()
    except AssertionError as exc:
        return "failed", str(exc) or f"{qid}: a check failed."
    except ProbeFailed as exc:
        status = exc.status if exc.status in ("error", "timeout") else "error"
        return status, failure(f"{qid}: the check could not finish ({status}).", f"{qid}: {exc.message}")
    except Exception as exc:  # a check that breaks must not leak its internals to a student
        if crashed is not None:
            crashed.append(_where(exc))
        return "error", (f"{qid}: the grader could not check this ({type(exc).__name__}); "
                         "a TA sees the details.")
    return None


# this runtime, Python's library and installed packages (torch): lines that are not the assignment's
_NOT_THE_ASSIGNMENTS = tuple({Path(__file__).resolve().parent, Path(sysconfig.get_paths()["stdlib"]).resolve(),
                              Path(sysconfig.get_paths()["purelib"]).resolve(),
                              Path(sysconfig.get_paths()["platlib"]).resolve()})


def _where(exc: Exception) -> str:
    """What a check raised, and the deepest line of the assignment's own code it passed through
    (a checks/ or hidden/ module, else the deepest line): `checks/q.py:12 in visible`."""
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if not any(Path(f.filename).resolve().is_relative_to(p) for p in _NOT_THE_ASSIGNMENTS)]
    frame = (own or frames or [None])[-1]
    said = f"{type(exc).__name__}: {str(exc)[:200]}"
    if frame is None:
        return said
    path = Path(frame.filename)
    return f"{said} at {path.parent.name}/{path.name}:{frame.lineno} in {frame.name}"


def _missing_message(qid: str, names: list[str]) -> str:
    if len(names) == 1:
        return not_defined(names[0])
    return failure(f"{qid}: {len(names)} answers are not defined: write them in the answer cell above.",
                   f"{', '.join(names)} are not defined in this notebook's kernel. Define them in the answer "
                   "cell of this question (above this test), keep the names exactly as given, and run that cell.")
