"""A question compared with the notebook's own solution: written in a few lines, released, audited and graded."""

from __future__ import annotations

import json
import shutil

import nbformat
import pytest
from guide import empty_course, grader

from grader.compared import hidden_inputs_shown
from grader.course import Course
from grader.demo.scenarios import with_answers
from grader.release.leaks import find_leaks
from grader.release.scaffold import TEST_CELL
from grader.release.student_run import StudentRun, visible_outcomes

pytestmark = pytest.mark.slow

# Everything the question needs beyond `grader new`: three notebook cells and hidden/mse_step.py.
TEXT = "## A loss and its gradient (2 points)\n\nWrite `mse_step(w, x, y)`: the mean squared error of `w * x` against `y`, with its gradient left in `w.grad`."
SOLUTION = '''def mse_step(w, x, y):
    ### BEGIN SOLUTION
    loss = ((w * x - y) ** 2).mean()
    loss.backward()
    return loss
    ### END SOLUTION'''
DECLARATION = '''"""mse_step, compared with the notebook's solution."""
from textwrap import dedent

import torch

from grader.banks import Answer

CONCEPT = "The loss is the mean of the squared errors; backward() leaves dloss/dw in w.grad."
VISIBLE = [(torch.tensor([0.5, -1.0], requires_grad=True), torch.tensor([1.0, 2.0]), torch.tensor([2.0, 0.5]))]


def HIDDEN(rng):
    def draw():
        return torch.tensor([rng.uniform(-2, 2) for _ in range(3)])
    return [(draw().requires_grad_(), draw(), draw()) for _ in range(2)]


WRONG = (
    Answer("mse_sum", "mse_step", dedent("""
        def mse_step(w, x, y):
            loss = ((w * x - y) ** 2).sum()
            loss.backward()
            return loss"""), "sums instead of averaging", cause="the mean of the squared errors"),
    Answer("mse_no_backward", "mse_step", dedent("""
        def mse_step(w, x, y):
            return ((w * x - y) ** 2).mean()"""), "never calls backward", cause="argument 1's .grad"),
)
'''
RIGHT = "def mse_step(w, x, y):\n    loss = torch.nn.functional.mse_loss(w * x, y)\n    loss.backward()\n    return loss\n"
SUM = "def mse_step(w, x, y):\n    loss = ((w * x - y) ** 2).sum()\n    loss.backward()\n    return loss\n"


def specific_lines() -> int:
    """The lines this question adds: its three cells and its declaration, blank lines left out."""
    test = TEST_CELL.format(comment="# Visible test: mse_step at one w, x, y.", qid="mse_step")
    return sum(1 for text in (TEXT, SOLUTION, test, DECLARATION) for line in text.splitlines() if line.strip())


def add_question(root) -> None:
    """The compared question mse_step, in a course made by `grader new calc`."""
    path = root / "source" / "calc" / "calc.ipynb"
    nb = nbformat.read(path, as_version=4)
    answer = nbformat.v4.new_code_cell(SOLUTION)
    answer.metadata.update(nbgrader={"grade": False, "grade_id": "mse_step", "locked": False, "schema_version": 3,
                                     "solution": True}, grader={"answers": ["mse_step"]})
    test = nbformat.v4.new_code_cell(TEST_CELL.format(comment="# Visible test: mse_step at one w, x, y.",
                                                      qid="mse_step"))
    test.metadata["nbgrader"] = {"grade": True, "grade_id": "test_mse_step", "locked": True, "points": 2,
                                 "schema_version": 3, "solution": False}
    nb.cells += [nbformat.v4.new_markdown_cell(TEXT), answer, test]
    nbformat.write(nb, path)
    (root / "source" / "calc" / "hidden" / "mse_step.py").write_text(DECLARATION)


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """A course whose one question is compared with its solution, released and audited by `grader release`."""
    root = empty_course(tmp_path_factory.mktemp("compared") / "course")
    assert grader(root, "new", "calc").returncode == 0
    add_question(root)
    done = grader(root, "release", "calc")
    return root, done


def _grade(root, source: str) -> dict:
    release = nbformat.read(root / "release" / "calc" / "calc.ipynb", as_version=4)
    nbformat.write(with_answers(release, {"mse_step": source}), root / "handed-in.ipynb")
    done = grader(root, "grade", "handed-in.ipynb", "--json")
    assert done.returncode in (0, 1), done.stderr[-2000:]
    [question] = json.loads(done.stdout)["questions"]
    return question


def test_a_compared_question_takes_at_most_40_lines():
    """Is a question compared with its solution written in at most 40 lines of its own (notebook and one file)?"""
    assert specific_lines() <= 40, specific_lines()


def test_the_release_of_a_compared_question_passes_its_audit(released):
    """Does `grader release` pass its audit for a course whose question is compared with the solution?"""
    root, done = released
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "mse_step is compared at hidden inputs too" in done.stdout


def test_a_right_answer_scores_full_and_a_wrong_one_loses_it_naming_call_value_and_expected(released):
    """Does a right mse_step score 2 of 2, and one that sums lose exactly its 2 points with a message that names
    the call, the value it returned and the expected one?"""
    root, _ = released
    assert _grade(root, RIGHT)["score"] == 2
    wrong = _grade(root, SUM)
    assert wrong["score"] == 0
    message = wrong["messages"][0]
    assert "mse_step(tensor([0.5, -1] (shape [2])), tensor([1, 2] (shape [2])), tensor([2, 0.5] (shape [2])))" \
        in message, message
    assert "got 8.5; expected 4.25" in message and "mean of the squared errors" in message


def test_the_release_test_cell_checks_the_visible_case_in_the_students_kernel(released):
    """Does the release's own test cell, run as a student runs it, pass a right answer and tell a wrong one its
    value and the expected one, from the shipped data alone?"""
    root, _ = released
    folder = root / "release" / "calc"
    release = nbformat.read(folder / "calc.ipynb", as_version=4)
    shown = visible_outcomes(folder, release, [StudentRun("right", "mse_step", RIGHT), StudentRun("sum", "mse_step", SUM)])
    assert shown["right"] is None
    assert shown["sum"] == "mse_step gave 8.5 where 4.25 is expected."  # what the runner keeps: the headline


def test_the_release_ships_expected_values_as_data_and_no_solution_or_hidden_input(released):
    """Does the release hold the visible case's expected value as JSON, and no solution line, no declaration
    and no hidden input?"""
    root, _ = released
    folder = root / "release" / "calc"
    shipped = json.loads((folder / "checks" / "mse_step.json").read_text())
    assert [len(cases) for cases in shipped["cases"].values()] == [1]
    assert not (folder / "hidden").exists() and not list(folder.rglob("mse_step.py"))
    spec = Course.at(root, "calc").spec
    assert find_leaks(spec, folder) == []
    assert hidden_inputs_shown(spec, folder / "checks") == []
    text = "\n".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())
    assert "((w * x - y) ** 2).mean()" not in text and "rng.uniform" not in text


def test_a_hidden_input_that_would_ship_is_caught(released, tmp_path):
    """Is a hidden case that equals a shipped visible one named by the leak audit's check?"""
    root = shutil.copytree(released[0], tmp_path / "course", ignore=shutil.ignore_patterns("__pycache__"))
    declaration = root / "source" / "calc" / "hidden" / "mse_step.py"
    declaration.write_text(declaration.read_text().replace("    return [(draw()", "    return [VISIBLE[0]] + [(draw()"))
    spec = Course.at(root, "calc").spec
    assert hidden_inputs_shown(spec, root / "release" / "calc" / "checks") == [
        "mse_step: mse_step(tensor([0.5, -1] (shape [2])), tensor([1, 2] (shape [2])), tensor([2, 0.5] (shape [2])))"]


MISTAKES = '''
from grader.banks import Mistake

WRONG = (
    Mistake("mse_sum", (".mean()", ".sum()"), "sums instead of averaging", cause="the mean of the squared errors"),
    Mistake("mse_no_backward", ("    loss.backward()\\n", ""), "never calls backward", cause="argument 1's .grad"),
)
'''


def _with_wrong(root, tmp_path, wrong: str):
    """A copy of the released course whose mse_step declares `wrong` in place of its whole-cell answers."""
    root = shutil.copytree(root, tmp_path / "course", ignore=shutil.ignore_patterns("__pycache__"))
    declaration = root / "source" / "calc" / "hidden" / "mse_step.py"
    text = declaration.read_text()
    declaration.write_text(text[:text.index("WRONG = (")] + wrong)
    return root


def test_a_misconception_written_as_an_edit_of_the_solution_is_that_cell_edited(released, tmp_path):
    """Does a Mistake, one or more edits of the notebook's solution cell, give the bank the solution cell
    with just those edits made, graded as the whole-cell answer it stands for?"""
    root = _with_wrong(released[0], tmp_path, MISTAKES)
    banks = Course.at(root, "calc").spec.banks
    summed, no_backward = (banks.answer(name) for name in ("mse_sum", "mse_no_backward"))
    assert summed.question == "mse_step" and "((w * x - y) ** 2).sum()" in summed.source
    assert "backward" not in no_backward.source and "return loss" in no_backward.source
    assert _grade(root, summed.source)["score"] == 0 and _grade(root, no_backward.source)["score"] == 0


def test_an_edit_whose_text_is_not_in_the_solution_stops_the_release_naming_it(released, tmp_path):
    """Does `grader release` stop with one line naming the file, the mistake and the text its solution cell
    does not hold exactly once, and leave the release as it was?"""
    root = _with_wrong(released[0], tmp_path, MISTAKES.replace('(".mean()", ".sum()")', '("mean(", "sum(")')
                       .replace("    loss.backward()", "    loss.backwards()"))
    before = (root / "release" / "calc" / "calc.ipynb").read_bytes()
    done = grader(root, "release", "calc")
    assert done.returncode != 0
    [line] = [ln for ln in done.stderr.splitlines() if "Mistake" in ln]
    assert "hidden/mse_step.py" in line and "'mse_no_backward'" in line and "0 times" in line, done.stderr
    assert (root / "release" / "calc" / "calc.ipynb").read_bytes() == before
