"""Bounds on the judge's own work on submitted text, checked before any of it is transformed."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MAX_CELL_TRANSFORM_COST", "MAX_TRANSFORM_COST", "transform_cost", "transform_refusals"]

# IPython's cell transformer retokenises the whole cell once per magic, shell or help line it
# rewrites, so its work grows as (such lines + 1) x lines: one cell of 8,000 `%a` lines took
# two minutes. Measured at about 12 us a unit: a cell may cost 0.25 s, a notebook 1 s.
MAX_CELL_TRANSFORM_COST = 20_000
MAX_TRANSFORM_COST = 80_000
# The lines IPython's token transforms rewrite: escaped commands (`%a`, `!ls`, `?x`, autocall
# `/f`), magic and shell assignments (`x = %a`, `x = !ls`) and trailing help (`x?`).
_TRANSFORMED_LINE = re.compile(r"^\s*[%!?/;,]|=\s*[%!]|\?\s*(#.*)?$", re.MULTILINE)


def transform_cost(source: str) -> int:
    """The transformer's work on `source`, in line tokenisations."""
    return (len(_TRANSFORMED_LINE.findall(source)) + 1) * (source.count("\n") + 1)


def transform_refusals(cells: Iterable) -> dict[int, str]:
    """{cell index: reason} for code cells the judge will not transform (nor so run): a cell over
    its own cost cap, and every costly cell once the notebook's total is spent."""
    refused, total = {}, 0
    for cell in cells:
        cost = transform_cost(cell.source)
        if cost > MAX_CELL_TRANSFORM_COST:
            refused[cell.index] = (f"cell {cell.index} was not run: its IPython magic, shell and help lines "
                                   f"are over the limit for a cell of {cell.source.count(chr(10)) + 1} lines")
        elif total + cost > MAX_TRANSFORM_COST:
            refused[cell.index] = (f"cell {cell.index} was not run: the notebook's IPython magic, shell and help "
                                   "lines are over the limit for one submission")
        else:
            total += cost
    return refused
