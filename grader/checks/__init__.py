"""Question checks: the registry, running one question into a Verdict, and the grading-time rng."""

import hashlib
import hmac
import importlib
import json
import random
import traceback
from dataclasses import dataclass, field
from types import ModuleType

import torch

from grader.checks.common import collecting_notes
from grader.questions import AUTOGRADED, question
from grader.runtime.subject import ProbeFailed, Subject
from grader.runtime.values import Missing

if not __debug__:
    raise RuntimeError("grader.checks relies on assert statements: do not run it under python -O")

__all__ = ["Verdict", "STATUSES", "CHECKS", "check_module", "run_question", "seed_rng"]

STATUSES = ("passed", "failed", "error", "timeout", "missing")
CHECKS: tuple[str, ...] = tuple(q.id for q in AUTOGRADED)


@dataclass(frozen=True)
class Verdict:
    """How one question went: a status of STATUSES and messages for the student."""

    status: str
    messages: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def check_module(qid: str) -> ModuleType:
    """The module `grader.checks.<qid>` with `visible(subject)` and `hidden(subject, rng)`."""
    if qid not in CHECKS:
        raise KeyError(f"no autograded question {qid!r}; known: {', '.join(CHECKS)}")
    return importlib.import_module(f"grader.checks.{qid}")


def seed_rng(secret: bytes, student: str, qid: str, submission: str = "") -> random.Random:
    """A grading-time rng: HMAC-SHA256 of (student, question) under a secret the worker never sees.

    `submission` (a digest of the submitted file) makes a resubmission draw fresh hidden
    inputs, so inputs read in one submission's feedback say nothing about the next one's,
    while a regrade of the same file draws the same.
    """
    fields = [student, qid, submission] if submission else [student, qid]
    message = json.dumps(fields).encode("utf-8")
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return random.Random(int.from_bytes(digest, "big"))


def run_question(qid: str, subject: Subject, rng: random.Random, *, hidden: bool = True) -> Verdict:
    """Run the visible (and hidden) checks of `qid`; never raises for anything a check does."""
    module = check_module(qid)
    # References need autograd even if a notebook switched grad mode off globally.
    with collecting_notes() as notes, torch.enable_grad():
        try:
            return _checked(qid, module, subject, rng, hidden, notes)
        except AssertionError as exc:
            return Verdict("failed", [str(exc) or f"{qid}: a check failed"])
        except ProbeFailed as exc:
            status = exc.status if exc.status in ("error", "timeout") else "error"
            return Verdict(status, [f"{qid}: {exc.message}"])
        except Exception:
            return Verdict("error", [f"{qid}: the grader hit an internal error\n"
                                     f"{traceback.format_exc(limit=8)}"])


def _checked(qid: str, module: ModuleType, subject: Subject, rng: random.Random, hidden: bool,
             notes: list[str]) -> Verdict:
    missing = [n for n in question(qid).names if isinstance(subject.get(n), Missing)]
    if missing:
        return Verdict("missing", [_missing_message(missing)])
    module.visible(subject)
    shown = list(notes)  # hidden cases stay out of a passing verdict's messages
    if hidden:
        module.hidden(subject, rng)
    return Verdict("passed", shown)


def _missing_message(names: list[str]) -> str:
    listed = ", ".join(names)
    return (f"{listed} {'is' if len(names) == 1 else 'are'} not defined: run the cell that "
            "defines your answer, and keep the name exactly as given.")
