"""Hidden checks for SQ: random shapes and upstream gradients, float64 and second order."""

import random

import torch

from ..checks.SQ import apply, call_text, check_output, check_second_order, check_vjp, require_function

__all__ = ["forward", "chain_rule", "general"]


def _random(rng: random.Random, shape: list[int], dtype: torch.dtype) -> torch.Tensor:
    count = 1
    for n in shape:
        count *= n
    return torch.tensor([rng.uniform(-3.0, 3.0) for _ in range(count)], dtype=dtype).reshape(shape)


def _square(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference output x ** 2 and local derivative 2x, in float64 (plain arithmetic: in a
    grading kernel the student's code may have rebound torch.autograd)."""
    x = x.detach().to(torch.float64)
    return x * x, 2 * x


def _vjp(subject, x: torch.Tensor, upstream: torch.Tensor) -> None:
    check_vjp(subject, x, upstream, *_square(x))


def forward(subject, rng: random.Random) -> None:
    """The output on a random matrix."""
    shape = [rng.randint(2, 4), rng.randint(1, 5)]
    x = _random(rng, shape, torch.float32).requires_grad_(True)
    upstream = torch.ones(shape)
    check_output(apply(subject, x, upstream), _square(x)[0], call_text(x, upstream), x)


def chain_rule(subject, rng: random.Random) -> None:
    """Random upstream gradients on a random matrix."""
    shape = [rng.randint(2, 4), rng.randint(1, 5)]
    x = _random(rng, shape, torch.float32).requires_grad_(True)
    _vjp(subject, x, _random(rng, shape, torch.float32))


def general(subject, rng: random.Random) -> None:
    """float64 vector-Jacobian products and the second order (what gradgradcheck tests)."""
    require_function(subject)
    x64 = _random(rng, [rng.randint(2, 6)], torch.float64).requires_grad_(True)
    for _ in range(3):
        _vjp(subject, x64, _random(rng, list(x64.shape), torch.float64))
    weights = torch.tensor([rng.uniform(-2.0, 2.0) for _ in range(x64.numel())], dtype=torch.float64)
    check_second_order(subject, x64, _random(rng, list(x64.shape), torch.float64), weights)
