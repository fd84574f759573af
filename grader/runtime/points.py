"""What a question's parts are worth: a part as a check module declares it, and how the points split.

A part declared with `points=` is worth exactly that, and then every part must declare
points that add up to the question's. Otherwise the parts share the points by weight (equally
by default) in half points, as a person marking by hand would: each part gets its share
rounded down to a half point, and the half points left over go one each to the first parts
(4 points over 3 parts: 1.5, 1.5, 1). A split that leaves a part with nothing, or points that
are not whole or half, is refused: the release audit names the question and asks for each
part's points. (Torch-free, so the audit reads it without importing torch.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Part", "part_points", "parts_of", "HALF"]

HALF = 0.5  # the smallest share a split gives a part


@dataclass(frozen=True)
class Part:
    """One part of a question: `name` names its check functions, `title` says what it checks;
    `points` what it is worth, or None for its share by `weight` (see `part_points`)."""

    name: str
    title: str
    weight: float = 1.0
    points: float | None = None


_WHOLE = Part("", "the whole question")


def parts_of(module) -> tuple[Part, ...]:
    """The parts a visible check module declares in PARTS; one part when it declares none."""
    return tuple(getattr(module, "PARTS", ())) or (_WHOLE,)


def part_points(parts, points: float) -> tuple[float, ...]:
    """What each of `parts` (with `weight` and `points`) is worth out of a question's `points`.

    ValueError, in words for the instructor, when the split is refused (see above).
    """
    if not parts:
        return ()
    declared = [p.points for p in parts]
    if any(worth is not None for worth in declared):
        if None in declared or any(worth <= 0 for worth in declared):
            raise ValueError("give every part positive points=, or none of them")
        if not math.isclose(sum(declared), points, abs_tol=1e-9):
            raise ValueError(f"its parts' points add up to {sum(declared):g}, but the question is worth {points:g}")
        return tuple(float(worth) for worth in declared)
    halves = points / HALF
    if not math.isclose(halves, round(halves), abs_tol=1e-9):
        raise ValueError(f"{points:g} points do not split in half points: give each Part its points=")
    weights = [p.weight for p in parts]
    shares = [math.floor(round(halves) * w / sum(weights) + 1e-9) for w in weights]
    for index in range(round(halves) - sum(shares)):  # the half points left over, to the first parts
        shares[index % len(shares)] += 1
    if 0 in shares:
        raise ValueError(f"{points:g} points over {len(parts)} parts leave a part with none in half points: "
                         "give each Part its points=")
    return tuple(share * HALF for share in shares)
