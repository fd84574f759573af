"""Autograding a folder of submissions: gradebook, autograded/, grades.csv, feedback, broken files."""

from __future__ import annotations

import csv
import html
import os
import re

import nbformat
import pytest
from nbgrader.api import Gradebook
from sample import (
    ASSIGNMENT,
    AUTOGRADED_POINTS,
    BROKEN,
    question,
    solved,
    with_answers,
    write_submission,
)

from grader.judge.batch import autograde, grade_in_parallel
from grader.record.gradebook import GradebookWriter
from grader.report.export import export_grades, read_status
from grader.report.feedback import generate_feedback

SQ_POINTS = question("SQ").points
BOB = AUTOGRADED_POINTS - SQ_POINTS * 2 / 3  # the tutorial's SQ earns its forward part of three: partial credit


pytestmark = pytest.mark.duration(1.7)  # each autogrades a small class


@pytest.fixture
def small_class(course, release_nb):
    """Five students: correct, one mistake, blank, unreadable, renamed file."""
    reference = solved(release_nb)
    write_submission(course.root, "alice", reference)
    write_submission(course.root, "bob", with_answers(reference, {"SQ": (
        "class SQ(torch.autograd.Function):\n"
        "    @staticmethod\n    def forward(ctx, i):\n        ctx.save_for_backward(i)\n        return i ** 2\n"
        "    @staticmethod\n    def backward(ctx, grad_output):\n        i, = ctx.saved_tensors\n        return 2 * i\n")}))
    write_submission(course.root, "carol", release_nb)
    write_submission(course.root, "dave", b'{"cells": [')
    renamed = write_submission(course.root, "erin", reference)
    renamed.rename(renamed.with_name("my-derivatives.ipynb"))
    return course


def scores(course) -> dict[str, float]:
    with Gradebook(course.db_url, course.course_id) as gb:
        return {s.student.id: s.score for s in gb.assignment_submissions(course.assignment)}


def test_autograde_scores_every_student_and_never_aborts(small_class):
    """Does every student, broken or not, get a status and a score in the gradebook?"""
    results = {r.student: r for r in autograde(small_class, jobs=2, show_progress=False)}
    assert set(results) == {"alice", "bob", "carol", "dave", "erin"}
    assert results["alice"].score == AUTOGRADED_POINTS and results["erin"].score == AUTOGRADED_POINTS
    assert results["bob"].score == pytest.approx(BOB)
    assert results["carol"].score == 0
    assert results["dave"].status == "unreadable" and results["dave"].score == 0
    assert "renamed" in " ".join(results["erin"].notes)
    assert scores(small_class) == pytest.approx(
        {"alice": AUTOGRADED_POINTS, "bob": BOB, "carol": 0, "dave": 0, "erin": AUTOGRADED_POINTS})
    for student in results:
        assert small_class.autograded_notebook(student).is_file()
        assert read_status(small_class, student)["status"] == results[student].status


def test_autograded_notebooks_are_valid_and_show_each_verdict(small_class):
    """Does each autograded notebook pass nbformat's validation, with bob's partial SQ verdict as
    messages, the parts it earned and missed, and the points as the cell's value (nbgrader's partial credit)?"""
    autograde(small_class, jobs=1, show_progress=False)
    for student in ("alice", "bob", "carol", "erin"):
        text = small_class.autograded_notebook(student).read_text()
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
        assert len(text.splitlines()) < 2 * len(nb.cells) + 20, "one line per cell keeps the file diffable"
    bob = nbformat.read(small_class.autograded_notebook("bob"), as_version=4)
    [sq_test] = [c for c in bob.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_SQ"]
    stream, value = sq_test.outputs
    assert stream.output_type == "stream" and "grad_output" in stream.text and "missed" in stream.text
    assert value.output_type == "execute_result" and float(value.data["text/plain"]) == pytest.approx(SQ_POINTS / 3)
    from nbgrader.utils import determine_grade
    assert determine_grade(sq_test)[0] == pytest.approx(SQ_POINTS / 3)


@pytest.mark.slow(10)
def test_regrading_gives_identical_verdicts(small_class):
    """Does a second autograde give the same score and messages for every question?"""
    first = {r.student: r.to_json() for r in autograde(small_class, jobs=1, show_progress=False)}
    second = {r.student: r.to_json() for r in autograde(small_class, jobs=2, show_progress=False)}
    assert first == second


@pytest.mark.slow(12)
def test_judges_share_a_warm_parent_as_root_and_start_their_own_otherwise(small_class, monkeypatch):
    """Do two judges grade alike whether they share the pool's warm parent (as root) or each start
    their own (not root, so that each judge is an ancestor of its workers)?"""
    import grader.judge.pool as pool

    with pool.JudgePool(small_class, 2) as shared:
        assert shared.parent is not None
        together = {r.student: r.to_json() for r in shared.grade(small_class.students())}
    monkeypatch.setattr(pool.os, "geteuid", lambda: 1000)
    with pool.JudgePool(small_class, 2) as apart:
        assert apart.parent is None
        alone = {r.student: r.to_json() for r in apart.grade(small_class.students())}
    assert together == alone


@pytest.mark.slow(8)
@pytest.mark.skipif(os.geteuid() != 0, reason="judges are forked from one process when they share a warm parent (root)")
def test_a_judge_that_dies_costs_only_its_own_queued_students(course, release_nb):
    """When one of the judges forked from the pool's judge process is killed mid-class, do only
    the students queued on it end `crashed` (0 points, "the judge process stopped"), while the
    other judge grades everyone else and the pool still closes?"""
    import signal

    import psutil

    from grader.judge.pool import QUEUE_PER_JUDGE, JudgePool

    reference = solved(release_nb)
    students = [f"s{i:02d}" for i in range(10)]
    for student in students:
        write_submission(course.root, student, reference)
    results = {}
    with JudgePool(course, 2) as pool:
        judges = psutil.Process(pool.processes[0].pid).children()
        assert len(judges) == 2, "both judges are forked from the one judge process"
        for result in pool.grade(students):
            if not results:
                judges[0].send_signal(signal.SIGKILL)
            results[result.student] = result
        assert judges[1].is_running() and pool.processes[0].poll() is None, "the other judge is unharmed"
    assert sorted(results) == students
    crashed = [r for r in results.values() if r.status == "crashed"]
    assert 1 <= len(crashed) <= QUEUE_PER_JUDGE
    assert all(r.score == 0 and "the judge process stopped" in r.notes[0] for r in crashed)
    graded = [r for r in results.values() if r.status != "crashed"]
    assert all(r.status == "graded" and r.score == AUTOGRADED_POINTS for r in graded)


class ReplayPool:
    """Stands in for the judges: hands over results graded earlier, then maybe an interruption."""

    def __init__(self, results, *, interrupt_after: int | None = None, before_each=None):
        self.results, self.interrupt_after, self.before_each = results, interrupt_after, before_each

    def grade(self, students):
        for count, result in enumerate(self.results):
            if count == self.interrupt_after:
                raise KeyboardInterrupt
            if self.before_each:
                self.before_each()
            yield result


def test_recorded_results_keep_no_cell_texts(small_class):
    """Once a submission is recorded, are its cell texts dropped, so a large class does not pile up in memory?"""
    results = autograde(small_class, jobs=2, show_progress=False)
    assert len(results) == 5 and all(result.cells == [] for result in results)
    bob = small_class.autograded_notebook("bob").read_text()
    assert "return 2 * i" in bob, "the answers were written to autograded/ before they were dropped"


@pytest.mark.slow(12)
def test_a_manual_grade_survives_regrading_and_is_flagged_for_review(small_class, capsys):
    """Does regrading keep a TA's manual score, flag it for review, and update the auto score?"""
    autograde(small_class, jobs=1, show_progress=False)
    with Gradebook(small_class.db_url, small_class.course_id) as gb:
        grade = gb.find_grade("test_SQ", small_class.notebook, small_class.assignment, "bob")
        grade.manual_score = 2
        gb.db.commit()
    autograde(small_class, jobs=2, show_progress=False)
    with Gradebook(small_class.db_url, small_class.course_id) as gb:
        bob = gb.find_grade("test_SQ", small_class.notebook, small_class.assignment, "bob")
        alice = gb.find_grade("test_SQ", small_class.notebook, small_class.assignment, "alice")
        assert (bob.manual_score, bob.auto_score, bob.needs_manual_grade) == (2, pytest.approx(SQ_POINTS / 3), True)
        assert (alice.manual_score, alice.auto_score, alice.needs_manual_grade) == (None, SQ_POINTS, False)
        assert len(gb.assignment_submissions(small_class.assignment)) == 5, "regrading adds no submissions"
    from grader.cli import _print_to_confirm

    _print_to_confirm(small_class, sorted(small_class.students()))  # what `grader autograde` ends with
    assert ("hand-graded scores of 1 student kept and flagged for a TA to confirm again (formgrader lists them): "
            "bob (test_SQ)") in capsys.readouterr().out


def test_a_regrade_that_fails_to_record_one_student_keeps_the_others_regraded(small_class):
    """When recording one student of a regrade fails, are the classmates recorded before and
    after it still regraded (their rows rewritten, none lost to the rollback)?"""
    import dataclasses

    alice, bob = grade_in_parallel(small_class, ["alice", "bob"], jobs=1)
    with GradebookWriter(small_class) as writer:
        writer.record(alice)
        writer.record(bob)
    with Gradebook(small_class.db_url, small_class.course_id) as gb:  # stale scores the regrade must replace
        for student in ("alice", "bob"):
            gb.find_grade("test_SQ", small_class.notebook, small_class.assignment, student).auto_score = 0
        gb.db.commit()
    unstorable = dataclasses.replace(bob, student=os.fsdecode(b"m\xff"))
    with GradebookWriter(small_class) as writer:
        writer.record(alice)
        assert writer.record(unstorable) is None and unstorable.status == "unrecordable"
        writer.record(bob)
    assert scores(small_class) == pytest.approx({"alice": AUTOGRADED_POINTS, "bob": BOB})


def test_grades_reach_the_gradebook_while_the_class_is_graded(small_class, monkeypatch):
    """Can a TA see the first students' grades in the gradebook before the run ends?"""
    graded = list(grade_in_parallel(small_class, ["alice", "bob", "carol"], jobs=1))
    monkeypatch.setattr(GradebookWriter, "COMMIT_EVERY", 2)
    seen = []
    autograde(small_class, pool=ReplayPool(graded, before_each=lambda: seen.append(scores(small_class))),
              show_progress=False)
    assert seen[-1] == pytest.approx({"alice": AUTOGRADED_POINTS, "bob": BOB}), "two results were recorded before the third arrived"
    assert scores(small_class) == pytest.approx({"alice": AUTOGRADED_POINTS, "bob": BOB, "carol": 0})


def test_an_interrupted_run_keeps_every_grade_it_recorded(small_class):
    """If grading stops (Ctrl-C) after two students, are both in the gradebook?"""
    graded = list(grade_in_parallel(small_class, ["alice", "bob", "carol"], jobs=1))
    with pytest.raises(KeyboardInterrupt):
        autograde(small_class, pool=ReplayPool(graded, interrupt_after=2), show_progress=False)
    assert scores(small_class) == pytest.approx({"alice": AUTOGRADED_POINTS, "bob": BOB})


def test_the_same_student_twice_in_one_run_keeps_one_submission(small_class):
    """Does recording a student twice in one session update their submission instead of failing?"""
    [alice] = grade_in_parallel(small_class, ["alice"], jobs=1)
    with GradebookWriter(small_class) as writer:
        writer.record(alice)
        writer.record(alice)
    assert scores(small_class) == {"alice": AUTOGRADED_POINTS}


def test_export_writes_one_row_per_student_and_a_column_per_question(small_class):
    """Does grades.csv hold each student's total and per-question scores from the gradebook?"""
    autograde(small_class, show_progress=False)
    path = export_grades(small_class).grades
    rows = {row["student"]: row for row in csv.DictReader(open(path))}
    assert set(rows) == {"alice", "bob", "carol", "dave", "erin"}
    assert float(rows["bob"]["SQ"]) == pytest.approx(SQ_POINTS / 3) and rows["bob"]["grad_at"] == "2"
    assert float(rows["alice"]["total_with_manual"]) == AUTOGRADED_POINTS
    assert float(rows["alice"]["max_total"]) == ASSIGNMENT.max_score
    assert float(rows["alice"]["autograded"]) == float(rows["alice"]["max_autograded"]) == AUTOGRADED_POINTS
    assert [row["student"] for row in csv.DictReader(open(path))] == sorted(rows)
    assert rows["dave"]["status"] == "unreadable"
    assert "explain_bug" in rows["alice"]["needs_manual_grade"]


def test_feedback_shows_messages_but_not_hidden_tests(small_class):
    """Does bob's feedback explain his SQ mistake without showing the hidden test source?"""
    autograde(small_class, show_progress=False)
    paths = generate_feedback(small_class)
    page = small_class.feedback_html("bob").read_text()
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert small_class.feedback_html("bob") in paths
    assert "grad_output" in text, "bob's SQ message should explain the ignored grad_output"
    assert "HIDDEN TESTS" not in text and 'check_hidden("' not in text
    source = nbformat.read(small_class.source_notebook(), as_version=4)
    hidden = [c.source for c in source.cells if "BEGIN HIDDEN TESTS" in c.source]
    assert hidden, "the source notebook should have hidden tests"


@pytest.mark.parametrize("broken", BROKEN, ids=[b.name for b in BROKEN])
def test_each_broken_file_gets_a_status_and_a_score(course, broken):
    """Does every kind of broken file come out of autograde with a status and a score?"""
    release_bytes = course.release_notebook().read_bytes()
    write_submission(course.root, "mallory", broken.build(release_bytes))
    [result] = autograde(course, jobs=1, show_progress=False)
    assert result.status in {"graded", "unreadable", "no notebook"}
    assert 0 <= result.score <= result.max_score == AUTOGRADED_POINTS
    assert scores(course)["mallory"] == result.score


def test_an_unreadable_submissions_feedback_says_what_happened_and_what_to_do(small_class):
    """Do dave's feedback and the autograded notebook formgrader shows him (his file is not a
    notebook) open with what happened, why, and what to do, rather than look like a blank notebook?"""
    autograde(small_class, show_progress=False)
    generate_feedback(small_class)
    page = html.unescape(re.sub(r"<[^>]+>", " ", small_class.feedback_html("dave").read_text()))
    text = " ".join(page.split())
    assert "could not be read as a Jupyter notebook (not valid notebook JSON" in text, text[:3000]
    assert "What to do: Open your file in JupyterLab" in text and "submit it again" in text
    first = nbformat.read(small_class.autograded_notebook("dave"), as_version=4).cells[0]
    assert first.cell_type == "markdown" and "could not be graded" in first.source
    assert "could not be graded" not in nbformat.read(small_class.autograded_notebook("alice"), as_version=4).cells[0].source


def test_a_notice_shows_a_file_name_as_text(small_class):
    """Is a student's file name in the notice escaped, so that markdown shows it as written (no link, no HTML)?"""
    from grader.judge.results import ungraded_result
    from grader.record.notebook import unread_notice

    result = ungraded_result("eve", "[x](javascript:alert(1))<b>.ipynb", "unreadable",
                             ["[x](javascript:alert(1))<b>.ipynb is a symbolic link"], ())
    source = unread_notice(result).source
    assert "\\[x\\]\\(javascript:alert\\(1\\)\\)\\<b\\>" in source and "](javascript" not in source


PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")


def _explained(release_nb, *, as_code: bool = False, image: bool = False):
    nb = solved(release_nb)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "explain_bug")
    cell.source = "The tutorial's backward ignores grad_output, so the chain rule is cut."
    if image:
        cell.source += "\n\n![derivation](attachment:derivation.png)"
        cell.attachments = {"derivation.png": {"image/png": PNG}}
    if as_code:  # Y in Jupyter turns the cell into a code cell
        cell.cell_type, cell.outputs, cell.execution_count = "code", [], None
        cell.pop("attachments", None)
    return nb


def test_a_written_answer_is_kept_in_a_cell_of_another_type_and_with_its_images(course, release_nb):
    """A written answer handed in as a code cell, or with a pasted image, reaches the TA as written:
    in the answer's own markdown cell, image included, and waiting for a manual grade (nbgrader's
    OverwriteCells keeps the text and restores the cell's type)."""
    write_submission(course.root, "frank", _explained(release_nb, as_code=True))
    write_submission(course.root, "gina", _explained(release_nb, image=True))
    autograde(course, jobs=1, show_progress=False)
    for student in ("frank", "gina"):
        nb = nbformat.read(course.autograded_notebook(student), as_version=4)
        answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "explain_bug")
        assert answer.cell_type == "markdown" and "ignores grad_output" in answer.source, student
    assert answer.attachments == {"derivation.png": {"image/png": PNG}}
    with Gradebook(course.db_url, course.course_id) as gb:
        for student in ("frank", "gina"):
            grade = gb.find_grade("explain_bug", course.notebook, course.assignment, student)
            assert grade.auto_score is None and grade.needs_manual_grade, student


def test_a_written_answer_put_below_its_cell_is_pointed_out_to_the_ta(course, release_nb):
    """An explanation written in a new markdown cell under the untouched answer cell: the
    gradebook scores the released cell 0, so does the TA's note say where the answer may be?"""
    nb = solved(release_nb)
    place = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "explain_bug")
    nb.cells[place].source = next(c.source for c in release_nb.cells
                                  if c.metadata.get("nbgrader", {}).get("grade_id") == "explain_bug")
    nb.cells.insert(place + 1, nbformat.v4.new_markdown_cell("backward ignores grad_output, so the chain rule is cut."))
    write_submission(course.root, "hana", nb)
    [hana] = grade_in_parallel(course, ["hana"], jobs=1)
    assert any(note.startswith("explain_bug: the answer cell is as released") for note in hana.notes), hana.notes
