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


# ---------------------------------------------------------------- a class through nbgrader's own command


def nbgrader_autograde(course, *args: str) -> str:
    """`nbgrader autograde <assignment> ARGS` as a TA types it in the course directory; its log."""
    import os
    import subprocess
    import sys

    bin_dir = os.path.dirname(sys.executable)  # nbgrader, and the `alembic` it runs
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    done = subprocess.run([os.path.join(bin_dir, "nbgrader"), "autograde", course.assignment, *args],
                          cwd=course.root, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def gradebook_state(course) -> dict:
    """Every row autograde writes, per student: grades, comments, submission time, late penalty."""
    with Gradebook(course.db_url, course.course_id) as gb:
        return {
            s.student.id: {
                "timestamp": s.timestamp,
                "penalty": [n.late_submission_penalty for n in s.notebooks],
                "grades": {g.name: (g.auto_score, g.manual_score, g.needs_manual_grade)
                           for n in s.notebooks for g in n.grades},
                "comments": {c.name: c.auto_comment for n in s.notebooks for c in n.comments},
            }
            for s in gb.find_assignment(course.assignment).submissions
        }


def graded_ahead(log: str) -> list[str]:
    """The kit's log lines that say which submissions it grades ahead of nbgrader."""
    return [line for line in log.splitlines() if "ahead of nbgrader" in line]


@pytest.mark.slow(90)
def test_nbgrader_autograde_of_a_class_records_what_grader_autograde_records(course, release_nb, tmp_path):
    """Does `nbgrader autograde derivatives` over a class, its submissions graded ahead by the kit's
    judges in parallel, leave every grade, comment, submission time and late penalty as
    `grader autograde` leaves them, for honest, wrong, unreadable, gradebook-writing and late work?"""
    import datetime
    import shutil

    from grader.course import Course

    write_submission(course.root, "honest", solved(release_nb))
    write_submission(course.root, "wrong", with_answers(
        solved(release_nb), {"grad_at": "def grad_at(f, x0):\n    return torch.tensor(float(x0))\n"}))
    write_submission(course.root, "broken", b'{"cells": [')
    write_submission(course.root, "writer", with_extra_cell(solved(release_nb), GRADEBOOK_WRITE))
    with open(course.root / "nbgrader_config.py", "a") as config:  # late work costs all its points
        config.write('\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
    with Gradebook(course.db_url, course.course_id) as gb:  # everyone is late but honest, given a day more
        gb.update_or_create_assignment(course.assignment,
                                       duedate=datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(hours=1))
        gb.update_or_create_student("honest")
        gb.update_or_create_submission(course.assignment, "honest")
        gb.grant_extension(course.assignment, "honest", days=1)
    twin = Course.at(shutil.copytree(course.root, tmp_path / "twin"))

    autograde(twin, jobs=2, show_progress=False)
    log = nbgrader_autograde(course)

    assert graded_ahead(log) and "Grading 4 submissions (broken to wrong)" in graded_ahead(log)[0], log[-3000:]
    state = gradebook_state(course)
    assert state == gradebook_state(twin)
    assert set(state) == {"honest", "wrong", "broken", "writer"}
    assert state["honest"]["penalty"] == [None] and state["wrong"]["penalty"][0] > 0
    assert state["honest"]["grades"]["test_grad_at"][0] == 2 and state["wrong"]["grades"]["test_grad_at"][0] == 0
    assert all(auto == 0 for name, (auto, _, _) in state["broken"]["grades"].items() if name.startswith("test_"))
    assert read_status(course, "broken")["status"] == "unreadable"


@pytest.mark.slow(90)
def test_nbgrader_autograde_grades_only_the_submissions_it_converts(course, release_nb):
    """Does `nbgrader autograde --student bob` grade bob alone, a later run without --force grade only
    the submission that arrived since, and only a run that converts several grade them ahead?"""
    for student in ("alice", "bob", "carol"):
        write_submission(course.root, student, solved(release_nb))

    log = nbgrader_autograde(course, "--student", "bob")
    assert "Grading bob with the kit's judge" in log and not graded_ahead(log), log[-3000:]
    assert set(grades(course)) == {"bob"}

    log = nbgrader_autograde(course)  # bob's is autograded already: alice and carol are converted
    assert graded_ahead(log) == [line for line in log.splitlines() if "Grading 2 submissions (alice to carol)" in line]
    assert set(grades(course)) == {"alice", "bob", "carol"}

    write_submission(course.root, "dave", solved(release_nb))
    log = nbgrader_autograde(course)
    assert "Grading dave with the kit's judge" in log and not graded_ahead(log), log[-3000:]
    assert "Skipping existing assignment" in log and set(grades(course)) == {"alice", "bob", "carol", "dave"}


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
