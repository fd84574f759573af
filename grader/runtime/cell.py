"""What a notebook's test cell calls: a question's visible checks against the notebook's own names."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import warnings
from pathlib import Path

from .messages import HEADLINE, wrapped
from .messages import headline_of as headline
from .parts import Verdict, run_question
from .subject import LocalSubject

__all__ = ["CheckFailed", "failure_text", "headline", "notebook_check", "run_visible", "HEADLINE"]


class CheckFailed(AssertionError):
    """A failed visible check; Jupyter shows its message alone (the headline first), without the
    checks' own frames, in lines that `nbgrader validate` shows whole."""

    def _render_traceback_(self) -> list[str]:
        return wrapped(str(self))


def failure_text(messages: list[str], fallback: str) -> str:
    """What a failing test cell shows: the headline on its first line, then every message whole."""
    text = "\n".join(messages) or fallback
    first = headline(text)
    return text if first == text.splitlines()[0] else f"{first}\n{text}"


def run_visible(package: str, functions: dict, qid: str, namespace: dict) -> Verdict:
    """The visible checks of `qid` (module `<package>.<qid>`) against a notebook namespace."""
    module = _visible_module(package, qid)
    # nbgrader scores a cell 0 when it writes to stderr, so warnings and stray stderr go nowhere.
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        return run_question(qid, (), module, LocalSubject(namespace, functions))


def _visible_module(package: str, qid: str):
    """`<package>.<qid>`, or a compared question's checks from the cases the release shipped (`<qid>.json`)."""
    try:
        return importlib.import_module(f"{package}.{qid}")
    except ModuleNotFoundError as missing:
        shipped = Path(importlib.import_module(package).__file__).parent / f"{qid}.json"
        if missing.name != f"{package}.{qid}" or not shipped.is_file():
            raise
    from .compared import shipped_checks

    return shipped_checks(json.loads(shipped.read_text(encoding="utf-8")))


def notebook_check(package: str, functions: dict):
    """The `check(question, namespace)` a checks package gives its notebook's test cells."""

    def check(qid: str, namespace: dict) -> None:
        """Run the visible checks of `qid`: one `ok:` line per passing case, CheckFailed otherwise."""
        verdict = run_visible(package, functions, qid, namespace)
        if verdict.status != "passed":
            raise CheckFailed(failure_text(verdict.messages, f"{qid}: {verdict.status}")) from None
        for line in verdict.messages:
            print(f"ok: {line}")

    return check
