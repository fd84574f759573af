"""The whole job on a simulated class: release, submissions, autograde, export, feedback, class report."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from grader.course import Course, CourseError, assignments_of, course_root

__all__ = ["run_demo", "prepare_course", "kit_course_root", "demo_assignment", "demo_template"]


def kit_course_root() -> Path:
    """The course directory that ships with the kit (its source/ and nbgrader_config.py)."""
    return Path(__file__).resolve().parents[2]


def demo_template(course: str | Path | None) -> Path:
    """The course the demo copies: `course` when it is a course directory, else the kit's own."""
    try:
        return course_root(course if course is not None else ".")
    except CourseError:
        return kit_course_root()


def demo_assignment(template: Path, assignment: str | None = None) -> str:
    """The assignment the demo simulates: the one named, else the first of the course's in sorted order.

    CourseError (one line) when the course has none or not the one named.
    """
    if assignment is None:
        known = assignments_of(course_root(template))
        if not known:
            raise CourseError(f"{template} has no assignment in source/: create one with `grader new ID`")
        assignment = known[0]
    return Course.at(template, assignment).assignment


def prepare_course(output: Path, template: Path | None = None, assignment: str | None = None) -> Course:
    """A fresh course under output/course with the template's config and one assignment's source
    folder (`demo_assignment` picks it when none is named)."""
    template = template or kit_course_root()
    assignment = demo_assignment(template, assignment)
    root = output / "course"
    if root.exists():
        shutil.rmtree(root)
    (root / "source").mkdir(parents=True)
    shutil.copy(template / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(template / "source" / assignment, root / "source" / assignment,
                    ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    return Course.at(root, assignment)


def run_demo(output: Path, *, students: int = 36, jobs: int | None = None, audit: bool = True,
             assignment: str | None = None, template: Path | None = None) -> str:
    """Run every stage on a simulated class of one of the template course's assignments (the kit's
    own course by default) and return the printed summary, whose first line names the assignment."""
    from grader.demo.simulate import simulate_class
    from grader.judge.batch import autograde
    from grader.release.audit import audit_assignment
    from grader.release.generate import generate_release
    from grader.report.export import export_grades
    from grader.report.feedback import generate_feedback
    from grader.report.publish import write_report
    from grader.report.tables import class_table

    output = Path(output).resolve()
    template = template or kit_course_root()
    started = time.monotonic()
    course = prepare_course(output, template, assignment)
    chosen = _chosen_line(template, course.assignment, named=assignment is not None)
    generate_release(course)
    audit_line = _audit_line(audit_assignment(course, jobs=jobs)) if audit else "audit: skipped"
    roster = simulate_class(course, students)
    results = autograde(course, jobs=jobs)
    exported = export_grades(course)
    feedback = generate_feedback(course)
    report = write_report(course.root, course.assignment, output)
    (output / "class.json").write_text(json.dumps([vars(s) for s in roster], indent=1))
    lines = [
        chosen,
        class_table(results),
        audit_line,
        f"grades: {exported.grades} (Canvas: {exported.canvas.name}, Moodle: {exported.moodle.name})",
        f"feedback: {len(feedback)} files under {course.root / 'feedback'}",
        f"class report: {report.html} ({len(report.report.needs_help)} students need help)",
        f"charts: {', '.join(str(p) for p in report.charts)}",
        f"demo finished in {time.monotonic() - started:.1f} s",
    ]
    return "\n".join(lines)


def _chosen_line(template: Path, assignment: str, *, named: bool) -> str:
    known = assignments_of(template)
    if named or len(known) < 2:
        return f"demo of assignment {assignment}"
    return (f"demo of assignment {assignment}, the first of {len(known)} in {template / 'source'} "
            f"({', '.join(known)}): --assignment ID picks another")


def _audit_line(report) -> str:
    if report.passed:
        return f"audit: passed ({report.summary()})"
    return "audit: FAILED\n" + report.table()
