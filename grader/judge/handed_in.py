"""When a submission was handed in, set on its verdict: the time lateness counts from, and the TA's note.

Kept apart from the judge's heavy imports: `grader grade` sets it on a verdict a running
`grader serve` returned, without loading torch.
"""

from __future__ import annotations

from pathlib import Path

from grader.course import Course
from grader.intake.timestamps import (
    CLOCK_SKEW,
    TIMESTAMP_FILE,
    exchange_receipt,
    format_timestamp,
    parse_timestamp,
    released_at,
    submission_time,
)
from grader.ipynb import read_ipynb
from grader.judge.results import SubmissionResult

__all__ = ["stamp_submission_time", "stamp_if_submitted", "check_with_exchange"]


def stamp_if_submitted(course: Course, notebook: Path, result: SubmissionResult) -> None:
    """`grader grade` of a notebook in submitted/<student>/<assignment>/: its timestamp is checked
    as autograde checks it (a notebook elsewhere has no submission time)."""
    folder = Path(notebook).resolve().parent
    if folder.parent.parent != course.submitted_dir().resolve() or folder.name != course.assignment:
        return
    release = course.release_notebook()
    released = released_at(read_ipynb(release).get("metadata") or {}) if release.is_file() else None
    stamp_submission_time(result, folder, Path(notebook), released)
    check_with_exchange(course, result, course.exchange_inbound())


def stamp_submission_time(result: SubmissionResult, folder: Path, notebook: Path | None, released) -> None:
    """Set the time lateness counts from; a timestamp.txt that cannot be trusted is a note for the TA."""
    handed_in = submission_time(folder, notebook, released)
    result.timestamp, result.timestamp_note = handed_in.text, handed_in.note
    if handed_in.note:
        result.notes.append(handed_in.note)


def check_with_exchange(course: Course, result: SubmissionResult, inbound: Path | None) -> None:
    """A submission time the student's timestamp.txt claims, checked against when nbgrader's exchange
    (`inbound`, its folder of submissions) received this very notebook: a claim earlier than that
    is a note for the TA, and the receipt is the submission time. A submission the exchange no
    longer holds keeps the time the judge decided on."""
    if inbound is None or result.timestamp is None or result.timestamp_note:
        return  # no claim was trusted: the judge already noted why and used the collection time
    received = exchange_receipt(inbound, result.student, course.assignment,
                                course.submission_folder(result.student) / result.notebook)
    claimed = parse_timestamp(result.timestamp)
    if received is None or claimed >= received - CLOCK_SKEW:
        return
    note = (f"{TIMESTAMP_FILE} says {format_timestamp(claimed)}, before nbgrader's exchange received this "
            f"notebook; the time it was received, {format_timestamp(received)}, is its submission time")
    result.timestamp, result.timestamp_note = format_timestamp(received), note
    result.notes.append(note)
