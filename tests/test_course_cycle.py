"""The whole nbgrader course cycle through an exchange: release, fetch, submit, collect, autograde,
manual grading, feedback, release_feedback, fetch_feedback, with one truth for totals."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from sample import ASSIGNMENT, AUTOGRADED_POINTS, question, solved, with_answers, write_submission

KIT_ROOT = Path(__file__).resolve().parent.parent
COURSE_ID = "derivatives-in-pytorch"
WRONG_GRAD_AT = "def grad_at(f, x0):\n    return torch.tensor(float(x0))\n"
FULL, AUTO = ASSIGNMENT.max_score, AUTOGRADED_POINTS
BOB = AUTO - question("grad_at").points  # everything right but grad_at, explain_bug not yet graded


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """A command as a TA or student types it, with the kit importable (the course config imports it)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(KIT_ROOT), os.environ.get("PYTHONPATH", "")]),
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def nbgrader(verb: str, *args: str, cwd: Path, exchange: Path) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "nbgrader", verb, *args, f"--Exchange.root={exchange}"], cwd)


def student_nbgrader(verb: str, student: str, home: Path, exchange: Path) -> subprocess.CompletedProcess:
    """A student's command: their own folder and cache, identified as on a shared hub."""
    return nbgrader(verb, "derivatives", f"--course={COURSE_ID}", f"--student={student}",
                    f"--Exchange.cache={home / '.cache'}", cwd=home, exchange=exchange)


@pytest.mark.slow(60)
def test_the_whole_course_cycle_through_the_exchange(course, release_nb, tmp_path):
    """Does every student get feedback through the exchange, with totals that agree everywhere?"""
    exchange, homes = tmp_path / "exchange", tmp_path / "home"
    answers = {"alice": solved(release_nb),
               "bob": with_answers(solved(release_nb), {"grad_at": WRONG_GRAD_AT})}

    nbgrader("release_assignment", "derivatives", cwd=course.root, exchange=exchange)
    for student, nb in answers.items():
        home = homes / student
        home.mkdir(parents=True)
        student_nbgrader("fetch_assignment", student, home, exchange)
        nbformat.write(nb, home / "derivatives" / "derivatives.ipynb")
        student_nbgrader("submit", student, home, exchange)
    nbgrader("collect", "derivatives", cwd=course.root, exchange=exchange)

    graded = run([sys.executable, "-m", "grader", "autograde", "derivatives", "--jobs", "1"], course.root)
    assert "containment in force: user:" in graded.stderr
    assert "autograded" in graded.stdout.splitlines()[0]
    with Gradebook(course.db_url, course.course_id) as gb:  # as formgrader records a TA's score
        gb.find_grade("explain_bug", course.notebook, course.assignment, "alice").manual_score = 1.0
        gb.db.commit()
    run([sys.executable, "-m", "grader", "feedback", "derivatives"], course.root)
    nbgrader("release_feedback", "derivatives", cwd=course.root, exchange=exchange)

    pages = {}
    for student in answers:
        student_nbgrader("fetch_feedback", student, homes / student, exchange)
        [page] = (homes / student / "derivatives" / "feedback").glob("*/derivatives.html")
        pages[student] = page.read_text()
    assert f"Total: {FULL:g} / {FULL:g}" in pages["alice"] and "explain_bug 1/1" in pages["alice"]
    assert f"Total: {BOB:g} / {FULL:g}" in pages["bob"] and "grad_at" in pages["bob"]
    assert "explain_bug not graded yet (1 point)" in pages["bob"]  # a TA has not scored it: not a 0
    assert all("overflow-wrap: anywhere" in page for page in pages.values())

    exported = run([sys.executable, "-m", "grader", "export", "derivatives"], course.root)
    assert "hand-graded answers a TA has not scored or confirmed yet" in exported.stderr
    assert "bob (explain_bug)" in exported.stderr  # the LMS files alone would not say a point is still to come
    rows = list(csv.DictReader(open(course.root / "exports" / "derivatives" / "grades.csv")))
    assert [row["student"] for row in rows] == ["alice", "bob"]
    with Gradebook(course.db_url, course.course_id) as gb:
        totals = {s: gb.find_submission(course.assignment, s).score for s in answers}
    assert {row["student"]: float(row["total_with_manual"]) for row in rows} == totals == {"alice": FULL, "bob": BOB}
    assert {row["student"]: float(row["autograded"]) for row in rows} == {"alice": AUTO, "bob": BOB}


@pytest.mark.slow
def test_nbgrader_generate_feedback_is_as_readable_as_the_kits(course, release_nb):
    """Does `nbgrader generate_feedback` (the course config) wrap messages and say what the total counts?"""
    from grader.judge.batch import autograde

    write_submission(course.root, "bob", with_answers(solved(release_nb), {"grad_at": WRONG_GRAD_AT}))
    autograde(course, jobs=1, show_progress=False)
    run([sys.executable, "-m", "nbgrader", "generate_feedback", "derivatives", "--force"], course.root)
    page = course.feedback_html("bob").read_text()
    assert "overflow-wrap: anywhere" in page and f"Total: {BOB:g} / {FULL:g}" in page


@pytest.mark.slow
def test_no_cell_hides_from_the_feedback_or_the_grading_view(course, release_nb):
    """Does a code cell a student wrapped in an HTML comment (markdown `<!--` before it, `-->`
    after) or put under an unclosed hidden tag (a raw HTML cell) stay visible in nbgrader's
    feedback, and does a script in markdown never run there? (Formgrader's grading view runs
    the same HTMLExporter step.)"""
    import re

    from grader.judge.batch import autograde

    notebook = solved(release_nb)
    marker = "HIDDEN_FROM_THE_TA = 1"
    raw = nbformat.v4.new_raw_cell("<div hidden>", metadata={"raw_mimetype": "text/html"})
    notebook.cells[1:1] = [nbformat.v4.new_markdown_cell("<!--"), raw, nbformat.v4.new_code_cell(marker),
                           nbformat.v4.new_markdown_cell("--> <script>document.title = 'owned'</script>")]
    write_submission(course.root, "bob", notebook)
    autograde(course, jobs=1, show_progress=False)
    run([sys.executable, "-m", "nbgrader", "generate_feedback", "derivatives", "--force"], course.root)
    feedback = course.feedback_html("bob").read_text()
    for page in (feedback, _formgrader_view(course, "bob")):
        outside_comments = re.sub(r"<!--.*?-->", "", page, flags=re.S)
        assert "HIDDEN_FROM_THE_TA" in outside_comments
        assert "<div hidden>" not in page and "document.title = 'owned'</script>" not in page
        # and long messages wrap, with the code still highlighted
        assert "white-space: pre-wrap" in page and "overflow-wrap: anywhere" in page
        assert ".highlight" in page


def _formgrader_view(course, student: str) -> str:
    """The page formgrader's submission view renders: its exporter, as formgrader configures it
    (template `formgrade` and nbgrader's templates, then the course config, which names the
    kit's templates first), on the autograded notebook."""
    from nbconvert import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config import Config

    config = Config({"HTMLExporter": {"template_name": "formgrade", "extra_template_basedirs": [handlers.template_path]}})
    config.merge(course.coursedir.config)
    resources = {"assignment_id": course.assignment, "notebook_id": course.notebook, "submission_id": "x",
                 "index": 0, "total": 1, "base_url": "", "student": student, "last_name": None,
                 "first_name": None, "notebook_path": "autograded"}
    page, _ = HTMLExporter(config=config).from_filename(str(course.autograded_notebook(student)), resources=resources)
    return page


def test_autograde_before_release_adds_the_assignment_to_the_gradebook(course, release_nb):
    """Does autograde on a gradebook that never heard of the assignment prepare it instead of a traceback?"""
    from grader.judge.batch import autograde

    (course.root / "gradebook.db").unlink()
    write_submission(course.root, "alice", solved(release_nb))
    [result] = autograde(course, jobs=1, show_progress=False)
    with Gradebook(course.db_url, course.course_id) as gb:
        assert gb.find_submission(course.assignment, "alice").score == result.score == AUTO
        assert {c.name for c in gb.find_notebook(course.notebook, course.assignment).grade_cells} >= {"explain_bug", "test_SQ"}


def test_autograde_without_a_release_exits_2_naming_the_command(course, capsys):
    """Does autograde with no release say, in one line, to run `grader release` first?"""
    from grader.cli import main

    (course.root / "release" / "derivatives" / "derivatives.ipynb").unlink()
    (course.root / "gradebook.db").unlink()
    assert main(["--course", str(course.root), "autograde", "derivatives"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "grader release derivatives" in line


def test_submission_secret_reaches_autograded_for_release_feedback(course, release_nb):
    """Is nbgrader's submission_secret.txt copied into autograded/ (release_feedback reads it from feedback/)?"""
    from grader.judge.batch import autograde

    write_submission(course.root, "alice", solved(release_nb))
    write_submission(course.root, "mallory", solved(release_nb))
    (course.submission_folder("alice") / "submission_secret.txt").write_text("ab" * 64)
    os.symlink("/dev/zero", course.submission_folder("mallory") / "submission_secret.txt")
    autograde(course, jobs=1, show_progress=False)
    assert (course.autograded_notebook("alice").parent / "submission_secret.txt").read_text() == "ab" * 64
    assert not (course.autograded_notebook("mallory").parent / "submission_secret.txt").exists()


def test_the_course_exchange_is_nbgraders_default():
    """Is the exchange the course config names the one nbgrader uses unconfigured, so a
    student's fetch and submit need no configuration of their own?"""
    from nbgrader.exchange.default.exchange import Exchange
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(KIT_ROOT)).load_config()
    assert config.Exchange.root == Exchange.class_traits()["root"].default_value
