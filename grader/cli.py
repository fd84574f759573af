"""The `grader` command: thin wiring over the kit's library functions."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from grader.assignment import AssignmentError
from grader.course import Course, CourseError, course_root
from grader.intake.text import first_line, printable

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description="Release, grade and report a course's nbgrader assignments.")
    parser.add_argument("--course", default=".", help="the nbgrader course directory (default: .)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add(commands, "new", "create source/<assignment>/ for a new assignment (see docs/authoring.md)", assignment=True)
    release = _add(commands, "release", "generate release/ with nbgrader and audit the assignment", assignment=True)
    release.add_argument("--question", default=None, metavar="ID",
                         help="audit only this question (and regenerate the notebook only if its source changed)")
    grade = _add(commands, "grade", "grade one notebook with the hidden tests")
    grade.add_argument("notebook", type=Path)
    grade.add_argument("--assignment", default=None, help="the assignment id (default: from the notebook)")
    grade.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    grade.add_argument("--student", default="student", help="student id that seeds the hidden inputs")
    _add(commands, "serve", "keep a warm judge that `grader grade` asks, until Ctrl-C (reloads when "
         "source/<assignment>/ changes)", assignment=True)
    check = _add(commands, "check", "run the visible tests of a notebook (what students run)")
    check.add_argument("notebook", type=Path)
    check.add_argument("--assignment", default=None, help="the assignment id (default: from the notebook)")
    autograde = _add(commands, "autograde", "grade every submitted/<student>/<assignment>/", assignment=True)
    autograde.add_argument("--jobs", type=int, default=None, help="judges in parallel (default: one per core)")
    autograde.add_argument("--cluster", default=None, metavar="ADDRESS",
                           help="a Dask scheduler over mutual TLS, e.g. tls://host:8786 (no other scheme is accepted)")
    autograde.add_argument("--cluster-certs", type=Path, default=None, metavar="DIR",
                           help="ca.pem and client.pem/client-key.pem from `grader cluster-certs` (default: <course>/cluster-certs)")
    autograde.add_argument("--student", action="append", dest="students", help="grade only this student (repeatable)")
    autograde.add_argument("--stale", action="store_true",
                           help="grade only submissions graded under other points or another release")
    certs = _add(commands, "cluster-certs", "make the course's CA and TLS certificates for a Dask cluster")
    certs.add_argument("--out", type=Path, default=None, help="an empty folder (default: <course>/cluster-certs)")
    certs.add_argument("--hosts", nargs="*", default=[], metavar="HOST",
                       help="names or addresses of the scheduler and grading machines, for the certificates' subject names")
    export = _add(commands, "export", "write grades.csv and Canvas's and Moodle's grade imports from the gradebook "
                  "(late penalties assigned first)", assignment=True)
    export.add_argument("--output", type=Path, default=None, metavar="DIR",
                        help="folder (default: <course>/exports/<assignment>)")
    export.add_argument("--lms-id", choices=("id", "email"), default="id",
                        help="the student field the LMS knows students by: nbgrader's student id (Canvas's "
                             "SIS Login ID, Moodle's username) or their email (default: id)")
    _add(commands, "feedback", "write per-student feedback HTML (late penalties assigned first)", assignment=True)
    report = _add(commands, "report", "write a class report (HTML page and PNG charts) from the gradebook")
    report.add_argument("assignment", help="the assignment id (any assignment in the course's gradebook)")
    report.add_argument("--output", type=Path, default=None, help="folder (default: <course>/reports/<assignment>)")
    report.add_argument("--threshold", type=_fraction, default=0.5, metavar="FRACTION",
                        help="list students below this share of the points graded so far (default: 0.5)")
    demo = _add(commands, "demo", "copy a course's assignment, release it, grade a simulated class, export, "
                "feedback and summarise (the course: --course, or the kit's own when that is not a course)")
    demo.add_argument("--assignment", default=None,
                      help="the assignment to simulate (default: the course's first, in sorted order)")
    demo.add_argument("--students", type=int, default=36, help="class size (at least 30)")
    demo.add_argument("--output", type=Path, default=Path("demo-output"), help="folder for the demo course")
    return parser


def _add(commands, name: str, help_text: str, *, assignment: bool = False) -> argparse.ArgumentParser:
    sub = commands.add_parser(name, help=help_text, description=help_text)
    if assignment:
        sub.add_argument("assignment", help="the assignment id (a folder of source/)")
    return sub


def run() -> None:
    """The `grader` command: `main`, then an exit without the interpreter's teardown.

    Every file a command writes is closed by the time `main` returns; what an orderly exit
    would add is tearing down torch's state, about 0.3 s that a person waiting on
    `grader grade` or `grader check` would feel.

    The command also does without jsonschema's IRI format checker (see
    `without_iri_format_checker`) and without nbgrader's Jupyter server extensions (see
    `grader.nbgrader_package`).
    """
    from grader.ipynb import without_iri_format_checker
    from grader.nbgrader_package import without_server_extensions

    without_iri_format_checker()
    without_server_extensions()
    try:
        code = main()
    except BrokenPipeError:  # `grader check NB | head` stopped reading: no traceback, as a shell tool
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_FAILED
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing left to say
            code = code or EXIT_FAILED
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (CourseError, FileNotFoundError, RuntimeError) as exc:
        print(f"grader {args.command}: error: {first_line(exc)}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, (CourseError, AssignmentError, FileNotFoundError)) else EXIT_FAILED


def _new(args) -> int:
    from grader.release.scaffold import new_assignment

    root = course_root(args.course)
    try:
        folder = new_assignment(root, args.assignment)
    except (ValueError, FileExistsError) as exc:
        raise CourseError(str(exc)) from None
    print(f"created {folder.relative_to(root)}: add questions as docs/authoring.md shows")
    return EXIT_OK


def _release(args) -> int:
    from grader.judge.batch import default_jobs
    from grader.judge.pool import JudgePool

    course = Course.at(args.course, args.assignment)
    autograded = {q.id for q in course.autograded}  # an incomplete folder stops here, naming the file to fix
    if args.question is not None and args.question not in autograded:
        raise CourseError(f"no autograded question {args.question!r} in {course.assignment} "
                          f"(its autograded questions: {', '.join(sorted(autograded)) or 'none'})")
    # the audit's judges, and the child that runs the release's test cells as a student does (forked
    # from the judges' process), warm up while nbgrader is imported and generates the release; one
    # question's audit grades a handful of notebooks, not enough to pay back the warm parent's warm-up
    with JudgePool(course, default_jobs(), wait=False, student_run=True, many_workers=args.question is None) as judges:
        from grader.release.audit import audit_assignment
        from grader.release.generate import (
            ReleaseError,
            generate_release,
            previous_release_kept,
            refresh_release,
        )

        try:
            with previous_release_kept(course):
                path = refresh_release(course) if args.question else None
                regenerated = path is None
                path = path or generate_release(course, keep_previous=False)
                print(f"released {path.relative_to(course.root)}" + (
                    "" if regenerated else " (the notebook as it was: its source is unchanged)"))
                report = audit_assignment(course, question=args.question, judges=judges, students=judges.students,
                                          gradebook=regenerated)
                print(report.table())
                if not report.passed:
                    raise ReleaseError("audit failed")
        except ReleaseError as exc:
            if str(exc) != "audit failed":
                raise
            print(f"grader release: release/{course.assignment}/ was left as it was", file=sys.stderr)
            return EXIT_FAILED
    from grader.release.stale import stale_grades, stale_line

    stale = stale_grades(course)
    if stale:
        print(stale_line(course, stale))
    return EXIT_OK


def _grade(args) -> int:
    from grader.judge.handed_in import stamp_if_submitted
    from grader.judge.service import ask_server
    from grader.report.tables import question_table

    problem = _unreadable(args.notebook)
    if problem:
        print(f"grader grade: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    course = _course_of(args)
    result = ask_server(course, args.notebook, args.student)  # a running `grader serve` is already warm
    if result is None:
        from grader.judge.grader import Grader

        with Grader(course, single=True) as grader:
            result = grader.grade_notebook(args.notebook, args.student)
    if result.status == "unreadable":
        print(f"grader grade: error: {args.notebook}: {printable(result.notes[0])}", file=sys.stderr)
        return EXIT_USAGE
    stamp_if_submitted(course, args.notebook, result)
    print(json.dumps(result.evidence_json(), indent=2) if args.json else question_table(result))
    return EXIT_OK


def _serve(args) -> int:
    from grader.judge.service import serve

    return serve(Course.at(args.course, args.assignment))


def _check(args) -> int:
    from grader.check import check_notebook

    problem = _unreadable(args.notebook)
    if problem:
        print(f"grader check: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    report = check_notebook(args.notebook, _course_of(args).spec)
    print(report.table())
    return EXIT_OK if report.passed else EXIT_FAILED


def _autograde(args) -> int:
    from grader.judge.batch import autograde
    from grader.report.tables import class_table, listed

    if args.jobs is not None and args.jobs < 1:
        raise CourseError("--jobs must be at least 1")
    course = Course.at(args.course, args.assignment)
    students = args.students
    unknown = [s for s in students or () if not course.submission_folder(s).is_dir()]
    if unknown:  # a mistyped id would otherwise be recorded as a student who handed in nothing
        raise CourseError(f"no submission of {course.assignment} for {listed(unknown, sep='; ')} under submitted/ "
                          f"(collected: {len(course.students())} students); check the id, or collect first")
    if args.stale:
        from grader.release.stale import stale_students

        students = stale_students(course, among=args.students)
        if not students:
            print(f"no stale grade of {course.assignment}: nothing to regrade")
            return EXIT_OK
    results = autograde(course, jobs=args.jobs, cluster=args.cluster, cluster_certs=args.cluster_certs,
                        students=students)
    print(class_table(results))
    _print_late(course, [result.student for result in results])
    _print_to_confirm(course, [result.student for result in results])
    return EXIT_OK


def _print_to_confirm(course: Course, students: list[str]) -> None:
    """The TA's scores this regrade flagged for review again (nbgrader's rule: the scores stay)."""
    from grader.report.gradebook_rows import to_confirm
    from grader.report.tables import listed

    flagged = to_confirm(course, students)
    if flagged:
        many = "s" if len(flagged) > 1 else ""
        print(f"hand-graded scores of {len(flagged)} student{many} kept and flagged for a TA to confirm again "
              f"(formgrader lists them): {listed(flagged, sep='; ')}")


def _print_late(course: Course, students: list[str]) -> None:
    from grader.record.late import late_submissions, penalty_rule
    from grader.report.tables import late_table

    late = late_submissions(course, students)
    if late:
        print(late_table(late, penalty_rule(course)))


def _cluster_certs(args) -> int:
    from grader.judge.certificates import DEFAULT_DIR, make_cluster_certs

    out = args.out if args.out is not None else Path(args.course) / DEFAULT_DIR
    written = make_cluster_certs(out, args.hosts)
    print(f"wrote {', '.join(p.name for p in written)} in {out}")
    print("scheduler: ca.pem scheduler.pem scheduler-key.pem; each grading machine: ca.pem worker.pem "
          "worker-key.pem; keep client-key.pem on the course machine")
    return EXIT_OK


def _warn_stale(command: str, course: Course) -> None:
    """Grades recorded under other points or another release reach what the TA hands on as they
    are: say so, and how to regrade them."""
    from grader.release.stale import stale_grades, stale_line

    stale = stale_grades(course) if course.release_notebook().is_file() else []
    if stale:
        print(f"grader {command}: {stale_line(course, stale)}", file=sys.stderr)


def _export(args) -> int:
    from grader.report.export import export_grades
    from grader.report.gradebook_rows import require_recorded
    from grader.report.tables import listed

    course = Course.at(args.course, args.assignment)
    require_recorded(course)
    exported = export_grades(course, args.output, lms_id=args.lms_id)
    print(f"wrote the grades of {exported.students} students: {', '.join(str(path) for path in exported.paths)}")
    _warn_stale("export", course)
    for name, students in exported.left_out.items():
        print(f"grader export: left out of {name} {len(students)} of {exported.students} students (enter their "
              f"grades by hand): {listed(students, sep='; ')}", file=sys.stderr)
    if exported.awaiting:
        print(f"grader export: {len(exported.awaiting)} of {exported.students} students have hand-graded answers a TA "
              f"has not scored or confirmed yet (their totals count them as they stand; formgrader lists them): "
              f"{listed(exported.awaiting, sep='; ')}", file=sys.stderr)
    return EXIT_OK


def _feedback(args) -> int:
    from grader.record.late import apply_late_penalties
    from grader.report.feedback import generate_feedback, without_feedback
    from grader.report.gradebook_rows import require_recorded
    from grader.report.tables import listed

    course = Course.at(args.course, args.assignment)
    require_recorded(course)
    apply_late_penalties(course)  # the page's total counts today's due date, extensions and scores
    paths = generate_feedback(course)
    print(f"wrote feedback for {len(paths)} students under feedback/")
    _warn_stale("feedback", course)
    missing = without_feedback(course)
    if missing:
        print(f"grader feedback: no page for {len(missing)} of the students who handed it in (no autograded "
              f"notebook; `grader autograde {course.assignment}` grades them): {listed(missing)}", file=sys.stderr)
    return EXIT_OK


def _report(args) -> int:
    from grader.report.publish import write_report

    files = write_report(args.course, args.assignment, args.output, threshold=args.threshold)
    alike = files.report.look_alike
    print(f"wrote {files.html} ({len(files.report.submitted)} submissions, "
          f"{len(files.report.needs_help)} students need help, look-alike groups: {len(alike.groups) if alike else 0}) "
          f"and {', '.join(p.name for p in files.charts)}")
    _warn_stale("report", Course.at(args.course, args.assignment))
    return EXIT_OK


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction between 0 and 1")
    return value


def _demo(args) -> int:
    from grader.demo.run import demo_template, run_demo

    if args.students < 30:
        raise CourseError("the demo simulates at least 30 students")
    summary = run_demo(Path(args.output), students=args.students, assignment=args.assignment,
                       template=demo_template(args.course))
    print(summary)
    return EXIT_OK


def _course_of(args) -> Course:
    """The course and the assignment a notebook belongs to (--assignment, else its metadata or cells)."""
    from grader.intake.identify import assignment_of
    from grader.intake.notebook import read_notebook

    if args.assignment is not None:
        return Course.at(args.course, args.assignment)
    root = course_root(args.course)
    return Course.at(root, assignment_of(read_notebook(Path(args.notebook)), root))


def _unreadable(path: Path) -> str | None:
    from grader.intake.notebook import UnreadableNotebook, read_notebook

    try:
        read_notebook(Path(path))
    except UnreadableNotebook as exc:
        return f"{path}: {exc}"
    return None


COMMANDS = {
    "new": _new, "release": _release, "grade": _grade, "serve": _serve, "check": _check, "autograde": _autograde,
    "export": _export, "feedback": _feedback, "report": _report, "demo": _demo,
    "cluster-certs": _cluster_certs,
}

if __name__ == "__main__":
    sys.exit(main())
