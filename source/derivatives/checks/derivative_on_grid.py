"""Visible checks for derivative_on_grid(f, x): f'(x_i) at every point by one backward through a sum."""

import ast

import torch

from .grad_at import finite_difference_hint, none_hint, own_gradient_hint, slip_hint, values_hint
from .runtime import (
    Fn,
    Hint,
    Part,
    Subject,
    TensorValue,
    assert_close,
    calls_any,
    expect_float_tensor,
    failure,
    is_close,
    loop_uses,
    note,
    show,
)
from .vocabulary import FUNCTIONS, f_text

__all__ = ["PARTS", "PER_POINT", "PER_POINT_CALLS", "values", "whole_jacobian", "neighbour", "check_grid", "mean_hint", "weights_hint"]

PARTS = (
    Part("values", "f'(x_i) at every point, by one backward pass through a sum"),
    Part("neighbour", "the caller's x is left as it was, and the result does not require grad"),
)

# What a loop reaches when it runs a backward pass per point rather than one through the sum.
PER_POINT = ("backward", "autograd")
# What a loop calls when it takes a gradient per point: grad(y, p) imported from torch.autograd,
# torch.func.grad(f)(p), vjp and jvp, and backward(y) by name.
PER_POINT_CALLS = ("grad", "vjp", "jvp", "backward", "jacobian", "jacrev", "jacfwd")
# What builds every derivative of every output with respect to every input, where the diagonal is wanted.
WHOLE_JACOBIAN = ("jacobian", "jacrev", "jacfwd", "hessian")

NONE_HINT = Hint("the gradient is in the leaf's .grad, not y.grad",
                 "Gradients land in .grad of the leaf (a copy of x that requires grad), "
                 "not in y.grad; return that leaf's .grad.")


ONE_PASS = ("Each y_i depends on x_i alone, so the gradient of their sum holds every dy_i/dx_i: "
            "one backward pass through the sum gives all of them at once.")


def _grid_text(x: torch.Tensor, text: str | None) -> str:
    """How a call shows its grid: the points' number, span and spacing (a student rebuilding the
    grid from its ends, with linspace, sees why it differs)."""
    if text:
        return text
    dtype, n = str(x.dtype).removeprefix("torch."), x.numel()
    if n < 2:
        return f"a {dtype} grid of {n} point" + (f" at {x.reshape(-1)[0].item():.4g}" if n else "")
    steps = torch.diff(x.detach().to(torch.float64).reshape(-1))
    spacing = "evenly spaced" if is_close(steps, steps[:1].expand_as(steps), "float32") else "unevenly spaced"
    return f"a {dtype} grid of {n} {spacing} points from {x.min().item():.4g} to {x.max().item():.4g}"


def check_grid(subject: Subject, name: str, x: torch.Tensor, expected: torch.Tensor,
               text: str | None = None, part: str = "values") -> None:
    """derivative_on_grid(f, x): the values must be `expected` (part "values"), or x must be left
    as it was and the result not require grad (part "neighbour")."""
    call = f"derivative_on_grid({f_text(name)}, {_grid_text(x, text)})"
    reply = subject.call("derivative_on_grid", Fn(name), x)
    value = expect_float_tensor(reply.result, call, none_hint=none_hint(subject, "derivative_on_grid", NONE_HINT))
    if part == "values":
        # float32's tolerance whatever came back: an answer that works in float32 on a float64
        # grid is not a wrong derivative, and at float64's it would pass on some grids only
        assert_close(value, expected, call, tolerance="float32",
                     hint=lambda: mean_hint(x, value, expected) or weights_hint(x, value, expected)
                     or own_gradient_hint(value.tensor, expected) or slip_hint(value.tensor, expected)
                     or values_hint(name, x, value) or finite_difference_hint(name, x, value.tensor, expected)
                     or differences_hint(name, x, value))
        assert not loop_uses(subject.source_of, "derivative_on_grid", PER_POINT, PER_POINT_CALLS), failure(
            "derivative_on_grid runs backward inside a loop, not once through a sum.",
            f"{call} gave the right values, but with backward inside a loop (written there, or in a "
            "function the loop calls, such as grad_at), a pass per point or per piece. " + ONE_PASS)
        assert not whole_jacobian(subject.source_of), failure(
            "derivative_on_grid builds a whole Jacobian, not one backward pass through a sum.",
            f"{call} gave the right values, but from a whole Jacobian (jacobian, jacrev, jacfwd): "
            "the derivative of every y_i with respect to every x_j, a pass per point, kept only for "
            "its diagonal. " + ONE_PASS)
        note(f"{call} = {show(value.tensor)}")
        return
    _check_x_untouched(reply.args_after, x, call)
    assert not any(reply.grads_left[:1]), failure(
        "derivative_on_grid left a gradient in the caller's x.grad.",
        f"{call} left a gradient in the caller's x.grad. Calling it again on the same x would add "
        "the new gradient to that one: make a detached copy of x require grad, not x itself.")
    assert not value.requires_grad, failure(
        "derivative_on_grid returned a tensor that requires grad; return a plain one.",
        f"{call} returned a tensor that requires grad (it is still part of a graph). "
        "Return a tensor without history (a gradient is one; .detach() makes one).")
    note(f"{call} leaves x as it was and returns a plain tensor")


def whole_jacobian(source_of) -> bool:
    """Whether derivative_on_grid builds a Jacobian (of a function of several outputs): the
    Jacobian of a sum (`jacobian(lambda t: f(t).sum(), x)`) is its gradient, one backward pass."""
    if not calls_any(source_of, "derivative_on_grid", WHOLE_JACOBIAN):
        return False
    try:
        tree = ast.parse(source_of("derivative_on_grid") or "")
    except SyntaxError:
        return True
    builds = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and _name_of(n.func) in WHOLE_JACOBIAN]
    per_point = {id(arg) for n in ast.walk(tree) if isinstance(n, ast.Call) and _name_of(n.func) == "vmap"
                 for arg in n.args}  # vmap(jacrev(f)): each point's own derivative, in one vectorised pass
    defined = {t.id: n.value for n in ast.walk(tree) if isinstance(n, ast.Assign)
               for t in n.targets if isinstance(t, ast.Name)}
    defined |= {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    return not builds or not all(id(n) in per_point or n.args and _sums(
        defined.get(getattr(n.args[0], "id", None), n.args[0])) for n in builds)


def _name_of(func: ast.expr) -> str | None:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _sums(function: ast.AST) -> bool:
    """`lambda t: <...>.sum()`, `lambda t: torch.sum(<...>)`, or a def whose every return is such
    a sum or a name it bound to one: a function with one output (a sum over a dimension keeps
    the others, so it is not one)."""
    if isinstance(function, ast.Lambda):
        returned, bound = [function.body], {}
    elif isinstance(function, ast.FunctionDef):
        returned = [n.value for n in ast.walk(function) if isinstance(n, ast.Return)]
        bound = {t.id: n.value for n in ast.walk(function) if isinstance(n, ast.Assign)
                 for t in n.targets if isinstance(t, ast.Name)}
    else:
        return False
    returned = [bound.get(r.id, r) if isinstance(r, ast.Name) else r for r in returned]
    return bool(returned) and all(_total(r) for r in returned)


def _total(node: ast.AST) -> bool:
    """`x.sum()` or `torch.sum(x)`: the sum of every element, no dimension named."""
    if not (isinstance(node, ast.Call) and _name_of(node.func) == "sum") or node.keywords:
        return False
    method = isinstance(node.func, ast.Attribute) and not (isinstance(node.func.value, ast.Name)
                                                           and node.func.value.id == "torch")
    return not node.args if method else len(node.args) == 1


def _check_x_untouched(args_after: tuple, x: torch.Tensor, call: str) -> None:
    after = args_after[0] if args_after else None
    assert isinstance(after, TensorValue), failure(
        "derivative_on_grid: the grader could not read x after the call.", f"{call}: x could not be read after the call.")
    assert tuple(after.shape) == tuple(x.shape) and bool(torch.equal(after.tensor, x)), failure(
        "derivative_on_grid changed the caller's x in place; work on a copy.",
        f"{call} changed the caller's x in place (it is now {show(after.tensor)}). "
        "Work on a copy of x, not on x itself.")
    assert not after.requires_grad, failure(
        "derivative_on_grid turned on requires_grad for the caller's x.",
        f"{call} turned on requires_grad for the caller's x. Calling it twice on the same x "
        "would then accumulate gradients: make a detached copy require grad instead.")


def differences_hint(name: str, x: torch.Tensor, value: TensorValue) -> Hint | None:
    """The hint for slopes between neighbouring points (torch.gradient, numpy.gradient) where autograd's belong."""
    if x.dim() != 1 or x.numel() < 2:
        return None
    points = x.detach().to(torch.float64)
    (slopes,) = torch.gradient(FUNCTIONS[name](points), spacing=(points,))
    if tuple(value.shape) == tuple(slopes.shape) and is_close(value.tensor, slopes, "float32"):
        return Hint("these are difference quotients, not autograd's derivative",
                    "These are slopes between neighbouring points (difference quotients, as torch.gradient "
                    "computes them), which are off wherever f curves, and most at the ends of the grid: "
                    "compute f'(x_i) with autograd, one backward pass through a sum.")
    return None


def weights_hint(x: torch.Tensor, value: TensorValue, expected: torch.Tensor) -> Hint | None:
    """The hint for the points themselves passed to backward() as the gradient."""
    weighted = expected * x.to(torch.float64)
    if not is_close(weighted, expected, "float32") and is_close(value.tensor, weighted, "float32"):
        return Hint("each value is f'(x_i) times x_i, from backward()'s argument",
                    "Every value is f'(x_i) times x_i: the tensor passed to backward() weights each "
                    "point's derivative, and the sum trick needs every weight to be 1.")
    return None


def mean_hint(x: torch.Tensor, value: TensorValue, expected: torch.Tensor) -> Hint | None:
    """The hint for gradients of a mean where the sum belongs."""
    n = x.numel()
    if n > 1 and is_close(value.tensor, expected / n, "float32"):
        return Hint(f"every value is divided by {n}: .mean() where .sum() belongs",
                    f"Every value is divided by {n}, the number of points: .mean() was used where "
                    ".sum() belongs. The sum's gradient with respect to x_i is exactly f'(x_i).")
    return None


def values(subject: Subject) -> None:
    """The case shown in the notebook: x**2 on torch.linspace(-10, 10, 10) gives 2*x."""
    x = torch.linspace(-10, 10, 10)
    check_grid(subject, "square", x, 2 * x.to(torch.float64), "torch.linspace(-10, 10, 10)")


def neighbour(subject: Subject) -> None:
    """The same call leaves the caller's x untouched and returns a plain tensor."""
    x = torch.linspace(-10, 10, 10)
    check_grid(subject, "square", x, 2 * x.to(torch.float64), "torch.linspace(-10, 10, 10)", part="neighbour")
