"""Hidden checks for ATTRIBUTES: every field against what torch reports."""

import random
import warnings

import torch

from grader.runtime import describe, failure

from ..checks.attributes import HINTS, entries, is_class_name

__all__ = ["hidden", "reference_attributes"]


def reference_attributes() -> dict[str, dict]:
    """What torch reports for x = torch.tensor(2.0, requires_grad=True); y = x ** 2; y.backward()."""
    x = torch.tensor(2.0, requires_grad=True)
    y = x**2
    y.backward()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # reading .grad of a non-leaf warns
        return {name: _attributes(t) for name, t in (("x", x), ("y", y))}


def _attributes(t: torch.Tensor) -> dict:
    return {"data": float(t.detach()), "grad": None if t.grad is None else float(t.grad),
            "grad_fn": None if t.grad_fn is None else type(t.grad_fn).__name__,
            "is_leaf": bool(t.is_leaf), "requires_grad": bool(t.requires_grad)}


def _matches(field: str, got: object, expected: object) -> bool:
    """The plain Python value asked for (a float, a class name, a bool), equal to torch's."""
    if field in ("is_leaf", "requires_grad"):
        return type(got) is bool and got == expected
    if expected is None:
        return got is None
    if field == "grad_fn":
        return is_class_name(got) and got == expected
    return type(got) in (int, float) and abs(got - float(expected)) <= 1e-5 + 1e-4 * abs(expected)


def hidden(subject, rng: random.Random) -> None:
    """Every field against what torch reports."""
    answers = entries(subject)
    for name, fields in reference_attributes().items():
        for field, expected in fields.items():
            got = answers[name][field]
            assert _matches(field, got, expected), failure(
                f"ATTRIBUTES[{name!r}][{field!r}] is not what torch reports.",
                f"ATTRIBUTES[{name!r}][{field!r}] is {describe(got)}, which is not what torch "
                f"reports. {_why(field, got, expected)}")


def _why(field: str, got, expected) -> str:
    """The concept behind a wrong entry: a tensor no operation produced has no grad_fn (None, the
    value); a well-formed class name otherwise names the operation that made the tensor."""
    if field == "grad_fn" and expected is None and got is not None:
        return ("No recorded operation produced this tensor: you created it, so it is a leaf and its "
                "grad_fn is None, the Python value (not a string). AccumulateGrad is the node that "
                "stores a leaf's gradient, reached from the next operation's grad_fn, not the leaf's own.")
    if field == "grad_fn" and isinstance(got, str) and isinstance(expected, str) \
            and got.rstrip("0123456789") == expected.rstrip("0123456789"):
        return ("It names the right operation, but not its class as torch names it: a backward node's "
                "class name ends with a number (MulBackward0, not MulBackward), so read it from "
                "type(...).__name__ rather than write it from memory.")
    if field == "grad_fn" and is_class_name(got):
        return ("It is written as a class name should be, but names another operation: grad_fn is "
                "the backward node of the last operation that produced this tensor, so look at which "
                "operation made it.")
    return HINTS[field]
