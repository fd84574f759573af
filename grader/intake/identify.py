"""Which of a course's assignments a notebook belongs to: its release stamp, else its answer cells."""

from __future__ import annotations

from pathlib import Path

from grader.assignment import Assignment, AssignmentError
from grader.course import CourseError, assignments_of
from grader.intake.notebook import Intake

__all__ = ["assignment_of"]


def assignment_of(intake: Intake, course_root: Path) -> str:
    """The assignment id for this notebook; CourseError (one line) when it belongs to none or several."""
    known = assignments_of(course_root)
    stamp = intake.metadata.get("grader")
    named = stamp.get("assignment") if isinstance(stamp, dict) else None
    if isinstance(named, str) and named in known:
        return named
    present = {c.grade_id for c in intake.cells if c.grade_id}
    overlap = {}
    for aid in known:
        try:
            ids = {q.id for q in Assignment.load(Path(course_root) / "source" / aid).questions}
        except AssignmentError:
            continue
        overlap[aid] = len(ids & present)
    best = max(overlap.values(), default=0)
    matches = [aid for aid, count in overlap.items() if count == best and count > 0]
    if len(matches) == 1:
        return matches[0]
    which = f"it matches {', '.join(matches)}" if matches else "its cells match none of them"
    raise CourseError(f"{intake.path.name}: cannot tell which assignment it belongs to ({which}; "
                      f"the course has {', '.join(known) or 'none'}); pass --assignment ID")
