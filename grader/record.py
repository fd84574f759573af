"""Record verdicts the nbgrader way: autograded/ notebooks and the gradebook, one writer."""

from __future__ import annotations

import json
import warnings

import nbformat
from nbgrader import utils as nbutils
from nbgrader.api import Gradebook
from sqlalchemy.exc import SAWarning

from .course import Course
from .export import STATUS_FILE
from .results import SubmissionResult

__all__ = ["GradebookWriter", "autograded_notebook", "notebook_json", "verdict_outputs"]

OUTPUT_CHARS = 4000


class GradebookWriter:
    """Holds one gradebook session open and records submissions into it as they arrive."""

    def __init__(self, course: Course):
        self.course = course
        self.release = nbformat.read(course.release_notebook(), as_version=4)
        self.gradebook = Gradebook(course.db_url, course.course_id)
        notebook = self.gradebook.find_notebook(course.notebook, course.assignment)
        # cell ids never change within an assignment; naming them once spares a query per grade
        self.cell_names = {cell.id: cell.name for cell in [*notebook.grade_cells, *notebook.solution_cells, *notebook.task_cells]}

    def __enter__(self) -> "GradebookWriter":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self.gradebook.close()

    def record(self, result: SubmissionResult) -> nbformat.NotebookNode:
        """Write the autograded notebook and the grades of one submission; return the notebook."""
        nb = autograded_notebook(self.release, result)
        self._write_notebook(result, nb)
        self._write_grades(result, nb)
        return nb

    def _write_notebook(self, result: SubmissionResult, nb: nbformat.NotebookNode) -> None:
        path = self.course.autograded_notebook(result.student)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(notebook_json(nb))
        if result.timestamp:
            (path.parent / "timestamp.txt").write_text(result.timestamp)
        (path.parent / STATUS_FILE).write_text(json.dumps(_status_record(result), indent=1))

    def _write_grades(self, result: SubmissionResult, nb: nbformat.NotebookNode) -> None:
        # nbgrader's own submission bookkeeping trips SQLAlchemy's autoflush warnings; they are
        # nbgrader's, harmless, and would bury the progress line
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SAWarning)
            self._save_grades(result, nb)

    def _save_grades(self, result: SubmissionResult, nb: nbformat.NotebookNode) -> None:
        gb, course = self.gradebook, self.course
        gb.update_or_create_student(result.student)
        extra = {"timestamp": result.timestamp} if result.timestamp else {}
        submission = gb.update_or_create_submission(course.assignment, result.student, **extra)
        [notebook] = [n for n in submission.notebooks if n.name == course.notebook]
        grades = {self.cell_names[grade.cell_id]: grade for grade in notebook.grades}
        comments = {self.cell_names[comment.cell_id]: comment for comment in notebook.comments}
        for cell in nb.cells:
            if nbutils.is_grade(cell):
                _save_grade(grades[cell.metadata.nbgrader.grade_id], cell)
            if nbutils.is_solution(cell) or nbutils.is_task(cell):
                _save_comment(comments[cell.metadata.nbgrader.grade_id], cell)
        gb.db.commit()


def _save_grade(grade, cell) -> None:
    """As nbgrader's SaveAutoGrades: a manual grade is kept and flagged for review."""
    grade.auto_score, _ = nbutils.determine_grade(cell)
    grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None


def _save_comment(comment, cell) -> None:
    unchanged = cell.metadata.nbgrader.get("checksum") == nbutils.compute_checksum(cell)
    comment.auto_comment = "No response." if unchanged and not nbutils.is_task(cell) else None


def _status_record(result: SubmissionResult) -> dict:
    record = result.to_json()
    record.update(student=result.student, status=result.status, notes=result.notes, tamper=result.tamper)
    return record


def autograded_notebook(release: nbformat.NotebookNode, result: SubmissionResult) -> nbformat.NotebookNode:
    """The release's structure with the student's answers in place and the verdicts as test outputs.

    The instructor's cells and metadata are kept, so a submission that deleted or edited
    cells or metadata cannot break nbgrader's tools; cells the student added are kept after
    the answer they followed.
    """
    nb = nbformat.NotebookNode(release)
    nb.cells = [nbformat.NotebookNode(cell) for cell in release.cells]  # cells are replaced, never edited
    verdicts = {f"test_{q.id}": q for q in result.questions}
    release_texts = {cell.source for cell in release.cells}
    claimed = {}
    for cell in result.cells:
        if cell.grade_id and cell.grade_id not in claimed:
            claimed[cell.grade_id] = cell
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in verdicts:
            cell.outputs, cell.execution_count = verdict_outputs(verdicts[grade_id]), None
        elif nbutils.is_solution(cell) and grade_id in claimed and claimed[grade_id].cell_type == cell.cell_type:
            _fill_answer(cell, claimed[grade_id])
    _insert_extra_cells(nb, result, release_texts)
    return nb


def notebook_json(nb: dict) -> str:
    """The notebook as JSON text, one line per cell, keys sorted.

    nbformat.write indents every nested value and goes through Python's pure-Python JSON
    encoder, which was a third of the gradebook writer's time at class scale; here each cell
    is one call to the C encoder. The text is a valid notebook that nbformat and Jupyter read
    as usual (the cells were built from the validated release and outputs of known shape).
    """
    fields = []
    for key in sorted(nb):
        if key == "cells" and nb[key]:
            value = "[\n  " + ",\n  ".join(_compact_json(cell) for cell in nb[key]) + "\n ]"
        else:
            value = _compact_json(nb[key])
        fields.append(f" {_compact_json(key)}: {value}")
    return "{\n" + ",\n".join(fields) + "\n}\n"


def _compact_json(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def verdict_outputs(question) -> list:
    """Notebook outputs that make nbgrader's own scoring agree with the verdict."""
    if question.status == "passed":
        lines = [f"passed: {question.id}", *question.messages]
        return [_stream("\n".join(lines) + "\n")]
    text = "\n".join(question.messages) or question.status
    ename = {"failed": "AssertionError", "timeout": "TimeoutError"}.get(question.status, "GradingError")
    return [nbformat.NotebookNode(output_type="error", ename=ename, evalue=f"[{question.status}] {text}",
                                  traceback=text.splitlines())]


def _stream(text: str) -> nbformat.NotebookNode:
    """A stdout output, built directly: nbformat's new_output validates each one against the schema."""
    return nbformat.NotebookNode(output_type="stream", name="stdout", text=text)


def _fill_answer(cell, submitted) -> None:
    cell.source = submitted.source
    if cell.cell_type == "code":
        cell.outputs = _cell_outputs(submitted)
        cell.execution_count = None


def _cell_outputs(submitted) -> list:
    outputs = []
    if submitted.output:
        outputs.append(_stream(submitted.output[:OUTPUT_CHARS]))
    if submitted.error:
        outputs.append(_stream(f"[{submitted.status}] {submitted.error}\n"))
    return outputs


def _insert_extra_cells(nb, result: SubmissionResult, release_texts: set[str]) -> None:
    """Put each cell the student added after the answer cell it followed (or at the top)."""
    anchors = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    groups: dict[str | None, list] = {}
    last_anchor = None
    for cell in result.cells:
        if cell.grade_id in anchors:
            last_anchor = cell.grade_id
        elif cell.source.strip() and cell.source not in release_texts and cell.cell_type in ("code", "markdown"):
            groups.setdefault(last_anchor, []).append(cell)
    for anchor, cells in sorted(groups.items(), key=lambda item: -_position_after(anchors, item[0])):
        position = _position_after(anchors, anchor)
        nb.cells[position:position] = [_new_cell(cell) for cell in cells]


def _position_after(anchors: list, anchor: str | None) -> int:
    return anchors.index(anchor) + 1 if anchor in anchors else 1


def _new_cell(cell):
    if cell.cell_type == "markdown":
        return nbformat.v4.new_markdown_cell(cell.source)
    new = nbformat.v4.new_code_cell(cell.source)
    new.outputs = _cell_outputs(cell)
    return new
