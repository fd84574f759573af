"""A submission as the pieces of work it holds: each answer, written answer and cell of its own,
with what the release already contains taken out."""

from __future__ import annotations

from dataclasses import dataclass

from grader.intake.bounds import MAX_CODE_CHARS
from grader.report.misconceptions import clean_text
from grader.report.similar.normalise import code_features, kept_names, text_features, text_runs

__all__ = ["Piece", "Release", "PieceReader", "MAX_PIECES", "MAX_SHOWN_CHARS"]

MAX_PIECES = 60  # a notebook's cells compared, in order; an honest one has about a dozen with work in them
MAX_NOTEBOOK_CHARS = MAX_CODE_CHARS  # the judge runs no more code of one submission
MAX_SHOWN_CHARS = 1500  # of a piece, in the evidence a TA reads
MAX_REMEMBERED_CHARS = 4000
# A statement can be telling on its own (a lambda with its own constants); a word or two of text
# cannot: two students who both wrote "see above" share nothing that was worth copying.
MIN_FEATURES = {"code": 1, "text": 5}


@dataclass(frozen=True)
class Piece:
    """One cell's work: `features` are what it is compared by."""

    student: str
    cell: int  # its index in the submitted notebook
    label: str  # the answer's id (the instructor's solution ids), or `cell N`
    answer: bool  # whether the label is an answer's id
    kind: str  # code | text
    text: str  # as submitted, cleaned and cut to MAX_SHOWN_CHARS, for the evidence
    features: tuple[str, ...]  # sorted, repeats kept: a bag


@dataclass(frozen=True)
class Release:
    """What every student was handed: its pieces count for no one."""

    answers: frozenset[str]  # the instructor's solution cell ids
    kept: frozenset[str]  # names that keep their spelling
    code: frozenset[str]  # features of its code cells
    text: frozenset[tuple[str, ...]]  # runs of words of its other cells


class PieceReader:
    """Reads submissions into pieces against one release; a cell handed in character for character
    the same by many students (most of a class, for a short answer) is normalised once."""

    def __init__(self, release_cells: list, answers: frozenset[str]) -> None:
        """`release_cells`: the release's cells (SubmittedCell-like: cell_type, source)."""
        code_sources = [c.source for c in release_cells if c.cell_type == "code"]
        self._kept = kept_names(code_sources)
        self._code_seen: dict[str, tuple[str, ...]] = {}
        self._text_seen: dict[str, tuple[str, ...]] = {}
        self.release = Release(
            answers, self._kept,
            frozenset().union(*(code_features(source, self._kept) for source in code_sources)),
            frozenset().union(*(text_runs(c.source) for c in release_cells if c.cell_type != "code")))
        for cell in release_cells:  # handed in unchanged by most of the class, and holding nothing of theirs
            (self._code_seen if cell.cell_type == "code" else self._text_seen)[cell.source] = ()

    def pieces(self, student: str, cells: list, prefix: str = "") -> list[Piece]:
        """One notebook's pieces, in cell order, within its budget of pieces and characters; `prefix`
        names the notebook in each label when an assignment has several."""
        pieces, budget = [], MAX_NOTEBOOK_CHARS
        for cell in cells:
            if len(pieces) == MAX_PIECES or budget <= 0:
                break
            source = cell.source[:budget]
            budget -= len(source)
            kind = "code" if cell.cell_type == "code" else "text"
            features = self._code(source) if kind == "code" else self._text(source)
            if len(features) >= MIN_FEATURES[kind]:
                answer = cell.grade_id in self.release.answers
                label = prefix + (cell.grade_id if answer else f"cell {cell.index}")
                pieces.append(Piece(student, cell.index, label, answer,
                                    kind, clean_text(source.strip(), MAX_SHOWN_CHARS), features))
        return pieces

    def _code(self, source: str) -> tuple[str, ...]:
        """The cell's statements that the release does not have."""
        return _remembered(self._code_seen, source, lambda: tuple(sorted(
            f for f in code_features(source, self._kept) if f not in self.release.code)))

    def _text(self, source: str) -> tuple[str, ...]:
        return _remembered(self._text_seen, source, lambda: tuple(sorted(text_features(source, self.release.text))))


def _remembered(seen: dict, source: str, read) -> tuple[str, ...]:
    """Short cells are the ones handed in alike; a long one is read each time, so memory stays bounded."""
    if len(source) > MAX_REMEMBERED_CHARS:
        return read()
    if source not in seen:
        seen[source] = read()
    return seen[source]
