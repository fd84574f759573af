"""Late work as nbgrader defines it: the gradebook's due date and extensions, and the course's late-penalty plugin.

The penalty is nbgrader's own: its AssignLatePenalties step, configured by the course's
nbgrader_config.py (`c.LateSubmissionPlugin.penalty_method`, or a plugin class of the
course's own in `c.AssignLatePenalties.plugin_class`), run for each late submission as
`nbgrader autograde` runs it. The step resets the penalty before it assigns one, so
assigning again never doubles it, and a submission no longer late (the due date moved, an
extension granted) loses its penalty.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from grader.course import Course, CourseError

__all__ = ["LateSubmission", "apply_late_penalties", "check_late_rule", "late_submissions", "penalty_rule"]

_KIT = Path(__file__).resolve().parents[1]  # the grader package
# nbgrader's step and plugin log each late submission at warning level; the kit reports them itself.
_QUIET = logging.getLogger("grader.late")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


@dataclass(frozen=True)
class LateSubmission:
    """A submission handed in after its due date (the student's extension included)."""

    student: str
    submitted: datetime.datetime  # naive UTC, as the gradebook stores it
    due: datetime.datetime
    seconds_late: float
    penalty: float  # what the gradebook holds: 0 when the course's rule gives none

    @property
    def hours_late(self) -> float:
        return self.seconds_late / 3600


def apply_late_penalties(course: Course, students: list[str] | None = None) -> list[LateSubmission]:
    """Assign each late submission's penalty (and clear a stale one) with nbgrader's AssignLatePenalties
    under the course's configuration; return the late submissions, sorted by student.

    Only submissions that are late or carry a penalty are visited: an assignment without a due
    date costs one query.
    """
    pending = _late_or_penalised(course, students)  # loads the course config (importing the kit) first
    with _course_plugins(course.root):
        step = _assign_step(course)  # a rule that cannot be used is an error even when no one is late
        for student in pending:
            step.preprocess(_empty_notebook(), _resources(course, student))
    return late_submissions(course, students)


def check_late_rule(course: Course) -> None:
    """Load the course's late-penalty plugin: a setting that cannot be used is a one-line
    CourseError before any submission is graded, not after the class is recorded."""
    _late_plugin(course)


def late_submissions(course: Course, students: list[str] | None = None) -> list[LateSubmission]:
    """The gradebook's late submissions of the course's assignment (optionally of some students only)."""
    from nbgrader.api import Gradebook, MissingEntry

    wanted = None if students is None else set(students)
    with Gradebook(course.db_url, course.course_id) as gb:
        try:
            rows = _submissions(gb, course.assignment)
        except MissingEntry:  # never autograded: nothing handed in, nothing late
            return []
        late = [LateSubmission(s.student_id, s.timestamp, s.duedate, s.total_seconds_late,
                               float(s.late_submission_penalty or 0.0))
                for s in rows if (wanted is None or s.student_id in wanted) and s.total_seconds_late > 0]
    return sorted(late, key=lambda item: item.student)


def penalty_rule(course: Course) -> str:
    """The course's late-penalty rule in a few words, as its nbgrader configuration sets it."""
    plugin = _late_plugin(course)
    method = getattr(plugin, "penalty_method", None)
    name = f"{type(plugin).__module__}.{type(plugin).__qualname__}"
    return f"{name}, penalty_method {method!r}" if method is not None else name


def _late_plugin(course: Course):
    """The plugin AssignLatePenalties makes under the course's configuration (CourseError if it cannot)."""
    course.coursedir  # noqa: B018 -- loaded outside the block that drops the course's own modules
    with _course_plugins(course.root):
        step = _assign_step(course)
        step.init_plugin()
        return step.plugin_inst


def _late_or_penalised(course: Course, students: list[str] | None) -> list[str]:
    from nbgrader.api import Gradebook, MissingEntry

    wanted = None if students is None else set(students)
    with Gradebook(course.db_url, course.course_id) as gb:
        try:
            rows = _submissions(gb, course.assignment)
        except MissingEntry:
            return []
        return sorted(s.student_id for s in rows if (wanted is None or s.student_id in wanted)
                      and (s.total_seconds_late > 0 or s.late_submission_penalty))


def _submissions(gb, assignment: str) -> list:
    """Every submission of the assignment with its late penalty, in one query."""
    from nbgrader.api import SubmittedAssignment
    from sqlalchemy.orm import joinedload, undefer

    assignment_id = gb.find_assignment(assignment).id
    return (gb.db.query(SubmittedAssignment)
            .filter(SubmittedAssignment.assignment_id == assignment_id)
            .options(undefer(SubmittedAssignment.late_submission_penalty),
                     joinedload(SubmittedAssignment.assignment))
            .all())


def _assign_step(course: Course):
    """nbgrader's AssignLatePenalties configured by the course; a plugin class that cannot be
    loaded is a one-line CourseError naming the setting."""
    from nbgrader.preprocessors import AssignLatePenalties
    from traitlets import TraitError

    try:
        return AssignLatePenalties(config=course.coursedir.config, log=_QUIET)
    except (TraitError, ImportError) as exc:
        setting = course.coursedir.config.get("AssignLatePenalties", {}).get("plugin_class")
        raise CourseError(f"c.AssignLatePenalties.plugin_class = {setting!r} in nbgrader_config.py "
                          f"cannot be used: {_import_problem(setting) or exc}") from None


def _import_problem(setting) -> str | None:
    """Why the plugin class named in the configuration does not import, in a few words."""
    import importlib

    if not isinstance(setting, str):
        return None
    module_name, _, class_name = setting.rpartition(".")
    try:
        module = importlib.import_module(module_name or class_name)
    except Exception as exc:  # noqa: BLE001 -- whatever the course's module raises on import
        return f"{type(exc).__name__}: {exc}"
    if module_name and not hasattr(module, class_name):
        return f"module {module_name!r} imports but has no class {class_name!r}"
    return "it is not a subclass of nbgrader's BasePlugin"


def _resources(course: Course, student: str) -> dict:
    from nbconvert.exporters.exporter import ResourcesDict

    return ResourcesDict(nbgrader={"notebook": course.notebook, "assignment": course.assignment,
                                   "student": student, "db_url": course.db_url})


def _empty_notebook():
    """What the step is handed: it reads the gradebook, no cell."""
    import nbformat

    return nbformat.v4.new_notebook()


@contextlib.contextmanager
def _course_plugins(root: Path):
    """The course root importable while its configuration is read, as nbgrader's apps make their
    working directory importable (its documentation puts a plugin module beside nbgrader_config.py).
    Modules imported from the course are dropped afterwards, so another course's module of the
    same name is its own."""
    root = Path(root).resolve()
    before = set(sys.modules)
    sys.path.insert(0, str(root))
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(root))
        for name in set(sys.modules) - before:
            if _course_module(sys.modules[name], root):
                del sys.modules[name]


def _course_module(module, root: Path) -> bool:
    """A module loaded from the course's folder, not the kit's own package (the kit's sample course
    is the kit's folder)."""
    where = getattr(module, "__file__", None)
    if not where:
        return False
    path = Path(where).resolve()
    return path.is_relative_to(root) and not path.is_relative_to(_KIT)
