"""Hidden checks for Cube: the visible ones, at an input and upstream gradients drawn at grading."""

import torch

from ..checks.Cube import check_cube


def hidden(subject, rng) -> None:
    x, upstream, again = (torch.tensor([rng.uniform(-2, 2) for _ in range(4)], dtype=torch.float64) for _ in range(3))
    check_cube(subject, x.requires_grad_(), upstream, again)
