"""`grader report`: a class report that agrees with the gradebook, and what a TA sees of it in a browser."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from sample import TUTORIAL_SQ, solved, with_answers, with_extra_cell, write_submission

from grader.course import Course
from grader.report.class_report import gather_report
from grader.report.misconceptions import misconception_key
from grader.report.publish import write_report

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
RETURNS_FLOAT = """def grad_at(f, x0):
    x = torch.tensor(float(x0), requires_grad=True)
    f(x).backward()
    return x.grad.item()
"""
# nbgrader's own row-by-row API, used here to set up gradebooks, trips SQLAlchemy's relationship warnings
pytestmark = [
    pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning"),
    pytest.mark.duration(2),  # each autogrades and reports a class
]
HOSTILE_ID = "<img src=x onerror=alert(1)>&amp;"
NOT_SUBMITTED = ("frank", HOSTILE_ID)


@pytest.fixture(scope="module")
def graded_course(released_course: Course, tmp_path_factory) -> Course:
    """Seven students: right, two with the same wrong grad_at (one of them with the tutorial's SQ too,
    which earns part of SQ's points), blank, unreadable, flagged, a TA-graded explain_bug; two more in
    the gradebook who never submitted."""
    from grader.judge.batch import autograde

    root = tmp_path_factory.mktemp("report") / "course"
    shutil.copytree(released_course.root, root)
    course = Course.at(root)
    release = nbformat.read(course.release_notebook(), as_version=4)
    right = solved(release)
    submissions = {
        "alice": right,
        "bob": with_answers(right, {"grad_at": RETURNS_FLOAT, "SQ": TUTORIAL_SQ}),
        "carol": with_answers(right, {"grad_at": RETURNS_FLOAT}),
        "dave": release,
        "erin": b"this is not a notebook",
        "grace": with_extra_cell(right, "import ctypes\n"),
    }
    for student, notebook in submissions.items():
        write_submission(course.root, student, notebook)
    autograde(course, jobs=1)
    with _gradebook(course) as gb:
        for student in NOT_SUBMITTED:
            gb.add_student(student)
        grade = gb.find_grade("explain_bug", "derivatives", "derivatives", "alice")
        grade.manual_score, grade.needs_manual_grade = 1.0, False  # as formgrader records a TA's score
        gb.db.commit()
    return course


def _gradebook(course: Course) -> Gradebook:
    return Gradebook(course.db_url, course.course_id)


def test_counts_per_question_agree_with_the_gradebook(graded_course):
    """Does every question's passed count, mean score and every student's total match nbgrader's own rows?"""
    report = gather_report(graded_course.root, "derivatives")
    with _gradebook(graded_course) as gb:
        for question in report.questions:
            grades = [gb.find_grade(f"test_{question.id}", "derivatives", "derivatives", s.student)
                      for s in report.submitted]
            assert question.passed == sum(g.score == g.max_score for g in grades), question.id
            assert question.mean_score == pytest.approx(sum(g.score for g in grades) / len(grades)), question.id
            assert question.max_score == grades[0].max_score
            assert question.attempted + question.blank == question.submitted == 6
        for student in report.submitted:
            assert student.score == pytest.approx(gb.find_submission("derivatives", student.student).score), student
    assert [s.student for s in report.students] == sorted(s.student for s in report.students)
    grad_at = next(q for q in report.questions if q.id == "grad_at")
    assert (grad_at.passed, grad_at.wrong, grad_at.blank) == (2, 2, 2)  # alice+grace; bob+carol; dave+erin


def test_a_wrong_answer_shows_its_misconception_with_its_students(graded_course):
    """Do bob and carol, who both returned .item(), land in one grad_at misconception that names it?"""
    report = gather_report(graded_course.root, "derivatives")
    grad_at = next(q for q in report.questions if q.id == "grad_at")
    [group] = grad_at.misconceptions
    assert group.students == ["bob", "carol"]
    assert "expected a torch tensor" in group.label and "4.0" not in group.label
    [partial] = next(q for q in report.questions if q.id == "SQ").misconceptions  # partial credit names its cause
    assert partial.students == ["bob"] and "ignores grad_output" in partial.label
    assert all(not q.misconceptions for q in report.questions if q.id not in ("grad_at", "SQ"))  # blanks are not


def test_partial_credit_is_partial_and_a_blank_submission_blank(graded_course):
    """Is bob's SQ, which earned part of its points, counted as partial rather than wrong, and is
    dave, who handed in the release unchanged, in the help list as blank (not only below threshold)?"""
    report = gather_report(graded_course.root, "derivatives")
    sq = next(q for q in report.questions if q.id == "SQ")
    assert (sq.passed, sq.partial, sq.wrong, sq.blank) == (3, 1, 0, 2)
    bob = next(s for s in report.students if s.student == "bob")
    assert bob.outcomes["SQ"] == "partial" and 0 < bob.scores["SQ"] < sq.max_score
    dave = next(s for s in report.students if s.student == "dave")
    assert [r.kind for r in dave.reasons] == ["blank"]


def test_the_charts_tick_whole_numbers_of_points_and_of_students(graded_course):
    """Do the score axis and every student-count axis of the charts tick at whole numbers only?"""
    from grader.report.charts import question_outcomes_figure, score_distribution_figure

    report = gather_report(graded_course.root, "derivatives")
    scores, outcomes = score_distribution_figure(report), question_outcomes_figure(report)
    try:
        for fig in (scores, outcomes):
            fig.canvas.draw()
        ticks = [*scores.axes[0].get_xticks(), *scores.axes[0].get_yticks(), *outcomes.axes[0].get_xticks()]
    finally:
        import matplotlib.pyplot as plt

        plt.close(scores)
        plt.close(outcomes)
    assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_students_who_need_help_are_named_with_the_reason(graded_course):
    """Are the blank, unreadable, flagged and never-submitted students listed, and nobody else?"""
    report = gather_report(graded_course.root, "derivatives", threshold=0.5)
    reasons = {s.student: {r.kind for r in s.reasons} for s in report.needs_help}
    assert reasons == {
        "dave": {"blank"},
        "erin": {"unreadable", "below threshold"},
        "grace": {"flagged for review"},
        "frank": {"not submitted"},
        HOSTILE_ID: {"not submitted"},
    }


def test_the_hand_graded_answer_and_what_the_scores_count(graded_course):
    """Does the report say one explain_bug is graded by a TA, which await one, and that scores include it?"""
    report = gather_report(graded_course.root, "derivatives")
    [explain] = report.hand_graded
    assert explain.graded == ["alice"] and explain.mean_manual == 1.0
    assert set(explain.awaiting) == {"bob", "carol", "grace"} and set(explain.no_response) == {"dave", "erin"}
    assert "plus the hand-graded answers (explain_bug) a TA has scored: 1 scored, 3 awaiting" in report.counts_note()


def test_a_score_a_regrade_flagged_again_is_named_to_confirm(graded_course):
    """After a regrade flags alice's scored explain_bug for review again (nbgrader's rule), does the
    report say so rather than that no hand grading is left?"""
    from grader.report.html import render_html

    with _gradebook(graded_course) as gb:
        gb.find_grade("explain_bug", "derivatives", "derivatives", "alice").needs_manual_grade = True
        gb.db.commit()
    report = gather_report(graded_course.root, "derivatives")
    [explain] = report.hand_graded
    assert explain.graded == ["alice"] and explain.to_confirm == ["alice"]
    assert "1 of the scored ones flagged for a TA to confirm again since a regrade" in report.counts_note()
    assert "to confirm again (regraded since)" in render_html(report, {})


@pytest.mark.parametrize("message, same_as", [
    ("grad_at(lambda x: x**2, 2.0) returned float 4.0; expected a torch tensor (return the tensor itself).",
     "grad_at(lambda x: 2*x**3 + x, 1.0) returned float 7.0; expected a torch tensor (return the tensor itself)."),
    ("SQ.apply(x) at x = 2 (float32) with upstream gradient 1: forward: got [4] (shape [1]); expected [4.5] (shape [1]). "
     "forward must return i ** 2.",
     "SQ.apply(x) on a float32 tensor of shape [3, 1] with a random upstream gradient: forward: got [1, 2, 3] "
     "(shape [3, 1]); expected [4, 5, 6] (shape [3, 1]). forward must return i ** 2."),
], ids=["values-differ", "case-differs"])
def test_messages_that_name_one_misconception_share_a_key(message, same_as):
    """Do two failures that differ only in the case and the values seen fall in one group?"""
    assert misconception_key(message) == misconception_key(same_as)
    assert "i ** 2" in misconception_key(message) or "torch tensor" in misconception_key(message)


def test_report_cli_writes_the_page_and_charts(graded_course, tmp_path):
    """Does `grader report derivatives --output DIR` write the page, two PNGs and exit 0?"""
    done = subprocess.run([sys.executable, "-m", "grader", "--course", str(graded_course.root), "report",
                           "derivatives", "--output", str(tmp_path), "--threshold", "0.25"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for png in ("score-distribution.png", "question-outcomes.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "6 submissions" in done.stdout and (tmp_path / "report.html").is_file()


@pytest.fixture(scope="module")
def chromium() -> Path:
    """Debian's Chromium, installed with apt when it is missing (the browser test is never skipped)."""
    if not CHROMIUM.exists() and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run("apt-get update -qq && apt-get install -y -qq chromium", shell=True, check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, timeout=1200)
    assert CHROMIUM.exists(), "the browser test needs Debian's chromium: apt-get install chromium"
    return CHROMIUM


def test_a_ta_sees_every_question_and_every_flagged_student_offline(graded_course, chromium, tmp_path):
    """Rendered in headless Chromium at 1280 px with every request watched: is each question row and
    each student who needs help visible, is the hostile student id shown as text, does the page fetch
    nothing, does nothing scroll sideways (the table of all students included), and does each chart
    say in words what it shows, with its numbers beside it?"""
    from playwright.sync_api import sync_playwright

    files = write_report(graded_course.root, "derivatives", tmp_path)
    fetched = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.route("**/*", lambda route: _only_local(route, fetched))
            page.goto(files.html.as_uri())
            seen = _what_a_ta_sees(page, files.report)
        finally:
            browser.close()
    assert fetched[0] == files.html.as_uri()  # the watch is on: the page itself went through it
    assert [url for url in fetched if not url.startswith(("file:", "data:"))] == []
    assert seen["questions"] == [q.id for q in files.report.questions]
    assert seen["needs help"] == sorted(["dave", "erin", "frank", "grace", HOSTILE_ID])  # rows sorted by student
    assert seen["charts loaded"] == 2 and seen["injected images"] == 0 and seen["scripts"] == 0
    assert "1 scored, 3 awaiting a TA" in seen["counts"]
    assert "expected a torch tensor" in seen["grad_at misconceptions"] and "bob, carol" in seen["grad_at misconceptions"]
    assert seen["page scrolls sideways"] is False and seen["wide tables"] == [], seen
    charts = seen["charts"]
    assert len(charts) == 2 and all(len(chart["alt"]) > 40 and chart["caption"] for chart in charts), charts
    assert "Histogram of the total scores of 6 submissions" in charts[0]["alt"]
    assert "0: 2 students" in charts[0]["caption"] and "17: 1 student" in charts[0]["caption"]  # dave, erin; alice
    assert "SQ: 3 passed, 1 partial, 0 wrong, 0 error, 2 blank or missing" in charts[1]["caption"]


def _only_local(route, fetched: list[str]) -> None:
    fetched.append(route.request.url)
    if route.request.url.startswith(("file:", "data:")):
        route.continue_()
    else:
        route.abort()


def _what_a_ta_sees(page, report) -> dict:
    question_rows = page.locator("#question-table tbody tr")
    for question in report.questions:
        row = page.locator(f'#question-table tr[data-question="{question.id}"]')
        assert row.is_visible() and row.inner_text().split("\t")[:4] == [
            question.id, f"{question.max_score:g}", str(question.attempted), str(question.passed)]
    help_rows = page.locator("#needs-help-table tbody tr")
    for i in range(help_rows.count()):
        assert help_rows.nth(i).is_visible()
    return {
        "questions": [question_rows.nth(i).locator("td").first.inner_text() for i in range(question_rows.count())],
        "needs help": [help_rows.nth(i).locator("td").first.inner_text() for i in range(help_rows.count())],
        "charts loaded": page.evaluate("[...document.images].filter(i => i.complete && i.naturalWidth > 0).length"),
        "injected images": page.locator("#needs-help-table img, #roster-table img").count(),
        "scripts": page.locator("script").count(),
        "counts": page.locator("#counts").inner_text(),
        "grad_at misconceptions": page.locator("#misconceptions-table-grad_at").inner_text(),
        "page scrolls sideways": page.evaluate(
            "document.documentElement.scrollWidth > document.documentElement.clientWidth"),
        "wide tables": page.evaluate(
            "[...document.querySelectorAll('table')].filter(t => t.getBoundingClientRect().right > "
            "document.documentElement.clientWidth || t.parentElement.scrollWidth > t.parentElement.clientWidth)"
            ".map(t => t.id)"),
        "charts": page.evaluate(
            "[...document.querySelectorAll('#charts figure')].map(f => ({alt: f.querySelector('img').alt, "
            "caption: f.querySelector('figcaption').innerText}))"),
    }


def test_a_misspelt_assignment_is_one_line_naming_the_gradebook_s(tmp_path, capsys):
    """Does `grader report` of an assignment the gradebook lacks (a typo) exit 2 with one line
    that names the assignments it holds?"""
    from grader.cli import main

    (tmp_path / "nbgrader_config.py").write_text('c = get_config()\nc.CourseDirectory.course_id = "c101"\n')
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}", "c101") as gb:
        gb.add_assignment("week2")
    assert main(["--course", str(tmp_path), "report", "weak2"]) == 2
    [error] = capsys.readouterr().err.strip().splitlines()
    assert error == "grader report: error: the gradebook has no assignment 'weak2' (it has: week2)"


def test_any_course_with_a_gradebook_is_reported_without_the_kit(tmp_path):
    """Does a course the kit never graded (another assignment, no grading.json) get a report from its gradebook?"""
    (tmp_path / "nbgrader_config.py").write_text('c = get_config()\nc.CourseDirectory.course_id = "c101"\n')
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}", "c101") as gb:
        gb.add_assignment("week2")
        gb.add_notebook("nb", "week2")
        for name in ("q1", "essay"):
            gb.add_solution_cell(name, "nb", "week2")
        gb.add_grade_cell("test_q1", "nb", "week2", max_score=3, cell_type="code")
        gb.add_grade_cell("essay", "nb", "week2", max_score=2, cell_type="markdown")
        for student, q1, blank in (("s1", 3.0, None), ("s2", 0.0, "No response."), ("s3", 1.0, None)):
            gb.add_student(student)
            gb.add_submission("week2", student)
            gb.find_grade("test_q1", "nb", "week2", student).auto_score = q1
            gb.find_comment("q1", "nb", "week2", student).auto_comment = blank
        gb.find_grade("essay", "nb", "week2", "s1").manual_score = 2.0
        gb.add_student("s4")
        gb.db.commit()
    report = gather_report(tmp_path, "week2")
    [q1] = report.questions
    assert (q1.id, q1.max_score, q1.passed, q1.blank, q1.partial, q1.wrong) == ("q1", 3.0, 1, 1, 1, 0)  # s3: 1 of 3
    assert [h.id for h in report.hand_graded] == ["essay"] and report.hand_graded[0].graded == ["s1"]
    assert {s.student: [r.kind for r in s.reasons] for s in report.needs_help} == {
        "s2": ["below threshold"], "s3": ["below threshold"], "s4": ["not submitted"]}
    assert [s.score for s in report.students] == [5.0, 0.0, 1.0, None]
