"""Hidden checks for plot_function_and_derivative: an f whose derivative only autograd gives, another range and step count, positional and keyword arguments."""

import random

from ..checks.plot_function_and_derivative import check_plot
from .references import reference_derivative, reference_values

__all__ = ["hidden"]


def _check(subject, name: str, args: tuple = (), kwargs: dict | None = None) -> None:
    check_plot(subject, name, args, kwargs or {}, lambda grid: reference_values(name, grid),
               lambda grid: reference_derivative(name, grid))


def hidden(subject, rng: random.Random) -> None:
    """One more figure, of an f whose derivative only autograd gives (value 3x, slope 1 through
    .detach(): slopes between neighbouring points and hand formulas say 3), over another range
    and step count: start passed by position, end and steps by keyword."""
    start = round(rng.uniform(-6.0, -1.0), 2)
    end = round(rng.uniform(1.0, 6.0), 2)
    _check(subject, "detach_trick", (start,), {"end": end, "steps": rng.randint(20, 200)})
