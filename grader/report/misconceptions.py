"""Group the checks' failure messages by the misconception they name, whatever the values were."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from grader.runtime.messages import is_headline

__all__ = ["Misconception", "group_misconceptions", "misconception_key", "split_message", "clean_text"]

# Control characters and bidi overrides would let a value mislead the TA who reads it.
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w])")
_LEADING_CALL = re.compile(r"^[A-Za-z_][\w.]*\s*[(\[]")
_OPENERS, _CLOSERS = "([{", ")]}"
MESSAGE_CHARS = 2000
EXAMPLE_STUDENTS = 5


@dataclass
class Misconception:
    """Failures on one question that name the same misconception."""

    label: str
    key: str
    students: list[str] = field(default_factory=list)
    example: str = ""

    @property
    def count(self) -> int:
        return len(self.students)


def clean_text(text: str, limit: int = MESSAGE_CHARS) -> str:
    """Text safe to show a TA: no control codes or bidi overrides, bounded length."""
    text = _UNSAFE.sub("", str(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def group_misconceptions(failures: list[tuple[str, str]]) -> list[Misconception]:
    """[(student, message)] grouped by misconception_key, most common first, students sorted."""
    groups: dict[str, Misconception] = {}
    for student, message in sorted(failures):
        message = clean_text(message)
        key = misconception_key(message)
        if key not in groups:
            groups[key] = Misconception(label=key, key=key, example=message)
        groups[key].students.append(student)
    return sorted(groups.values(), key=lambda g: (-g.count, g.label))


def misconception_key(message: str) -> str:
    """The message without the case it was found on and with the observed values blanked.

    A message that leads with a headline (one sentence naming the answer and the cause, on a line
    of its own) is keyed by that headline, its values blanked: the details after it name the case.
    Otherwise a message reads "<case>: <what was seen>. <what it means>": the case (which call,
    which inputs) and the values seen vary from student to student, the words that name the
    mistake do not. The first sentence keeps its words with every number, quoted string and
    bracketed value replaced by an ellipsis; the sentences after it (the hint) are kept whole.
    """
    lines = clean_text(message).splitlines()
    if len(lines) > 1 and is_headline(lines[0]):
        return _blank_values(" ".join(lines[0].split()))
    first, rest = split_message(" ".join(clean_text(message).split()))
    return " ".join(part for part in (_blank_values(first), rest) if part)


def split_message(message: str) -> tuple[str, str]:
    """(the first sentence without its leading case, the sentences after it)."""
    colon, stop = _top_level_marks(message)
    end = stop + 1 if stop is not None else len(message)
    first, rest = message[:end], message[end:].strip()
    if colon is not None and colon < end and _LEADING_CALL.match(first):
        first = first[colon + 1:].strip()
    return first, rest


def _top_level_marks(text: str) -> tuple[int | None, int | None]:
    """Positions of the first ': ' and the first '. ' outside brackets and quotes."""
    depth, quote, colon = 0, None, None
    for i, char in enumerate(text):
        before = text[i - 1] if i else " "
        after = text[i + 1] if i + 1 < len(text) else " "
        if quote:
            quote = None if char == quote and not after.isalnum() else quote
        elif char in "'\"" and not before.isalnum():
            quote = char
        elif char in _OPENERS:
            depth += 1
        elif char in _CLOSERS:
            depth = max(depth - 1, 0)
        elif depth == 0 and char == ":" and after == " " and colon is None:
            colon = i
        elif depth == 0 and char == "." and after == " ":
            return colon, i
    return colon, None


def _blank_values(sentence: str) -> str:
    """The sentence with a leading call's arguments, quoted strings, brackets and numbers as '…'."""
    sentence = re.sub(r"(?<![\w])'[^']*'(?![\w])", "'…'", sentence)
    sentence = re.sub(r'"[^"]*"', '"…"', sentence)
    previous = None
    while previous != sentence:  # innermost brackets first, until none is left with content
        previous = sentence
        sentence = re.sub(r"\[[^\[\]]*[^\[\]…][^\[\]]*\]", "[…]", sentence)
    call = _LEADING_CALL.match(sentence)
    if call and call.group(0).endswith("("):
        sentence = sentence[: call.end()] + "…" + sentence[_matching_close(sentence, call.end() - 1):]
    return _NUMBER.sub("…", sentence)


def _matching_close(text: str, opening: int) -> int:
    depth = 0
    for i in range(opening, len(text)):
        depth += text[i] in _OPENERS
        depth -= text[i] in _CLOSERS
        if depth == 0:
            return i
    return len(text)
