"""Release the assignment through nbgrader's API and check that the release is current and leak-free."""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
from nbgrader.apps import NbGraderAPI
from traitlets.config.loader import PyFileConfigLoader

__all__ = ["ReleaseDiff", "ReleaseError", "find_leaks", "alembic_on_path", "generate_release", "register_assignment",
           "release_is_current"]

CONFIG_FILE = "nbgrader_config.py"
SOLUTION_REGION = ("BEGIN SOLUTION", "END SOLUTION")
HIDDEN_REGION = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
# Lines that say nothing about an answer even when they appear in both notebooks.
_TRIVIAL = re.compile(r"^(|pass|return|\.\.\.|else:|try:|finally:|\"\"\"|'''|[\[\](){}:,;.]+)$")
_IMPORT = re.compile(r"^(import\s|from\s+\S+\s+import\s)")
_OPENING = re.compile(r"^\w+ = [\[({]$")  # `NAME = {`: the name is public, the content is not
_MIN_SUBSTRING = 16  # shorter fragments (`x.grad, y.grad`) are too generic to flag inside prose


class ReleaseError(RuntimeError):
    """nbgrader could not generate the release."""


class ReleaseDiff(str):
    """The diff between the committed release and a fresh one; falsy, so `assert` catches it."""

    def __bool__(self) -> bool:
        return False


def _api(course_root: Path, db_url: str | None = None) -> NbGraderAPI:
    """An NbGraderAPI configured from the course root's nbgrader_config.py (and another gradebook, if given)."""
    if not (course_root / CONFIG_FILE).is_file():
        raise ReleaseError(f"no {CONFIG_FILE} in {course_root}")
    config = PyFileConfigLoader(CONFIG_FILE, path=str(course_root)).load_config()
    if db_url:
        config.CourseDirectory.db_url = db_url
    return NbGraderAPI(config=config)


@contextlib.contextmanager
def alembic_on_path():
    """Put this interpreter's scripts on PATH: a new gradebook runs the `alembic` command."""
    saved = os.environ.get("PATH", "")
    if shutil.which("alembic") is None:
        os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), saved])
    try:
        yield
    finally:
        os.environ["PATH"] = saved


def _failure_summary(result: dict) -> str:
    """The most specific line of nbgrader's error and log, not its generic closing remark."""
    lines = f"{result.get('log') or ''}\n{result.get('error') or ''}".splitlines()
    raised = [ln.strip() for ln in lines if re.match(r"\s*[\w.]+(Error|Exception):", ln)]
    specific = [ln for ln in raised if "NbGraderException" not in ln]
    errors = [ln.strip() for ln in lines if ln.startswith("[ERROR]")]
    return (specific or raised or errors or ["no details"])[0]


def generate_release(course_root: Path, assignment: str = "derivatives") -> Path:
    """Run generate_assignment (forced, creating the gradebook entry); return the release notebook."""
    course_root = Path(course_root).resolve()
    with alembic_on_path():
        result = _api(course_root).generate_assignment(assignment, force=True, create=True)
    if not result.get("success"):
        raise ReleaseError(
            f"nbgrader generate_assignment {assignment!r} failed: {_failure_summary(result)}"
        )
    notebook = course_root / "release" / assignment / f"{assignment}.ipynb"
    if not notebook.is_file():
        raise ReleaseError(f"nbgrader reported success but wrote no {notebook}")
    return notebook


def register_assignment(course_root: Path, assignment: str, db_url: str) -> None:
    """Add the assignment, its notebooks and cells to the gradebook at db_url, leaving release/ alone.

    It is what `nbgrader generate_assignment --create` records (hidden tests included in the
    source cells, as nbgrader's SaveCells saves them), run on a copy of the course so the
    committed release is not rewritten.
    """
    course_root = Path(course_root).resolve()
    with tempfile.TemporaryDirectory(prefix="register-") as tmp, alembic_on_path():
        _copy_course(course_root, assignment, Path(tmp))
        result = _api(Path(tmp), db_url).generate_assignment(assignment, force=True, create=True)
    if not result.get("success"):
        raise ReleaseError(f"adding {assignment!r} to the gradebook failed: {_failure_summary(result)}")


def _read(nb) -> nbformat.NotebookNode:
    return nb if isinstance(nb, nbformat.NotebookNode) else nbformat.read(str(nb), as_version=4)


def _normalize(line: str) -> str:
    return " ".join(line.split())


def _is_trivial(line: str) -> bool:
    return bool(_TRIVIAL.match(line) or _IMPORT.match(line) or _OPENING.match(line))


def _region_lines(source: str, region: tuple[str, str]) -> list[str]:
    """The lines strictly between the region's begin and end delimiters."""
    begin, end = region
    inside, found = False, []
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside:
            found.append(line)
    return found


def _secret_lines(cell) -> list[str]:
    """What a source cell holds that the release must not show."""
    meta = cell.metadata.get("nbgrader", {})
    lines = _region_lines(cell.source, HIDDEN_REGION)
    if meta.get("solution"):
        in_region = _region_lines(cell.source, SOLUTION_REGION)
        whole_answer = cell.cell_type == "markdown" and SOLUTION_REGION[0] not in cell.source
        lines += cell.source.splitlines() if whole_answer else in_region
    return lines


def _embedded(line: str, release_lines: set[str]) -> bool:
    """Whether the line, or the expression it returns, sits inside a longer release line."""
    candidates = [line, line.removeprefix("return ")]
    return any(len(c) >= _MIN_SUBSTRING and any(c in r for r in release_lines) for c in candidates)


def find_leaks(source_nb, release_nb) -> list[str]:
    """Lines of solutions, hidden tests or model answers in the source that the release shows."""
    release_lines = {
        _normalize(ln) for c in _read(release_nb).cells for ln in c.source.splitlines()
    }
    release_lines.discard("")
    leaks: list[str] = []
    for cell in _read(source_nb).cells:
        for line in map(_normalize, _secret_lines(cell)):
            if _is_trivial(line) or line in leaks:
                continue
            if line in release_lines or _embedded(line, release_lines):
                leaks.append(line)
    return leaks


def _canonical(nb) -> str:
    """The notebook as JSON without volatile fields (outputs, counts, run metadata)."""
    nb = _read(nb)
    cells = [
        {
            "id": cell.get("id"),
            "cell_type": cell.cell_type,
            "source": cell.source,
            "metadata": {
                k: v for k, v in cell.metadata.items() if k in ("nbgrader", "editable", "deletable")
            },
        }
        for cell in nb.cells
    ]
    meta = {"kernelspec": nb.metadata.get("kernelspec")}
    return json.dumps({"metadata": meta, "cells": cells}, indent=1, sort_keys=True)


def _copy_course(course_root: Path, assignment: str, destination: Path) -> None:
    """Copy what generate_assignment reads: the config and the assignment's source folder."""
    shutil.copy2(course_root / CONFIG_FILE, destination / CONFIG_FILE)
    shutil.copytree(course_root / "source" / assignment, destination / "source" / assignment)


def release_is_current(course_root: Path, assignment: str = "derivatives") -> bool | ReleaseDiff:
    """True when the committed release equals a fresh one; otherwise a (falsy) ReleaseDiff."""
    course_root = Path(course_root).resolve()
    committed = course_root / "release" / assignment / f"{assignment}.ipynb"
    if not committed.is_file():
        return ReleaseDiff(f"missing {committed}")
    with tempfile.TemporaryDirectory(prefix="release-check-") as tmp:
        _copy_course(course_root, assignment, Path(tmp))
        fresh = _canonical(generate_release(Path(tmp), assignment))
    diff = difflib.unified_diff(
        _canonical(committed).splitlines(),
        fresh.splitlines(),
        "committed release",
        "fresh release",
        lineterm="",
    )
    text = "\n".join(diff)
    return True if not text else ReleaseDiff(text)
