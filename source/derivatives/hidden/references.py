"""References for the hidden checks, by torch autograd in float64 (instructor-only)."""

from collections.abc import Callable, Sequence

import torch

from grader.runtime import is_close, show

from ..checks.vocabulary import FUNCTIONS, f_text

__all__ = ["leaf", "reference_derivative", "reference_partials", "reference_values",
           "central_difference", "finite_difference_hint"]


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


def central_difference(fn: Callable, points: float | torch.Tensor, h: float = 1e-4) -> torch.Tensor:
    """(f(x+h) - f(x-h)) / 2h in float64: what a finite-difference answer would return."""
    x = torch.as_tensor(points, dtype=torch.float64)
    with torch.no_grad():
        return (fn(x + h) - fn(x - h)) / (2 * h)



def finite_difference_hint(name: str, points: float | torch.Tensor, actual: torch.Tensor,
                           expected: torch.Tensor) -> str:
    """A hint when autograd's gradient differs from the slope of f's values at these points."""
    slope = central_difference(FUNCTIONS[name], points)
    if is_close(slope, expected, "float32"):
        return ""
    matches = " Your answer matches that slope." if is_close(actual, slope, "float32") else ""
    return (f"For {f_text(name)} autograd's gradient ({show(expected)}) differs from the slope "
            f"of f's values ({show(slope)}): relu, where and detach() follow autograd's own "
            f"rules.{matches} Compute the gradient with autograd (backward() and .grad, or "
            "torch.autograd.grad), not with finite differences or a hand-derived formula.")
