"""Autograde a class: judges in parallel, one gradebook writer, results recorded as they arrive."""

from __future__ import annotations

import atexit
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from .course import Course
from .progress import Progress
from .record import GradebookWriter
from .results import SubmissionResult

__all__ = ["autograde", "default_jobs", "grade_in_parallel"]

_JUDGE = None  # this judge process's Grader, made once by _start_judge


def default_jobs() -> int:
    """One judge per core the process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def autograde(course: Course, *, jobs: int | None = None, cluster: str | None = None,
              students: list[str] | None = None, show_progress: bool = True) -> list[SubmissionResult]:
    """Grade every submission under submitted/, keeping the gradebook and autograded/ current."""
    students = students if students is not None else course.students()
    progress = Progress(len(students), enabled=show_progress)
    if cluster:
        from .cluster import grade_on_cluster

        results = grade_on_cluster(course, students, cluster)
    else:
        results = grade_in_parallel(course, students, jobs or default_jobs())
    recorded = []
    with GradebookWriter(course) as writer:
        for result in results:
            writer.record(result)
            progress.advance(result)
            recorded.append(_summary_only(result))
    progress.finish()
    return recorded


def grade_in_parallel(course: Course, students: list[str], jobs: int) -> Iterator[SubmissionResult]:
    """Results in completion order; at most 2 x jobs submissions are in flight, so memory stays flat."""
    if jobs <= 1:
        yield from _grade_here(course, students)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_judge, initargs=(str(course.root),)) as pool:
        yield from _bounded(pool, _grade_remote_student, students, 2 * jobs)


def _bounded(pool, function: Callable, items: Iterable, window: int) -> Iterator[SubmissionResult]:
    pending, items = set(), iter(items)
    for item in items:
        pending.add(pool.submit(function, item))
        if len(pending) >= window:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            yield from (SubmissionResult.from_dict(f.result()) for f in done)
    while pending:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        yield from (SubmissionResult.from_dict(f.result()) for f in done)


def _grade_here(course: Course, students: list[str]) -> Iterator[SubmissionResult]:
    from .grading import Grader

    with Grader(course) as grader:
        for student in students:
            yield grader.grade_student(student)


def _start_judge(course_root: str) -> None:
    global _JUDGE
    from .grading import Grader

    _JUDGE = Grader(Course.at(course_root))
    atexit.register(_JUDGE.close)


def _grade_remote_student(student: str) -> dict:
    return _JUDGE.grade_student(student).to_dict()


def _summary_only(result: SubmissionResult) -> SubmissionResult:
    """Drop the cell texts once recorded, so a large class does not pile up in memory."""
    result.cells = []
    return result
