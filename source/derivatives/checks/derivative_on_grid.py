"""Visible checks for derivative_on_grid(f, x): f'(x_i) at every point by one backward through a sum."""

import torch

from .grad_at import none_hint, slip_hint
from .runtime import (
    Fn,
    Part,
    Subject,
    TensorValue,
    assert_close,
    expect_float_tensor,
    is_close,
    note,
    show,
)
from .vocabulary import FUNCTIONS, f_text

__all__ = ["PARTS", "values", "neighbour", "check_grid", "mean_hint", "weights_hint"]

PARTS = (
    Part("values", "f'(x_i) at every point, by one backward pass through a sum"),
    Part("neighbour", "the caller's x is left as it was, and the result does not require grad"),
)

NONE_HINT = ("Gradients land in .grad of the leaf (a copy of x that requires grad), "
             "not in y.grad; return that leaf's .grad.")


def _grid_text(x: torch.Tensor, text: str | None) -> str:
    return text or f"a {str(x.dtype).removeprefix('torch.')} grid of {x.numel()} points"


def check_grid(subject: Subject, name: str, x: torch.Tensor, expected: torch.Tensor,
               text: str | None = None, hint=None, part: str = "values") -> None:
    """derivative_on_grid(f, x): the values must be `expected` (part "values"), or x must be left
    as it was and the result not require grad (part "neighbour"). `hint(value)` explains a wrong value."""
    call = f"derivative_on_grid({f_text(name)}, {_grid_text(x, text)})"
    reply = subject.call("derivative_on_grid", Fn(name), x)
    value = expect_float_tensor(reply.result, call, none_hint=none_hint(subject, "derivative_on_grid", NONE_HINT))
    if part == "values":
        # float32's tolerance whatever came back: an answer that works in float32 on a float64
        # grid is not a wrong derivative, and at float64's it would pass on some grids only
        assert_close(value, expected, call, tolerance="float32",
                     hint=mean_hint(x, value, expected) or weights_hint(x, value, expected)
                     or slip_hint(value.tensor, expected)
                     or values_hint(name, x, value) or (hint(value) if hint else ""))
        note(f"{call} = {show(value.tensor)}")
        return
    _check_x_untouched(reply.args_after, x, call)
    assert not any(reply.grads_left[:1]), (
        f"{call} left a gradient in the caller's x.grad. Calling it again on the same x would add "
        "the new gradient to that one: make a detached copy of x require grad, not x itself.")
    assert not value.requires_grad, (
        f"{call} returned a tensor that requires grad (it is still part of a graph). "
        "Return a tensor without history (a gradient is one; .detach() makes one).")
    note(f"{call} leaves x as it was and returns a plain tensor")


def _check_x_untouched(args_after: tuple, x: torch.Tensor, call: str) -> None:
    after = args_after[0] if args_after else None
    assert isinstance(after, TensorValue), f"{call}: the grader could not read x after the call."
    assert tuple(after.shape) == tuple(x.shape) and bool(torch.equal(after.tensor, x)), (
        f"{call} changed the caller's x in place (it is now {show(after.tensor)}). "
        "Work on a copy of x, not on x itself.")
    assert not after.requires_grad, (
        f"{call} turned on requires_grad for the caller's x. Calling it twice on the same x "
        "would then accumulate gradients: make a detached copy require grad instead.")


def values_hint(name: str, x: torch.Tensor, value: TensorValue) -> str:
    """The hint for f's own values returned where its derivative belongs."""
    own = FUNCTIONS[name](x.detach().to(torch.float64))
    if tuple(value.shape) == tuple(own.shape) and is_close(value.tensor, own, "float32"):
        return ("These are the values of f at the points, not its derivative: after backward() "
                "the derivative is in the .grad of the tensor f was computed from.")
    return ""


def weights_hint(x: torch.Tensor, value: TensorValue, expected: torch.Tensor) -> str:
    """The hint for the points themselves passed to backward() as the gradient."""
    weighted = expected * x.to(torch.float64)
    if not is_close(weighted, expected, "float32") and is_close(value.tensor, weighted, "float32"):
        return ("Every value is f'(x_i) times x_i: the tensor passed to backward() weights each "
                "point's derivative, and the sum trick needs every weight to be 1.")
    return ""


def mean_hint(x: torch.Tensor, value: TensorValue, expected: torch.Tensor) -> str:
    """The hint for gradients of a mean where the sum belongs."""
    n = x.numel()
    if n > 1 and is_close(value.tensor, expected / n, "float32"):
        return (f"Every value is divided by {n}, the number of points: .mean() was used where "
                ".sum() belongs. The sum's gradient with respect to x_i is exactly f'(x_i).")
    return ""


def values(subject: Subject) -> None:
    """The case shown in the notebook: x**2 on torch.linspace(-10, 10, 10) gives 2*x."""
    x = torch.linspace(-10, 10, 10)
    check_grid(subject, "square", x, 2 * x.to(torch.float64), "torch.linspace(-10, 10, 10)")


def neighbour(subject: Subject) -> None:
    """The same call leaves the caller's x untouched and returns a plain tensor."""
    x = torch.linspace(-10, 10, 10)
    check_grid(subject, "square", x, 2 * x.to(torch.float64), "torch.linspace(-10, 10, 10)", part="neighbour")
