"""Release an assignment through nbgrader's API (with the kit's step: the check runtime and the stamp), or change nothing."""

from __future__ import annotations

import contextlib
import difflib
import fnmatch
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

from grader.assignment import INSTRUCTOR_ONLY, VISIBLE_CHECKS
from grader.compared import shipped_names, write_shipped_cases
from grader.intake.timestamps import RELEASED_KEY
from grader.release.stamp import (
    RUNTIME,
    STAMP,
    first_release,
    notebook_digest,
    stamp_of,
    stamp_with_release,
)

__all__ = ["ReleaseDiff", "ReleaseError", "alembic_on_path", "generate_release", "previous_release_kept",
           "refresh_release", "register_assignment", "release_is_current", "ship_runtime"]

CONFIG_FILE = "nbgrader_config.py"
NBGRADER_IGNORE = (".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback")  # CourseDirectory.ignore's default


class ReleaseError(RuntimeError):
    """nbgrader could not generate the release (the previous release is left as it was)."""


class ReleaseDiff(str):
    """The diff between the committed release and a fresh one; falsy, so `assert` catches it."""

    def __bool__(self) -> bool:
        return False


def _api(course_root: Path, db_url: str | None = None):
    """An NbGraderAPI configured from the course root's nbgrader_config.py (and another gradebook,
    if given); instructor-only folders ignored, the kit's step last in generate_assignment."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.converters import GenerateAssignment
    from traitlets.config.loader import PyFileConfigLoader

    from grader.release.nbgrader_step import with_kit_step

    if not (course_root / CONFIG_FILE).is_file():
        raise ReleaseError(f"no {CONFIG_FILE} in {course_root}")
    config = PyFileConfigLoader(CONFIG_FILE, path=str(course_root)).load_config()
    if db_url:
        config.CourseDirectory.db_url = db_url
    ignore = list(config.CourseDirectory.get("ignore", NBGRADER_IGNORE))
    config.CourseDirectory.ignore = ignore + [name for name in INSTRUCTOR_ONLY if name not in ignore]
    steps = config.GenerateAssignment.get("preprocessors", GenerateAssignment.class_traits()["preprocessors"].default())
    config.GenerateAssignment.preprocessors = with_kit_step(list(steps))
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
    """Write release/<assignment>/ with nbgrader (forced, creating the gradebook entry) and the
    kit's step (`grader.release.nbgrader_step`: the check runtime, the notebook's stamp with the
    assignment's first release time).


    Returns the release notebook. On any failure the previous release/ is left as it was
    (keep_previous=False: the caller keeps it, with previous_release_kept around more work).
    """
    root = Path(course.root).resolve()
    folder = root / "release" / course.assignment
    (root / "release").mkdir(exist_ok=True)
    first_release(course, previous=folder / f"{course.notebook}.ipynb")  # before nbgrader removes it
    with _kept_on_failure(folder) if keep_previous else contextlib.nullcontext():
        with alembic_on_path():
            result = _api(root).generate_assignment(course.assignment, force=True, create=True)
        if not result.get("success"):
            raise ReleaseError(f"nbgrader generate_assignment {course.assignment!r} failed: "
                               f"{_failure_summary(result)}")
        notebook = folder / f"{course.notebook}.ipynb"
        if not notebook.is_file():
            raise ReleaseError(f"nbgrader reported success but wrote no {notebook}")
    return notebook


def refresh_release(course) -> Path | None:
    """release/<assignment>/ brought up to date without nbgrader, or None when nbgrader must generate it.

    When the release notebook was generated from the source notebook as it is now (its stamp's
    `notebook` digest) and the release holds exactly the files nbgrader copies by default, only
    the files beside the notebook may have changed (a check, the requirements): they are copied
    again, with the file modes nbgrader gave them, the runtime is shipped again and the stamp
    renewed. It is what `grader release --question` runs while an instructor works on one
    question's checks; the gradebook is left as that generation recorded it. Returns the
    release notebook.
    """
    notebook = course.release_notebook()
    source = course.source_notebook().parent
    if not notebook.is_file():
        return None
    nb = nbformat.read(notebook, as_version=4)
    beside = _copied_by_default(source)
    runtime = notebook.parent / VISIBLE_CHECKS / "runtime"
    generated = shipped_names(course.spec)  # written by the kit's step, not copied from the source
    shipped = {str(p.relative_to(notebook.parent)) for p in notebook.parent.rglob("*")
               if p.is_file() and p != notebook and not p.is_relative_to(runtime)} - generated
    if stamp_of(nb).get("notebook") != notebook_digest(course) or shipped != beside - {f"{VISIBLE_CHECKS}/runtime.py"}:
        return None
    for name in sorted(shipped):
        target = notebook.parent / name
        mode = target.stat().st_mode
        shutil.copyfile(source / name, target)
        os.chmod(target, mode)
    ship_runtime(notebook.parent / VISIBLE_CHECKS)
    for name in generated:
        (notebook.parent / name).unlink(missing_ok=True)
    write_shipped_cases(course.spec, notebook.parent / VISIBLE_CHECKS)
    nb.metadata[STAMP] = stamp_with_release(course, previous=notebook)
    mode = notebook.stat().st_mode
    nbformat.write(nb, notebook)
    os.chmod(notebook, mode)
    return notebook


def _copied_by_default(source: Path) -> set[str]:
    """The files of a source folder that nbgrader copies beside the notebook by default (a course
    config that leaves out more makes the release differ from these, and nbgrader regenerates it)."""
    def ignored(path: Path) -> bool:
        return any(fnmatch.fnmatch(part, pattern) for part in path.relative_to(source).parts
                   for pattern in (*NBGRADER_IGNORE, *INSTRUCTOR_ONLY))

    return {str(p.relative_to(source)) for p in source.rglob("*")
            if p.is_file() and p.suffix != ".ipynb" and not ignored(p)}


def ship_runtime(checks: Path) -> None:
    """Replace the source's runtime.py (the installed kit's) with a copy of the runtime itself."""
    if not checks.is_dir():
        raise FileNotFoundError(f"{checks}: the release has no visible checks")
    (checks / "runtime.py").unlink(missing_ok=True)
    target = checks / "runtime"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    for module in sorted(RUNTIME.glob("*.py")):
        shutil.copy2(module, target / module.name)


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
