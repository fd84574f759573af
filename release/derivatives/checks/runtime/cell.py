"""What a notebook's test cell calls: a question's visible checks against the notebook's own names."""

from __future__ import annotations

import contextlib
import importlib
import io
import warnings

from .parts import Verdict, run_question
from .subject import LocalSubject

__all__ = ["CheckFailed", "failure_text", "headline", "notebook_check", "run_visible"]

HEADLINE = 88  # `nbgrader validate` shows about this much of a failure's first line


class CheckFailed(AssertionError):
    """A failed visible check; Jupyter shows its message alone, without the checks' own frames."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {line}" if i == 0 else line
                for i, line in enumerate(str(self).splitlines())]


def headline(message: str, limit: int = HEADLINE) -> str:
    """The first line of a message, cut to its first sentence (or clause) when it is too long to be read whole."""
    first = message.splitlines()[0] if message else ""
    if len(first) <= limit:
        return first
    for end in (". ", "; ", ": "):
        cut = first.find(end, 20, limit)
        if cut > 0:
            return first[:cut + 1]
    return first[:limit - 1] + "…"


def failure_text(messages: list[str], fallback: str) -> str:
    """What a failing test cell shows: the essence on its first line, then every message whole."""
    text = "\n".join(messages) or fallback
    short = headline(text)
    return text if short == text.splitlines()[0] else f"{short}\n{text}"


def run_visible(package: str, functions: dict, qid: str, namespace: dict) -> Verdict:
    """The visible checks of `qid` (module `<package>.<qid>`) against a notebook namespace."""
    module = importlib.import_module(f"{package}.{qid}")
    # nbgrader scores a cell 0 when it writes to stderr, so warnings and stray stderr go nowhere.
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        return run_question(qid, (), module, LocalSubject(namespace, functions))


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
