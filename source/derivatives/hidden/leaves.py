"""Hidden checks for leaves: every prediction against torch, and the gradients at random points."""

import random

import torch

from grader.runtime import failure

from ..checks.leaves import EXPRESSIONS, WHY, check_grads, leaf_predictions

__all__ = ["predictions", "grads", "reference_predictions"]


# Why each expression is or is not a leaf, and does or does not require grad: shown with a wrong pair.
REASONS = {
    "torch.linspace(-10, 10, 10, requires_grad=True)":
        "A tensor created directly is a leaf, and requires_grad=True switches gradients on.",
    "torch.linspace(-10, 10, 10).requires_grad_()":
        "requires_grad_() switches gradients on in place: the tensor stays the leaf it was created as.",
    "torch.linspace(-10, 10, 10, requires_grad=True) * 1":
        "Any operation on a tensor that requires grad, even * 1, is recorded: its result is not a leaf, "
        "and it requires grad.",
    "torch.tensor(2.0)": "A tensor created directly is a leaf; without requires_grad=True it does not require grad.",
    "torch.tensor(2.0, requires_grad=True).detach()":
        "detach() returns a tensor cut from the graph: a new leaf that does not require grad.",
    "torch.tensor(2.0, requires_grad=True).clone()":
        "clone() is a recorded operation like any other: its result is not a leaf, and it requires grad.",
    "torch.tensor([1.0, 2.0], requires_grad=True)[0]":
        "Indexing is a recorded operation: the element is not a leaf, and it requires grad.",
    "torch.nn.Parameter(torch.ones(2))": "A Parameter is a leaf made to be trained: it requires grad by default.",
}


def reference_predictions() -> dict[str, tuple[bool, bool]]:
    """What torch reports for each expression: (is_leaf, requires_grad)."""
    # eval of our own constant strings only, so the reference is exactly the text students see.
    scope = {"torch": torch, "__builtins__": {}}
    tensors = {text: eval(text, scope) for text in EXPRESSIONS}
    return {text: (bool(t.is_leaf), bool(t.requires_grad)) for text, t in tensors.items()}


def predictions(subject, rng: random.Random) -> None:
    """Every prediction against what torch reports."""
    answers = leaf_predictions(subject)
    for text, expected in reference_predictions().items():
        got = tuple(answers[text])
        assert got == expected, failure(
            "LEAF_PREDICTIONS holds a pair that is not what torch reports.",
            f"LEAF_PREDICTIONS[{text!r}] is (is_leaf={got[0]}, requires_grad={got[1]}), which "
            f"is not what torch reports. {REASONS.get(text, WHY)}")


def grads(subject, rng: random.Random) -> None:
    """The gradients at a random point and at an int one (x0 is any Python number)."""
    check_grads(subject, round(rng.uniform(-5.0, 5.0), 3))
    check_grads(subject, rng.choice((-3, -2, 2, 3)))
