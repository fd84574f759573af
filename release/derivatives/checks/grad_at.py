"""Visible checks for grad_at(f, x0): df/dx at x0 as a 0-d float tensor, computed by autograd."""

import torch

from .runtime import (
    Fn,
    Hint,
    Subject,
    TensorValue,
    assert_close,
    expect_float_tensor,
    failure,
    is_close,
    note,
    number,
    returns_nothing,
    show,
)
from .vocabulary import FUNCTIONS, f_text

__all__ = ["visible", "check_grad_at", "check_repeatable", "ask", "leaf_hint", "slip_hint", "own_gradient_hint",
           "none_hint", "NONE_HINT",
           "ACCUMULATION_HINT", "finite_difference_hint", "values_hint", "central_difference"]

NONE_HINT = Hint("the gradient is in the leaf's .grad, not y.grad",
                 "Gradients land in .grad of a leaf, a tensor you created with requires_grad=True: "
                 "not y.grad, nor .grad of anything computed from a leaf (its .double() or .to(...) "
                 "too); read it there after y.backward(), or use torch.autograd.grad.")
ACCUMULATION_HINT = ("Gradients accumulate in .grad: make a fresh leaf inside grad_at on "
                     "every call instead of reusing one tensor.")
DOUBLED_HINT = Hint("exactly twice the derivative, as when .grad accumulates",
                    "That is exactly twice the derivative: gradients add up in .grad, so a second "
                    "backward() through the same leaf (or a .grad left from an earlier call) doubles it.")
NEGATED_HINT = Hint("the derivative with the opposite sign", "That is the derivative with the opposite sign.")
SHARED_HINT = ("Each call must return a gradient of its own: a .grad that later calls zero "
               "and fill again changes every answer already returned.")
LEAF_HINT = Hint("it returned the leaf x itself, not its .grad",
                 "You returned the leaf x itself (its value is x0), not its gradient: after "
                 "backward() the derivative is stored on the leaf, in its .grad attribute.")


def ask(subject: Subject, name: str, x0: float) -> tuple[str, TensorValue]:
    """Call grad_at(f, x0); the call as text and the tensor it returned."""
    call, value, _ = _ask_and_keep(subject, name, x0, keep=False)
    return call, value


def _ask_and_keep(subject: Subject, name: str, x0: float, keep: bool) -> tuple[str, TensorValue, int | None]:
    call = f"grad_at({f_text(name)}, {number(x0)})"
    reply = subject.call_and_keep("grad_at", Fn(name), x0) if keep else subject.call("grad_at", Fn(name), x0)
    return call, expect_float_tensor(reply.result, call, none_hint=none_hint(subject, "grad_at", NONE_HINT)), reply.kept


def none_hint(subject: Subject, name: str, otherwise: Hint) -> Hint:
    """Why `name` returned None: a function that never returns a value (the judge's parse), or `otherwise`."""
    if returns_nothing(subject.source_of(name)):
        return Hint("it has no return statement with a value",
                    f"{name} has no return statement with a value, so every call returns None: "
                    "the function must end by returning the gradient.")
    return otherwise


def leaf_hint(value: TensorValue, x0: float, expected: torch.Tensor) -> Hint | None:
    """The hint for an answer that returns the leaf instead of its .grad."""
    at_x0 = torch.tensor(float(x0), dtype=torch.float64)
    returned_x0 = tuple(value.shape) == () and is_close(value.tensor, at_x0, "float32")
    return LEAF_HINT if returned_x0 and not is_close(expected, at_x0, "float32") else None


def own_gradient_hint(got: torch.Tensor, expected: torch.Tensor) -> Hint | None:
    """The hint for ones, dy/dy: the gradient y holds of itself (y.grad after y.retain_grad())."""
    ones = torch.ones_like(expected)
    if tuple(got.shape) != tuple(expected.shape) or is_close(expected, ones, "float32") or not is_close(got, ones, "float32"):
        return None
    return Hint("1 is dy/dy, the gradient of y with respect to itself",
                "Every value is 1: that is dy/dy, the gradient of the result with respect to itself, which "
                "y.grad holds when y keeps its gradient. The derivative of f is on the tensor f was "
                "computed from, in its .grad.")


def slip_hint(got: torch.Tensor, expected: torch.Tensor) -> Hint | None:
    """The hint for a derivative that came back doubled (accumulated in .grad) or negated."""
    if tuple(got.shape) != tuple(expected.shape) or is_close(expected, torch.zeros_like(expected), "float32"):
        return None
    if is_close(got, 2 * expected, "float32"):
        return DOUBLED_HINT
    return NEGATED_HINT if is_close(got, -expected, "float32") else None


def values_hint(name: str, x0: float | torch.Tensor, value: TensorValue) -> Hint | None:
    """The hint for f's own values returned where its derivative belongs."""
    own = FUNCTIONS[name](torch.as_tensor(x0, dtype=torch.float64))
    if tuple(value.shape) == tuple(own.shape) and is_close(value.tensor, own, "float32"):
        return Hint("these are the values of f, not its derivative",
                    "These are the values of f at the points, not its derivative: after backward() "
                    "the derivative is in the .grad of the tensor f was computed from.")
    return None


def formula_hint(name: str, x0: float, value: TensorValue) -> Hint | None:
    """The hint for an answer that ignores f (2 * x0, the example's derivative) or truncates x0 to an int."""
    example = torch.tensor(2 * float(x0), dtype=torch.float64)  # what d/dx x**2 is at x0
    if name != "square" and tuple(value.shape) == () and is_close(value.tensor, example, "float32"):
        return Hint("that is 2 * x0, the derivative of x**2, whatever f is",
                    "That is 2 * x0, the derivative of x**2 only: grad_at must differentiate the f it is "
                    "given, by autograd.")
    truncated = float(int(x0))
    if truncated != x0 and is_close(value.tensor, central_difference(FUNCTIONS[name], truncated), "float32"):
        return Hint(f"that is the derivative at {number(truncated)}, as if x0 were truncated to an int",
                    f"That is the derivative at {number(truncated)}, not at {number(x0)}: x0 was turned into "
                    "an int on the way. Build the leaf from float(x0).")
    return None


def central_difference(fn, points: float | torch.Tensor, h: float = 1e-4) -> torch.Tensor:
    """(f(x+h) - f(x-h)) / 2h in float64: what a finite-difference answer would return."""
    x = torch.as_tensor(points, dtype=torch.float64).detach()  # f of a plain tensor records nothing
    return (fn(x + h) - fn(x - h)) / (2 * h)


def finite_difference_hint(name: str, points: float | torch.Tensor, actual: torch.Tensor,
                           expected: torch.Tensor) -> Hint | None:
    """A hint when autograd's gradient differs from the slope of f's values at these points."""
    slope = central_difference(FUNCTIONS[name], points)
    if is_close(slope, expected, "float32"):
        return None
    matches = " Your answer matches that slope." if is_close(actual, slope, "float32") else ""
    return Hint("autograd's gradient is not the slope of f's values here" if matches else "",
                f"For {f_text(name)} autograd's gradient ({show(expected)}) differs from the slope "
                f"of f's values ({show(slope)}): relu, where and detach() follow autograd's own "
                f"rules.{matches} Compute the gradient with autograd (backward() and .grad, or "
                "torch.autograd.grad), not with finite differences or a hand-derived formula.")


def check_grad_at(subject: Subject, name: str, x0: float, expected: torch.Tensor) -> None:
    """grad_at(f, x0) must be `expected`, a 0-d tensor; a wrong answer that drifts, or that follows
    the slope of f's values where autograd's rules differ, is told why."""
    call, value = ask(subject, name, x0)
    if tuple(value.shape) != () or not is_close(value.tensor, expected, "float32"):
        check_repeatable(subject, [(name, x0), (name, x0)])
    # float32's tolerance whatever the dtype: a float32 gradient turned to float64 (.double()) is as right
    assert_close(value, expected, call, tolerance="float32", hint=lambda: leaf_hint(value, x0, expected)
                 or own_gradient_hint(value.tensor, expected)
                 or slip_hint(value.tensor, expected) or values_hint(name, x0, value)
                 or formula_hint(name, x0, value) or finite_difference_hint(name, float(x0), value.tensor, expected))
    note(f"{call} = {show(value.tensor)}")


def check_repeatable(subject: Subject, calls: list[tuple[str, float]]) -> None:
    """The same call twice, with others in between, must give the same answer, and an answer
    must still hold its value once the calls after it have run."""
    answers: dict[str, TensorValue] = {}
    kept: list[tuple[str, TensorValue, int | None]] = []
    for name, x0 in calls:
        call, value, number = _ask_and_keep(subject, name, x0, keep=True)
        if call in answers:
            before = answers[call]
            assert tuple(before.shape) == tuple(value.shape) and is_close(
                value.tensor, before.tensor, "float32"), failure(
                "grad_at gave another value when called again: gradients accumulate in .grad.",
                f"calling {call} twice gave {show(before.tensor)} and then "
                f"{show(value.tensor)}. {ACCUMULATION_HINT}")
        answers[call] = value
        kept.append((call, value, number))
    for call, value, number in kept[:-1]:
        now = subject.kept(number) if number is not None else value
        assert not isinstance(now, TensorValue) or tuple(now.shape) != tuple(value.shape) or is_close(
            now.tensor, value.tensor, "float32"), failure(
            "grad_at returned a .grad that later calls change; return a gradient of its own.",
            f"{call} returned {show(value.tensor)}, but once later calls had run, the tensor it "
            f"returned held {show(now.tensor)}. {SHARED_HINT}")


def visible(subject: Subject) -> None:
    """The cases shown in the notebook: x**3 at the int 2 is 12, x**2 at -1.5 is -3, relu at its
    kink 0 is autograd's 0 (a difference quotient says 0.5), and calling again changes nothing."""
    check_grad_at(subject, "cube", 2, torch.tensor(12.0, dtype=torch.float64))
    check_grad_at(subject, "square", -1.5, torch.tensor(-3.0, dtype=torch.float64))
    check_grad_at(subject, "relu", 0.0, torch.tensor(0.0, dtype=torch.float64))
    check_repeatable(subject, [("square", -1.5), ("cube", 2), ("square", -1.5)])
