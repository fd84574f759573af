"""Visible checks for LEAF_PREDICTIONS and leaf_and_intermediate_grads(x0) (retain_grad on y)."""

import torch

from .runtime import (
    Hint,
    Part,
    Subject,
    assert_close,
    describe,
    expect_defined,
    expect_float_tensor,
    fail_if_raised,
    failure,
    first_headline,
    function_uses,
    is_close,
    kind_of,
    note,
    number,
    show,
)

__all__ = ["PARTS", "AUTOGRAD", "predictions", "grads", "EXPRESSIONS", "WHY", "leaf_predictions", "check_grads"]

PARTS = (
    Part("predictions", "(a) LEAF_PREDICTIONS: is_leaf and requires_grad of each expression"),
    Part("grads", "(b) leaf_and_intermediate_grads: x.grad and the retained y.grad"),
)

EXPRESSIONS: tuple[str, ...] = (
    "torch.linspace(-10, 10, 10, requires_grad=True)",
    "torch.linspace(-10, 10, 10).requires_grad_()",
    "torch.linspace(-10, 10, 10, requires_grad=True) * 1",
    "torch.tensor(2.0)",
    "torch.tensor(2.0, requires_grad=True).detach()",
    "torch.tensor(2.0, requires_grad=True).clone()",
    "torch.tensor([1.0, 2.0], requires_grad=True)[0]",
    "torch.nn.Parameter(torch.ones(2))",
)

# What a function reaches when autograd computes its gradients (an imported function or a helper
# leaves the reading undecided, and then it costs nothing).
AUTOGRAD = ("backward", "retain_grad", "register_hook", "autograd", "func")

WHY = ("A tensor is a leaf when no recorded operation produced it: created directly, "
        "detached, or a Parameter. Any operation on a tensor that requires grad (* 1, .clone(), "
        "indexing) makes a non-leaf that still requires grad.")


def leaf_predictions(subject: Subject) -> dict:
    value = subject.get("LEAF_PREDICTIONS")
    expect_defined(value, "LEAF_PREDICTIONS")
    assert isinstance(value, dict), failure(f"LEAF_PREDICTIONS is {kind_of(value)}; expected a dict.",
                                            f"LEAF_PREDICTIONS is {describe(value)}; expected a dict.")
    missing = [text for text in EXPRESSIONS if text not in value]
    assert not missing, failure(
        f"LEAF_PREDICTIONS lacks {len(missing)} of the {len(EXPRESSIONS)} expressions; copy them exactly.",
        f"LEAF_PREDICTIONS lacks the expressions {missing} (copy them exactly).")
    for text in EXPRESSIONS:
        pair = value[text]
        assert isinstance(pair, (tuple, list)) and len(pair) == 2 and all(
            type(p) is bool for p in pair), failure(
            f"LEAF_PREDICTIONS holds {kind_of(pair)} for an expression; expected a pair of bools."
            if not isinstance(pair, (tuple, list)) or len(pair) != 2 else
            "LEAF_PREDICTIONS holds a pair that is not two bools (is_leaf, requires_grad).",
            f"LEAF_PREDICTIONS[{text!r}] is {describe(pair)}" + (
                f" holding {', '.join(type(p).__name__ for p in pair)}"
                if isinstance(pair, (tuple, list)) and len(pair) == 2 else "")
            + "; expected a pair of bools (is_leaf, requires_grad)" + (
                ": True or False, not text." if isinstance(pair, (tuple, list)) and any(isinstance(p, str) for p in pair)
                else "."))
    return value


def check_grads(subject: Subject, x0: float) -> None:
    call = f"leaf_and_intermediate_grads({number(x0)})"
    value = subject.call("leaf_and_intermediate_grads", x0).result
    fail_if_raised(value, call)
    assert isinstance(value, (tuple, list)) and len(value) == 2, failure(
        first_headline(f"leaf_and_intermediate_grads returned {kind_of(value)}; expected a pair.",
                       "leaf_and_intermediate_grads must return a pair (x.grad, y.grad)."),
        f"{call} returned {describe(value)}; expected a pair (x.grad, y.grad).")
    assert value[1] is not None, failure(
        "leaf_and_intermediate_grads: y.grad is None, as for any non-leaf by default.",
        f"{call} returned y.grad = None: y is not a leaf, so autograd does not keep its "
        "gradient unless you ask it to with retain_grad(), before the backward pass.")
    x_grad = expect_float_tensor(value[0], f"{call}[0] (x.grad)", none_hint=Hint(
        "no gradient reached x",
        "x.grad stays None when no gradient reaches x: backward must run on something computed "
        "from x, through operations autograd records (y made from x, not as a new tensor)."))
    y_grad = expect_float_tensor(value[1], f"{call}[1] (y.grad)")
    want_x, want_y = torch.tensor(6 * x0, dtype=torch.float64), torch.tensor(3.0, dtype=torch.float64)
    right = is_close(x_grad.tensor, want_x, "float32") and is_close(y_grad.tensor, want_y, "float32")
    # at x0 = 0.5 both gradients are 3: a right pair is then also a swapped one
    assert right or not (is_close(x_grad.tensor, want_y, "float32") and is_close(y_grad.tensor, want_x, "float32")), failure(
        "leaf_and_intermediate_grads: the pair is swapped; return (x.grad, y.grad).",
        f"{call} returned ({show(x_grad.tensor)}, {show(y_grad.tensor)}): x.grad and y.grad in each other's "
        "place. Return them in the order asked for, (x.grad, y.grad).")
    doubled = is_close(x_grad.tensor, 2 * want_x, "float32") and is_close(y_grad.tensor, 2 * want_y, "float32")
    assert right or not doubled, failure(
        "leaf_and_intermediate_grads: both gradients doubled; .grad accumulates over passes.",
        f"{call} returned ({show(x_grad.tensor)}, {show(y_grad.tensor)}), twice dz/dx and dz/dy: each backward "
        "pass adds into .grad rather than replacing it, so two passes give twice the gradient. Run one "
        "backward pass on leaves made inside the function.")
    assert_close(x_grad, want_x, f"{call}[0] (x.grad)",
                 hint=Hint("x.grad is not dz/dx", "z = 3*x**2, so dz/dx = 6*x, on a leaf x made inside the "
                                                  "function at each call: a leaf kept from an earlier call adds "
                                                  "its old gradient to the new one."))
    assert_close(y_grad, want_y, f"{call}[1] (y.grad)",
                 hint=Hint("y.grad is not dz/dy", "z = 3*y, so dz/dy = 3."))
    assert function_uses(subject.source_of, "leaf_and_intermediate_grads", AUTOGRAD) is not False, failure(
        "leaf_and_intermediate_grads: the gradients are typed in, not computed by autograd.",
        f"{call} returned the right pair, but the function never runs a backward pass: the values "
        "come from calculus done by hand. Let autograd fill x.grad after backward, and y.grad too, "
        "which autograd keeps for a non-leaf only when asked to.")
    note(f"{call} = ({show(x_grad.tensor)}, {show(y_grad.tensor)})")


def predictions(subject: Subject) -> None:
    """LEAF_PREDICTIONS has a pair of bools for every expression (their values are checked at grading)."""
    leaf_predictions(subject)
    note("LEAF_PREDICTIONS has a (is_leaf, requires_grad) pair for every expression "
         "(the pairs are checked at grading)")


def grads(subject: Subject) -> None:
    """leaf_and_intermediate_grads(-1.5) = (-9, 3), and at the int x0 = 3, (18, 3): at either
    point no x.grad, y.grad, y or z equals another."""
    check_grads(subject, -1.5)
    check_grads(subject, 3)
