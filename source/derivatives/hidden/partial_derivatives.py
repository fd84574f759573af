"""Hidden checks for partial_derivatives: a product under a square at an int point, asymmetric f at random points, detach()."""

import random

from ..checks.partial_derivatives import check_partials
from .references import reference_partials

__all__ = ["hidden"]


def _check(subject, name: str, u0: float, v0: float) -> None:
    check_partials(subject, name, u0, v0, *reference_partials(name, float(u0), float(v0)))


def hidden(subject, rng: random.Random) -> None:
    """A product under a square at an int point (u0 and v0 are any Python numbers), asymmetric f
    at random points, and a detach() rule."""
    _check(subject, "uv_plus_uv_squared", 2, 1)

    def point() -> float:
        return round(rng.uniform(0.5, 2.5) * rng.choice((-1, 1)), 3)

    _check(subject, "u_cubed_v", point(), point())
    _check(subject, "sin_u_exp_v", point(), point())
    _check(subject, "uv_plus_u2", point(), point())
    _check(subject, "uv_detach", point(), point())
