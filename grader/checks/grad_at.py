"""Checks for grad_at(f, x0): df/dx at x0 as a 0-d float tensor, by autograd on a fresh leaf."""

import random

from grader.checks.common import (
    assert_close,
    expect_float_tensor,
    f_text,
    finite_difference_hint,
    is_close,
    note,
    number,
    reference_derivative,
    show,
)
from grader.runtime.subject import Fn, Subject
from grader.runtime.values import TensorValue

__all__ = ["visible", "hidden"]

NONE_HINT = ("Gradients land in .grad of the leaf you made (x.grad, not y.grad); "
             "return it after y.backward(), or use torch.autograd.grad(y, x).")
ACCUMULATION_HINT = ("Gradients accumulate in .grad: make a fresh leaf inside grad_at on "
                     "every call instead of reusing one tensor.")
TRANSCENDENTAL = ("sin", "exp_sin", "x_tanh", "log_one_plus_square", "sigmoid_cos")


def _ask(subject: Subject, name: str, x0: float) -> tuple[str, TensorValue]:
    call = f"grad_at({f_text(name)}, {number(x0)})"
    result = subject.call("grad_at", Fn(name), x0).result
    return call, expect_float_tensor(result, call, none_hint=NONE_HINT)


def _check(subject: Subject, name: str, x0: float) -> None:
    call, value = _ask(subject, name, x0)
    expected = reference_derivative(name, float(x0))
    if tuple(value.shape) != () or not is_close(value.tensor, expected, value.dtype):
        _check_repeatable(subject, [(name, x0), (name, x0)])  # a wrong answer that drifts
    hint = finite_difference_hint(name, float(x0), value.tensor, expected)
    assert_close(value, expected, call, hint=hint)
    note(f"{call} = {show(value.tensor)}")


def _check_repeatable(subject: Subject, calls: list[tuple[str, float]]) -> None:
    """The same call twice, with another in between, must give the same answer."""
    answers = {}
    for name, x0 in calls:
        call, value = _ask(subject, name, x0)
        if call in answers:
            before = answers[call]
            assert tuple(before.shape) == tuple(value.shape) and is_close(
                value.tensor, before.tensor, "float32"), (
                f"calling {call} twice gave {show(before.tensor)} and then "
                f"{show(value.tensor)}. {ACCUMULATION_HINT}")
        answers[call] = value


def visible(subject: Subject) -> None:
    """The case shown in the notebook: x**2 at 2 is 4."""
    _check(subject, "square", 2.0)


def hidden(subject: Subject, rng: random.Random) -> None:
    """Fixed polynomials, an int x0, repeated calls, transcendental f, autograd-only rules."""
    x0 = round(rng.uniform(0.5, 3.0), 3)
    _check_repeatable(subject, [("square", x0), ("cube_plus_x", x0), ("square", x0),
                                ("square", x0)])
    _check(subject, "cube_plus_x", 1.0)
    _check(subject, "shifted_square", 2.0)
    _check(subject, "cube_plus_x", rng.choice([2, 3, -1]))
    for name in rng.sample(TRANSCENDENTAL, 3):
        _check(subject, name, round(rng.uniform(-3.0, 3.0), 4))
    _check(subject, "relu", 0.0)
    _check(subject, "where_kink", 0.0)
    _check(subject, "detach_trick", round(rng.uniform(-3.0, 3.0), 4))
