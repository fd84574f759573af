"""Hidden checks for grad_at: fixed polynomials, an int x0, repeated calls, transcendental f, autograd-only rules."""

import random

from ..checks.grad_at import check_grad_at, check_repeatable
from .references import reference_derivative

__all__ = ["hidden"]

TRANSCENDENTAL = ("sin", "exp_sin", "x_tanh", "log_one_plus_square", "sigmoid_cos")


def _check(subject, name: str, x0: float) -> None:
    check_grad_at(subject, name, x0, reference_derivative(name, float(x0)))


def hidden(subject, rng: random.Random) -> None:
    """Fixed polynomials, an int x0, repeated calls, transcendental f, autograd-only rules."""
    x0 = round(rng.uniform(0.5, 3.0), 3)
    check_repeatable(subject, [("square", x0), ("cube_plus_x", x0), ("square", x0),
                                ("square", x0)])
    _check(subject, "cube_plus_x", 1.0)
    _check(subject, "shifted_square", 2.0)
    _check(subject, "cube_plus_x", rng.choice([2, 3, -1]))
    for name in rng.sample(TRANSCENDENTAL, 3):
        _check(subject, name, round(rng.uniform(-3.0, 3.0), 4))
    _check(subject, "where_kink", 0.0)  # relu at its kink is the visible check's, run at grading too
    _check(subject, "detach_trick", round(rng.uniform(-3.0, 3.0), 4))
