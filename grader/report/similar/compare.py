"""Compare a class's submissions: read each as bounded data, take out the release, match the
pieces, score every pair against the class, group the pairs over the threshold."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from grader.intake.notebook import UnreadableNotebook, read_notebook
from grader.report.similar.match import match_pieces
from grader.report.similar.pieces import PieceReader
from grader.report.similar.score import SimilarGroup, group_pairs, similar_pairs, threshold_for

__all__ = ["LookAlike", "compare_submissions", "LEAD_NOT_VERDICT", "MIN_STUDENTS"]

MIN_STUDENTS = 8  # fewer, and the class cannot say what is rare
LEAD_NOT_VERDICT = ("A lead for a person to check, never a verdict: honest students can write alike, "
                    "and the score cannot tell who wrote a piece first. Nothing here changes a grade or feedback.")


@dataclass
class LookAlike:
    """The report's section "answers that look alike"."""

    compared: int  # submissions read and compared
    threshold: float  # the score a pair needs, in bits, for this class's size
    groups: list[SimilarGroup] = field(default_factory=list)
    not_compared: dict[str, str] = field(default_factory=dict)  # student -> why (one line)
    release_removed: bool = True  # whether the release's own content was taken out first
    note: str = LEAD_NOT_VERDICT


def compare_submissions(submissions: dict[str, Path], release: Path | None, answers: frozenset[str]) -> LookAlike:
    """Compare the notebooks (student -> path); `release` is the notebook every student was handed,
    `answers` the instructor's solution cell ids (labels only)."""
    reader = PieceReader(_release_cells(release), answers)
    pieces, not_compared = [], {}
    for student in sorted(submissions):
        try:
            cells = read_notebook(submissions[student]).cells
        except UnreadableNotebook as exc:
            not_compared[student] = str(exc)
            continue
        pieces.extend(reader.pieces(student, cells))
    students = sorted(set(submissions) - set(not_compared))
    threshold = round(threshold_for(len(students)), 1)
    result = LookAlike(len(students), threshold, not_compared=not_compared, release_removed=release is not None)
    if len(students) >= MIN_STUDENTS:
        matches = match_pieces(pieces, {s: i for i, s in enumerate(students)})
        result.groups = group_pairs(similar_pairs(pieces, matches, students, threshold))
    return result


def _release_cells(release: Path | None) -> list:
    if release is None:
        return []
    try:
        return read_notebook(release).cells
    except UnreadableNotebook:
        return []
