"""Text a submission controls, made safe to store (valid UTF-8) and to show on a terminal."""

from __future__ import annotations

import re

__all__ = ["first_line", "storable", "printable", "storable_tree"]

# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional marks, embeddings,
# overrides and isolates that reorder what a terminal or an editor shows.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_LINE_CONTROLS = re.compile("[\t\n]")


def storable(text: str) -> str:
    """`text` with lone surrogates (from a lone `\\ud83d` escape or an undecodable file name
    byte) replaced, so it encodes as UTF-8 wherever it is written."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def storable_tree(value):
    """A JSON-like value with every string made storable (dict keys included)."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable_tree(k): storable_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(storable_tree(v) for v in value)
    return value


def printable(text: str, *, multiline: bool = False) -> str:
    """`text` with every terminal control code, bidi override and lone surrogate shown as an
    escape (`\\x1b`, `\\r`, `\\u202e`), so what a TA reads is what the text holds."""
    text = _CONTROLS.sub(_escape, storable(str(text)))
    return text if multiline else _LINE_CONTROLS.sub(_escape, text)


def _escape(match: re.Match) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def first_line(exc: BaseException) -> str:
    """An exception's message in one printable line; its type's name when it has none."""
    lines = str(exc).strip().splitlines()
    return printable(lines[0]) if lines else type(exc).__name__
