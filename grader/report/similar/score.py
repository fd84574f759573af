"""How surprising two students' shared pieces are, given the class: a score in bits, the pairs
over the class's threshold, and the groups they form.

For one pair, each shared piece is weighed by how many students in the class hold it: a piece
held by k of n is one a student writes with chance about (k - 1) / (n - 1), worth -log2 of that.
Pieces are taken from the most common to the rarest, and when enough other students share all
the pieces taken so far, the chance is read among them instead, whenever that is higher: a
class's common style travels together (whoever writes one answer the common way usually writes
the next one so too), and such a run counts once, not once per answer. Each answer both students
gave, but differently, takes DIFFERENT_ANSWER_BITS off: copied work is mostly copied whole. So
the score is never more than the shared pieces' shares alone would make it, which lets the
candidates be found for all pairs at once with that bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from grader.report.similar.match import Matches
from grader.report.similar.pieces import Piece

__all__ = ["SharedPiece", "SimilarPair", "SimilarGroup", "threshold_for", "similar_pairs", "group_pairs",
           "DIFFERENT_ANSWER_BITS", "MIN_CONDITIONING"]

# More pairs, more chances to look alike: the threshold grows with log2 of the number of pairs,
# and sits this far below it because the score leans low (a common style counts once, differing
# answers take bits off). Set on the synthetic classes of tests/test_similarity.py (40 to 1,000
# students): there it grouped at least 91% of whole copies and at most 9 of 404,550 honest pairs.
# Under about 150 students the floor holds.
BELOW_PAIRS_BITS = 5.0
MIN_THRESHOLD = 12.0
DIFFERENT_ANSWER_BITS = 2.0
MIN_CONDITIONING = 5  # other students who share the earlier pieces, before their habits are read
CANDIDATE_BLOCK = 256  # students whose bounds are summed at once
MAX_PAIRS_SHOWN = 6  # a group's evidence: its strongest pairs (a ring of many copies has many pairs)


@dataclass
class SharedPiece:
    """One piece two students share: where it is in each notebook, and how rare it is."""

    left_label: str
    left_cell: int
    left_text: str
    right_label: str
    right_cell: int
    right_text: str
    similarity: float  # cosine of the two pieces' weighted features, 0 to 1
    holders: int  # students in the class with this piece (the pair included)
    bits: float  # what it adds to the score


@dataclass
class SimilarPair:
    students: tuple[str, str]
    score: float  # bits: sharing all this by chance is about one in 2 ** score
    shared: list[SharedPiece] = field(default_factory=list)
    differ: list[str] = field(default_factory=list)  # answers both gave, differently


@dataclass
class SimilarGroup:
    students: list[str]
    score: float  # its strongest pair's
    pairs: list[SimilarPair] = field(default_factory=list)  # the strongest MAX_PAIRS_SHOWN, with their evidence
    pair_count: int = 0  # all its pairs over the threshold


def threshold_for(students: int) -> float:
    """The score a pair needs in a class of this size: more pairs, more chances to look alike."""
    pairs = max(students * (students - 1) // 2, 1)
    return max(MIN_THRESHOLD, math.log2(pairs) - BELOW_PAIRS_BITS)


def similar_pairs(pieces: list[Piece], matches: Matches, students: list[str], threshold: float) -> list[SimilarPair]:
    """Every pair of students whose shared pieces score at least `threshold`, strongest first."""
    n = len(students)
    if n < 3:
        return []
    owned = _pieces_by_student(pieces, matches, students)
    index = {s: i for i, s in enumerate(students)}
    found = []
    for a, b in _candidates(pieces, matches, students, threshold):
        pair = _score_pair(a, b, owned, pieces, matches, index, n, threshold)
        if pair is not None:
            found.append(pair)
    return sorted(found, key=lambda p: (-p.score, p.students))


def group_pairs(pairs: list[SimilarPair]) -> list[SimilarGroup]:
    """Students joined by flagged pairs, strongest group first."""
    parent: dict[str, str] = {}

    def root(s: str) -> str:
        while parent.setdefault(s, s) != s:
            parent[s] = parent[parent[s]]
            s = parent[s]
        return s

    for pair in pairs:
        parent[root(pair.students[0])] = root(pair.students[1])
    groups: dict[str, SimilarGroup] = {}
    members: dict[str, set[str]] = {}
    for pair in pairs:  # strongest first, so each group's score is its first pair's
        key = root(pair.students[0])
        group = groups.setdefault(key, SimilarGroup([], pair.score))
        members.setdefault(key, set()).update(pair.students)
        group.pair_count += 1
        if len(group.pairs) < MAX_PAIRS_SHOWN:
            group.pairs.append(pair)
    for key, group in groups.items():
        group.students = sorted(members[key])
    return sorted(groups.values(), key=lambda g: (-g.score, g.students))


def _bits(share: float) -> float:
    return -math.log2(share) if share > 0 else 0.0


def _marginal_bits(matches: Matches, n: int) -> np.ndarray:
    return np.array([_bits(max(h.bit_count() - 1, 1) / (n - 1)) for h in matches.holders], dtype=np.float64)


def _candidates(pieces, matches: Matches, students: list[str], threshold: float):
    """Pairs whose pieces' shares alone reach the threshold: an upper bound of the score, summed for
    all pairs at once as sparse products (student x variant, variant x variant), a block of
    students at a time so that memory stays linear in the class."""
    from scipy.sparse import csr_matrix

    index = {s: i for i, s in enumerate(students)}
    n, variants = len(students), len(matches.holders)
    rows = [index[p.student] for p in pieces]
    owns = csr_matrix((np.ones(len(rows)), (rows, matches.variant_of)), shape=(n, variants))
    owns.data[:] = 1.0  # a student with the same piece twice holds it once
    near_rows = [v for v, near in enumerate(matches.neighbours) for _ in near]
    near_cols = [u for near in matches.neighbours for u in near]
    near = csr_matrix((np.ones(len(near_rows)), (near_rows, near_cols)), shape=(variants, variants))
    reach = (owns.multiply(_marginal_bits(matches, n)[np.newaxis, :]).tocsr() @ near).tocsr()
    found = []
    for start in range(0, n, CANDIDATE_BLOCK):
        bound = (reach[start:start + CANDIDATE_BLOCK] @ owns.T).tocoo()
        keep = (bound.row + start < bound.col) & (bound.data >= threshold)
        found += [(students[a + start], students[b]) for a, b in zip(bound.row[keep], bound.col[keep], strict=True)]
    return found


def _pieces_by_student(pieces, matches: Matches, students: list[str]) -> dict[str, list[int]]:
    owned: dict[str, list[int]] = {s: [] for s in students}
    for i, piece in enumerate(pieces):
        owned[piece.student].append(i)
    return owned


def _score_pair(a: str, b: str, owned, pieces, matches: Matches, index: dict[str, int], n: int,
                threshold: float) -> SimilarPair | None:
    """The pair with its evidence when its score reaches `threshold`; else None (most candidates:
    their evidence is never built)."""
    shared = _one_to_one(owned[a], owned[b], matches)
    everyone = (1 << n) - 1
    others = everyone & ~(1 << index[a]) & ~(1 << index[b])
    held = {(i, j): matches.holders[matches.variant_of[i]] | matches.holders[matches.variant_of[j]]
            for i, j, _ in shared}
    steps, score = [], 0.0
    for i, j, similarity in sorted(shared, key=lambda m: (-held[m[0], m[1]].bit_count(), m[0])):
        holders = held[i, j]
        share = max(holders.bit_count() - 1, 1) / (n - 1)
        among = others.bit_count()
        if among >= MIN_CONDITIONING:
            share = max(share, (others & holders).bit_count() / among)
        bits = _bits(share)
        others &= holders
        score += bits
        steps.append((i, j, similarity, holders, bits))
    differ = _answered_differently(owned[a], owned[b], shared, pieces)
    score = round(score - DIFFERENT_ANSWER_BITS * len(differ), 1)
    if score < threshold:
        return None
    evidence = [SharedPiece(pieces[i].label, pieces[i].cell, pieces[i].text, pieces[j].label, pieces[j].cell,
                            pieces[j].text, round(similarity, 3), holders.bit_count(), round(bits, 2))
                for i, j, similarity, holders, bits in steps]
    evidence.sort(key=lambda e: (-e.bits, e.left_cell))
    return SimilarPair((a, b), score, evidence, differ)


def _answered_differently(left: list[int], right: list[int], shared, pieces) -> list[str]:
    """The answers both students gave where neither one's piece is alike anything of the other's
    (read from what matched, so a label moved to another cell changes nothing)."""
    paired = {pieces[i].label for i, _, _ in shared} | {pieces[j].label for _, j, _ in shared}
    mine = {pieces[i].label for i in left if pieces[i].answer}
    theirs = {pieces[j].label for j in right if pieces[j].answer}
    return sorted((mine & theirs) - paired)


def _one_to_one(left: list[int], right: list[int], matches: Matches) -> list[tuple[int, int, float]]:
    """Each piece of one student paired with at most one of the other's, most alike first."""
    options = []
    for i in left:
        near = matches.neighbours[matches.variant_of[i]]
        for j in right:
            similarity = near.get(matches.variant_of[j])
            if similarity is not None:
                options.append((similarity, i, j))
    used_left, used_right, chosen = set(), set(), []
    for similarity, i, j in sorted(options, key=lambda o: (-o[0], o[1], o[2])):
        if i not in used_left and j not in used_right:
            used_left.add(i)
            used_right.add(j)
            chosen.append((i, j, similarity))
    return chosen
