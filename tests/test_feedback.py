"""`grader feedback` for a class: nbgrader's own pages at grading speed, each student on their own,
and a long answer that cannot stall the class's pages or formgrader's view."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import nbformat
import pytest
from nbgrader.api import Gradebook
from sample import KIT_ROOT, solved, with_answers, write_submission

from grader.course import Course
from grader.report.feedback import FeedbackError, generate_feedback

pytestmark = [pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")]
WRONG_GRAD_AT = "def grad_at(f, x0):\n    return torch.tensor(float(x0))\n"


@pytest.fixture(scope="module")
def small_class(released_course: Course, tmp_path_factory) -> Course:
    """alice (right, explain_bug scored by a TA), bob (a wrong grad_at), carol (right, late: the
    gradebook holds a penalty), autograded."""
    from grader.judge.batch import autograde

    root = tmp_path_factory.mktemp("feedback") / "course"
    shutil.copytree(released_course.root, root)
    course = Course.at(root)
    release = nbformat.read(course.release_notebook(), as_version=4)
    for student, nb in (("alice", solved(release)), ("bob", with_answers(solved(release), {"grad_at": WRONG_GRAD_AT})),
                        ("carol", solved(release))):
        write_submission(course.root, student, nb)
    autograde(course, jobs=1, show_progress=False)
    with Gradebook(course.db_url, course.course_id) as gb:
        gb.find_grade("explain_bug", course.notebook, course.assignment, "alice").manual_score = 1.0
        gb.find_submission_notebook(course.notebook, course.assignment, "carol").late_submission_penalty = 2.0
        gb.db.commit()
    return course


def _nbgrader(args: list[str], course: Course) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(KIT_ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course.root, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


def _folder(course: Course, student: str) -> dict[str, bytes]:
    folder = course.feedback_html(student).parent
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.mark.slow(40)
def test_grader_feedback_writes_the_pages_nbgrader_generate_feedback_writes(small_class, tmp_path):
    """Does `grader feedback` write, byte for byte, the folder `nbgrader generate_feedback --force`
    writes with the course config (the page and the files release_feedback reads beside it), with
    the kit's first line, "not graded yet" and the late penalty?"""
    paths = generate_feedback(small_class)
    assert paths == [small_class.feedback_html(s) for s in ("alice", "bob", "carol")]
    kit = {student: _folder(small_class, student) for student in ("alice", "bob", "carol")}
    shutil.rmtree(small_class.root / "feedback")
    _nbgrader(["generate_feedback", small_class.assignment, "--force"], small_class)
    stock = {student: _folder(small_class, student) for student in ("alice", "bob", "carol")}
    assert kit == stock
    pages = {student: files["derivatives.html"].decode() for student, files in kit.items()}
    assert "Total: 17 / 17" in pages["alice"] and "explain_bug 1/1" in pages["alice"]
    assert "Total: 14 / 17" in pages["bob"] and "explain_bug not graded yet (1 point)" in pages["bob"]
    assert "Total: 14 / 17" in pages["carol"] and "Late submission penalty (Score: -2.0)" in pages["carol"]
    assert all("timestamp.txt" in files for files in kit.values())


def test_one_broken_notebook_does_not_stop_the_class(small_class, monkeypatch):
    """When one student's autograded notebook is not a notebook, is every other page written and
    the student named, with the reason, in one error?"""
    broken = small_class.autograded_notebook("bob")
    saved = broken.read_bytes()
    broken.write_text("not a notebook")
    try:
        with pytest.raises(FeedbackError) as raised:
            generate_feedback(small_class, jobs=1)
    finally:
        broken.write_bytes(saved)
    message = str(raised.value)
    assert message.startswith("feedback written for 2 students; failed for 1: ") and "bob" in message
    assert "JSONDecodeError" in message and len(message.splitlines()) == 1


def test_a_handed_in_notebook_not_autograded_is_named(small_class, capsys):
    """When a student handed the assignment in but has no autograded notebook (never graded, or
    removed by a failed `nbgrader autograde`), does `grader feedback` name them in one line and
    say how to grade them, while every other page is written?"""
    from grader.cli import main

    write_submission(small_class.root, "dave", solved(nbformat.read(small_class.release_notebook(), as_version=4)))
    try:
        code = main(["--course", str(small_class.root), "feedback", "derivatives"])
    finally:
        shutil.rmtree(small_class.submission_folder("dave").parent)
    out, err = capsys.readouterr()
    assert code == 0 and "wrote feedback for 3 students" in out
    [line] = err.strip().splitlines()
    assert line == ("grader feedback: no page for 1 of the students who handed it in (no autograded notebook; "
                    "`grader autograde derivatives` grades them): dave")
    assert not small_class.feedback_html("dave").exists()


def test_the_gradebook_is_read_once_for_the_class(small_class, monkeypatch):
    """Is the gradebook opened once for the whole class, not once per student (nbgrader's GetGrades)?"""
    import nbgrader.api

    opened = []
    original = nbgrader.api.Gradebook.__init__
    monkeypatch.setattr(nbgrader.api.Gradebook, "__init__",
                        lambda self, *args, **kwargs: (opened.append(1), original(self, *args, **kwargs))[1])
    generate_feedback(small_class, jobs=1)
    assert len(opened) == 1


def _render_seconds(render, notebook) -> float:
    """The quicker of two renderings (a busy machine slows one, rarely both)."""
    best = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        render(notebook)
        best = min(best, time.perf_counter() - started)
    return best


@pytest.mark.slow(30)
def test_a_megabyte_answer_adds_little_to_feedback_and_the_grading_view(small_class):
    """With a 1 MB markdown answer of runs of `[` and `*_` (quadratic for nbconvert's renderer), do
    the feedback page and formgrader's view take no more than a second beyond a generous factor of
    the same page with a 1 MB answer of plain words, and does each page say how much of it it shows?"""
    from nbconvert import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config import Config

    from grader.report.feedback import feedback_exporter
    from grader.report.recorded_grades import RECORDED, read_class_grades

    release = nbformat.read(small_class.autograded_notebook("alice"), as_version=4)
    grades = read_class_grades(small_class.db_url, small_class.course_id, small_class.assignment)
    feedback = feedback_exporter(small_class)
    config = Config({"HTMLExporter": {"template_name": "formgrade", "extra_template_basedirs": [handlers.template_path]}})
    config.merge(small_class.coursedir.config)
    grading_view = HTMLExporter(config=config)

    def pages(answer: str) -> tuple:
        nb = with_answers(release, {"explain_bug": answer})
        resources = {"nbgrader": {"student": "alice", "assignment": small_class.assignment,
                                  "notebook": small_class.notebook, RECORDED: grades["alice"]}}
        view = {"assignment_id": "derivatives", "notebook_id": "derivatives", "submission_id": "x", "index": 0,
                "total": 1, "base_url": "", "student": "alice", "last_name": None, "first_name": None,
                "notebook_path": "autograded"}
        return (lambda n: feedback.from_notebook_node(n, resources=dict(resources))[0],
                lambda n: grading_view.from_notebook_node(n, resources=dict(view))[0], nb)

    megabyte = 1_000_000
    plain = pages(("word " * megabyte)[:megabyte])
    for unit in ("[", "*_", "[a](", "<"):
        hostile = pages((unit * megabyte)[:megabyte])
        for render_plain, render_hostile in ((plain[0], hostile[0]), (plain[1], hostile[1])):
            baseline, slow = _render_seconds(render_plain, plain[2]), _render_seconds(render_hostile, hostile[2])
            # The bar is the "adds under a second"; a quadratic renderer takes tens of seconds here.
            assert slow < 10 * baseline + 1.0, (unit, slow, baseline)
            assert "1,000,000 characters long; the first 100,000 are shown" in render_hostile(hostile[2])
