"""Per-student feedback HTML, through nbgrader's feedback template, for a whole class at grading speed.

`grader feedback` writes what `nbgrader generate_feedback` writes with the course config, byte
for byte and at the same paths (feedback/<student>/<assignment>/<notebook>.html beside copies of
the autograded folder's other files, as release_feedback needs): the same exporter, template and
steps, with nbgrader's per-student work done once for the class. The gradebook is read once
(grader.report.recorded_grades) instead of a few queries per cell; one exporter compiles the
template once instead of once a student; pages are written on every core, forked after the
first page has warmed every cache; and each student is tried on their own.
"""

from __future__ import annotations

import copy
import functools
import os
import shutil
import traceback
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import nbformat
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor, Preprocessor
from nbgrader.preprocessors import GetGrades
from traitlets import Bool
from traitlets.config import Config
from traitlets.utils.importstring import import_item

from grader.course import Course
from grader.intake.text import printable
from grader.report.recorded_grades import RECORDED, RecordedGrades, read_class_grades
from grader.report.tables import listed

__all__ = ["generate_feedback", "FeedbackError", "ReadableFeedback", "WRAP_CSS", "feedback_exporter"]

# Pre-formatted output (tracebacks, assertion messages) wraps inside the page.
WRAP_CSS = """
div.output_area pre, div.output_subarea pre, div.output_text pre, div.output_error pre, pre {
  white-space: pre-wrap;
  overflow-wrap: anywhere;
  word-break: normal;
}
div.output_subarea { overflow-x: visible; }
"""
PARALLEL_FROM = 8  # students: fewer are written in this process
_PAGES: tuple | None = None  # (course, exporter, grades) while a class is written; forked writers inherit it


class FeedbackError(RuntimeError):
    """Feedback could not be written for some students; the message names them, each with its reason."""


def generate_feedback(course: Course, students: list[str] | None = None, *, jobs: int | None = None) -> list[Path]:
    """Write feedback/<student>/<assignment>/<notebook>.html for each autograded student.

    A student whose feedback fails does not stop the others: every student is tried, then
    FeedbackError names those that failed.
    """
    global _PAGES
    students = students if students is not None else _autograded_students(course)
    recorded = read_class_grades(course.db_url, course.coursedir.course_id, course.assignment)
    _PAGES = (course, feedback_exporter(course), recorded)
    try:
        outcomes = _write_share(students[:1])  # the first page compiles the template and warms the caches
        rest = students[1:]
        jobs = max(1, min(jobs or os.cpu_count() or 1, len(rest) // PARALLEL_FROM or 1))
        if jobs == 1:
            outcomes += _write_share(rest)
        else:
            with ProcessPoolExecutor(jobs, mp_context=get_context("fork")) as pool:
                shares = [rest[i::jobs] for i in range(jobs)]
                for share, done in zip(shares, [pool.submit(_write_share, share) for share in shares], strict=True):
                    outcomes += _share_outcomes(share, done)
    finally:
        _PAGES = None
    paths = [outcome for _, outcome in outcomes if isinstance(outcome, Path)]
    failed = {}
    for student, outcome in outcomes:
        if isinstance(outcome, str):
            failed.setdefault(outcome, []).append(student)
    if failed:
        reasons = "; ".join(f"{printable(reason)}: {listed(students)}" for reason, students in failed.items())
        raise FeedbackError(f"feedback written for {len(paths)} students; failed for "
                            f"{sum(map(len, failed.values()))}: {reasons}")
    return sorted(paths)


def feedback_exporter(course: Course):
    """The exporter `nbgrader generate_feedback` builds from the course config (template
    `feedback`, bootstrap's stylesheet at hand, the kit's inert pages), with the class's recorded
    grades in place of nbgrader's per-cell lookups; built once for the class."""
    from nbgrader.converters import GenerateFeedback

    from grader.pages.exporter import inert_pages

    course_config = copy.deepcopy(course.coursedir.config)
    inert_pages(course_config)  # as the kit's course config has it, even in a course whose config is older
    converter = GenerateFeedback(coursedir=course.coursedir, config=course_config)
    config = Config(converter.config)
    config.HTMLExporter.template_name = "feedback"  # as nbgrader's API sets it
    exporter = converter.exporter_class(config=config)
    for step in converter.preprocessors:  # as nbgrader registers them, the grades from the class's read
        step = import_item(step) if isinstance(step, str) else step
        exporter.register_preprocessor(RecordedGrades if issubclass(step, GetGrades) else step)
    return exporter


def _share_outcomes(share: list[str], done) -> list[tuple[str, Path | str]]:
    try:
        return done.result()
    except Exception as exc:  # the process writing this share died: its students are named, the others kept
        return [(student, f"the page writer stopped: {_one_line(exc)}") for student in share]


def _write_share(students: list[str]) -> list[tuple[str, Path | str]]:
    """(student, path written) or (student, why not), for each student in turn."""
    course, exporter, recorded = _PAGES
    outcomes = []
    for student in students:
        try:
            outcomes.append((student, _write_page(course, exporter, recorded, student)))
        except Exception as exc:  # one student's page never stops the class's
            outcomes.append((student, _one_line(exc)))
    return outcomes


def _write_page(course: Course, exporter, recorded: dict, student: str) -> Path:
    if not student or student in (".", "..") or "/" in student or "\\" in student:
        raise ValueError("not a student folder name")
    if student not in recorded:
        raise LookupError("no submission of this notebook in the gradebook")
    source = course.autograded_notebook(student)
    resources = {"unique_key": course.notebook, "output_files_dir": f"{course.notebook}_files",
                 "nbgrader": {"student": student, "assignment": course.assignment, "notebook": course.notebook,
                              "db_url": course.db_url, RECORDED: recorded[student]}}
    page, _ = exporter.from_filename(str(source), resources=resources)
    target = course.feedback_html(student)
    if target.parent.is_dir():  # as nbgrader's --force: nothing stale beside the page (an old secret)
        shutil.rmtree(target.parent)
    target.parent.mkdir(parents=True)
    _copy_beside(course, source.parent, target.parent)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(page, encoding="utf-8")
    os.chmod(partial, 0o664 if course.coursedir.groupshared else 0o644)
    partial.replace(target)
    return target


def _copy_beside(course: Course, source: Path, target: Path) -> None:
    """The autograded folder's other files (timestamp.txt, submission_secret.txt, ...), as nbgrader copies them."""
    from nbgrader.utils import find_all_files

    for name in find_all_files(str(source), course.coursedir.ignore + ["*.ipynb"]):
        path = target / os.path.relpath(name, source)
        path.parent.mkdir(parents=True, exist_ok=True)
        if os.path.isfile(name) and not os.path.islink(name):
            shutil.copyfile(name, path)
            os.chmod(path, 0o664 if course.coursedir.groupshared else 0o644)


def without_feedback(course: Course) -> list[str]:
    """Students who handed the assignment in but have no autograded notebook to write a page from."""
    return sorted(set(course.students()) - set(_autograded_students(course)))


def _autograded_students(course: Course) -> list[str]:
    base = course.root / "autograded"
    return sorted(p.parent.parent.name for p in base.glob(f"*/{course.assignment}/{course.notebook}.ipynb"))


def _one_line(exc: BaseException) -> str:
    lines = traceback.format_exception_only(type(exc), exc)[-1].strip().splitlines()
    return lines[-1][:300] if lines else type(exc).__name__


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
    """An HTMLExporter step (configured in nbgrader_config.py, after InertNotebook) for feedback
    and formgrader pages.

    Both nbgrader templates inline `resources.inlining.css`, so the wrap rules reach the
    feedback files and formgrader's grading view alike. In feedback (the only conversion with a
    total in resources), a first cell says what the total counts. Running twice adds nothing.
    """

    enabled = Bool(True, help="Wrap long output lines; say what the feedback's total counts").tag(config=True)

    def preprocess(self, nb, resources):
        inlining = resources.setdefault("inlining", {})
        if not inlining.get("css"):
            # Formgrader's exporter runs CSSHTMLHeaderPreprocessor after this step, and it would
            # replace the CSS; the course config turns it off, and its highlighting CSS is made here.
            inlining["css"] = list(_highlight_css(resources.get("config_dir", "")))
        if WRAP_CSS not in inlining["css"]:
            inlining["css"] = [*inlining["css"], WRAP_CSS]
        info = resources.get("nbgrader", {})
        if "score" in info and "max_score" in info and not _has_note(nb):
            nb.cells.insert(0, nbformat.v4.new_markdown_cell(_total_note(nb, info), metadata={"grader": "total"}))
        return nb, resources


@functools.lru_cache(maxsize=4)
def _highlight_css(config_dir: str) -> tuple[str, ...]:
    """The CSS nbconvert's CSSHTMLHeaderPreprocessor makes (code highlighting, and the user's
    custom.css if any): the same for every page, so made once."""
    resources: dict = {"config_dir": config_dir}
    CSSHTMLHeaderPreprocessor().preprocess(nbformat.v4.new_notebook(), resources)
    return tuple(resources["inlining"]["css"])


def _has_note(nb) -> bool:
    return bool(nb.cells) and nb.cells[0].get("metadata", {}).get("grader") == "total"


def _total_note(nb, info: dict) -> str:
    """One line: the total includes hand-graded questions, named with their scores, less any late penalty."""
    hand = [cell.metadata.nbgrader for cell in nb.cells
            if cell.metadata.get("nbgrader", {}).get("grade") and cell.metadata.nbgrader.get("solution")]
    graded = ", ".join(f"{m['grade_id']} {_score_of(m)}" for m in hand)
    by_hand = f" and the hand-graded questions ({graded})" if hand else ""
    penalty = info.get("late_penalty") or 0
    late = f", less a late penalty of {_number(penalty)}" if penalty else ""
    return (f"**Total: {_number(info['score'])} / {_number(info['max_score'])}**, counting the autograded "
            f"tests{by_hand}{late}, as recorded in the gradebook.")


def _score_of(cell: dict) -> str:
    """`1/2`, or `not graded yet (2 points)` for a hand-graded answer a TA has still to score."""
    score = None if cell.get("awaiting_hand_grading") else cell.get("score")
    if score is None:
        return f"not graded yet ({_number(cell.get('points'))} point{'s' if cell.get('points') != 1 else ''})"
    return f"{_number(score)}/{_number(cell.get('points'))}"


def _number(value) -> str:
    return "not graded yet" if value is None else f"{float(value):g}"
