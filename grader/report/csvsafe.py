"""CSV files a spreadsheet opens without running anything in them (OWASP's CSV-injection rule).

A spreadsheet evaluates a cell that starts with `=`, `+`, `-` or `@` as a formula, and one
that starts with a tab or a carriage return can hide such a start; every text cell that
starts so gets a leading `'`, which spreadsheets show as text and never evaluate. The rule
is by type, not by look: a number the kit computed (a score, a penalty, hours late) is
written as a number, so a negative score stays the number -1, while a text cell that merely
looks like one (a student id "-1") is text and is neutralised.
"""

from __future__ import annotations

import csv
import io
import numbers
from pathlib import Path

__all__ = ["inert", "needs_neutralising", "write_csv", "FORMULA_STARTS"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def needs_neutralising(text: str) -> bool:
    """Would a spreadsheet evaluate (or hide the start of) this text cell?"""
    return text.startswith(FORMULA_STARTS)


def inert(value) -> str:
    """One CSV cell: a number as a number, None as empty, any text with a formula start prefixed by `'`."""
    if value is None:
        return ""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return f"{float(value):g}"
    text = str(value)
    return "'" + text if needs_neutralising(text) else text


def write_csv(path: Path, header: list, rows: list[list]) -> Path:
    """Write the header and rows, every cell through `inert`, as UTF-8 (the importers' encoding)."""
    from grader.record.gradebook import write_atomically

    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow([inert(cell) for cell in header])
    writer.writerows([inert(cell) for cell in row] for row in rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, buffer.getvalue().encode("utf-8"))
    return path
