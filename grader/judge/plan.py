"""What the judge trusts, read from the instructor's files and never from a submission."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from grader.assignment import Assignment
from grader.course import Course
from grader.intake.timestamps import released_at
from grader.ipynb import read_ipynb

__all__ = ["GradingPlan"]


@dataclass(frozen=True)
class GradingPlan:
    """The assignment, the ids of its answer cells, its test cells' sources, the course secret
    and when the assignment was first released (no honest submission is older)."""

    assignment: Assignment
    solution_ids: tuple[str, ...]
    test_sources: frozenset[str]
    secret: bytes
    released: datetime.datetime | None = None
    cell_timeout: float | None = None  # the course's limit for one cell (None: the kit's own)
    texts: frozenset[str] = frozenset()  # every cell's text in the source and release notebooks

    @property
    def notebook(self) -> str:
        return self.assignment.notebook

    @classmethod
    def for_course(cls, course: Course) -> "GradingPlan":
        assignment = course.spec
        notebooks = [read_ipynb(assignment.notebook_path)]
        released = None
        if course.release_notebook().is_file():
            notebooks.append(read_ipynb(course.release_notebook()))
            released = released_at(notebooks[-1].get("metadata") or {})
        ids = tuple(q.id for q in assignment.questions)
        tests = {c.source for nb in notebooks for c in nb.cells if _is_test_cell(c)}
        texts = frozenset(c.source for nb in notebooks for c in nb.cells)
        return cls(assignment, ids, frozenset(tests), course.secret(), released, course.cell_timeout, texts)


def _is_test_cell(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution") and cell.get("cell_type") == "code"
