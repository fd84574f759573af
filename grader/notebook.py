"""Entry points for the notebook's test cells: run a question's checks inside the student's kernel."""

import contextlib
import io
import os
import random
import warnings

from grader.checks import run_question, seed_rng
from grader.runtime.subject import LocalSubject

__all__ = ["check_visible", "check_hidden", "DEFAULT_SECRET"]

DEFAULT_SECRET = b"derivatives-notebook-default"


def _run(qid: str, namespace: dict, rng: random.Random, hidden: bool):
    # nbgrader scores a cell 0 when it writes to stderr, so warnings and stray stderr go nowhere.
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        return run_question(qid, LocalSubject(namespace), rng, hidden=hidden)


def _raise_unless_passed(qid: str, verdict) -> None:
    if verdict.status != "passed":
        raise AssertionError("\n".join(verdict.messages) or f"{qid}: {verdict.status}")


def check_visible(qid: str, namespace: dict) -> None:
    """Run the visible checks of `qid`; print one line per passing case, AssertionError otherwise."""
    verdict = _run(qid, namespace, random.Random(0), hidden=False)
    _raise_unless_passed(qid, verdict)
    for line in verdict.messages:
        print(f"ok: {line}")


def check_hidden(qid: str, namespace: dict) -> None:
    """Run visible and hidden checks with an rng seeded from GRADER_SECRET (or a default)."""
    secret = os.environ.get("GRADER_SECRET")
    key = secret.encode("utf-8") if secret else DEFAULT_SECRET
    verdict = _run(qid, namespace, seed_rng(key, os.environ.get("GRADER_STUDENT", ""), qid),
                   hidden=True)
    _raise_unless_passed(qid, verdict)
    print(f"ok: {qid} passed its hidden tests")
