"""The `grader` command: thin wiring over the kit's library functions."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from grader.course import Course, CourseError
from grader.intake.text import printable
from grader.questions import ASSIGNMENT

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description="Release, grade and report the derivatives assignment.")
    parser.add_argument("--course", default=".", help="the nbgrader course directory (default: .)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add(commands, "release", "generate release/ with nbgrader and audit the assignment", assignment=True)
    grade = _add(commands, "grade", "grade one notebook with the hidden tests")
    grade.add_argument("notebook", type=Path)
    grade.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    grade.add_argument("--student", default="student", help="student id that seeds the hidden inputs")
    check = _add(commands, "check", "run the visible tests of a notebook (what students run)")
    check.add_argument("notebook", type=Path)
    autograde = _add(commands, "autograde", "grade every submitted/<student>/derivatives/", assignment=True)
    autograde.add_argument("--jobs", type=int, default=None, help="judges in parallel (default: one per core)")
    autograde.add_argument("--cluster", default=None, metavar="ADDRESS", help="a Dask scheduler, e.g. tcp://host:8786")
    autograde.add_argument("--student", action="append", dest="students", help="grade only this student (repeatable)")
    export = _add(commands, "export", "write grades.csv from the gradebook", assignment=True)
    export.add_argument("--output", type=Path, default=None, help="CSV path (default: <course>/grades.csv)")
    _add(commands, "feedback", "write per-student feedback HTML", assignment=True)
    demo = _add(commands, "demo", "release, grade a simulated class, export, feedback and summarise")
    demo.add_argument("--students", type=int, default=36, help="class size (at least 30)")
    demo.add_argument("--output", type=Path, default=Path("demo-output"), help="folder for the demo course")
    return parser


def _add(commands, name: str, help_text: str, *, assignment: bool = False) -> argparse.ArgumentParser:
    sub = commands.add_parser(name, help=help_text, description=help_text)
    if assignment:
        sub.add_argument("assignment", choices=[ASSIGNMENT], help="the assignment id")
    return sub


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (CourseError, FileNotFoundError, RuntimeError) as exc:
        print(f"grader {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, (CourseError, FileNotFoundError)) else EXIT_FAILED


def _release(args) -> int:
    from grader.release.audit import audit_assignment
    from grader.release.generate import generate_release

    course = Course.at(args.course)
    path = generate_release(course.root)
    print(f"released {path.relative_to(course.root)}")
    report = audit_assignment(course)
    print(report.table())
    return EXIT_OK if report.passed else EXIT_FAILED


def _grade(args) -> int:
    from grader.judge.grader import Grader
    from grader.report.tables import question_table

    course = Course.at(args.course)
    problem = _unreadable(args.notebook)
    if problem:
        print(f"grader grade: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    with Grader(course) as grader:
        result = grader.grade_notebook(args.notebook, args.student)
    if result.status == "unreadable":
        print(f"grader grade: error: {args.notebook}: {printable(result.notes[0])}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(result.to_json(), indent=2) if args.json else question_table(result))
    return EXIT_OK


def _check(args) -> int:
    from grader.check import check_notebook

    problem = _unreadable(args.notebook)
    if problem:
        print(f"grader check: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    report = check_notebook(args.notebook)
    print(report.table())
    return EXIT_OK if report.passed else EXIT_FAILED


def _autograde(args) -> int:
    from grader.judge.batch import autograde
    from grader.report.tables import class_table

    if args.jobs is not None and args.jobs < 1:
        raise CourseError("--jobs must be at least 1")
    course = Course.at(args.course)
    results = autograde(course, jobs=args.jobs, cluster=args.cluster, students=args.students)
    print(class_table(results))
    return EXIT_OK


def _export(args) -> int:
    from grader.report.export import export_grades

    path = export_grades(Course.at(args.course), args.output)
    print(f"wrote {path}")
    return EXIT_OK


def _feedback(args) -> int:
    from grader.report.feedback import generate_feedback

    paths = generate_feedback(Course.at(args.course))
    print(f"wrote feedback for {len(paths)} students under feedback/")
    return EXIT_OK


def _demo(args) -> int:
    from grader.demo.run import run_demo

    if args.students < 30:
        raise CourseError("the demo simulates at least 30 students")
    summary = run_demo(Path(args.output), students=args.students)
    print(summary)
    return EXIT_OK


def _unreadable(path: Path) -> str | None:
    from grader.intake.notebook import UnreadableNotebook, read_notebook

    try:
        read_notebook(Path(path))
    except UnreadableNotebook as exc:
        return f"{path}: {exc}"
    return None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return printable(text[0]) if text else type(exc).__name__


COMMANDS = {
    "release": _release, "grade": _grade, "check": _check, "autograde": _autograde,
    "export": _export, "feedback": _feedback, "demo": _demo,
}

if __name__ == "__main__":
    sys.exit(main())
