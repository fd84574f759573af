"""nbgrader's autograde step, done by the kit's contained judge: one verdict whichever button a TA presses.

`nbgrader autograde` and formgrader's Autograde button run the course's
`Autograde.autograde_preprocessors`. The course config puts `KitJudge` where nbgrader's
`Execute` was: instead of running the student's notebook in a kernel inside the TA's
process (with the gradebook one `../../../gradebook.db` away), it grades the student's
submitted file with the kit's Grader (contained workers, hidden inputs from the course
secret) and hands nbgrader the kit's autograded notebook, whose test cells carry the
verdicts as outputs. nbgrader's own SaveAutoGrades then records exactly the kit's scores.
"""

from __future__ import annotations

import atexit
import threading

import nbformat
from nbconvert.exporters import NotebookExporter
from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor, OverwriteCells
from traitlets import Bool

__all__ = ["KitJudge", "SubmissionReader", "ReleasedTestCells", "KIT_AUTOGRADE_PREPROCESSORS",
           "KIT_SANITIZE_PREPROCESSORS", "STOCK_AUTOGRADE_PREPROCESSORS", "close_graders", "course_of_app"]

# nbgrader's autograde steps with Execute replaced by the kit's judge. The order is nbgrader's
# (converters/autograde.py): the verdicts must be in the notebook before SaveAutoGrades reads
# them, and late penalties are applied to the saved grades.
KIT_AUTOGRADE_PREPROCESSORS = [
    "grader.judge.nbgrader_preprocessor.KitJudge",      # was Execute: student code runs only in the kit's workers
    "nbgrader.preprocessors.IgnorePattern",              # harmless: filters outputs
    "nbconvert.preprocessors.ClearMetadataPreprocessor",  # harmless: disabled unless configured
    "nbgrader.preprocessors.LimitOutput",                # harmless: caps outputs
    "nbgrader.preprocessors.SaveAutoGrades",             # records the kit's verdicts through nbgrader
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# nbgrader's sanitizing steps (converters/autograde.py), with OverwriteCells knowing that the release's
# test cells hold no hidden tests.
KIT_SANITIZE_PREPROCESSORS = [
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "grader.judge.nbgrader_preprocessor.ReleasedTestCells",  # was OverwriteCells
    "nbgrader.preprocessors.CheckCellMetadata",
]

# nbgrader 0.9.6's own list, for comparing the stock path with the kit's (tests do).
STOCK_AUTOGRADE_PREPROCESSORS = [
    "nbgrader.preprocessors.Execute",
    *KIT_AUTOGRADE_PREPROCESSORS[1:],
]

_graders: dict = {}
_lock = threading.Lock()


class KitJudge(NbGraderPreprocessor):
    """Replace the notebook nbgrader is autograding with the kit's verdict on that student's submission."""

    enabled = Bool(True, help="Grade with the kit's contained judge").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        from grader.record.gradebook import write_status
        from grader.record.notebook import autograded_notebook

        info = resources["nbgrader"]
        course = self._course(info["assignment"])
        if info["notebook"] != course.notebook:
            raise ValueError(f"the kit grades {course.notebook}.ipynb, not {info['notebook']}.ipynb")
        with _lock:  # formgrader may autograde from several threads; one judge, one submission at a time
            result = _grader_for(course).grade_student(info["student"])
        write_status(course, result)
        _record_submission_time(course, info["student"], result)
        release = nbformat.read(course.release_notebook(), as_version=4)
        return autograded_notebook(release, result), resources

    def _course(self, assignment: str):
        return course_of_app(self, assignment)


class ReleasedTestCells(OverwriteCells):
    """nbgrader's OverwriteCells, for test cells that hold hidden tests.

    nbgrader compares each submitted locked cell with the source cell, hidden tests included,
    so every test cell of every untouched notebook reads as changed ("checksum has changed!"),
    which a TA takes for tampering. A test cell as the release gave it (the source cell with its
    hidden tests removed, as generate_assignment removes them) is not reported; any other change
    is, as nbgrader reports it. Every locked cell is put back as the source has it, as before.
    """

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict, cell_index: int):
        self._submitted = cell.source  # report_change compares it with the released cell
        return super().preprocess_cell(cell, resources, cell_index)

    def report_change(self, name: str, attr: str, old, new) -> None:
        if attr == "checksum" and self._submitted == self._released_source(name):
            return  # only the hidden tests differ, and the release removed those
        super().report_change(name, attr, old, new)

    def _released_source(self, name: str) -> str:
        cell = NotebookNode(source=self.gradebook.find_source_cell(name, self.notebook_id, self.assignment_id).source)
        ClearHiddenTests(config=self.config)._remove_hidden_test_region(cell)
        return cell.source


class SubmissionReader(NotebookExporter):
    """nbgrader's reader of the notebooks it autogrades, for the course config's
    `Autograde.exporter_class`: a submitted notebook that nbgrader cannot read (not JSON, not
    UTF-8, not a notebook) is read as the release notebook instead, so nbgrader goes on to the
    kit's judge, which reads the submitted file itself and gives its verdict (unreadable, with
    a score of 0) rather than nbgrader stopping with a traceback and no grades."""

    def from_filename(self, filename: str, resources: ResourcesDict | None = None, **kw):
        resources = ResourcesDict() if resources is None else resources
        try:
            return super().from_filename(filename, resources=resources, **kw)
        except Exception:  # noqa: BLE001 -- whatever the submitted bytes make nbformat raise
            info = resources.get("nbgrader") or {}
            if "assignment" not in info:
                raise
            release = nbformat.read(course_of_app(self, info["assignment"]).release_notebook(), as_version=4)
            return self.from_notebook_node(release, resources=resources, **kw)


def _record_submission_time(course, student: str, result) -> None:
    """Replace the submission time nbgrader took from the student's timestamp.txt with the kit's
    (the claim when it can be trusted, else the collection time), before AssignLatePenalties reads it."""
    from nbgrader.api import Gradebook

    from grader.record.gradebook import recorded_time

    with Gradebook(course.db_url, course.course_id) as gb:
        gb.find_submission(course.assignment, student).timestamp = recorded_time(result)
        gb.db.commit()


def course_of_app(configurable, assignment: str):
    """The Course of the nbgrader app running `configurable` (its CourseDirectory's root)."""
    from grader.course import Course

    owner = configurable.parent
    while owner is not None and getattr(owner, "coursedir", None) is None:
        owner = getattr(owner, "parent", None)
    if owner is None:
        from nbgrader.coursedir import CourseDirectory

        root = CourseDirectory(config=configurable.config).root
    else:
        root = owner.coursedir.root
    return Course.at(root, assignment)


def _grader_for(course):
    """One Grader (and warm parent) per course, kept while this process lives: a class is one run.

    Formgrader's server lives longer than one run: a Grader made before the instructor changed
    the source or the release (its trusted plan) is replaced.
    """
    from grader.judge.grader import Grader

    key = (str(course.root), course.assignment)
    version = tuple(path.stat().st_mtime_ns for path in (course.source_notebook(), course.release_notebook()))
    held = _graders.get(key)
    if held is not None and held[0] != version:
        held[1].close()
        held = None
    if held is None:
        held = _graders[key] = (version, Grader(course))
    return held[1]


@atexit.register
def close_graders() -> None:
    """Stop every warm parent this process started (also called by tests between courses)."""
    with _lock:
        while _graders:
            _, (_, grader) = _graders.popitem()
            grader.close()
