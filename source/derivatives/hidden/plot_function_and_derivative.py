"""Hidden checks for plot_function_and_derivative: other f, ranges and step counts, positional and keyword arguments."""

import random

from ..checks.plot_function_and_derivative import check_plot
from .references import reference_derivative, reference_values

__all__ = ["hidden"]


def _check(subject, name: str, args: tuple = (), kwargs: dict | None = None) -> None:
    check_plot(subject, name, args, kwargs or {}, lambda grid: reference_values(name, grid),
               lambda grid: reference_derivative(name, grid))


def hidden(subject, rng: random.Random) -> None:
    """Other f, ranges and step counts, positional and keyword arguments."""
    start = round(rng.uniform(-6.0, -1.0), 2)
    end = round(rng.uniform(1.0, 6.0), 2)
    _check(subject, "sin", (start, end, rng.randint(20, 200)))
    _check(subject, "cube_plus_x", (), {"start": -2.0, "end": 2.0, "steps": rng.randint(10, 60)})
    _check(subject, rng.choice(("exp_sin", "x_tanh", "sigmoid_cos")))
