"""Per-student feedback HTML through nbgrader, from the autograded notebooks."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor, Preprocessor
from nbgrader.preprocessors import GetGrades
from traitlets import Bool

from grader.course import Course
from grader.intake.text import printable

__all__ = ["generate_feedback", "FeedbackError", "ReadableFeedback", "WRAP_CSS"]

# Pre-formatted output (tracebacks, assertion messages) wraps inside the page.
WRAP_CSS = """
div.output_area pre, div.output_subarea pre, div.output_text pre, div.output_error pre, pre {
  white-space: pre-wrap;
  overflow-wrap: anywhere;
  word-break: normal;
}
div.output_subarea { overflow-x: visible; }
"""


class FeedbackError(RuntimeError):
    """nbgrader could not write feedback; the message is its first error line."""


def generate_feedback(course: Course, students: list[str] | None = None) -> list[Path]:
    """Write feedback/<student>/<assignment>/<notebook>.html for each autograded student.

    A student whose feedback fails does not stop the others: every student is tried, then
    FeedbackError names those that failed.
    """
    from nbgrader.apps import NbGraderAPI

    api = NbGraderAPI(coursedir=course.coursedir, config=course.coursedir.config)  # the course config: ReadableFeedback
    students = students if students is not None else _autograded_students(course)
    paths, failed = [], []
    for student in students:
        outcome = api.generate_feedback(course.assignment, student)
        if outcome.get("success"):
            paths.append(course.feedback_html(student))
        else:
            failed.append(f"{printable(student)} ({printable(_first_error(outcome))})")
    if failed:
        raise FeedbackError(f"feedback written for {len(paths)} students; failed for {len(failed)}: {'; '.join(failed)}")
    return paths


def _autograded_students(course: Course) -> list[str]:
    base = course.root / "autograded"
    return sorted(p.parent.parent.name for p in base.glob(f"*/{course.assignment}/{course.notebook}.ipynb"))


def _first_error(outcome: dict) -> str:
    text = (outcome.get("error") or outcome.get("log") or "unknown error").strip().splitlines()
    return text[-1] if text else "unknown error"


class GradesWithHandGradingState(GetGrades):
    """nbgrader's GetGrades, which also marks a hand-graded answer a TA has not scored yet:
    the gradebook counts it as 0 until then, and the feedback's first line says so instead."""

    def _get_score(self, cell, resources) -> None:
        grade = self.gradebook.find_grade(cell.metadata["nbgrader"]["grade_id"], self.notebook_id,
                                          self.assignment_id, self.student_id)
        cell.metadata.nbgrader["score"] = grade.score  # as nbgrader's own step, one lookup for all three
        cell.metadata.nbgrader["points"] = grade.max_score
        cell.metadata.nbgrader["awaiting_hand_grading"] = bool(grade.needs_manual_grade and grade.manual_score is None)


class ReadableFeedback(Preprocessor):
    """An HTMLExporter step (configured in nbgrader_config.py) for feedback and formgrader pages.

    Both nbgrader templates inline `resources.inlining.css`, so the wrap rules reach the
    feedback files and formgrader's grading view alike. Markdown and raw cells show their HTML
    as text: nbgrader's templates render markdown as live HTML (they ignore
    `HTMLExporter.sanitize_html`), where a student's `<!--`, an unclosed tag or a script
    would hide or restyle the cells after it. In feedback (the only conversion with a total in
    resources), a first cell says what the total counts. Running twice adds nothing.
    """

    enabled = Bool(True, help="Wrap long output lines; show markdown's HTML as text; say what the "
                              "feedback's total counts").tag(config=True)

    def preprocess(self, nb, resources):
        for cell in nb.cells:
            _show_html_as_text(cell)
        if not resources.get("inlining", {}).get("css"):
            # Formgrader's exporter runs CSSHTMLHeaderPreprocessor after this step, and it would
            # replace the CSS; the course config turns it off there, and its highlighting CSS is
            # made here instead (feedback lists it before this step, so it has run already).
            CSSHTMLHeaderPreprocessor(parent=self).preprocess(nb, resources)
        inlining = resources.setdefault("inlining", {})
        if WRAP_CSS not in inlining.get("css", []):
            inlining["css"] = [*inlining.get("css", []), WRAP_CSS]
        info = resources.get("nbgrader", {})
        if "score" in info and "max_score" in info and not _has_note(nb):
            nb.cells.insert(0, nbformat.v4.new_markdown_cell(_total_note(nb, info), metadata={"grader": "total"}))
        return nb, resources


def _show_html_as_text(cell) -> None:
    """A markdown or raw cell whose tags and comments read as text (markdown itself still renders)."""
    if cell.cell_type == "raw":
        cell.cell_type, cell.source = "markdown", "```\n" + cell.source.replace("```", "` ` `") + "\n```"
        cell.metadata.pop("format", None)
        cell.metadata.pop("raw_mimetype", None)
    elif cell.cell_type == "markdown":
        cell.source = cell.source.replace("<", "&lt;")


def _has_note(nb) -> bool:
    return bool(nb.cells) and nb.cells[0].get("metadata", {}).get("grader") == "total"


def _total_note(nb, info: dict) -> str:
    """One line: the total includes hand-graded questions, named with their scores."""
    hand = [cell.metadata.nbgrader for cell in nb.cells
            if cell.metadata.get("nbgrader", {}).get("grade") and cell.metadata.nbgrader.get("solution")]
    graded = ", ".join(f"{m['grade_id']} {_number(None if m.get('awaiting_hand_grading') else m.get('score'))}"
                       f"/{_number(m.get('points'))}" for m in hand)
    by_hand = f" and the hand-graded questions ({graded})" if hand else ""
    return (f"**Total: {_number(info['score'])} / {_number(info['max_score'])}**, counting the autograded "
            f"tests{by_hand}, as recorded in the gradebook.")


def _number(value) -> str:
    return "not graded yet" if value is None else f"{float(value):g}"
