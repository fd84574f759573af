"""The look-alike section of an nbgrader course: its release and submitted notebooks, found where
nbgrader's CourseDirectory puts them, and the answer ids from its gradebook."""

from __future__ import annotations

from pathlib import Path

from grader.intake.notebook import find_submission_file
from grader.report.similar.compare import LookAlike, compare_submissions

__all__ = ["look_alike_in_course"]


def look_alike_in_course(coursedir, gradebook, assignment: str, students: list[str], *,
                         compare=compare_submissions) -> LookAlike:
    """Compare the submitted notebooks of `students` (who submitted `assignment`) with `compare`
    (`compare_submissions`, or one that runs it elsewhere: see `grader.report.publish`)."""
    notebooks = gradebook.find_assignment(assignment).notebooks
    answers = frozenset(cell.name for notebook in notebooks for cell in notebook.solution_cells)
    release = Path(coursedir.format_path(coursedir.release_directory, ".", assignment))
    releases = {nb.name: release / f"{nb.name}.ipynb" for nb in notebooks}
    submissions = {student: _submitted(coursedir, student, assignment, releases) for student in students}
    return compare(submissions, {n: p for n, p in releases.items() if p.is_file()}, answers)


def _submitted(coursedir, student: str, assignment: str, releases: dict[str, Path]) -> dict[str, Path]:
    """The student's notebooks by name; for a one-notebook assignment a single renamed file counts
    as its notebook, as autograde reads it."""
    if not student or student in (".", "..") or "/" in student or "\\" in student:
        return {}
    folder = Path(coursedir.format_path(coursedir.submitted_directory, student, assignment))
    if len(releases) == 1:
        [name] = releases
        path, _ = find_submission_file(folder, name)
        return {name: path} if path is not None else {}
    return {name: folder / f"{name}.ipynb" for name in releases if (folder / f"{name}.ipynb").is_file()}
