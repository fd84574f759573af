"""The committed release: current, leak-free, and laid out as the source notebook's metadata says."""

import ast
from pathlib import Path

import nbformat
import pytest
from sample import ASSIGNMENT, AUTOGRADED, MANUAL, QUESTIONS

from grader.course import Course
from grader.release.generate import release_is_current
from grader.release.leaks import find_leaks, requirement_problems

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ASSIGNMENT.notebook_path
RELEASE = ROOT / "release" / ASSIGNMENT.id / f"{ASSIGNMENT.notebook}.ipynb"
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


@pytest.fixture(scope="module")
def release():
    return nbformat.read(str(RELEASE), as_version=4)


def grade_cells(nb, grade_id):
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]


def test_release_is_current():
    """Does regenerating the release from source give the committed notebook?"""
    result = release_is_current(Course.at(ROOT, ASSIGNMENT.id))
    assert result is True, (
        f"release/ is stale; regenerate it with grader.release.generate.generate_release:\n{result}"
    )


def test_release_folder_holds_what_students_need_and_nothing_instructor_only():
    """Does release/<assignment>/ hold the notebook, its requirements and visible checks (with the
    runtime), and none of the hidden checks or banks?"""
    folder = RELEASE.parent
    assert sorted(p.name for p in folder.iterdir() if p.name != "__pycache__") == [
        "checks", RELEASE.name, "requirements.txt"]
    assert (folder / "checks" / "runtime" / "__init__.py").is_file()
    assert not (folder / "checks" / "runtime.py").exists()
    assert not (folder / "hidden").exists() and not (folder / "banks").exists()
    assert requirement_problems(folder / "requirements.txt") == []


def test_release_leaks_nothing():
    """Does any file of the release show a line of a solution, hidden test, hidden check or bank answer?"""
    assert find_leaks(ASSIGNMENT, RELEASE.parent) == []


def test_leak_scan_finds_a_solution_line_in_any_released_file(tmp_path):
    """Would a solution line copied into a released module be found?"""
    import shutil

    folder = tmp_path / "release"
    shutil.copytree(RELEASE.parent, folder)
    line = ASSIGNMENT.banks.reference("SQ").source.splitlines()[-1]
    (folder / "checks" / "helper.py").write_text(f"def f(grad_output, i):\n    {line.strip()}\n")
    assert any(leak.startswith("checks/helper.py") for leak in find_leaks(ASSIGNMENT, folder))


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
    assert test.source.strip().endswith(f'check_question("{q.id}", globals())')
    assert "grader" not in test.source  # the kit's grading-time check stays in the source
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
    """Do the release's points match the source notebook's, question by question?"""
    graded = [
        c.metadata["nbgrader"] for c in release.cells if c.metadata.get("nbgrader", {}).get("grade")
    ]
    auto = sum(m["points"] for m in graded if m["grade_id"].startswith("test_"))
    manual = sum(m["points"] for m in graded if not m["grade_id"].startswith("test_"))
    assert (auto, manual) == (sum(q.points for q in AUTOGRADED), sum(q.points for q in MANUAL))
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


def test_question_order_follows_the_source(release):
    """Do the questions appear in the order of the source notebook?"""
    ids = [
        c.metadata["nbgrader"]["grade_id"]
        for c in release.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    ]
    assert ids == [q.id for q in QUESTIONS]
