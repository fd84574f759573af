"""The autograded notebook a TA reviews: the release's cells with the student's answers, every
added cell, and the verdicts as test-cell outputs nbgrader scores the same way."""

from __future__ import annotations

import json
import re

import nbformat
from nbgrader import utils as nbutils

from grader.intake.text import printable
from grader.judge.results import SubmissionResult

__all__ = ["autograded_notebook", "notebook_json", "verdict_outputs", "unread_notice", "OUTPUT_CHARS"]

OUTPUT_CHARS = 4000
# What a student whose file could not be graded is told, first thing, in the feedback and in
# formgrader (the cells after it are the release's: nothing of the submission could be read).
_UNREAD = {
    "unreadable": ("This notebook could not be graded: the file handed in could not be read as a Jupyter "
                   "notebook ({why}).", "Open your file in JupyterLab. If it does not open as the notebook with "
                   "your answers, find the copy that does (File → Revert Notebook to Checkpoint, or a copy of "
                   "your own), save it with File → Save Notebook, check that it opens, and submit it again."),
    "no notebook": ("This notebook could not be graded: no notebook to grade was found in what was handed in "
                    "({why}).", "Submit the notebook of this assignment under its own name, {notebook}, in the "
                    "assignment's folder (nbgrader submit sends that folder), with your answers saved in it."),
}


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
    shown: set[int] = set()  # submitted cells already in place, as the answer they fill
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in verdicts:
            cell.outputs, cell.execution_count = verdict_outputs(verdicts[grade_id]), None
        elif nbutils.is_solution(cell) and grade_id in claimed:  # of the release's type, as nbgrader's OverwriteCells
            _fill_answer(cell, claimed[grade_id])
            shown.add(claimed[grade_id].index)
    _insert_extra_cells(nb, result, release_texts, shown)
    if result.status in _UNREAD:
        nb.cells.insert(0, unread_notice(result))
    return nb


def unread_notice(result: SubmissionResult) -> nbformat.NotebookNode:
    """A markdown cell saying why nothing of the submission was graded, and what to do."""
    what, todo = _UNREAD[result.status]
    why = _literal("; ".join(result.notes) or result.status)
    return nbformat.v4.new_markdown_cell(id="grading-notice", source=(  # a fixed id: a regrade writes the same bytes
        f"**{what.format(why=why)}** Every autograded question scores 0, and the cells below are the "
        f"assignment as it was released, not your work.\n\n**What to do:** {todo.format(notebook=_literal(result.notebook))} "
        "If the deadline has passed, show this page to a TA."))


def _literal(text: str) -> str:
    """Text that markdown shows as it is (every punctuation mark escaped): a file name is the
    student's, and may hold markdown or HTML."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!<>|~&])", r"\\\1", printable(text))


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
    """Notebook outputs that make nbgrader's own scoring agree with the verdict.

    Full marks: the passing cases on stdout. Some parts earned: the messages and what each part
    earned on stdout, then the points as the cell's value, which nbgrader reads as partial
    credit. Nothing earned: an error output, which nbgrader scores 0.
    """
    if question.status == "passed":
        lines = [f"passed: {question.id}", *question.messages]
        return [_stream("\n".join(lines) + "\n")]
    parts = [f"{'earned' if p.passed else 'missed'} {p.points:g} point(s): {p.title}" for p in question.parts]
    if question.score > 0:
        lines = [f"partly passed: {question.id}, {question.score:g} of {question.max_score:g}", *parts,
                 *question.messages]
        return [_stream("\n".join(lines) + "\n"),
                nbformat.NotebookNode(output_type="execute_result", execution_count=None, metadata={},
                                      data={"text/plain": f"{question.score:g}"})]
    text = "\n".join([*question.messages, *parts]) or question.status
    ename = {"failed": "AssertionError", "timeout": "TimeoutError"}.get(question.status, "GradingError")
    return [nbformat.NotebookNode(output_type="error", ename=ename, evalue=f"[{question.status}] {text}",
                                  traceback=text.splitlines())]


def _stream(text: str) -> nbformat.NotebookNode:
    """A stdout output, built directly: nbformat's new_output validates each one against the schema."""
    return nbformat.NotebookNode(output_type="stream", name="stdout", text=text)


def _fill_answer(cell, submitted) -> None:
    cell.source = submitted.source
    if cell.cell_type == "code":
        cell.outputs = _cell_outputs(submitted) if submitted.cell_type == "code" else []
        cell.execution_count = None
    elif cell.cell_type == "markdown" and getattr(submitted, "attachments", None):
        cell.attachments = dict(submitted.attachments)


def _cell_outputs(submitted) -> list:
    """The cell's output and error as the TA reads them: a carriage return or an ESC sequence
    would let a student's output redraw itself (Jupyter honours both) into something else."""
    outputs = []
    if submitted.output:
        outputs.append(_stream(printable(submitted.output[:OUTPUT_CHARS], multiline=True)))
    if submitted.error:
        outputs.append(_stream(printable(f"[{submitted.status}] {submitted.error}", multiline=True) + "\n"))
    return outputs


def _insert_extra_cells(nb, result: SubmissionResult, release_texts: set[str], shown: set[int]) -> None:
    """Put each cell the student added or changed after the answer cell it followed (or at the top).

    Every submitted cell with content that is not already in place is shown to the TA: added
    code, markdown and raw cells, a second cell claiming an answer's id, an edited test cell.
    They are inserted without nbgrader metadata, so nbgrader never grades them.
    """
    anchors = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    groups: dict[str | None, list] = {}
    last_anchor = None
    for cell in result.cells:
        if cell.index in shown:
            last_anchor = cell.grade_id
        elif cell.source.strip() and cell.source not in release_texts:
            groups.setdefault(last_anchor, []).append(cell)
        elif cell.grade_id in anchors:
            last_anchor = cell.grade_id
    for anchor, cells in sorted(groups.items(), key=lambda item: -_position_after(anchors, item[0])):
        position = _position_after(anchors, anchor)
        nb.cells[position:position] = [_new_cell(cell) for cell in cells]


def _position_after(anchors: list, anchor: str | None) -> int:
    return anchors.index(anchor) + 1 if anchor in anchors else 1


def _new_cell(cell):
    if cell.cell_type == "markdown":
        new = nbformat.v4.new_markdown_cell(cell.source)
        if getattr(cell, "attachments", None):
            new.attachments = dict(cell.attachments)
        return new
    if cell.cell_type != "code":
        return nbformat.v4.new_raw_cell(cell.source)
    new = nbformat.v4.new_code_cell(cell.source)
    new.outputs = _cell_outputs(cell)
    return new
