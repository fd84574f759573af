"""Checks for SQ: a custom autograd Function squaring its input, with save_for_backward."""

import io
import random
import re
import tokenize

import torch

from grader.checks.common import (
    assert_close,
    describe,
    expect_float_tensor,
    fail_if_raised,
    is_close,
    note,
    show,
)
from grader.runtime.subject import FunctionResult, Subject
from grader.runtime.values import RaisedValue, TensorValue

__all__ = ["visible", "hidden"]

SAVE_HINT = ("Keep tensors for backward with ctx.save_for_backward(i) and read them back with "
             "ctx.saved_tensors: autograd then checks they were not modified in place and frees "
             "them after backward, which an attribute like ctx.i does not.")


def _require_function(subject: Subject) -> None:
    info = subject.describe_class("SQ")
    assert info["is_autograd_function"], (
        "SQ is not a subclass of torch.autograd.Function: write class SQ(torch.autograd.Function) "
        "with @staticmethod forward and backward.")


def _apply(subject: Subject, x: torch.Tensor, upstream: torch.Tensor,
           second: torch.Tensor | None = None) -> FunctionResult:
    return subject.autograd_function("SQ", [x], upstream, second)


def _call_text(x: torch.Tensor, upstream: torch.Tensor) -> str:
    dtype = str(x.dtype).removeprefix("torch.")
    if x.dim() == 0:
        return f"SQ.apply(x) at x = {show(x)} ({dtype}) with upstream gradient {show(upstream)}"
    return f"SQ.apply(x) on a {dtype} tensor of shape {list(x.shape)} with a random upstream gradient"


def _check_output(result: FunctionResult, x: torch.Tensor, call: str) -> None:
    fail_if_raised(result.output, f"{call}: forward")
    output = expect_float_tensor(result.output, f"{call}: forward")
    assert_close(output, x.detach() ** 2, f"{call}: forward", hint="forward must return i ** 2.")


def _input_grad(result: FunctionResult, call: str) -> TensorValue:
    grad = result.grads[0] if result.grads else None
    fail_if_raised(grad, f"{call}: backward")
    return expect_float_tensor(grad, f"{call}: the input gradient",
                               none_hint="backward must return grad_output * 2 * i.")


def _check_vjp(subject: Subject, x: torch.Tensor, upstream: torch.Tensor) -> FunctionResult:
    call = _call_text(x, upstream)
    result = _apply(subject, x, upstream)
    _check_output(result, x, call)
    grad = _input_grad(result, call)
    expected = upstream * 2 * x.detach()
    if not is_close(upstream, torch.ones_like(upstream), "float64") and is_close(
            grad.tensor, 2 * x.detach(), grad.dtype):
        raise AssertionError(
            f"SQ: your backward ignores grad_output: with an upstream gradient of {show(upstream)} "
            f"the input gradient should be {show(expected)}, got {show(grad.tensor)}. "
            "Multiply by grad_output (the chain rule): return grad_output * 2 * i.")
    assert_close(grad, expected, f"{call}: the input gradient",
                 hint="The chain rule gives grad_output * 2 * i.")
    return result


def _code_without_comments(source: str) -> str:
    try:
        tokens = tokenize.generate_tokens(io.StringIO(source).readline)
        return " ".join(t.string for t in tokens if t.type not in (tokenize.COMMENT, tokenize.STRING))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return source


def _check_saved(subject: Subject, result: FunctionResult) -> None:
    tensors_on_ctx = [k for k, v in result.ctx.attributes.items() if isinstance(v, TensorValue)]
    kept = f" (your forward keeps {', '.join('ctx.' + k for k in tensors_on_ctx)} instead)" \
        if tensors_on_ctx else ""
    assert result.ctx.saved_tensors >= 1, (
        f"SQ: after forward, ctx.saved_tensors is empty{kept}. {SAVE_HINT}")
    source = subject.source_of("SQ")
    if source is not None:
        assert re.search(r"save_for_backward\s*\(", _code_without_comments(source)), (
            f"SQ: your code does not call ctx.save_for_backward{kept}. {SAVE_HINT}")


def _check_second_order(subject: Subject, x: torch.Tensor, upstream: torch.Tensor,
                        rng: random.Random) -> None:
    weights = torch.tensor([rng.uniform(-2.0, 2.0) for _ in range(x.numel())],
                           dtype=torch.float64).reshape(x.shape)
    result = _apply(subject, x, upstream, weights)
    leaf = x.detach().clone().requires_grad_(True)
    (vjp,) = torch.autograd.grad(leaf**2, leaf, upstream, create_graph=True)
    (expected,) = torch.autograd.grad(vjp, leaf, weights)
    second = result.second[0] if result.second else None
    call = "SQ, second order (what gradgradcheck tests)"
    if isinstance(second, RaisedValue):
        raise AssertionError(f"{call}: differentiating your backward raised {second.type}: "
                             f"{second.message}. Compute backward with torch operations on the "
                             "saved tensor so autograd can differentiate it again.")
    assert isinstance(second, TensorValue), (
        f"{call}: differentiating your backward gave {describe(second)}; expected "
        f"{show(expected)}. Compute backward with torch operations on the saved tensor.")
    assert_close(second, expected, call)


def visible(subject: Subject) -> None:
    """The case shown in the notebook: SQ.apply(x) at x = 2 gives 4 and the gradient 4."""
    _require_function(subject)
    _check_vjp(subject, torch.tensor(2.0, requires_grad=True), torch.tensor(1.0))
    note("SQ.apply(x) at x = 2: output 4, x.grad 4")


def hidden(subject: Subject, rng: random.Random) -> None:
    """Upstream gradients other than 1, saved tensors, any shape, float64 VJPs and second order."""
    _require_function(subject)
    result = _check_vjp(subject, torch.tensor(2.0, requires_grad=True), torch.tensor(3.0))
    _check_saved(subject, result)
    shape = [rng.randint(2, 4), rng.randint(1, 5)]
    x = _random(rng, shape, torch.float32).requires_grad_(True)
    _check_vjp(subject, x, _random(rng, shape, torch.float32))
    x64 = _random(rng, [rng.randint(2, 6)], torch.float64).requires_grad_(True)
    for _ in range(3):
        _check_vjp(subject, x64, _random(rng, list(x64.shape), torch.float64))
    _check_second_order(subject, x64, _random(rng, list(x64.shape), torch.float64), rng)


def _random(rng: random.Random, shape: list[int], dtype: torch.dtype) -> torch.Tensor:
    count = 1
    for n in shape:
        count *= n
    return torch.tensor([rng.uniform(-3.0, 3.0) for _ in range(count)], dtype=dtype).reshape(shape)
