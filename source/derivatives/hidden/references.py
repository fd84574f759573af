"""References for the hidden checks, by torch autograd in float64 (instructor-only)."""

from collections.abc import Sequence

import torch

from ..checks.vocabulary import FUNCTIONS

__all__ = ["leaf", "reference_derivative", "reference_partials", "reference_values"]


def leaf(values: float | Sequence[float] | torch.Tensor) -> torch.Tensor:
    """A fresh float64 leaf requiring grad."""
    return torch.as_tensor(values, dtype=torch.float64).detach().clone().requires_grad_(True)


def reference_derivative(name: str, points: float | torch.Tensor) -> torch.Tensor:
    """f'(points) by autograd in float64 (elementwise f, one backward through a sum)."""
    x = leaf(points)
    (grad,) = torch.autograd.grad(FUNCTIONS[name](x).sum(), x)
    return grad.detach()


def reference_partials(name: str, u0: float, v0: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(df/du, df/dv) at (u0, v0) by autograd in float64."""
    u, v = leaf(u0), leaf(v0)
    du, dv = torch.autograd.grad(FUNCTIONS[name](u, v), (u, v))
    return du.detach(), dv.detach()


def reference_values(name: str, points: torch.Tensor) -> torch.Tensor:
    """f(points) in float64."""
    with torch.no_grad():
        return FUNCTIONS[name](points.to(torch.float64))
