"""When a submission was handed in, set on its verdict: the time lateness counts from, and the TA's note.

Kept apart from the judge's heavy imports: `grader grade` sets it on a verdict a running
`grader serve` returned, without loading torch.
"""

from __future__ import annotations

from pathlib import Path

from grader.course import Course
from grader.intake.timestamps import released_at, submission_time
from grader.ipynb import read_ipynb
from grader.judge.results import SubmissionResult

__all__ = ["stamp_submission_time", "stamp_if_submitted"]


def stamp_if_submitted(course: Course, notebook: Path, result: SubmissionResult) -> None:
    """`grader grade` of a notebook in submitted/<student>/<assignment>/: its timestamp is checked
    as autograde checks it (a notebook elsewhere has no submission time)."""
    folder = Path(notebook).resolve().parent
    if folder.parent.parent != course.submitted_dir().resolve() or folder.name != course.assignment:
        return
    release = course.release_notebook()
    released = released_at(read_ipynb(release).get("metadata") or {}) if release.is_file() else None
    stamp_submission_time(result, folder, Path(notebook), released)


def stamp_submission_time(result: SubmissionResult, folder: Path, notebook: Path | None, released) -> None:
    """Set the time lateness counts from; a timestamp.txt that cannot be trusted is a note for the TA."""
    handed_in = submission_time(folder, notebook, released)
    result.timestamp, result.timestamp_note = handed_in.text, handed_in.note
    if handed_in.note:
        result.notes.append(handed_in.note)
