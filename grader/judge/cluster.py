"""Scale-out on Dask: submissions go to Dask workers as bytes, verdicts come back as plain data."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from grader.course import Course
from grader.intake.notebook import (
    MAX_NOTEBOOK_BYTES,
    UnreadableNotebook,
    find_submission_file,
    read_submitted_bytes,
)
from grader.judge.results import SubmissionResult, ungraded_result
from grader.judge.submission import GradingPlan

__all__ = ["grade_on_cluster", "grade_bytes"]

_JUDGES: dict[str, object] = {}  # one warm parent per Dask worker process, keyed by plan


def grade_on_cluster(course: Course, students: list[str], address: str) -> Iterator[SubmissionResult]:
    """Grade on the Dask cluster at `address`; the gradebook stays with the caller."""
    from distributed import Client, as_completed

    plan = asdict(GradingPlan.for_course(course))
    plan["test_sources"] = sorted(plan["test_sources"])
    with Client(address, timeout="30s") as client:
        window = 4 * max(1, len(client.scheduler_info().get("workers", {})))
        queue = iter(students)
        futures = as_completed([_submit(client, course, plan, s) for s in _take(queue, window)])
        for future in futures:
            result = SubmissionResult.from_dict(future.result())
            future.release()
            for student in _take(queue, 1):
                futures.add(_submit(client, course, plan, student))
            yield result


def grade_bytes(plan: dict, student: str, filename: str, data: bytes | None, notes: list[str], timestamp: str | None) -> dict:
    """Runs on a Dask worker: judge one notebook given as bytes with this worker's warm parent."""
    if data is None:
        result = ungraded_result(student, filename, "no notebook", notes)
    else:
        judge = _judge_for(plan)
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / filename
            path.write_bytes(data)
            result = judge.grade_notebook(path, student)
        result.notes[:0] = notes
    result.timestamp = timestamp
    return result.to_dict()


def _submit(client, course: Course, plan: dict, student: str):
    from grader.judge.submission import _timestamp

    folder = course.submission_folder(student)
    path, notes = find_submission_file(folder, course.notebook)
    try:
        data = read_submitted_bytes(path, MAX_NOTEBOOK_BYTES) if path is not None else None
    except UnreadableNotebook as exc:  # judged as an empty notebook: unreadable, with the reason
        data, notes = b"", [*notes, str(exc)]
    filename = path.name if path is not None else f"{course.notebook}.ipynb"
    return client.submit(grade_bytes, plan, student, filename, data, notes, _timestamp(folder), pure=False)


def _take(iterator, count: int) -> list:
    taken = []
    for item in iterator:
        taken.append(item)
        if len(taken) == count:
            break
    return taken


def _judge_for(plan: dict):
    from grader.judge.grader import Grader

    key = hashlib.sha256(repr(sorted(plan.items())).encode()).hexdigest()
    if key not in _JUDGES:
        trusted = GradingPlan(plan["notebook"], tuple(plan["solution_ids"]), frozenset(plan["test_sources"]), plan["secret"])
        _JUDGES[key] = Grader(None, trusted)
    return _JUDGES[key]
