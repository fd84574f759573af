"""`grader new <id>`: the folder of a new assignment, ready for its first question (see docs/authoring.md)."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import nbformat

__all__ = ["new_assignment", "RUNTIME_SHIM", "SETUP_CELL", "TEST_CELL"]

SETUP_CELL = '''import torch
import matplotlib.pyplot as plt

try:  # the visible tests, shipped beside this notebook in checks/
    from checks import check_question
except ImportError as missing:  # each test cell then says so in one line
    class TestsUnavailable(Exception):
        def _render_traceback_(self):
            return [f"TestsUnavailable: {self}"]

    def check_question(question, namespace, reason=str(missing), away=missing.name == "checks"):
        advice = ": keep this notebook next to its checks/ folder" if away else ""
        raise TestsUnavailable(f"{question} cannot be checked here ({reason}){advice}")'''

TEST_CELL = '''{comment}
### BEGIN HIDDEN TESTS
from grader.notebook import check as check_question  # at grading: every part, hidden inputs, partial credit
### END HIDDEN TESTS
assert "check_question" in globals(), (  # defined by the first cell
    "Run the notebook from the top (Kernel → Restart Kernel and Run All Cells…): its first cell imports the tests.")
check_question("{qid}", globals())'''

# checks/runtime.py of a source: the installed kit's runtime. A release puts a copy of the runtime
# in its place; a release made without the kit's step ships this file, and the test cells say so.
RUNTIME_SHIM = '''"""The kit's check runtime. Here, in the course's source, it is the installed kit's; the release
(`grader release`, or nbgrader with the course's nbgrader_config.py) puts a copy of it in its place."""

try:
    from grader.runtime import *  # noqa: F403
    from grader.runtime import __all__  # noqa: F401
except ModuleNotFoundError as missing:
    if missing.name != "grader":
        raise
    raise ModuleNotFoundError("this release was made without the grading kit's step, so its checks cannot "
                              "run: it must come from `grader release`", name="grader") from None
'''

_FILES = {
    "checks/__init__.py": '''"""The visible checks of {id}.ipynb: each test cell runs check_question("<question>", globals())."""

from .runtime import notebook_check
from .vocabulary import FUNCTIONS

check_question = notebook_check(__name__, FUNCTIONS)
''',
    "checks/runtime.py": RUNTIME_SHIM,
    "checks/vocabulary.py": '''"""Named functions the checks pass to student code (they run beside it, in the grading worker too: torch only)."""

FUNCTIONS = {{
    "square": lambda x: x**2,
}}
''',
    "hidden/__init__.py": '''"""The hidden checks of {id}.ipynb (instructor-only): grading-time cases, by part."""
''',
    "banks/__init__.py": '''"""The answer banks of {id}.ipynb (instructor-only): honest styles, misconceptions, broken files."""

from grader.banks import Answer, BrokenFile  # noqa: F401

CORRECT: tuple = ()  # Answer(name, question id, cell source, style): the first per question is its reference
WRONG: tuple = ()  # Answer(name, question id, cell source, misconception, cause=words its message names it by):
#                   each must lose exactly its question
MANUAL: tuple = ()  # model answers of hand-graded questions
BROKEN: tuple = ()  # BrokenFile(name, build(release bytes) -> bytes, what grading must do)
''',
}


def _pins() -> str:
    lines = ["# What a student installs to work on this notebook: pip install -r requirements.txt"]
    for package in ("torch", "matplotlib", "jupyterlab"):
        try:
            lines.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            lines.append(package)
    return "\n".join(lines) + "\n"


def new_assignment(course_root: Path, assignment: str) -> Path:
    """Create source/<assignment>/ with its notebook, checks/, hidden/, banks/ and requirements.txt."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", assignment):
        raise ValueError(f"{assignment!r}: an assignment id is letters, digits, - and _")
    folder = Path(course_root) / "source" / assignment
    if folder.exists():
        raise FileExistsError(f"{folder} already exists")
    for name, text in _FILES.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.format(id=assignment))
    (folder / "requirements.txt").write_text(_pins())
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    setup = nbformat.v4.new_code_cell(SETUP_CELL)
    setup.metadata["nbgrader"] = {"grade": False, "grade_id": "imports", "locked": True,
                                  "schema_version": 3, "solution": False}
    nb.cells = [setup, nbformat.v4.new_markdown_cell(f"# {assignment}")]
    nbformat.write(nb, folder / f"{assignment}.ipynb")
    return folder
