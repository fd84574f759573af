"""nbgrader's autograde step, done by the kit's contained judge: one verdict whichever button a TA presses.

`nbgrader autograde` and formgrader's Autograde button run the course's
`Autograde.autograde_preprocessors`. The course config puts `KitJudge` where nbgrader's
`Execute` was: instead of running the student's notebook in a kernel inside the TA's process
(with the gradebook one `../../../gradebook.db` away), it grades the student's submitted file
with the kit's judges (contained workers, hidden inputs from the course secret) and hands
nbgrader the kit's autograded notebook, rebuilt from the release, whose test cells carry the
verdicts as outputs. `SaveVerdicts` then records exactly the kit's scores, as nbgrader's
SaveAutoGrades would.

A run that converts several students grades them all ahead, in parallel, from its first
notebook on (grader.judge.ahead), while nbgrader does its own work on each notebook in turn.
"""

from __future__ import annotations

import atexit
import copy
import threading
import weakref

import nbformat
from nbconvert.exporters import NotebookExporter
from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import (
    AssignLatePenalties,
    ClearHiddenTests,
    NbGraderPreprocessor,
    OverwriteCells,
)
from traitlets import Bool

# the course config of an earlier kit imports the steps' lists from here
from grader.judge.nbgrader_steps import KIT_AUTOGRADE_PREPROCESSORS, KIT_SANITIZE_PREPROCESSORS  # noqa: F401

__all__ = ["KitJudge", "SaveVerdicts", "LatePenalties", "ReleasedTestCells", "SubmissionReader", "close_graders",
           "course_of_app", "release_notebook"]

KIT_RESOURCES = "grader"  # the kit's entry in nbconvert's resources: what KitJudge tells SaveVerdicts

_graders: dict = {}
_releases: dict = {}
_gradebooks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # converter -> (db_url, its run's Gradebook)
_run: dict = {}  # the converter run being graded ahead: {"converter": weakref, "assignment", "ahead"}
_lock = threading.RLock()


class KitJudge(NbGraderPreprocessor):
    """Replace the notebook nbgrader is autograding with the kit's verdict on that student's submission."""

    enabled = Bool(True, help="Grade with the kit's contained judge").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        from grader.record.gradebook import recorded_time, write_status
        from grader.record.notebook import autograded_notebook

        info = resources["nbgrader"]
        course = course_of_app(self, info["assignment"])
        if info["notebook"] != course.notebook:
            raise ValueError(f"the kit grades {course.notebook}.ipynb, not {info['notebook']}.ipynb")
        result = _verdict(_converter_of(self), course, info["student"], self.log)
        write_status(course, result)
        # the submission time the judge decided on replaces the one nbgrader took from timestamp.txt,
        # before AssignLatePenalties reads it
        resources[KIT_RESOURCES] = {"submitted": recorded_time(result)}
        return autograded_notebook(release_notebook(course), result), resources


class SaveVerdicts(NbGraderPreprocessor):
    """nbgrader's SaveAutoGrades in one commit: the grade of each test cell and the "No response."
    comment of each unanswered cell, as SaveAutoGrades records them (and the submission time
    KitJudge decided on). SaveAutoGrades opens a gradebook (a database engine, whose queries are
    compiled anew) for each notebook, then queries and commits once per cell; this step keeps one
    gradebook for the converter run."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        from nbgrader.api import Gradebook

        converter = _converter_of(self)
        if converter is None:
            with Gradebook(resources["nbgrader"]["db_url"]) as gb:
                return self._save(gb, nb, resources)
        gb = _gradebook_of(converter, resources["nbgrader"]["db_url"])
        try:
            return self._save(gb, nb, resources)
        finally:
            gb.db.remove()  # the session (one per thread) ends with the notebook; the engine stays

    def _save(self, gb, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        from grader.record.gradebook import save_notebook_grades

        info = resources["nbgrader"]
        judged = resources.setdefault(KIT_RESOURCES, {})
        judged["late_or_penalised"] = save_notebook_grades(
            gb, info["assignment"], info["notebook"], info["student"], nb,
            submitted=judged.get("submitted"), set_time="submitted" in judged)
        return nb, resources


class LatePenalties(AssignLatePenalties):
    """nbgrader's AssignLatePenalties (the course's rule and plugin), for a submission that is late
    or carries a penalty; SaveVerdicts has just read which. For any other it would only reset a
    penalty that is already none, in a gradebook session of its own."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        if resources.get(KIT_RESOURCES, {}).get("late_or_penalised", True):
            return super().preprocess(nb, resources)
        return nb, resources


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
    """nbgrader's reader of the notebooks it autogrades, for the course config's `Autograde.exporter_class`.

    nbgrader reads each notebook twice. Its sanitizing pass reads the submitted file, so that
    ReleasedTestCells can report a test cell the student edited; a file nbgrader cannot read (not
    JSON, not UTF-8, not a notebook) is read as the release notebook instead, so nbgrader goes on
    to the kit's judge, which reads the submitted file itself, bounded, and records it as
    unreadable, with 0, rather than nbgrader stopping with a traceback and no grades. When the
    kit's judge grades the run, its autograde pass is handed the release notebook rather than
    reading the sanitized copy again: KitJudge replaces whatever it is handed by the notebook
    rebuilt from the release. Otherwise (nbgrader's Execute configured instead) it reads as
    nbgrader's exporter does.
    """

    def from_filename(self, filename: str, resources: ResourcesDict | None = None, **kw):
        resources = ResourcesDict() if resources is None else resources
        info = resources.get("nbgrader") or {}
        converter = _converter_of(self)
        if "assignment" not in info or converter is None or not _grades_with_kit(converter):
            return super().from_filename(filename, resources=resources, **kw)
        if getattr(converter, "_sanitizing", True):
            try:
                return super().from_filename(filename, resources=resources, **kw)
            except Exception:  # noqa: BLE001 -- whatever the submitted bytes make nbformat raise
                pass
        release = release_notebook(course_of_app(self, info["assignment"]))
        return self.from_notebook_node(release, resources=resources, **kw)

    def from_notebook_node(self, nb: NotebookNode, resources: ResourcesDict | None = None, **kw):
        """nbconvert's export with the notebook validated once, after the last step, rather than after
        each, and written as the kit writes its autograded notebooks (grader.record.notebook.notebook_json).

        In the autograde pass with the kit's judge every step but KitJudge only drops outputs or metadata,
        or writes the gradebook: each nbconvert validation, deep copy and indented dump would cost as much
        as the step. The sanitizing pass, on the student's notebook, is nbconvert's own.
        """
        converter = _converter_of(self)
        if converter is None or not _grades_with_kit(converter) or getattr(converter, "_sanitizing", True):
            return super().from_notebook_node(nb, resources, **kw)
        from grader.record.notebook import notebook_json

        resources = self._init_resources(resources)
        nb = copy.deepcopy(nb)  # the steps may edit what they are handed; the release read once stays as read
        for step in self._preprocessors:
            nb, resources = step(nb, resources)
        nbformat.validate(nb)
        resources["output_suffix"] = ".nbconvert"
        return notebook_json(nb), resources


def release_notebook(course) -> NotebookNode:
    """The course's release notebook, read once per version of the file (never edited in place)."""
    path = course.release_notebook()
    version = path.stat().st_mtime_ns
    held = _releases.get(path)
    if held is None or held[0] != version:
        held = _releases[path] = (version, nbformat.read(path, as_version=4))
    return held[1]


def _verdict(converter, course, student: str, log):
    """The student's result: graded ahead when the run converts several students, else here."""
    ahead = _grading_ahead(converter, course, student, log)
    if ahead is not None and student in ahead.students:
        return ahead.verdict(student)
    log.info("Grading %s with the kit's judge", student)
    with _lock:  # formgrader may autograde from several threads; one judge, one submission at a time
        return _grader_for(course).grade_student(student)


def _grading_ahead(converter, course, student: str, log):
    """The converter run's GradingAhead, started at its first notebook (`student`'s); None for a
    run of one student."""
    from grader.judge.ahead import GradingAhead, students_to_convert
    from grader.judge.batch import default_jobs

    if converter is None:
        return None
    with _lock:
        if _run.get("converter") is not None and _run["converter"]() is converter \
                and _run["assignment"] == course.assignment:
            return _run["ahead"]
        _stop_grading_ahead()
        students = students_to_convert(converter, course.assignment, student)
        ahead = None
        if len(students) > 1:
            ahead = GradingAhead(course, students, default_jobs())
            log.info("Grading %d submissions (%s to %s) with %d of the kit's judges in parallel, ahead of "
                     "nbgrader's own steps", len(students), students[0], students[-1], len(ahead.pool.judges))
        _run.update(converter=weakref.ref(converter), assignment=course.assignment, ahead=ahead)
        return ahead


def _stop_grading_ahead() -> None:
    ahead = _run.pop("ahead", None)
    _run.clear()
    if ahead is not None:
        ahead.close()


def _gradebook_of(converter, db_url: str):
    """The gradebook the converter run's SaveVerdicts steps share, closed when the run's converter goes."""
    from nbgrader.api import Gradebook

    with _lock:
        url, gb = _gradebooks.get(converter, (None, None))
        if gb is None or url != db_url:
            gb = Gradebook(db_url, converter.coursedir.course_id)
            _gradebooks[converter] = (db_url, gb)
            weakref.finalize(converter, gb.engine.dispose)
        return gb


def _grades_with_kit(converter) -> bool:
    """Whether the converter's autograde steps include an enabled KitJudge."""
    from traitlets.utils.importstring import import_item

    steps = [import_item(step) if isinstance(step, str) else step for step in converter.autograde_preprocessors]
    judges = [step for step in steps if isinstance(step, type) and issubclass(step, KitJudge)
              or isinstance(step, KitJudge)]
    return any(step.enabled if isinstance(step, KitJudge) else step(config=converter.config).enabled
               for step in judges)


def _converter_of(configurable):
    """The nbgrader Autograde converter that owns `configurable` (a step's exporter's parent); None outside one."""
    from nbgrader.converters import Autograde

    owner = configurable
    while owner is not None and not isinstance(owner, Autograde):
        owner = getattr(owner, "parent", None)
    return owner


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
    """One Grader (and warm parent) per course, kept while this process lives: formgrader grades
    one student per press of its button, and its server outlives them all.

    A Grader made before the instructor changed the source or the release (its trusted plan) is replaced.
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
    """Stop every judge and warm parent this process started (also called by tests between courses)."""
    with _lock:
        _stop_grading_ahead()
        while _graders:
            _, (_, grader) = _graders.popitem()
            grader.close()
