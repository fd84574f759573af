"""Every autograde path is the kit's: `nbgrader autograde` (and formgrader's button, the same app) grades through the kit's judge."""

from __future__ import annotations

import pytest
from nbgrader.api import Gradebook
from sample import (
    AUTOGRADED,
    AUTOGRADED_POINTS,
    solved,
    with_answers,
    with_extra_cell,
    write_submission,
)

from grader.judge.batch import autograde
from grader.judge.nbgrader_preprocessor import close_graders
from grader.report.export import read_status

GRADEBOOK_WRITE = """
import sqlite3
con = sqlite3.connect("../../../gradebook.db")
con.execute("UPDATE grade SET auto_score = 18000, manual_score = 18000")
con.commit()
print("gradebook written")
"""


def grades(course) -> dict[str, dict[str, float]]:
    """{student: {grade cell: score}} for every submission in the gradebook."""
    with Gradebook(course.db_url, course.course_id) as gb:
        return {
            submission.student.id: {g.name: g.score for n in submission.notebooks for g in n.grades}
            for submission in gb.find_assignment(course.assignment).submissions
        }


@pytest.fixture
def nbgrader_api(course):
    """NbGraderAPI configured from the course's nbgrader_config.py, as formgrader and the CLI are."""
    from nbgrader.apps import NbGraderAPI

    yield NbGraderAPI(coursedir=course.coursedir, config=course.coursedir.config)
    close_graders()


@pytest.mark.slow
def test_stock_nbgrader_autograde_grades_with_the_kit_and_cannot_touch_the_gradebook(course, release_nb, nbgrader_api):
    """Does `nbgrader autograde` give the kit's scores, with a gradebook-writing submission changing no one's grade?"""
    write_submission(course.root, "honest", solved(release_nb))
    write_submission(course.root, "wrong", with_answers(
        solved(release_nb), {"grad_at": "def grad_at(f, x0):\n    return torch.tensor(float(x0))\n"}))
    write_submission(course.root, "writer", with_extra_cell(solved(release_nb), GRADEBOOK_WRITE))
    autograde(course, jobs=1, show_progress=False)
    kit = grades(course)
    for student in ("honest", "wrong", "writer"):
        outcome = nbgrader_api.autograde(course.assignment, student, force=True, create=True)
        assert outcome["success"], outcome.get("error") or outcome.get("log")
    assert grades(course) == kit, "nbgrader's path and `grader autograde` disagree"
    assert max(s for student in kit.values() for s in student.values() if s is not None) <= max(
        q.points for q in AUTOGRADED)
    assert kit["wrong"]["test_grad_at"] == 0 and kit["honest"]["test_grad_at"] == 2
    assert read_status(course, "writer")["autograded_score"] == AUTOGRADED_POINTS
    assert read_status(course, "writer")["tamper"], "the gradebook write left no tamper evidence"


@pytest.mark.slow
def test_nbgrader_autograde_shows_the_kits_verdicts_in_the_autograded_notebook(course, release_nb, nbgrader_api):
    """Does the notebook nbgrader writes carry the kit's failure message as an error output of the test cell?"""
    import nbformat

    write_submission(course.root, "wrong", with_answers(
        solved(release_nb), {"grad_at": "def grad_at(f, x0):\n    return torch.tensor(float(x0))\n"}))
    outcome = nbgrader_api.autograde(course.assignment, "wrong", force=True, create=True)
    assert outcome["success"], outcome.get("error") or outcome.get("log")
    nb = nbformat.read(course.autograded_notebook("wrong"), as_version=4)
    [test] = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_grad_at"]
    [error] = [o for o in test.outputs if o.output_type == "error"]
    assert "grad_at" in error.evalue and error.evalue.startswith("[failed]")
    assert not any(c.get("execution_count") for c in nb.cells if c.cell_type == "code"), "a kernel ran the notebook"


@pytest.mark.slow
def test_nbgrader_autograde_of_an_unreadable_notebook_gives_the_kits_verdict(course, release_nb, nbgrader_api):
    """Does a submission nbgrader itself cannot read (not JSON) still reach the kit's judge
    through `nbgrader autograde`: graded as unreadable with 0, as `grader autograde` grades it,
    instead of nbgrader stopping with a traceback and no grades?"""
    write_submission(course.root, "honest", solved(release_nb))
    write_submission(course.root, "broken", b'{"cells": [')
    outcome = nbgrader_api.autograde(course.assignment, "broken", force=True, create=True)
    assert outcome["success"], outcome.get("error") or outcome.get("log")
    assert read_status(course, "broken")["status"] == "unreadable"
    scores = grades(course)["broken"]
    assert scores and all(score == 0 for name, score in scores.items() if name.startswith("test_")), scores
    autograde(course, jobs=1, show_progress=False)
    assert grades(course)["broken"] == scores


def _edited_test_cell(nb, grade_id: str):
    """A copy of nb whose locked test cell `grade_id` has one more line (a student's edit)."""
    import copy

    edited = copy.deepcopy(nb)
    [cell] = [c for c in edited.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    cell.source += "\nprint('edited')"
    return edited


@pytest.mark.slow(20)
def test_nbgrader_autograde_warns_of_an_edited_test_cell_and_of_no_untouched_one(course, release_nb):
    """Run as a TA runs it, does `nbgrader autograde` of a class print no checksum warning for
    notebooks whose test cells are as released (they lack only the hidden tests the release
    removed), while a test cell a student edited is still reported by name?"""
    import os
    import subprocess
    import sys

    for student in ("ada", "bo"):
        write_submission(course.root, student, solved(release_nb))
    write_submission(course.root, "cy", _edited_test_cell(solved(release_nb), "test_SQ"))
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ.get('PATH', '')}"}
    done = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", course.assignment], cwd=course.root,
                          capture_output=True, text=True, env=env, timeout=900)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    changed = [line for line in log.splitlines() if "has changed!" in line]
    assert len(changed) == 1 and "checksum" in changed[0] and "test_SQ" in changed[0], changed
    assert {student: scores["test_SQ"] for student, scores in grades(course).items()} == {"ada": 3, "bo": 3, "cy": 3}
