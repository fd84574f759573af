"""Autograde a class: judges in parallel, one gradebook writer, results recorded as they arrive."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from grader.course import Course
from grader.heap import long_lived
from grader.judge.pool import JudgePool
from grader.judge.results import SubmissionResult
from grader.report.progress import Progress

__all__ = ["autograde", "default_jobs", "grade_in_parallel"]

def default_jobs() -> int:
    """One judge per core the process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def autograde(course: Course, *, jobs: int | None = None, cluster: str | None = None,
              cluster_certs: Path | None = None, students: list[str] | None = None,
              show_progress: bool = True, pool: JudgePool | None = None) -> list[SubmissionResult]:
    """Grade every submission under submitted/, keeping the gradebook and autograded/ current,
    late penalties included (see grader.record.late).

    `cluster` is a tls:// Dask scheduler, reached with the client certificate in
    `cluster_certs` (default: <course>/cluster-certs, as `grader cluster-certs` writes it).

    `pool` reuses judge processes that are already warm (the benchmark uses it to time
    grading apart from start-up).
    """
    students = students if students is not None else course.students()
    # no more judges than submissions: a late submission or two starts no idle judge
    jobs = max(1, min(jobs or default_jobs(), len(students)))
    own = None
    if cluster is None and pool is None and jobs > 1:
        own = JudgePool(course, jobs, wait=False)  # the judges warm up while the gradebook opens
    try:
        with long_lived():  # nbgrader's gradebook and SQLAlchemy, while the judges start
            from grader.record.gradebook import GradebookWriter, prepare_gradebook
            from grader.record.late import apply_late_penalties, check_late_rule

            check_late_rule(course)  # a late-penalty setting that cannot be used stops the run before it grades
            added = prepare_gradebook(course)
        if added and show_progress:
            print(f"the gradebook did not know {course.assignment!r}: added it as "
                  f"`nbgrader generate_assignment {course.assignment} --create` would", file=sys.stderr)
        progress = Progress(len(students), enabled=show_progress)
        if cluster:
            from grader.judge.certificates import DEFAULT_DIR
            from grader.judge.cluster import grade_on_cluster

            results = grade_on_cluster(course, students, cluster, cluster_certs or course.root / DEFAULT_DIR)
        elif pool is not None:
            results = pool.grade(students)
        else:
            results = grade_in_parallel(course, students, jobs, on_start=_announce if show_progress else None,
                                        pool=own)
        recorded = []
        with GradebookWriter(course) as writer:
            for result in results:
                writer.record(result)
                progress.advance(result)
                recorded.append(_summary_only(result))
        progress.finish()
        # after SaveAutoGrades' work, as in nbgrader's own autograde: the penalty counts the new scores
        apply_late_penalties(course, [result.student for result in recorded])
        return recorded
    finally:
        if own is not None:
            own.close()


def grade_in_parallel(course: Course, students: list[str], jobs: int, *,
                      on_start=None, pool: JudgePool | None = None) -> Iterator[SubmissionResult]:
    """Results in completion order from `jobs` judge processes (or this process for one job).

    `on_start(containment)` is called once the judges are ready, with what their workers get.
    `pool` is a pool of judges already started (and left open) for this course.
    """
    if jobs <= 1 and pool is None:
        yield from _grade_here(course, students, on_start)
        return
    with contextlib.ExitStack() as stack:
        if pool is None:
            pool = stack.enter_context(JudgePool(course, jobs))
        if on_start:
            on_start(pool.containment)
        yield from pool.grade(students)


def _announce(containment: dict) -> None:
    from grader.report.tables import containment_line

    print(containment_line(containment), file=sys.stderr)


def _grade_here(course: Course, students: list[str], on_start=None) -> Iterator[SubmissionResult]:
    from grader.judge.grader import Grader

    if not students:
        return
    with Grader(course, single=len(students) == 1) as grader:  # one notebook: no warm-up for many
        if on_start:
            on_start(grader.containment)
        for student in students:
            yield grader.grade_student(student)


def _summary_only(result: SubmissionResult) -> SubmissionResult:
    """Drop the cell texts once recorded, so a large class does not pile up in memory."""
    result.cells = []
    return result
