"""Which pieces of the class are the same work: TF-IDF over their features and cosine similarity
(scikit-learn), so a feature most pieces have counts little toward two pieces being alike."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grader.report.similar.pieces import Piece

__all__ = ["MATCH_AT", "Matches", "match_pieces", "preload"]

# Cosine similarity at which two pieces count as the same work. Code is compared after
# normalisation, so a copy scores 1.0 and the bank's distinct honest styles of one answer stay
# below 0.8; prose is compared as words, where a copy with a few words changed keeps over
# 0.8 and two students who each wrote their own explanation rarely reach it.
MATCH_AT = {"code": 0.8, "text": 0.8}


@dataclass
class Matches:
    """Pieces grouped into variants (identical features); for each variant, the variants it matches
    (itself included) with their similarity, and which students hold a piece matching it."""

    variant_of: list[int]  # piece index -> variant
    neighbours: list[dict[int, float]]  # variant -> {matching variant: similarity}
    holders: list[int]  # variant -> bitmask of students with a matching piece


def match_pieces(pieces: list[Piece], student_index: dict[str, int]) -> Matches:
    """Match every piece against every other of its kind."""
    keys: dict[tuple[str, tuple[str, ...]], int] = {}
    variant_of = [keys.setdefault((p.kind, p.features), len(keys)) for p in pieces]
    variants = list(keys)
    holds = [0] * len(variants)
    for piece, variant in zip(pieces, variant_of, strict=True):
        holds[variant] |= 1 << student_index[piece.student]
    neighbours: list[dict[int, float]] = [{} for _ in variants]
    for kind, threshold in MATCH_AT.items():
        members = [v for v, (k, _) in enumerate(variants) if k == kind]
        if members:
            documents = [pieces_features for k, pieces_features in variants if k == kind]
            fitted_on = [p.features for p in pieces if p.kind == kind]
            for i, row in _similar_rows(documents, fitted_on, threshold):
                neighbours[members[i]] = {members[j]: s for j, s in row.items()}
    holders = [0] * len(variants)
    for v, near in enumerate(neighbours):
        for u in near:
            holders[v] |= holds[u]
    return Matches(variant_of, neighbours, holders)


def preload() -> None:
    """Import what matching uses (about a second of scikit-learn) before the pieces are ready."""
    import sklearn.feature_extraction.text  # noqa: F401
    import sklearn.neighbors  # noqa: F401


def _similar_rows(documents: list[tuple[str, ...]], fitted_on: list[tuple[str, ...]], threshold: float):
    """(row, {column: similarity}) for every pair of documents at least `threshold` alike, weighted
    by inverse document frequency over `fitted_on` (every piece of the class, so over students)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.neighbors import NearestNeighbors

    vectoriser = TfidfVectorizer(analyzer=list, lowercase=False, norm="l2", sublinear_tf=True, dtype=np.float32)
    vectoriser.fit(fitted_on)
    vectors = vectoriser.transform(documents)
    index = NearestNeighbors(radius=1.0 - threshold, metric="cosine", algorithm="brute").fit(vectors)
    distances, columns = index.radius_neighbors(vectors, sort_results=False)
    for i, (row_distances, row_columns) in enumerate(zip(distances, columns, strict=True)):
        yield i, {int(j): float(1.0 - d) for j, d in zip(row_columns, row_distances, strict=True)}
