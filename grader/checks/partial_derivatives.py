"""Checks for partial_derivatives(f, u0, v0): (df/du, df/dv) as 0-d tensors by autograd."""

import random

from grader.checks.common import (
    assert_close,
    describe,
    expect_float_tensor,
    f_text,
    fail_if_raised,
    is_close,
    note,
    number,
    reference_partials,
    show,
)
from grader.runtime.subject import Fn, Subject

__all__ = ["visible", "hidden"]

NONE_HINT = ("Make both u and v leaves with requires_grad=True; after f(u, v).backward() "
             "the partials are u.grad and v.grad.")


def _check(subject: Subject, name: str, u0: float, v0: float) -> None:
    call = f"partial_derivatives({f_text(name)}, {number(u0)}, {number(v0)})"
    value = subject.call("partial_derivatives", Fn(name), u0, v0).result
    fail_if_raised(value, call)
    assert isinstance(value, (tuple, list)) and len(value) == 2, (
        f"{call} returned {describe(value)}; expected a pair (df/du, df/dv).")
    du = expect_float_tensor(value[0], f"{call}[0] (df/du)", none_hint=NONE_HINT)
    dv = expect_float_tensor(value[1], f"{call}[1] (df/dv)", none_hint=NONE_HINT)
    want_du, want_dv = reference_partials(name, float(u0), float(v0))
    swapped = (not is_close(want_du, want_dv, "float32") and is_close(du.tensor, want_dv, du.dtype)
               and is_close(dv.tensor, want_du, dv.dtype))
    assert not swapped, (
        f"{call} returned ({show(du.tensor)}, {show(dv.tensor)}); expected "
        f"({show(want_du)}, {show(want_dv)}): the partials are swapped. Return (u.grad, v.grad) "
        "in the order of f's arguments.")
    hint = "Read each gradient from its own leaf (u.grad for u, v.grad for v)."
    assert_close(du, want_du, f"{call}[0] (df/du)", hint=hint)
    assert_close(dv, want_dv, f"{call}[1] (df/dv)", hint=hint)
    note(f"{call} = ({show(du.tensor)}, {show(dv.tensor)})")


def visible(subject: Subject) -> None:
    """The case shown in the notebook: u*v + u**2 at (1, 2) gives (4, 1)."""
    _check(subject, "uv_plus_u2", 1.0, 2.0)


def hidden(subject: Subject, rng: random.Random) -> None:
    """A product under a square, asymmetric f at random points, and a detach() rule."""
    _check(subject, "uv_plus_uv_squared", 2.0, 1.0)

    def point() -> float:
        return round(rng.uniform(0.5, 2.5) * rng.choice((-1, 1)), 3)

    _check(subject, "u_cubed_v", point(), point())
    _check(subject, "sin_u_exp_v", point(), point())
    _check(subject, "uv_plus_u2", point(), point())
    _check(subject, "uv_detach", point(), point())
