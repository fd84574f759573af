"""A class's grades for its feedback, read from the gradebook in three queries instead of a few per cell.

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


def read_class_grades(db_url: str, course_id: str, assignment: str, notebook: str) -> dict[str, NotebookGrades]:
    """{student: NotebookGrades} for every submission of the notebook, from one gradebook session."""
    from nbgrader.api import (
        Assignment,
        BaseCell,
        Comment,
        Grade,
        Gradebook,
        Notebook,
        SubmittedAssignment,
        SubmittedNotebook,
    )

    with Gradebook(db_url, course_id) as gb:
        def of_notebook(query):
            return (query.join(SubmittedNotebook.notebook).join(Notebook.assignment)
                    .filter(Assignment.name == assignment, Notebook.name == notebook))

        notebooks = of_notebook(gb.db.query(
            SubmittedNotebook.id, SubmittedAssignment.student_id, SubmittedNotebook.score, SubmittedNotebook.max_score,
            SubmittedNotebook.late_submission_penalty).join(SubmittedNotebook.assignment)).all()
        by_id = {row[0]: (row[1], NotebookGrades(row[2], row[3], row[4] or 0)) for row in notebooks}
        grades = of_notebook(gb.db.query(Grade.notebook_id, BaseCell.name, Grade.score, Grade.max_score,
                                         Grade.needs_manual_grade, Grade.manual_score)
                             .join(Grade.cell).join(Grade.notebook)).all()
        for notebook_id, name, score, max_score, needs_manual, manual in grades:
            by_id[notebook_id][1].grades[name] = (score, max_score, bool(needs_manual and manual is None))
        comments = of_notebook(gb.db.query(Comment.notebook_id, BaseCell.name, Comment.comment)
                               .join(Comment.cell).join(Comment.notebook)).all()
        for notebook_id, name, comment in comments:
            by_id[notebook_id][1].comments[name] = comment
    return dict(by_id.values())


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
