"""Visible checks for partial_derivatives(f, u0, v0): (df/du, df/dv) as 0-d tensors by autograd."""

import torch

from .grad_at import SHARED_HINT, slip_hint
from .runtime import (
    Fn,
    Hint,
    Subject,
    TensorValue,
    assert_close,
    describe,
    expect_float_tensor,
    fail_if_raised,
    failure,
    first_headline,
    is_close,
    kind_of,
    note,
    number,
    show,
)
from .vocabulary import f_text

__all__ = ["visible", "check_partials", "check_answers_stay"]

NONE_HINT = Hint("both u and v must be leaves that require grad",
                 "Both u and v must be leaves that require grad; after backward() each "
                 "partial derivative is stored on its own leaf, in .grad.")
OWN_LEAF = Hint("each partial derivative is stored on its own leaf",
                "Each partial derivative is stored on its own leaf: the one for u on u, the one for v on v.")
BY_AUTOGRAD = Hint("the partial derivative is not autograd's, at this f and this point",
                   "Each partial derivative comes from one backward() through f(u, v) on fresh leaves made at "
                   "this very point: a formula written for one f is wrong for another, slopes between nearby "
                   "points miss autograd's rules (detach, say), and a leaf kept from an earlier call adds its "
                   "old gradient to the new one.")


def check_partials(subject: Subject, name: str, u0: float, v0: float, want_du: torch.Tensor,
                   want_dv: torch.Tensor, *, keep: bool = False) -> int | None:
    """partial_derivatives(f, u0, v0) must be (want_du, want_dv); with `keep`, the number to read
    the pair it returned again by (`check_answers_stay`)."""
    call = f"partial_derivatives({f_text(name)}, {number(u0)}, {number(v0)})"
    reply = (subject.call_and_keep if keep else subject.call)("partial_derivatives", Fn(name), u0, v0)
    value = reply.result
    fail_if_raised(value, call)
    assert isinstance(value, (tuple, list)) and len(value) == 2, failure(
        first_headline(f"partial_derivatives returned {kind_of(value)}; expected a pair (df/du, df/dv).",
                       "partial_derivatives must return a pair (df/du, df/dv)."),
        f"{call} returned {describe(value)}; expected a pair (df/du, df/dv).")
    du = expect_float_tensor(value[0], f"{call}[0] (df/du)", none_hint=NONE_HINT)
    dv = expect_float_tensor(value[1], f"{call}[1] (df/dv)", none_hint=NONE_HINT)
    swapped = (not is_close(want_du, want_dv, "float32") and is_close(du.tensor, want_dv, "float32")
               and is_close(dv.tensor, want_du, "float32"))
    assert not swapped, failure(
        "partial_derivatives: the partials are swapped; return (df/du, df/dv).",
        f"{call} returned ({show(du.tensor)}, {show(dv.tensor)}); expected "
        f"({show(want_du)}, {show(want_dv)}): the partials are swapped. Return the partial "
        "derivatives in the order of f's arguments.")
    one_leaf = not is_close(want_du, want_dv, "float32") and is_close(du.tensor, dv.tensor, "float32")
    # float32's tolerance whatever the dtype: float32 partials turned to float64 (.double()) are as right
    assert_close(du, want_du, f"{call}[0] (df/du)", tolerance="float32", hint=lambda: slip_hint(du.tensor, want_du)
                 or _other_leaf(du, want_dv, one_leaf) or BY_AUTOGRAD)
    assert_close(dv, want_dv, f"{call}[1] (df/dv)", tolerance="float32", hint=lambda: slip_hint(dv.tensor, want_dv)
                 or _other_leaf(dv, want_du, one_leaf) or BY_AUTOGRAD)
    note(f"{call} = ({show(du.tensor)}, {show(dv.tensor)})")
    return reply.kept


def _other_leaf(got, other: torch.Tensor, one_leaf: bool) -> Hint | None:
    """OWN_LEAF where a partial holds the other one's value, or both partials came back equal
    where they differ (both read from one leaf)."""
    holds_other = tuple(got.shape) == tuple(other.shape) and is_close(got.tensor, other, "float32")
    return OWN_LEAF if one_leaf or holds_other else None


def check_answers_stay(subject: Subject, name: str, kept: int | None, first: tuple[float, float], was: tuple,
                       then: tuple[float, float]) -> None:
    """The pair returned for f `name` at `first` (`was`, kept under `kept`) must still hold its
    values once the call at `then` has run."""
    if kept is None:
        return
    now = subject.kept(kept)
    call = f"partial_derivatives({f_text(name)}, {number(first[0])}, {number(first[1])})"
    for expected, is_now, which in zip(was, now if isinstance(now, (tuple, list)) else (), ("df/du", "df/dv")):
        if not isinstance(is_now, TensorValue) or tuple(is_now.shape) != tuple(expected.shape):
            continue
        assert is_close(is_now.tensor, expected, "float32"), failure(
            "partial_derivatives returned a .grad that later calls change.",
            f"{call} returned {show(expected)} as {which}, but once partial_derivatives had run again at "
            f"({number(then[0])}, {number(then[1])}), that tensor held {show(is_now.tensor)}. {SHARED_HINT}")


def visible(subject: Subject) -> None:
    """The case shown in the notebook: u*v + u**2 at (1, 2) gives (v + 2u, u) = (4, 1), and at
    the int point (2, -1), (3, 2); the first pair keeps its values once the second call ran."""
    first = (torch.tensor(4.0, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64))
    kept = check_partials(subject, "uv_plus_u2", 1.0, 2.0, *first, keep=True)
    check_partials(subject, "uv_plus_u2", 2, -1, torch.tensor(3.0, dtype=torch.float64),
                   torch.tensor(2.0, dtype=torch.float64))
    check_answers_stay(subject, "uv_plus_u2", kept, (1.0, 2.0), first, (2, -1))
