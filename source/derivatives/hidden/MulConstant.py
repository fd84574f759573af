"""Hidden checks for MulConstant: random k (float and int), shapes, dtypes and upstream gradients."""

import random

import torch

from ..checks.MulConstant import check_mul_constant

__all__ = ["forward", "backward"]


def _random(rng: random.Random, shape: list[int], dtype: torch.dtype) -> torch.Tensor:
    count = 1
    for n in shape:
        count *= n
    return torch.tensor([rng.uniform(-3.0, 3.0) for _ in range(count)], dtype=dtype).reshape(shape)


def _cases(rng: random.Random):
    """Random k (float and int), shapes, dtypes and upstream gradients."""
    k = round(rng.choice((-1, 1)) * rng.uniform(1.5, 4.0), 3)
    shape = [rng.randint(1, 4), rng.randint(1, 4)]
    yield _random(rng, shape, torch.float32).requires_grad_(True), k, _random(rng, shape, torch.float32)
    yield torch.tensor(1.5, requires_grad=True), rng.choice((3, -2, 5)), torch.tensor(round(rng.uniform(0.5, 2.0), 3))
    x64 = _random(rng, [rng.randint(2, 6)], torch.float64).requires_grad_(True)
    yield x64, round(rng.uniform(-3.0, -0.5), 3), _random(rng, list(x64.shape), torch.float64)


def _reference(x: torch.Tensor, k: float, upstream: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """k * x and the gradient for x, the upstream gradient times k, in float64."""
    return k * x.detach().to(torch.float64), k * upstream.to(torch.float64)


def _same_cases(rng: random.Random):
    """The cases drawn from a copy of `rng`, which stays as it was: both parts check the same
    calls (one Function applied once, its output read by one part and its gradient by the other)."""
    copy = random.Random()
    copy.setstate(rng.getstate())
    return _cases(copy)


def forward(subject, rng: random.Random) -> None:
    for x, k, upstream in _same_cases(rng):
        check_mul_constant(subject, x, k, upstream, "forward", _reference(x, k, upstream)[0])


def backward(subject, rng: random.Random) -> None:
    for x, k, upstream in _same_cases(rng):
        check_mul_constant(subject, x, k, upstream, "backward", _reference(x, k, upstream)[1])
