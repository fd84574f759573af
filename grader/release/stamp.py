"""What a release notebook records about itself: its assignment, a digest of what grades it, and one of its source.

`grading` changes when anything that decides an autograded score changes: a question's id,
points or answer names, a test cell, the notebook's import cell, a visible or hidden check
module, the solution of a question compared with it, or the kit's check runtime. A verdict recorded under another `grading` digest (the
autograded notebook is built from the release, stamp included) is stale. `notebook` is a
digest of the source notebook's bytes: while it holds (and the course's nbgrader settings
stay), nbgrader would write the same release notebook again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from grader.intake.timestamps import RELEASED_KEY, parse_timestamp, release_stamp, released_at
from grader.ipynb import read_ipynb

__all__ = ["STAMP", "FIRST_RELEASES", "grading_digest", "notebook_digest", "stamp_of", "stamp_for",
           "first_release", "stamp_with_release"]

STAMP = "grader"  # the notebook metadata key
# When each assignment was first released, kept by the course machine: nbgrader's gradebook has no
# release time, and a forced generate_assignment removes the release before the kit's step runs.
FIRST_RELEASES = Path(".grader") / "released.json"
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
            if assignment.compared(meta["grade_id"]):  # its solution is the reference
                facts.append(cell.source)
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


def stamp_with_release(course, previous: Path | None = None) -> dict:
    """The stamp a release carries, with the assignment's first release time (see first_release)."""
    return {**stamp_for(course), RELEASED_KEY: first_release(course, previous)}


def first_release(course, previous: Path | None = None) -> str:
    """When the assignment was first released, as timestamp text: the earliest of the course's
    record, the time the release notebook at `previous` recorded, and now; kept in the record for
    the next release. A re-release never moves it later, so an honest submission handed in
    before a re-release is never taken for one made before the release."""
    record = Path(course.root) / FIRST_RELEASES
    known = _recorded(record)
    times = [t for t in (_parsed(known.get(course.assignment)), _released_by(previous)) if t is not None]
    text = release_stamp(min(times) if times else None)
    if known.get(course.assignment) != text:
        record.parent.mkdir(mode=0o700, exist_ok=True)
        temporary = record.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps({**known, course.assignment: text}, indent=1, sort_keys=True))
        temporary.replace(record)
    return text


def _recorded(record: Path) -> dict:
    try:
        known = json.loads(record.read_text())
    except (OSError, ValueError):
        return {}
    return known if isinstance(known, dict) else {}


def _parsed(text):
    try:
        return parse_timestamp(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _released_by(notebook: Path | None):
    try:
        return released_at(read_ipynb(notebook).get("metadata") or {}) if notebook is not None else None
    except (OSError, ValueError, AttributeError):
        return None
