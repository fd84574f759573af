"""The instructor's notebooks read as plain JSON, with nbformat's attribute access.

Importing nbformat validates with jsonschema, whose format checkers cost about 0.8 s at
every start-up; the kit reads its own trusted notebooks (source/ and release/) many times
where that start-up is all a command waits for. Submitted notebooks go through
`grader.intake.notebook`, which bounds every read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

__all__ = ["Node", "read_ipynb", "without_iri_format_checker"]


def without_iri_format_checker() -> None:
    """Keep jsonschema's IRI format checker out of this process (the kit's own commands and judges).

    Importing it (through rfc3987_syntax, when installed) compiles 38 grammars: 0.8 s for a
    command that loads nbgrader, and for a judge the first time it upgrades an old (v3)
    notebook with nbformat. No schema that nbgrader or nbformat validates uses a format, and
    jsonschema does without a checker whose module cannot be imported.
    """
    sys.modules.setdefault("rfc3987_syntax", None)  # `import rfc3987_syntax` fails; jsonschema skips it


class Node(dict):
    """A notebook, cell or metadata dictionary whose keys also read as attributes."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def read_ipynb(path: str | Path) -> Node:
    """A notebook file's JSON; each cell's `source` joined into one string, as nbformat gives it."""
    with open(path, encoding="utf-8") as file:
        nb = json.load(file, object_hook=Node)
    if not isinstance(nb, Node) or not isinstance(nb.get("cells"), list):
        raise ValueError("not a notebook (no list of cells)")
    for cell in nb.cells:
        if not isinstance(cell, Node):
            raise ValueError("not a notebook (a cell is not an object)")
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
        cell.setdefault("source", "")
        cell.setdefault("metadata", Node())
    return nb
