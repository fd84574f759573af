"""Compare a class's submissions: read each as bounded data, take out the release, match the
pieces, score every pair against the class, group the pairs over the threshold."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from grader.intake.notebook import UnreadableNotebook, read_notebook
from grader.report.similar.match import match_pieces
from grader.report.similar.pieces import Piece, PieceReader
from grader.report.similar.score import SimilarGroup, group_pairs, similar_pairs, threshold_for

__all__ = ["LookAlike", "compare_submissions", "LEAD_NOT_VERDICT", "MIN_STUDENTS"]

MIN_STUDENTS = 8  # fewer, and the class cannot say what is rare
LEAD_NOT_VERDICT = ("A lead for a person to check, never a verdict: honest students can write alike, and "
                    "nothing here says who wrote a piece first. Nothing in grades or feedback changes.")


@dataclass
class LookAlike:
    """The report's section "answers that look alike"."""

    compared: int  # submissions read and compared
    threshold: float  # the score a pair needs, in bits, for this class's size
    groups: list[SimilarGroup] = field(default_factory=list)
    not_compared: dict[str, str] = field(default_factory=dict)  # student -> why (one line)
    release_removed: bool = True  # whether the release's own content was taken out first
    note: str = LEAD_NOT_VERDICT


def compare_submissions(submissions: dict[str, dict[str, Path]], releases: dict[str, Path],
                        answers: frozenset[str]) -> LookAlike:
    """Compare a class: `submissions` maps each student to their notebooks (name -> path),
    `releases` each notebook's name to the version every student was handed, `answers` are the
    instructor's solution cell ids (used as labels only)."""
    release_cells = [cell for path in releases.values() for cell in _release_cells(path)]
    pieces, not_compared = _read_class(submissions, release_cells, answers, several=len(releases) > 1)
    students = sorted(set(submissions) - set(not_compared))
    threshold = round(threshold_for(len(students)), 1)
    result = LookAlike(len(students), threshold, not_compared=not_compared, release_removed=bool(release_cells))
    if len(students) >= MIN_STUDENTS:
        matches = match_pieces(pieces, {s: i for i, s in enumerate(students)})
        result.groups = group_pairs(similar_pairs(pieces, matches, students, threshold))
    return result


def _release_cells(release: Path) -> list:
    try:
        return read_notebook(release).cells
    except UnreadableNotebook:
        return []


def _read_class(submissions: dict[str, dict[str, Path]], release_cells: list, answers: frozenset[str], several: bool):
    """Every submission's pieces in student order, and the students none of whose notebooks could be read."""
    reader = PieceReader(release_cells, answers)
    pieces: list[Piece] = []
    unread: dict[str, str] = {}
    for student in sorted(submissions):
        why = "no notebook"
        read_any = False
        for name, path in sorted(submissions[student].items()):
            try:
                cells = read_notebook(path).cells
            except UnreadableNotebook as exc:
                why = str(exc)
                continue
            read_any = True
            pieces.extend(reader.pieces(student, cells, f"{name}: " if several else ""))
        if not read_any:
            unread[student] = why
    return pieces, unread
