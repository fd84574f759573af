"""What a release notebook records about itself: its assignment, a digest of what grades it, and one of its source.

`grading` changes when anything that decides an autograded score changes: a question's id,
points or answer names, a test cell, the notebook's import cell, a visible or hidden check
module, or the kit's check runtime. A verdict recorded under another `grading` digest (the
autograded notebook is built from the release, stamp included) is stale. `notebook` is a
digest of the source notebook's bytes: while it holds (and the course's nbgrader settings
stay), nbgrader would write the same release notebook again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from grader.ipynb import read_ipynb

__all__ = ["STAMP", "grading_digest", "notebook_digest", "stamp_of", "stamp_for"]

STAMP = "grader"  # the notebook metadata key
RUNTIME = Path(__file__).resolve().parents[1] / "runtime"  # the engine's student-safe check runtime


def grading_digest(assignment) -> str:
    """A short digest of everything that decides an autograded score of `assignment` (see above)."""
    digest = hashlib.sha256()
    digest.update(json.dumps(_graded_facts(assignment), sort_keys=True).encode())
    for folder in (assignment.folder / "checks", assignment.folder / "hidden", RUNTIME):
        for path in sorted(folder.rglob("*.py")):
            if "__pycache__" not in path.parts:
                digest.update(f"{path.relative_to(folder.parent)}\0".encode() + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _graded_facts(assignment) -> list:
    """The import cell's source; each autograded question's answer cell metadata (its id and
    answer names, not the solution) and test cell (its points and source)."""
    nb = read_ipynb(assignment.notebook_path)
    answers = {q.id for q in assignment.autograded}
    tests = {q.test_cell_id for q in assignment.autograded}
    facts: list = [assignment.setup]
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader") or {}
        if meta.get("grade_id") in answers:
            facts.append([meta, cell.metadata.get("grader")])
        elif meta.get("grade_id") in tests:
            facts.append([meta, cell.source])
    return facts


def notebook_digest(course) -> str:
    """A short digest of the source notebook's bytes."""
    return hashlib.sha256(course.source_notebook().read_bytes()).hexdigest()[:16]


def stamp_for(course) -> dict:
    """The stamp a release of `course`'s assignment carries."""
    return {"assignment": course.assignment, "grading": grading_digest(course.spec),
            "notebook": notebook_digest(course)}


def stamp_of(nb) -> dict:
    """A notebook's stamp ({} when it has none)."""
    stamp = nb.get("metadata", {}).get(STAMP)
    return stamp if isinstance(stamp, dict) else {}
