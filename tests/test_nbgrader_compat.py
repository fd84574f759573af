"""Stock `nbgrader autograde` and the kit agree on honest submissions, question by question."""

from __future__ import annotations

import pytest
from nbgrader.api import Gradebook
from sample import AUTOGRADED, CORRECT, solved, with_answers, write_submission

from grader.judge.batch import autograde


def per_question(course, student: str) -> dict[str, float]:
    with Gradebook(course.db_url, course.course_id) as gb:
        return {q.id: gb.find_grade(f"test_{q.id}", course.notebook, course.assignment, student).score for q in AUTOGRADED}


@pytest.mark.slow
def test_stock_nbgrader_gives_the_kit_scores_for_honest_submissions(course, release_nb):
    """Does nbgrader's own autograde, run by hand on the course, score honest styles as the kit does?"""
    from nbgrader.apps import NbGraderAPI

    reference = solved(release_nb)
    alternate = solved(release_nb, style="alternate")
    chatty = with_answers(reference, {a.question: a.source for a in CORRECT if "chatty" in a.name or "warns" in a.name})
    one_wrong = with_answers(reference, {"grad_at": "def grad_at(f, x0):\n    return torch.tensor(float(x0))\n"})
    cases = {"ref": reference, "alt": alternate, "chatty": chatty, "wrong": one_wrong}
    for student, nb in cases.items():
        write_submission(course.root, student, nb)
    kit = {student: per_question(course, student) for student in [r.student for r in autograde(course, jobs=1, show_progress=False)]}
    api = NbGraderAPI(coursedir=course.coursedir)
    for student in cases:
        outcome = api.autograde(course.assignment, student, force=True, create=True)
        assert outcome["success"], outcome.get("error") or outcome.get("log")
        assert per_question(course, student) == kit[student], f"{student}: stock nbgrader and the kit disagree"
    assert kit["wrong"]["grad_at"] == 0 and kit["ref"]["grad_at"] == 2
