"""Visible checks for ATTRIBUTES: the shape and types of its entries (values are checked at grading)."""

from .runtime import OtherValue, Subject, TensorValue, describe, note

__all__ = ["visible", "entries", "FIELDS", "HINTS"]

FIELDS = ("data", "grad", "grad_fn", "is_leaf", "requires_grad")
HINTS = {
    "data": "data is the tensor's value as a float.",
    "grad": "backward() stores dy/dx on the tensor you created; a tensor that is not a leaf "
            "keeps no gradient unless it called retain_grad().",
    "grad_fn": "grad_fn is the backward node of the operation that produced the tensor, and the "
               "entry is its class name, a str like 'MulBackward0' (the example cell above prints "
               "one), not the node itself or its repr; tensors you create yourself have None.",
    "is_leaf": "tensors you create directly are leaves; results of operations on tensors "
               "that require grad are not.",
    "requires_grad": "requires_grad spreads from x to everything computed from it.",
}
_TYPES = {"data": "a float", "grad": "a float or None", "grad_fn": "a class name (a str) or None",
          "is_leaf": "a bool", "requires_grad": "a bool"}


def entries(subject: Subject) -> dict:
    """ATTRIBUTES, once it has a dict with the five keys for x and for y."""
    value = subject.get("ATTRIBUTES")
    assert isinstance(value, dict), f"ATTRIBUTES is {describe(value)}; expected a dict."
    for name in ("x", "y"):
        entry = value.get(name)
        assert isinstance(entry, dict), f"ATTRIBUTES[{name!r}] is {describe(entry)}; expected a dict."
        missing = [f for f in FIELDS if f not in entry]
        assert not missing, f"ATTRIBUTES[{name!r}] lacks {missing}; expected the keys {list(FIELDS)}."
    return value


def _has_type(field: str, value: object) -> bool:
    if field in ("is_leaf", "requires_grad"):
        return type(value) is bool
    if field == "grad_fn":
        return value is None or isinstance(value, (str, OtherValue))
    number = (isinstance(value, TensorValue) and value.tensor.numel() == 1) or type(value) in (int, float)
    return number or (field == "grad" and value is None)


def visible(subject: Subject) -> None:
    """ATTRIBUTES has x and y, each with the five keys and values of the right types."""
    answers = entries(subject)
    for name in ("x", "y"):
        for field in FIELDS:
            got = answers[name][field]
            assert _has_type(field, got), (
                f"ATTRIBUTES[{name!r}][{field!r}] is {describe(got)}; expected {_TYPES[field]}. "
                f"{HINTS[field]}")
        leaf, grad_fn = answers[name]["is_leaf"], answers[name]["grad_fn"]
        assert not (leaf is False and grad_fn is None), (
            f"ATTRIBUTES[{name!r}] says is_leaf is False but grad_fn is None: a tensor that is not "
            "a leaf was produced by a recorded operation, so it has a grad_fn.")
    note("ATTRIBUTES has x and y with data, grad, grad_fn, is_leaf, requires_grad "
         "of the right types (their values are checked at grading)")
