"""Verdicts ahead of nbgrader: the submissions an `nbgrader autograde` run will convert, graded in
parallel by a JudgePool while nbgrader does its own work on each notebook, one after another."""

from __future__ import annotations

import os
import re
import threading

from grader.course import Course
from grader.judge.results import SubmissionResult

__all__ = ["GradingAhead", "students_to_convert"]


class GradingAhead:
    """A JudgePool grading `students` in nbgrader's order from the moment it is made; `verdict(s)`
    waits for one of them. The pool closes itself once every one of them is graded."""

    def __init__(self, course: Course, students: list[str], jobs: int):
        from grader.judge.pool import JudgePool

        self.course, self.students = course, set(students)
        self._results: dict[str, SubmissionResult] = {}
        self._failure: BaseException | None = None
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self.pool = JudgePool(course, max(1, min(jobs, len(students))), wait=False)
        self._thread = threading.Thread(target=self._grade, args=(list(students),), daemon=True,
                                        name="grading ahead of nbgrader")
        self._thread.start()

    def verdict(self, student: str) -> SubmissionResult:
        """The student's result, once graded; RuntimeError when the judges could not grade."""
        if student not in self.students:
            raise KeyError(student)
        with self._changed:
            while student not in self._results and self._failure is None:
                self._changed.wait()
            if student in self._results:
                self.students.discard(student)
                return self._results.pop(student)
        raise RuntimeError(f"the kit's judges stopped: {self._failure}") from self._failure

    def close(self) -> None:
        """Stop grading (the judges finish what they hold; the rest is dropped) and wait for them to end."""
        self._stopping.set()
        self._thread.join()

    def _grade(self, students: list[str]) -> None:
        """The pool is used and closed in this thread only."""
        try:
            for result in self.pool.grade(self._until_stopped(students)):
                with self._changed:
                    self._results[result.student] = result
                    self._changed.notify_all()
        except BaseException as exc:  # noqa: BLE001 -- told to whoever waits for a verdict
            with self._changed:
                self._failure = exc
                self._changed.notify_all()
        finally:
            self.pool.close()
        with self._changed:  # a closed pool grades no more: anyone still waiting hears so
            self._failure = self._failure or RuntimeError("the judges were closed")
            self._changed.notify_all()

    def _until_stopped(self, students: list[str]):
        for student in students:
            if self._stopping.is_set():
                return
            yield student


def students_to_convert(converter, assignment: str, current: str) -> list[str]:
    """The students whose submission of `assignment` nbgrader's Autograde `converter` will
    convert from `current` (the one it is converting now) on, in its order: sorted submission folders.

    nbgrader decides each one only as it reaches it (BaseConverter.init_destination); this is the
    same rule read ahead, without its side effects: a student not excluded, whose autograded
    copy is missing, or with --force, or whose submission's timestamp is newer than the
    autograded copy's. A wrong guess costs time only: a student graded ahead whom nbgrader then
    skips is never recorded, and one it converts unforeseen is graded when it asks.
    """
    coursedir = converter.coursedir
    folder = re.compile(coursedir.format_path(coursedir.submitted_directory, "(?P<student_id>.*)",
                                              "(?P<assignment_id>.*)", escape=True))
    excluded = set(coursedir.student_id_exclude.split(",")) - {""}
    students = []
    for path in sorted(converter.assignments):
        match = folder.fullmatch(path)
        if match is None or match["assignment_id"] != assignment:
            continue
        student = match["student_id"]
        if student == current:  # being converted; the ones before it are decided already
            students.append(student)
        elif students and _will_convert(converter, path, student, assignment, excluded):
            students.append(student)
    return students or [current]


def _will_convert(converter, path: str, student: str, assignment: str, excluded: set[str]) -> bool:
    coursedir = converter.coursedir
    if student in excluded:
        return False
    autograded = coursedir.format_path(coursedir.autograded_directory, student, assignment)
    return converter.force or _not_converted(coursedir, autograded, converter.assignments[path]) \
        or _newer(_stamp(path), _stamp(autograded))


def _not_converted(coursedir, autograded: str, notebooks: list[str]) -> bool:
    if coursedir.notebook_id == "*":
        return not os.path.exists(autograded)
    return any(not os.path.exists(os.path.join(autograded, os.path.basename(nb))) for nb in notebooks)


def _newer(submitted, autograded) -> bool:
    return submitted is not None and autograded is not None and submitted > autograded


def _stamp(folder: str):
    """A folder's timestamp.txt as naive UTC, read bounded (the submitted one is the student's); None if unusable."""
    from pathlib import Path

    from grader.intake.notebook import UnreadableNotebook, read_submitted_bytes
    from grader.intake.timestamps import TIMESTAMP_FILE, parse_timestamp

    path = Path(folder) / TIMESTAMP_FILE
    if not os.path.lexists(path):
        return None
    try:
        return parse_timestamp(read_submitted_bytes(path, 100).decode("utf-8"))
    except (UnreadableNotebook, UnicodeDecodeError, ValueError):
        return None
