"""A class's grades for its feedback, read from the gradebook for the whole class instead of a few queries per cell.

nbgrader's GetGrades opens the gradebook for each student and looks up every grade and comment
one by one; `grader feedback` reads the same values for the whole class at once and hands each
page its student's share (RecordedGrades), so the pages say what GetGrades would have put there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nbconvert.preprocessors import Preprocessor
from nbgrader import utils as nbutils
from traitlets import Bool

__all__ = ["NotebookGrades", "read_class_grades", "RecordedGrades", "RECORDED"]

RECORDED = "recorded"  # resources["nbgrader"][RECORDED]: the student's NotebookGrades


@dataclass
class NotebookGrades:
    """One student's submitted notebook as the gradebook holds it."""

    score: float
    max_score: float
    late_penalty: float
    grades: dict[str, tuple] = field(default_factory=dict)  # cell name -> (score, max_score, awaiting a TA)
    comments: dict[str, str | None] = field(default_factory=dict)  # cell name -> comment


def read_class_grades(db_url: str, course_id: str, assignment: str) -> dict[str, NotebookGrades]:
    """{student: NotebookGrades} for every submission of the assignment (one notebook each), from
    the class's gradebook rows as export and the report read them."""
    from nbgrader.api import Gradebook

    from grader.report.gradebook_rows import submission_rows

    with Gradebook(db_url, course_id) as gb:
        rows = submission_rows(gb, assignment)
    return {row.student: NotebookGrades(
        row.score, row.max_score, row.late_penalty,
        {name: (g.score, g.max_score, g.needs_manual_grade and g.manual_score is None) for name, g in row.grades.items()},
        # nbgrader's Comment.comment: the TA's comment when there is one, else the autograder's
        {name: c.manual_comment if c.manual_comment is not None else c.auto_comment for name, c in row.comments.items()})
        for row in rows}


class RecordedGrades(Preprocessor):
    """nbgrader's GetGrades (with the kit's mark of a hand-graded answer a TA has not scored),
    from grades read beforehand: resources["nbgrader"][RECORDED]."""

    enabled = Bool(True)

    def preprocess(self, nb, resources):
        self.recorded: NotebookGrades = resources["nbgrader"][RECORDED]
        nb, resources = super().preprocess(nb, resources)
        info = resources["nbgrader"]
        info["score"] = self.recorded.score - self.recorded.late_penalty
        info["max_score"] = self.recorded.max_score
        info["late_penalty"] = self.recorded.late_penalty
        return nb, resources

    def preprocess_cell(self, cell, resources, index):
        name = cell.metadata.get("nbgrader", {}).get("grade_id")
        if nbutils.is_solution(cell) or nbutils.is_task(cell):
            cell.metadata.nbgrader["comment"] = self.recorded.comments[name]
        if nbutils.is_grade(cell) or nbutils.is_task(cell):
            score, points, awaiting = self.recorded.grades[name]
            cell.metadata.nbgrader.update(score=score, points=points, awaiting_hand_grading=awaiting)
        return cell, resources
