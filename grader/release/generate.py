"""Release an assignment through nbgrader's API: the student folder, with a copy of the check runtime, or nothing changed."""

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

from grader.assignment import INSTRUCTOR_ONLY, VISIBLE_CHECKS
from grader.intake.timestamps import RELEASED_KEY, release_stamp, released_at

__all__ = ["ReleaseDiff", "ReleaseError", "alembic_on_path", "generate_release", "previous_release_kept",
           "register_assignment", "release_is_current", "RUNTIME"]

CONFIG_FILE = "nbgrader_config.py"
RUNTIME = Path(__file__).resolve().parents[1] / "runtime"  # the engine's student-safe check runtime


class ReleaseError(RuntimeError):
    """nbgrader could not generate the release (the previous release is left as it was)."""


class ReleaseDiff(str):
    """The diff between the committed release and a fresh one; falsy, so `assert` catches it."""

    def __bool__(self) -> bool:
        return False


def _api(course_root: Path, db_url: str | None = None) -> NbGraderAPI:
    """An NbGraderAPI configured from the course root's nbgrader_config.py (and another gradebook,
    if given); instructor-only folders ignored."""
    if not (course_root / CONFIG_FILE).is_file():
        raise ReleaseError(f"no {CONFIG_FILE} in {course_root}")
    config = PyFileConfigLoader(CONFIG_FILE, path=str(course_root)).load_config()
    if db_url:
        config.CourseDirectory.db_url = db_url
    ignore = list(config.CourseDirectory.get("ignore", [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]))
    config.CourseDirectory.ignore = ignore + [name for name in INSTRUCTOR_ONLY if name not in ignore]
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


@contextlib.contextmanager
def previous_release_kept(course):
    """Put release/<assignment>/ back as it was if anything in the block fails (the audit included)."""
    with _kept_on_failure(Path(course.root).resolve() / "release" / course.assignment):
        yield


@contextlib.contextmanager
def _kept_on_failure(folder: Path):
    """Put the previous release back if anything in the block fails."""
    with tempfile.TemporaryDirectory(prefix="previous-release-") as keep:
        saved = Path(keep) / "release"
        had = folder.exists()
        if had:
            shutil.copytree(folder, saved, symlinks=True)
        try:
            yield
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            if had:
                shutil.copytree(saved, folder, symlinks=True)
            raise


def generate_release(course, *, keep_previous: bool = True) -> Path:
    """Write release/<assignment>/ with nbgrader (forced, creating the gradebook entry), the
    check runtime beside its visible checks, and the assignment's id and first release time in
    the notebook's metadata.

    Returns the release notebook. On any failure the previous release/ is left as it was
    (keep_previous=False: the caller keeps it, with previous_release_kept around more work).
    """
    root = Path(course.root).resolve()
    folder = root / "release" / course.assignment
    (root / "release").mkdir(exist_ok=True)
    first_released = _first_release(folder / f"{course.notebook}.ipynb")
    with _kept_on_failure(folder) if keep_previous else contextlib.nullcontext():
        with alembic_on_path():
            result = _api(root).generate_assignment(course.assignment, force=True, create=True)
        if not result.get("success"):
            raise ReleaseError(f"nbgrader generate_assignment {course.assignment!r} failed: "
                               f"{_failure_summary(result)}")
        notebook = folder / f"{course.notebook}.ipynb"
        if not notebook.is_file():
            raise ReleaseError(f"nbgrader reported success but wrote no {notebook}")
        _ship_runtime(folder / VISIBLE_CHECKS)
        _stamp(notebook, course.assignment, release_stamp(first_released))
    return notebook


def register_assignment(course, db_url: str) -> None:
    """Add the assignment, its notebooks and cells to the gradebook at db_url, leaving release/ alone.

    It is what `nbgrader generate_assignment --create` records (hidden tests included in the
    source cells, as nbgrader's SaveCells saves them), run on a copy of the course so the
    committed release is not rewritten.
    """
    root = Path(course.root).resolve()
    with tempfile.TemporaryDirectory(prefix="register-") as tmp, alembic_on_path():
        shutil.copy2(root / CONFIG_FILE, Path(tmp) / CONFIG_FILE)
        shutil.copytree(root / "source" / course.assignment, Path(tmp) / "source" / course.assignment,
                        ignore=shutil.ignore_patterns("__pycache__"))
        result = _api(Path(tmp), db_url).generate_assignment(course.assignment, force=True, create=True)
    if not result.get("success"):
        raise ReleaseError(f"adding {course.assignment!r} to the gradebook failed: {_failure_summary(result)}")


def _ship_runtime(checks: Path) -> None:
    """Replace the source's runtime.py (the installed kit's) with a copy of the runtime itself."""
    if not checks.is_dir():
        raise ReleaseError(f"{checks}: the release has no visible checks")
    (checks / "runtime.py").unlink(missing_ok=True)
    target = checks / "runtime"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    for module in sorted(RUNTIME.glob("*.py")):
        shutil.copy2(module, target / module.name)


def _first_release(notebook: Path):
    """When the assignment was first released, as the release being replaced recorded it (or None)."""
    try:
        return released_at(nbformat.read(notebook, as_version=4).metadata)
    except (OSError, ValueError, AttributeError):
        return None


def _stamp(notebook: Path, assignment: str, released: str) -> None:
    """Record which assignment the notebook belongs to, so `grader grade` can tell, and when it
    was first released: no honest submission is older (see grader.intake.timestamps)."""
    nb = nbformat.read(notebook, as_version=4)
    nb.metadata["grader"] = {"assignment": assignment, RELEASED_KEY: released}
    nbformat.write(nb, notebook)


def _read(nb) -> nbformat.NotebookNode:
    return nb if isinstance(nb, nbformat.NotebookNode) else nbformat.read(str(nb), as_version=4)


def _canonical(nb) -> str:
    """The notebook as JSON without volatile fields (outputs, counts, run metadata)."""
    nb = _read(nb)
    cells = [
        {
            "id": cell.get("id"),
            "cell_type": cell.cell_type,
            "source": cell.source,
            "metadata": {
                k: v for k, v in cell.metadata.items() if k in ("nbgrader", "editable", "deletable", "grader")
            },
        }
        for cell in nb.cells
    ]
    # the release time differs between any two releases; it is not the release's content
    grader = {k: v for k, v in (nb.metadata.get("grader") or {}).items() if k != RELEASED_KEY}
    meta = {"kernelspec": nb.metadata.get("kernelspec"), "grader": grader}
    return json.dumps({"metadata": meta, "cells": cells}, indent=1, sort_keys=True)


def _files(folder: Path) -> dict[str, str]:
    """Every file of a release folder, as comparable text (notebooks in canonical form)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and ".ipynb_checkpoints" not in path.parts:
            key = str(path.relative_to(folder))
            found[key] = _canonical(path) if path.suffix == ".ipynb" else path.read_text(errors="replace")
    return found


def release_is_current(course) -> bool | ReleaseDiff:
    """True when the committed release/<assignment>/ equals a fresh one; otherwise a (falsy) ReleaseDiff."""
    from grader.course import Course

    committed = Path(course.root) / "release" / course.assignment
    if not committed.is_dir():
        return ReleaseDiff(f"missing {committed}")
    with tempfile.TemporaryDirectory(prefix="release-check-") as tmp:
        shutil.copy2(Path(course.root) / CONFIG_FILE, Path(tmp) / CONFIG_FILE)
        shutil.copytree(Path(course.root) / "source" / course.assignment, Path(tmp) / "source" / course.assignment,
                        ignore=shutil.ignore_patterns("__pycache__"))
        generate_release(Course.at(tmp, course.assignment))
        fresh = _files(Path(tmp) / "release" / course.assignment)
    mine = _files(committed)
    lines = []
    for name in sorted(set(mine) | set(fresh)):
        lines += difflib.unified_diff(mine.get(name, "").splitlines(), fresh.get(name, "").splitlines(),
                                      f"committed {name}", f"fresh {name}", lineterm="")
    text = "\n".join(lines)
    return True if not text else ReleaseDiff(text)
