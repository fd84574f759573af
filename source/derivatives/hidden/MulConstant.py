"""Hidden checks for MulConstant: random k (float and int), shapes, dtypes and upstream gradients."""

import random

import torch

from ..checks.MulConstant import check_mul_constant, require_function

__all__ = ["hidden"]


def _random(rng: random.Random, shape: list[int], dtype: torch.dtype) -> torch.Tensor:
    count = 1
    for n in shape:
        count *= n
    return torch.tensor([rng.uniform(-3.0, 3.0) for _ in range(count)], dtype=dtype).reshape(shape)


def hidden(subject: object, rng: random.Random) -> None:
    """Random k (float and int), shapes, dtypes and upstream gradients."""
    require_function(subject)
    k = round(rng.choice((-1, 1)) * rng.uniform(1.5, 4.0), 3)
    shape = [rng.randint(1, 4), rng.randint(1, 4)]
    check_mul_constant(subject, _random(rng, shape, torch.float32).requires_grad_(True), k,
           _random(rng, shape, torch.float32))
    check_mul_constant(subject, torch.tensor(1.5, requires_grad=True), rng.choice((3, -2, 5)),
           torch.tensor(round(rng.uniform(0.5, 2.0), 3)))
    x64 = _random(rng, [rng.randint(2, 6)], torch.float64).requires_grad_(True)
    check_mul_constant(subject, x64, round(rng.uniform(-3.0, -0.5), 3), _random(rng, list(x64.shape), torch.float64))
