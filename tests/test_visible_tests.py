"""What a student sees before handing in: the release's own test cells, run as a student runs them."""

from __future__ import annotations

import nbformat
import pytest
from sample import ASSIGNMENT, CORRECT, KIT_ROOT, WRONG, question, solved

from grader.release.audit import MIN_CAUGHT_BEFORE_SUBMISSION, caught_before_submission
from grader.release.student_run import StudentRun, visible_outcomes
from grader.runtime.messages import is_headline

pytestmark = pytest.mark.duration(3)  # one child runs a hundred answers through the release's test cells

RELEASE = KIT_ROOT / "release" / ASSIGNMENT.id


@pytest.fixture(scope="module")
def shown() -> dict[str, str | None]:
    """What each bank answer's test cell shows in the release notebook (None: it passes)."""
    release = nbformat.read(RELEASE / f"{ASSIGNMENT.notebook}.ipynb", as_version=4)
    runs = [StudentRun(a.name, a.question, a.source) for a in (*WRONG, *CORRECT)]
    return visible_outcomes(RELEASE, solved(release), runs)


def test_the_visible_tests_catch_most_misconceptions_before_submission(shown):
    """Do the release's own test cells fail for at least 85% of the WRONG bank, for every
    misconception the bank does not leave to the hidden tests, and does the bank leave at most 15%?"""
    caught, missed, surplus = caught_before_submission(WRONG, shown)
    assert [a.name for a in missed] == [] and [a.name for a in surplus] == []
    assert len(caught) >= MIN_CAUGHT_BEFORE_SUBMISSION * len(WRONG) and MIN_CAUGHT_BEFORE_SUBMISSION >= 0.85
    assert sum(bool(a.left_to_hidden) for a in WRONG) <= 0.15 * len(WRONG)


def test_the_pools_child_shows_what_a_runner_of_its_own_shows_and_ends_with_the_pool(shown, released_course):
    """Does the child a JudgePool forks for a release's student runs (as root, from the warm parent,
    with torch and matplotlib imported; else from the judges' process) show, for each answer, what a
    student's own run shows, and is every process the pool started gone once it closes?"""
    import psutil

    from grader.judge.pool import JudgePool

    release = nbformat.read(RELEASE / f"{ASSIGNMENT.notebook}.ipynb", as_version=4)
    answers = [a for a in (*WRONG, *CORRECT) if a.question in {"leaves", WRONG[0].question}]
    with JudgePool(released_course, 1, wait=False, student_run=True) as judges:
        running = judges.students.start(RELEASE, solved(release), [StudentRun(a.name, a.question, a.source)
                                                                   for a in answers])
        started = [psutil.Process(p.pid) for p in (*judges.processes, judges.parent) if p is not None]
        started += [child for process in started for child in process.children(recursive=True)]
        outcomes = running()
    assert outcomes == {a.name: shown[a.name] for a in answers}
    assert any(outcomes.values()) and not all(outcomes.values())  # some fail, some pass
    assert [p.pid for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE] == []


def test_what_is_left_to_the_hidden_tests_is_an_answer_itself():
    """Is every misconception the bank leaves to the hidden tests a value the student predicts
    (ATTRIBUTES, LEAF_PREDICTIONS), where a visible verdict would hand out the answer?"""
    left = {a.name: a.question for a in WRONG if a.left_to_hidden}
    assert left and set(left.values()) <= {"attributes", "leaves"}, left


def test_every_honest_style_passes_its_visible_test(shown):
    """Does every honest answer of the banks pass its question's test cell in the release?"""
    assert {a.name: shown[a.name] for a in CORRECT if shown[a.name] is not None} == {}


def test_a_failing_test_cell_starts_with_a_headline_naming_its_question(shown):
    """Does every failing test cell show first one whole sentence under 90 characters that starts
    with the question's answer it is about?"""
    for wrong in WRONG:
        first = shown[wrong.name]
        if first is None:
            continue
        names = (wrong.question, *question(wrong.question).answers)
        assert is_headline(first) and len(first) < 90 and first.startswith(names), (wrong.name, first)


def test_the_tutorial_slip_is_caught_where_the_visible_case_would_have_hidden_it(shown):
    """Do a forward of 2 * i, a MulConstant backward that ignores grad_output and a grad_at that
    returns f's value fail their visible tests (with x = 2, 2x = x ** 2 and all-ones upstream
    gradients, each passed)?"""
    assert shown["sq_forward_two_i"].startswith("SQ: forward returned 2 * i")
    assert "ignores grad_output" in shown["mulconstant_ignores_grad_output"]
    assert shown["grad_at_returns_value"] == "grad_at: these are the values of f, not its derivative."


def test_no_visible_input_lets_a_common_slip_coincide_with_the_answer():
    """Are the visible inputs free of the coincidences that let a slip pass: no x where
    2x = x ** 2 (0 or 2), a negative entry, no integer k, and upstream gradients that are not all
    ones wherever a backward is checked?"""
    sq, mul = ASSIGNMENT.visible_checks("SQ"), ASSIGNMENT.visible_checks("MulConstant")
    for x in (sq.VISIBLE_X, mul.VISIBLE_X):
        assert not ((x == 0) | (x == 2)).any() and (x < 0).any(), x
    for upstream in (sq.VISIBLE_UPSTREAM, mul.VISIBLE_UPSTREAM, sq.VISIBLE_WEIGHTS):
        assert not (upstream == 1).all() and (upstream != upstream[0]).any(), upstream
    assert mul.VISIBLE_K != int(mul.VISIBLE_K)
