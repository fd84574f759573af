"""Visible checks for grad_at(f, x0): df/dx at x0 as a 0-d float tensor, computed by autograd."""

import torch

from .runtime import (
    Fn,
    Subject,
    TensorValue,
    assert_close,
    expect_float_tensor,
    is_close,
    note,
    number,
    returns_nothing,
    show,
)
from .vocabulary import f_text

__all__ = ["visible", "check_grad_at", "check_repeatable", "ask", "leaf_hint", "slip_hint", "none_hint", "NONE_HINT",
           "ACCUMULATION_HINT"]

NONE_HINT = ("Gradients land in .grad of a leaf, a tensor you created with requires_grad=True: "
             "not y.grad, nor .grad of anything computed from a leaf (its .double() or .to(...) "
             "too); read it there after y.backward(), or use torch.autograd.grad.")
ACCUMULATION_HINT = ("Gradients accumulate in .grad: make a fresh leaf inside grad_at on "
                     "every call instead of reusing one tensor.")
DOUBLED_HINT = ("That is exactly twice the derivative: gradients add up in .grad, so a second "
                "backward() through the same leaf (or a .grad left from an earlier call) doubles it.")
NEGATED_HINT = "That is the derivative with the opposite sign."
SHARED_HINT = ("Each call must return a gradient of its own: a .grad that later calls zero "
               "and fill again changes every answer already returned.")
LEAF_HINT = ("You returned the leaf x itself (its value is x0), not its gradient: after "
             "backward() the derivative is stored on the leaf, in its .grad attribute.")


def ask(subject: Subject, name: str, x0: float) -> tuple[str, TensorValue]:
    """Call grad_at(f, x0); the call as text and the tensor it returned."""
    call, value, _ = _ask_and_keep(subject, name, x0, keep=False)
    return call, value


def _ask_and_keep(subject: Subject, name: str, x0: float, keep: bool) -> tuple[str, TensorValue, int | None]:
    call = f"grad_at({f_text(name)}, {number(x0)})"
    reply = subject.call_and_keep("grad_at", Fn(name), x0) if keep else subject.call("grad_at", Fn(name), x0)
    return call, expect_float_tensor(reply.result, call, none_hint=none_hint(subject, "grad_at", NONE_HINT)), reply.kept


def none_hint(subject: Subject, name: str, otherwise: str) -> str:
    """Why `name` returned None: a function that never returns a value (the judge's parse), or `otherwise`."""
    if returns_nothing(subject.source_of(name)):
        return (f"{name} has no return statement with a value, so every call returns None: "
                "the function must end by returning the gradient.")
    return otherwise


def leaf_hint(value: TensorValue, x0: float, expected: torch.Tensor) -> str:
    """The hint for an answer that returns the leaf instead of its .grad."""
    at_x0 = torch.tensor(float(x0), dtype=torch.float64)
    returned_x0 = tuple(value.shape) == () and is_close(value.tensor, at_x0, "float32")
    return LEAF_HINT if returned_x0 and not is_close(expected, at_x0, "float32") else ""


def slip_hint(got: torch.Tensor, expected: torch.Tensor) -> str:
    """The hint for a derivative that came back doubled (accumulated in .grad) or negated."""
    if tuple(got.shape) != tuple(expected.shape) or is_close(expected, torch.zeros_like(expected), "float32"):
        return ""
    if is_close(got, 2 * expected, "float32"):
        return DOUBLED_HINT
    return NEGATED_HINT if is_close(got, -expected, "float32") else ""


def check_grad_at(subject: Subject, name: str, x0: float, expected: torch.Tensor, hint=None) -> None:
    """grad_at(f, x0) must be `expected`, a 0-d tensor; a wrong answer that drifts is told why.

    `hint(value)`, if given, explains a wrong value.
    """
    call, value = ask(subject, name, x0)
    if tuple(value.shape) != () or not is_close(value.tensor, expected, value.dtype):
        check_repeatable(subject, [(name, x0), (name, x0)])
    assert_close(value, expected, call, hint=leaf_hint(value, x0, expected) or slip_hint(value.tensor, expected)
                 or (hint(value) if hint else ""))
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
                value.tensor, before.tensor, "float32"), (
                f"calling {call} twice gave {show(before.tensor)} and then "
                f"{show(value.tensor)}. {ACCUMULATION_HINT}")
        answers[call] = value
        kept.append((call, value, number))
    for call, value, number in kept[:-1]:
        now = subject.kept(number) if number is not None else value
        assert not isinstance(now, TensorValue) or tuple(now.shape) != tuple(value.shape) or is_close(
            now.tensor, value.tensor, "float32"), (
            f"{call} returned {show(value.tensor)}, but once later calls had run, the tensor it "
            f"returned held {show(now.tensor)}. {SHARED_HINT}")


def visible(subject: Subject) -> None:
    """The case shown in the notebook: x**2 at 2 is 4 (d/dx x**2 = 2x)."""
    check_grad_at(subject, "square", 2.0, torch.tensor(4.0, dtype=torch.float64))
