"""Visible checks for MulConstant: forward(ctx, x, k) = k * x with k kept on ctx; a gradient for x, None for k."""

import torch

from .SQ import expect_tracked, fail_if_forward_name
from .runtime import (
    FunctionResult,
    Hint,
    Part,
    Subject,
    TensorValue,
    assert_close,
    confirm,
    describe,
    expect_float_tensor,
    expect_inputs_untouched,
    expect_upstream_untouched,
    fail_if_raised,
    failure,
    is_close,
    is_plain_class,
    note,
    number,
    show,
)

__all__ = ["PARTS", "forward", "backward", "require_function", "check_mul_constant"]

PARTS = (
    Part("forward", "forward returns k * x and keeps the number k on ctx"),
    Part("backward", "backward returns the upstream gradient times k for x, and None for k"),
)


def require_function(subject: Subject) -> None:
    info = subject.describe_class("MulConstant")
    plain = is_plain_class(subject.source_of, "MulConstant")
    assert confirm(subject, info["is_autograd_function"], plain, "MulConstant is an autograd Function"), failure(
        "MulConstant is not a subclass of torch.autograd.Function.",
        "MulConstant is not a subclass of torch.autograd.Function: write "
        "class MulConstant(torch.autograd.Function) with @staticmethod forward and backward.")


def _check_output(result: FunctionResult, x: torch.Tensor, k: float, expected: torch.Tensor, call: str) -> None:
    fail_if_raised(result.output, f"{call}: forward")
    output = expect_float_tensor(result.output, f"{call}: forward")
    assert_close(output, expected, f"{call}: forward", hint=lambda: _forward_hint(output, x, k))
    expect_inputs_untouched(result, call, ("x", "k"))
    expect_tracked(output, call, "MulConstant", x)


def _forward_hint(output: TensorValue, x: torch.Tensor, k: float) -> Hint:
    if k != int(k) and is_close(output.tensor, int(k) * x.detach().to(torch.float64), "float32"):
        return Hint(f"k was rounded to the integer {int(k)}",
                    f"k = {number(k)} was rounded to {int(k)}: keep k as it is given, a float stays a float.")
    return Hint("forward does not return k times x", "forward computes k times x.")


def _check_grads(result: FunctionResult, expected: torch.Tensor, k: float, upstream: torch.Tensor,
                 call: str) -> None:
    fail_if_raised(result.output, f"{call}: forward")  # a forward that failed is the cause, said once
    assert len(result.grads) == 2, failure(
        f"MulConstant: backward returned {len(result.grads)} gradient(s) where forward has 2 inputs.",
        f"{call}: expected one gradient per input, got {len(result.grads)}.")
    fail_if_forward_name(result.grads[0], call, "MulConstant", {
        "k": "Keep it on ctx in forward, as an attribute (a number is not a tensor to save), and read it from ctx in backward.",
        "x": "Keep what backward needs of it on ctx in forward."})
    fail_if_raised(result.grads[0], f"{call}: backward")
    grad = expect_float_tensor(result.grads[0], f"{call}: the gradient for x", none_hint=Hint(
        "backward must return a gradient for x",
        "backward returns one gradient per input of forward: a tensor for x, None for k."))
    if k != 1 and is_close(grad.tensor, upstream, grad.dtype):
        raise AssertionError(failure(
            "MulConstant: your backward returns grad_output unchanged, ignoring k.",
            f"{call}: your backward returns grad_output unchanged ({show(grad.tensor)}), ignoring "
            f"k: the gradient for x should be {show(expected)}. "
            "By the chain rule the upstream gradient is multiplied by the local derivative "
            "d(k*x)/dx = k: keep k on ctx in forward so backward can use it."))
    scaled = not is_close(upstream, torch.ones_like(upstream), "float64")
    if scaled and is_close(grad.tensor, k * torch.ones_like(upstream, dtype=torch.float64), grad.dtype):
        raise AssertionError(failure(
            "MulConstant: your backward ignores grad_output, the upstream gradient.",
            f"{call}: your backward returns k everywhere ({show(grad.tensor)}), ignoring grad_output: the "
            f"gradient for x should be {show(expected)}. By the chain rule the local derivative "
            "d(k*x)/dx = k multiplies the upstream gradient that backward receives as grad_output."))
    expect_upstream_untouched(result, call)
    assert_close(grad, expected, f"{call}: the gradient for x", hint=Hint(
        "the gradient for x is not k times grad_output", "d(k*x)/dx = k, times grad_output by the chain rule."))
    assert result.grads[1] is None, failure(
        "MulConstant: the gradient for k must be None, k being a number.",
        f"{call}: the gradient for k is {describe(result.grads[1])}; expected None, "
        "because k is a Python number, not a tensor.")


def _holds(value: object, k: float) -> bool:
    if type(value) in (int, float):
        return abs(value - k) <= 1e-6 * max(1.0, abs(k))  # k rounded to float32 is still k
    if isinstance(value, TensorValue):
        return value.tensor.numel() == 1 and abs(float(value.tensor.reshape(())) - k) <= 1e-6 * max(1.0, abs(k))
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds(item, k) for item in value)
    return False


def _check_ctx(result: FunctionResult, k: float, call: str) -> None:
    kept = result.ctx.attributes
    cut = next((name for name, v in kept.items() if k != int(k) and (_holds(v, int(k)) or _holds(v, round(k)))), None)
    assert cut is None or any(_holds(v, k) for v in kept.values()), failure(
        f"MulConstant: ctx.{cut} holds k cut to a whole number.",
        f"{call}: after forward, ctx.{cut} holds a whole number where k = {number(k)} belongs: int() or "
        "round() dropped its fraction, so backward would scale by another constant. Keep k as forward received it.")
    assert any(_holds(v, k) for v in kept.values()), failure(
        "MulConstant: no attribute of ctx holds k after forward.",
        f"{call}: after forward, no attribute of ctx holds k = {number(k)}. k is a Python "
        "number, so store it as an attribute of ctx rather than with save_for_backward, "
        "which takes tensors only.")


def check_mul_constant(subject: Subject, x: torch.Tensor, k: float, upstream: torch.Tensor, part: str,
                       expected: torch.Tensor) -> None:
    """MulConstant.apply(x, k) for `upstream`: its output must be `expected` (part "forward"), or its
    gradient for x must be `expected` (part "backward")."""
    require_function(subject)
    shape = "a scalar" if x.dim() == 0 else f"a tensor of shape {list(x.shape)}"
    call = f"MulConstant.apply(x, {number(k)}) on {shape}"
    result = subject.autograd_function("MulConstant", [x, k], upstream)
    if part == "forward":
        _check_output(result, x, k, expected, call)
        _check_ctx(result, k, call)
        note(f"{call}: output {show(expected)}, and k kept on ctx")
    else:
        _check_grads(result, expected, k, upstream, call)
        note(f"{call}: gradient for x {show(expected)}, None for k")


# k not an integer and an upstream gradient not all ones: no slip gives the expected values by coincidence.
VISIBLE_X = torch.tensor([1.0, -2.0, 0.5])
VISIBLE_K = 2.5
VISIBLE_UPSTREAM = torch.tensor([3.0, -1.0, 0.5])


def forward(subject: Subject) -> None:
    """The case shown in the notebook: k = 2.5 on [1, -2, 0.5] gives [2.5, -5, 1.25]."""
    check_mul_constant(subject, VISIBLE_X.clone().requires_grad_(True), VISIBLE_K, VISIBLE_UPSTREAM, "forward",
                       VISIBLE_K * VISIBLE_X.to(torch.float64))


def backward(subject: Subject) -> None:
    """k = 2.5 on [1, -2, 0.5] with the upstream gradient [3, -1, 0.5]: the gradient for x is [7.5, -2.5, 1.25]."""
    check_mul_constant(subject, VISIBLE_X.clone().requires_grad_(True), VISIBLE_K, VISIBLE_UPSTREAM, "backward",
                       VISIBLE_K * VISIBLE_UPSTREAM.to(torch.float64))
