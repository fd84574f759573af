"""Bounds on the judge's own work on submitted text, checked before any of it is transformed."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MAX_CELL_CHARS", "MAX_CODE_CHARS", "MAX_CELL_TRANSFORM_COST", "MAX_TRANSFORM_COST", "transform_cost",
           "transform_refusals"]

# The judge transforms, scans and parses every code cell it runs, at about 5 us a character
# (IPython's tokeniser is most of it), and a cell's tree takes about 300 bytes a character:
# a 20 MB notebook of code took three minutes and 4 GB of the judge's memory. An answer cell
# is a few thousand characters; these bounds keep a notebook's scan near a second.
MAX_CELL_CHARS = 50_000
MAX_CODE_CHARS = 200_000

# IPython's cell transformer retokenises the whole cell once per magic, shell or help line it
# rewrites, so its work grows as (such lines + 1) x lines: one cell of 8,000 `%a` lines took
# two minutes. Measured at about 12 us a unit: a cell may cost 0.25 s, a notebook 1 s.
MAX_CELL_TRANSFORM_COST = 20_000
MAX_TRANSFORM_COST = 80_000
# The lines IPython's token transforms rewrite: escaped commands (`%a`, `!ls`, `?x`, autocall
# `/f`), magic and shell assignments (`x = %a`, `x = !ls`) and trailing help (`x?`).
_TRANSFORMED_LINE = re.compile(r"^\s*[%!?/;,]|=\s*[%!]|\?\s*(#.*)?$", re.MULTILINE)


# Where str.splitlines ends a line, as IPython's transformer splits a cell: "\r", "\f" or "\u2028"
# end a line for it as "\n" does (a cell of 16,000 `%a\r` lines held the judge for minutes).
_LINE_BREAK = re.compile("\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def transform_cost(source: str) -> int:
    """The transformer's work on `source`, in line tokenisations."""
    source = _LINE_BREAK.sub("\n", source)
    return (len(_TRANSFORMED_LINE.findall(source)) + 1) * (source.count("\n") + 1)


def _lines(source: str) -> int:
    return len(_LINE_BREAK.sub("\n", source).split("\n"))


def transform_refusals(cells: Iterable) -> dict[int, str]:
    """{cell index: reason} for code cells the judge will not transform (nor so run): a cell over
    its own size or cost cap, and every cell once the notebook's size or cost is spent."""
    refused, total, chars = {}, 0, 0
    for cell in cells:
        size = len(cell.source)
        if size > MAX_CELL_CHARS:
            refused[cell.index] = (f"cell {cell.index} was not run: its {size:,} characters are over the limit "
                                   f"of {MAX_CELL_CHARS:,} for a cell")
            continue
        if chars + size > MAX_CODE_CHARS:
            refused[cell.index] = (f"cell {cell.index} was not run: the notebook's code is over the limit of "
                                   f"{MAX_CODE_CHARS:,} characters for one submission")
            continue
        chars += size
        cost = transform_cost(cell.source)
        if cost > MAX_CELL_TRANSFORM_COST:
            refused[cell.index] = (f"cell {cell.index} was not run: its IPython magic, shell and help lines "
                                   f"are over the limit for a cell of {_lines(cell.source)} lines")
        elif total + cost > MAX_TRANSFORM_COST:
            refused[cell.index] = (f"cell {cell.index} was not run: the notebook's IPython magic, shell and help "
                                   "lines are over the limit for one submission")
        else:
            total += cost
    return refused
