"""Hidden checks for Cube: the visible ones, at an input and an upstream gradient drawn at grading."""

import torch

from ..checks.Cube import check_cube


def hidden(subject, rng) -> None:
    x, upstream = (torch.tensor([rng.uniform(-2, 2) for _ in range(4)], dtype=torch.float64) for _ in range(2))
    check_cube(subject, x.requires_grad_(), upstream)
