"""Shared fixtures: a released course in a temporary folder and one warm grader for the session."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from grader.course import Course

KIT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def released_course(tmp_path_factory) -> Course:
    """A course of the kit's sample assignment, released once through nbgrader (gradebook included)."""
    from sample import SAMPLE

    from grader.demo.run import prepare_course
    from grader.release.generate import generate_release

    course = prepare_course(tmp_path_factory.mktemp("template"), KIT_ROOT, SAMPLE)
    generate_release(course)
    return course


@pytest.fixture
def course(released_course: Course, tmp_path: Path) -> Course:
    """A fresh, released course of this test's own (a copy of the session's)."""
    root = tmp_path / "course"
    shutil.copytree(released_course.root, root)
    return Course.at(root)


@pytest.fixture(scope="session")
def grader(released_course: Course):
    """One Grader (and warm parent) shared by the session's tests."""
    from grader.judge.grader import Grader

    with Grader(released_course) as shared:
        yield shared


@pytest.fixture(scope="session")
def release_nb(released_course: Course) -> nbformat.NotebookNode:
    return nbformat.read(released_course.release_notebook(), as_version=4)


@pytest.fixture(scope="session")
def solved_nb(release_nb) -> nbformat.NotebookNode:
    from sample import solved

    return solved(release_nb)


@pytest.fixture
def grade_nb(grader, tmp_path: Path):
    """Grade a notebook (node or raw bytes) through the trusted path; returns the SubmissionResult."""

    def grade(notebook, student: str = "student", name: str = "derivatives.ipynb"):
        path = tmp_path / name
        if isinstance(notebook, bytes):
            path.write_bytes(notebook)
        else:
            nbformat.write(notebook, path)
        return grader.grade_notebook(path, student)

    return grade


def statuses(result) -> dict[str, str]:
    """{question id: status} of a SubmissionResult."""
    return {q.id: q.status for q in result.questions}


def pytest_collection_modifyitems(items) -> None:
    """Files start longest first (order within a file is kept), so the xdist workers of
    `make test` (which keeps this order: --no-loadscope-reorder) are not left waiting on one
    long file at the end.

    A file's length is the sum of its tests' estimates: `slow(seconds)` or `duration(seconds)`
    where given, a few seconds for any other slow test, a tenth of a second otherwise.
    """
    weights: dict = {}
    for item in items:
        weights[item.path] = weights.get(item.path, 0.0) + _estimate(item)
    items.sort(key=lambda item: -weights[item.path])


def _estimate(item) -> float:
    for name in ("slow", "duration"):
        marker = item.get_closest_marker(name)
        if marker is not None and marker.args:
            return float(marker.args[0])
    return 3.0 if item.get_closest_marker("slow") else 0.1
