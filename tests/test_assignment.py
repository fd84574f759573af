"""The released notebook: current, leak-free, and laid out as grader/questions.py says."""

import ast
from pathlib import Path

import nbformat
import pytest

from grader.questions import ASSIGNMENT, AUTOGRADED, MANUAL, NOTEBOOK, QUESTIONS
from grader.release.generate import find_leaks, release_is_current

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
RELEASE = ROOT / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


@pytest.fixture(scope="module")
def release():
    return nbformat.read(str(RELEASE), as_version=4)


def grade_cells(nb, grade_id):
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]


def test_release_is_current():
    """Does regenerating the release from source give the committed notebook?"""
    result = release_is_current(ROOT)
    assert result is True, (
        f"release/ is stale; regenerate it with grader.release.generate.generate_release:\n{result}"
    )


def test_source_folder_holds_only_the_notebook():
    """nbgrader copies every file of source/<assignment>/ into the release: is there nothing extra?"""
    assert sorted(p.name for p in SOURCE.parent.iterdir()) == [SOURCE.name]


def test_release_leaks_nothing():
    """Does any line of a solution, hidden test or model answer appear in the release?"""
    assert find_leaks(SOURCE, RELEASE) == []


@pytest.mark.parametrize("q", AUTOGRADED, ids=lambda q: q.id)
def test_autograded_question_layout(release, q):
    """Is there exactly one solution cell, holding the stub, followed by its locked test cell?"""
    [answer] = grade_cells(release, q.id)
    [test] = grade_cells(release, q.test_cell_id)
    meta, test_meta = answer.metadata["nbgrader"], test.metadata["nbgrader"]
    assert (
        answer.cell_type == "code" and meta["solution"] and not meta["grade"] and not meta["locked"]
    )
    assert CODE_STUB in "\n".join(line.strip() for line in answer.source.splitlines())
    assert "BEGIN SOLUTION" not in answer.source
    assert (
        test.cell_type == "code"
        and test_meta["grade"]
        and test_meta["locked"]
        and not test_meta["solution"]
    )
    assert test_meta["points"] == q.points
    assert f'check_visible("{q.id}", globals())' in test.source
    assert "check_hidden" not in test.source.replace("import check_visible, check_hidden", "")
    assert release.cells.index(test) == release.cells.index(answer) + 1


@pytest.mark.parametrize("q", MANUAL, ids=lambda q: q.id)
def test_manual_question_layout(release, q):
    """Is the written answer one markdown cell, graded by hand, with only the stub left?"""
    [answer] = grade_cells(release, q.id)
    meta = answer.metadata["nbgrader"]
    assert (
        answer.cell_type == "markdown" and meta["solution"] and meta["grade"] and not meta["task"]
    )
    assert meta["points"] == q.points and answer.source.strip() == "YOUR ANSWER HERE"


def test_points_add_up(release):
    """Do the release's points match the question table: 16 autograded, 1 manual?"""
    graded = [
        c.metadata["nbgrader"] for c in release.cells if c.metadata.get("nbgrader", {}).get("grade")
    ]
    auto = sum(m["points"] for m in graded if m["grade_id"].startswith("test_"))
    manual = sum(m["points"] for m in graded if not m["grade_id"].startswith("test_"))
    assert (
        (auto, manual)
        == (16, 1)
        == (sum(q.points for q in AUTOGRADED), sum(q.points for q in MANUAL))
    )
    assert {m["grade_id"] for m in graded} == {q.test_cell_id for q in AUTOGRADED} | {
        q.id for q in MANUAL
    }


def test_first_cell_imports_torch_and_pyplot(release):
    """Does the notebook open with a locked cell importing torch and matplotlib.pyplot as plt?"""
    first = release.cells[0]
    assert first.cell_type == "code" and first.metadata["nbgrader"]["locked"]
    assert "import torch" in first.source.splitlines()
    assert "import matplotlib.pyplot as plt" in first.source.splitlines()


def test_release_has_no_hidden_tests_or_solutions(release):
    """Are all solution and hidden-test regions gone from the release?"""
    text = "\n".join(c.source for c in release.cells)
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text


def test_release_code_parses(release):
    """Is every code cell of the release valid Python, stubs included?"""
    for cell in release.cells:
        if cell.cell_type == "code":
            ast.parse(cell.source)


def test_question_order_follows_the_table(release):
    """Do the questions appear in the order of grader/questions.py?"""
    ids = [
        c.metadata["nbgrader"]["grade_id"]
        for c in release.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    ]
    assert ids == [q.id for q in QUESTIONS]
