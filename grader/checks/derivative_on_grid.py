"""Checks for derivative_on_grid(f, x): f'(x_i) at every point by one backward through a sum."""

import random

import torch

from grader.checks.common import (
    assert_close,
    expect_float_tensor,
    f_text,
    finite_difference_hint,
    is_close,
    note,
    reference_derivative,
    show,
)
from grader.runtime.subject import Fn, Subject
from grader.runtime.values import TensorValue

__all__ = ["visible", "hidden"]

NONE_HINT = ("Gradients land in .grad of the leaf (a copy of x that requires grad), "
             "not in y.grad; return that leaf's .grad.")


def _grid_text(x: torch.Tensor, text: str | None) -> str:
    return text or f"a {str(x.dtype).removeprefix('torch.')} grid of {x.numel()} points"


def _check(subject: Subject, name: str, x: torch.Tensor, text: str | None = None) -> None:
    call = f"derivative_on_grid({f_text(name)}, {_grid_text(x, text)})"
    reply = subject.call("derivative_on_grid", Fn(name), x)
    value = expect_float_tensor(reply.result, call, none_hint=NONE_HINT)
    _check_x_untouched(reply.args_after, x, call)
    expected = reference_derivative(name, x)
    assert_close(value, expected, call, hint=_hint(name, x, value, expected))
    assert not value.requires_grad, (
        f"{call} returned a tensor that requires grad (it is still part of a graph). "
        "Return the leaf's .grad, or .detach() the result.")
    note(f"{call} = {show(value.tensor)}")


def _check_x_untouched(args_after: tuple, x: torch.Tensor, call: str) -> None:
    after = args_after[0] if args_after else None
    assert isinstance(after, TensorValue), f"{call}: the grader could not read x after the call."
    assert tuple(after.shape) == tuple(x.shape) and bool(torch.equal(after.tensor, x)), (
        f"{call} changed the caller's x in place (it is now {show(after.tensor)}). "
        "Work on a copy: x.detach().clone().requires_grad_().")
    assert not after.requires_grad, (
        f"{call} turned on requires_grad for the caller's x. Calling it twice on the same x "
        "would then accumulate gradients; work on a copy: x.detach().clone().requires_grad_().")


def _hint(name: str, x: torch.Tensor, value: TensorValue, expected: torch.Tensor) -> str:
    n = x.numel()
    if n > 1 and is_close(value.tensor, expected / n, "float32"):
        return (f"Every value is divided by {n}, the number of points: .mean() was used where "
                ".sum() belongs. The sum's gradient with respect to x_i is exactly f'(x_i).")
    return finite_difference_hint(name, x, value.tensor, expected)


def visible(subject: Subject) -> None:
    """The case shown in the notebook: x**2 on torch.linspace(-10, 10, 10) gives 2*x."""
    _check(subject, "square", torch.linspace(-10, 10, 10), "torch.linspace(-10, 10, 10)")


def _random_grid(rng: random.Random, low: float, high: float, dtype: torch.dtype) -> torch.Tensor:
    points = sorted(round(rng.uniform(low, high), 4) for _ in range(rng.randint(5, 40)))
    return torch.tensor(points, dtype=dtype)


def hidden(subject: Subject, rng: random.Random) -> None:
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
