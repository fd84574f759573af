"""How a failure reads: a one-sentence headline naming the answer and the cause, then the details."""

from __future__ import annotations

import re
import textwrap
from typing import NamedTuple

__all__ = ["Hint", "WIDTH", "HEADLINE", "CHECK_RAISED", "failure", "answer_name", "is_headline", "headline_of", "wrapped"]

# `nbgrader validate` prints each line of a failure indented by four spaces and cuts it past 87
# characters: a line of up to 83 is read whole there, and in a notebook's narrowest output too.
WIDTH = 83
HEADLINE = WIDTH
_NAME = re.compile(r"[A-Za-z_]\w*")
# how a note for the TA about a check that raised (not the check's own failure) begins: the audit looks for it
CHECK_RAISED = "a check raised"


class Hint(NamedTuple):
    """What a wrong answer likely misunderstood: `cause` in a few words (for the headline),
    `text` the idea behind it (for the details)."""

    cause: str
    text: str


def failure(headline: str, details: str = "") -> str:
    """A check's message: the headline, one sentence that names the answer and the cause, then the details."""
    return f"{headline}\n{details}" if details else headline


def answer_name(call: str) -> str:
    """The answer a case's text starts with: `SQ` of `SQ.apply(x) at x = 2`, `ATTRIBUTES` of `ATTRIBUTES['x']`."""
    match = _NAME.match(call)
    return match.group(0) if match else call


def is_headline(line: str) -> bool:
    """One whole sentence short enough to be read whole wherever a failure is shown."""
    line = line.strip()
    return 10 < len(line) <= HEADLINE and line.endswith((".", "?", "!")) and ". " not in line


def headline_of(message: str) -> str:
    """The message's own headline, or a whole sentence naming its answer when it has none."""
    first = message.splitlines()[0] if message else ""
    if is_headline(first):
        return first
    return f"{answer_name(first) or 'This question'}: a check failed; the details follow."


def wrapped(text: str) -> list[str]:
    """The text's lines broken between words at WIDTH characters (a longer word stays whole)."""
    lines = []
    for line in text.splitlines() or [""]:
        lines += textwrap.wrap(line, WIDTH, break_long_words=False, break_on_hyphens=False) or [""]
    return lines
