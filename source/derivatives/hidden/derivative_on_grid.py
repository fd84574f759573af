"""Hidden checks for derivative_on_grid: polynomials, transcendental f on random grids, float64, autograd-only rules."""

import random

import torch

from ..checks.derivative_on_grid import check_grid
from .references import reference_derivative

__all__ = ["values", "neighbour"]


def _check(subject, name: str, x: torch.Tensor, text: str | None = None) -> None:
    check_grid(subject, name, x, reference_derivative(name, x), text)


def neighbour(subject, rng: random.Random) -> None:
    """A float64 grid and a one-point grid are left as they were too."""
    for x in (_random_grid(rng, -2.0, 2.0, torch.float64), torch.tensor([rng.uniform(-2.0, 2.0)])):
        check_grid(subject, "cube_plus_x", x, reference_derivative("cube_plus_x", x), part="neighbour")


def _random_grid(rng: random.Random, low: float, high: float, dtype: torch.dtype) -> torch.Tensor:
    points = sorted(round(rng.uniform(low, high), 4) for _ in range(rng.randint(5, 40)))
    return torch.tensor(points, dtype=dtype)


def values(subject, rng: random.Random) -> None:
    """Polynomials, transcendental f on random grids, float64 grids, and autograd-only rules."""
    steps = rng.randint(7, 50)
    _check(subject, "cube_plus_x", torch.linspace(-3, 3, steps), f"torch.linspace(-3, 3, {steps})")
    for name in rng.sample(("sin", "exp_sin", "x_tanh", "log_one_plus_square", "sigmoid_cos"), 2):
        _check(subject, name, _random_grid(rng, -4.0, 4.0, torch.float32))
    _check(subject, "shifted_square", _random_grid(rng, -5.0, 5.0, torch.float64))
    _check(subject, "relu", torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0]),
           "torch.tensor([-2., -1., 0., 1., 2.])")
    _check(subject, "where_kink", torch.tensor([-1.0, 0.0, 1.0]), "torch.tensor([-1., 0., 1.])")
    _check(subject, "detach_trick", _random_grid(rng, -3.0, 3.0, torch.float32))
    _check(subject, "square", torch.tensor([rng.uniform(-2.0, 2.0)]), "a grid of 1 point")
