"""The benchmark's floor: the same answers run and checked in one already-warm process.

This runs the kit's own simulated submissions in-process with no containment, so it is a
measuring stick for the benchmark only, never a way to grade real submissions.
"""

from __future__ import annotations

import contextlib
import io
import time

from grader.course import Course
from grader.intake.notebook import UnreadableNotebook, find_submission_file, read_notebook
from grader.intake.tamper import python_source
from grader.judge.checks import grade_question, seed_rng
from grader.runtime.subject import LocalSubject
from grader.worker.session import definition_source

__all__ = ["warm_floor_seconds"]


def warm_floor_seconds(course: Course, students: list[str], passes: int = 1) -> list[float]:
    """Seconds per submission of each pass, after one warm-up, that executes and checks every submission."""
    _run_all(course, students[:1])
    seconds = []
    for _ in range(passes):
        started = time.perf_counter()
        _run_all(course, students)
        seconds.append((time.perf_counter() - started) / max(len(students), 1))
    return seconds


def _run_all(course: Course, students: list[str]) -> None:
    for student in students:
        path, _ = find_submission_file(course.submission_folder(student), course.notebook)
        try:
            cells = read_notebook(path).cells if path else []
        except UnreadableNotebook:
            continue
        namespace = {"__name__": "__main__"}
        sources = [_run_cell(cell.source, namespace) for cell in cells
                   if cell.cell_type == "code" and not (cell.grade_id or "").startswith("test_")]
        # answers' source text is found in the cells, as the judge finds it
        subject = LocalSubject(namespace, course.spec.functions,
                               source_lookup=lambda name, sources=sources: definition_source(sources, name))
        for q in course.autograded:
            grade_question(course.spec, q.id, subject, seed_rng(b"floor", student, q.id))


def _run_cell(source: str, namespace: dict) -> str:
    """Run one cell as the Python it stands for (transformed as the judge transforms it); return that Python."""
    python = python_source(source)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            exec(compile(python, "<cell>", "exec"), namespace)
        except BaseException:  # noqa: B036 -- the banks include cells that raise or exit
            pass
    return python
