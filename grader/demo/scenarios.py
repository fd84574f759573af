"""Small builders of scenario notebooks and submissions, for tests, the demo and the audit."""

import copy
import datetime
from pathlib import Path

import nbformat

from grader.banks import Banks

__all__ = ["load_release", "solved", "with_answers", "with_extra_cell", "write_submission"]

_STYLES = ("reference", "alternate")


def _grade_id(cell: nbformat.NotebookNode) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _cell_index(nb: nbformat.NotebookNode, grade_id: str) -> int:
    for i, cell in enumerate(nb.cells):
        if _grade_id(cell) == grade_id:
            return i
    raise KeyError(f"the notebook has no cell with grade_id {grade_id!r}")


def load_release(course) -> nbformat.NotebookNode:
    """The student version of a course's assignment notebook, `release/<assignment>/<notebook>.ipynb`."""
    return nbformat.read(course.release_notebook(), as_version=4)


def with_answers(nb: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    """A copy of nb whose solution cells for the given question ids hold the given sources."""
    out = copy.deepcopy(nb)
    for question_id, source in answers.items():
        out.cells[_cell_index(out, question_id)].source = source
    return out


def with_extra_cell(
    nb: nbformat.NotebookNode,
    source: str,
    *,
    after: str | None = None,
    position: int | None = None,
) -> nbformat.NotebookNode:
    """A copy of nb with a new code cell after the cell whose grade_id is `after`, at `position`, or at the end."""
    if after is not None and position is not None:
        raise ValueError("give `after` or `position`, not both")
    out = copy.deepcopy(nb)
    if after is not None:
        position = _cell_index(out, after) + 1
    elif position is None:
        position = len(out.cells)
    out.cells.insert(position, nbformat.v4.new_code_cell(source))
    return out


def solved(nb: nbformat.NotebookNode, banks: Banks, style: str = "reference") -> nbformat.NotebookNode:
    """A copy of nb with every question of the banks answered: `reference` uses each question's
    first CORRECT answer, `alternate` its last; hand-graded questions get their model answer."""
    if style not in _STYLES:
        raise ValueError(f"unknown style {style!r}; known: {', '.join(_STYLES)}")
    pick = 0 if style == "reference" else -1
    ids = dict.fromkeys(a.question for a in banks.correct)
    answers = {qid: banks.correct_for(qid)[pick].source for qid in ids}
    answers.update({a.question: a.source for a in banks.manual})
    return with_answers(nb, answers)


def write_submission(
    course_root: str | Path,
    student_id: str,
    nb_or_bytes: nbformat.NotebookNode | bytes,
    assignment: str,
    notebook: str | None = None,
) -> Path:
    """Write `submitted/<student>/<assignment>/<notebook>.ipynb` and nbgrader's timestamp.txt; return the notebook path."""
    for name, value in (("student_id", student_id), ("assignment", assignment)):
        if not value or value in (".", "..") or "/" in value or "\\" in value:
            raise ValueError(f"{name} {value!r} is not a plain directory name")
    folder = Path(course_root) / "submitted" / student_id / assignment
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{notebook or assignment}.ipynb"
    if isinstance(nb_or_bytes, bytes):
        path.write_bytes(nb_or_bytes)
    else:
        path.write_text(nbformat.writes(nb_or_bytes), encoding="utf-8")
    now = datetime.datetime.now(datetime.timezone.utc)
    (folder / "timestamp.txt").write_text(now.strftime("%Y-%m-%d %H:%M:%S.%f %Z"), encoding="utf-8")
    return path
