"""Decoding plain data in the judge: every field validated, every size capped."""

import binascii
import math
from typing import Any

import torch

from .values import (  # noqa: F401
    _WIRE,
    DTYPES,
    MAX_AXES,
    MAX_DEPTH,
    MAX_ELEMENTS,
    MAX_ITEMS,
    MAX_LINES,
    MAX_NAME,
    MAX_NDIM,
    MAX_REPR,
    MAX_STR,
    MISSING,
    AxesValue,
    BadValue,
    Budget,
    FigureValue,
    Fn,
    LineValue,
    OtherValue,
    RaisedValue,
    TensorValue,
    _b64decode,
)

__all__ = ["decode"]


def decode(obj: Any) -> Any:
    """Validate a wire value and turn it into judge-side types; raises BadValue if malformed."""
    return _decode(obj, 0, Budget())


def _fields(obj: Any, kind: str, required: set[str]) -> dict:
    if set(obj) != required | {"kind"}:
        raise BadValue(f"{kind}: expected fields {sorted(required)}, got {sorted(map(str, obj))}")
    return obj


def _decode(obj: Any, depth: int, budget: Budget) -> Any:
    if depth > MAX_DEPTH:
        raise BadValue("value nested too deeply")
    if type(obj) is not dict or type(obj.get("kind")) is not str:
        raise BadValue("a value must be an object with a string 'kind'")
    decoder = _DECODERS.get(obj["kind"])
    if decoder is None:
        raise BadValue(f"unknown kind {obj['kind'][:40]!r}")
    return decoder(obj, depth, budget)


def _decode_scalar(obj: dict, depth: int, budget: Budget) -> Any:
    kind = obj["kind"]
    if kind in ("none", "missing"):
        _fields(obj, kind, set())
        return None if kind == "none" else MISSING
    value = _fields(obj, kind, {"value"})["value"]
    if kind == "bool" and type(value) is bool:
        return value
    if kind == "number" and type(value) in (int, float) and (type(value) is float or abs(value) < 2**63):
        return value
    if kind == "str":
        return _string(value, MAX_STR, "str value")
    raise BadValue(f"{kind}: bad value of type {type(value).__name__}")


def _string(value: Any, limit: int, what: str) -> str:
    if type(value) is not str or len(value) > limit:
        raise BadValue(f"{what} must be a string of at most {limit} characters")
    return value


def _boolean(value: Any, what: str) -> bool:
    if type(value) is not bool:
        raise BadValue(f"{what} must be a bool")
    return value


_TENSOR_FIELDS = {"dtype", "shape", "data", "requires_grad", "is_leaf", "grad_fn"}
_TENSOR_EXTRAS = {"grad", "parameter"}  # present only when the tensor held a gradient, or was a Parameter


def _decode_tensor(obj: dict, depth: int, budget: Budget, *, grad_allowed: bool = True) -> TensorValue:
    extras = set(obj) & _TENSOR_EXTRAS
    fields = _fields({k: v for k, v in obj.items() if k not in extras}, "tensor", _TENSOR_FIELDS)
    dtype = fields["dtype"]
    if type(dtype) is not str or dtype not in _WIRE:
        raise BadValue(f"tensor: dtype must be one of {', '.join(DTYPES)}")
    shape = _shape(fields["shape"])
    count = math.prod(shape)
    if count > MAX_ELEMENTS or not budget.take(elements=count):
        raise BadValue(f"tensor: {count} elements is over the limit")
    grad_fn = fields["grad_fn"]
    if grad_fn is not None:
        grad_fn = _string(grad_fn, MAX_NAME, "tensor grad_fn")
    if "parameter" in extras and obj["parameter"] is not True:
        raise BadValue("tensor: parameter, when present, must be true")
    return TensorValue(_tensor_from(fields["data"], _WIRE[dtype], shape), dtype,
                       _boolean(fields["requires_grad"], "tensor requires_grad"),
                       _boolean(fields["is_leaf"], "tensor is_leaf"), grad_fn,
                       _grad(obj, shape, depth, budget) if "grad" in extras and grad_allowed else
                       _no_grad_field(extras), "parameter" in extras)


def _grad(obj: dict, shape: tuple[int, ...], depth: int, budget: Budget) -> TensorValue:
    """A tensor's .grad: a tensor of its shape, without a grad of its own."""
    if type(obj["grad"]) is not dict or obj["grad"].get("kind") != "tensor":
        raise BadValue("tensor: grad must be a tensor")
    grad = _decode_tensor(obj["grad"], depth + 1, budget, grad_allowed=False)
    if grad.shape != shape:
        raise BadValue("tensor: its grad must have the tensor's shape")
    return grad


def _no_grad_field(extras: set[str]) -> None:
    if "grad" in extras:
        raise BadValue("tensor: a grad cannot hold a grad of its own")
    return None


def _shape(shape: Any) -> tuple[int, ...]:
    if type(shape) is not list or len(shape) > MAX_NDIM:
        raise BadValue(f"tensor: shape must be a list of at most {MAX_NDIM} sizes")
    if not all(type(n) is int and 0 <= n <= MAX_ELEMENTS for n in shape):
        raise BadValue("tensor: shape must hold non-negative ints")
    # An empty dimension makes any product 0: bound the others too, so a zero-size tensor of
    # shape [0, 10**6, ...] cannot overflow the strides and sizes that torch computes from it.
    if math.prod(max(n, 1) for n in shape) > MAX_ELEMENTS:
        raise BadValue(f"tensor: shape {shape} spans more than {MAX_ELEMENTS} elements")
    return tuple(shape)


def _tensor_from(data: Any, wire: torch.dtype, shape: tuple[int, ...]) -> torch.Tensor:
    count = math.prod(shape)
    itemsize = wire.itemsize
    if type(data) is not str or len(data) > 4 * (count * itemsize + 2) // 3 + 4:
        raise BadValue("tensor: data must be a base64 string of the right size")
    try:
        raw = _b64decode(data.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise BadValue("tensor: data is not valid base64") from exc
    if len(raw) != count * itemsize:
        raise BadValue(f"tensor: buffer has {len(raw)} bytes, shape and dtype need {count * itemsize}")
    if count == 0:
        return torch.empty(shape, dtype=wire)
    return torch.frombuffer(bytearray(raw), dtype=wire).reshape(shape)  # the tensor owns its fresh bytearray


def _decode_seq(obj: dict, depth: int, budget: Budget) -> list | tuple:
    fields = _fields(obj, "seq", {"type", "items"})
    items = _items(fields["items"], budget)
    if fields["type"] not in ("list", "tuple"):
        raise BadValue("seq: type must be 'list' or 'tuple'")
    decoded = [_decode(item, depth + 1, budget) for item in items]
    return decoded if fields["type"] == "list" else tuple(decoded)


def _items(items: Any, budget: Budget) -> list:
    if type(items) is not list or len(items) > MAX_ITEMS or not budget.take(items=len(items)):
        raise BadValue(f"items must be a list of at most {MAX_ITEMS}")
    return items


def _decode_dict(obj: dict, depth: int, budget: Budget) -> dict:
    result: dict = {}
    for pair in _items(_fields(obj, "dict", {"items"})["items"], budget):
        if type(pair) is not list or len(pair) != 2:
            raise BadValue("dict: each item must be a [key, value] pair")
        key = _decode(pair[0], depth + 1, budget)
        if not _hashable_plain(key) or key in result:
            raise BadValue("dict: keys must be unique plain values")
        result[key] = _decode(pair[1], depth + 1, budget)
    return result


def _hashable_plain(key: Any) -> bool:
    if isinstance(key, tuple):
        return all(_hashable_plain(item) for item in key)
    return isinstance(key, (str, int, float, bool, type(None)))


def _decode_figure(obj: dict, depth: int, budget: Budget) -> FigureValue:
    axes = _fields(obj, "figure", {"axes"})["axes"]
    if type(axes) is not list or len(axes) > MAX_AXES:
        raise BadValue(f"figure: axes must be a list of at most {MAX_AXES}")
    return FigureValue(tuple(_decode_axes(ax, budget) for ax in axes))


def _decode_axes(ax: Any, budget: Budget) -> AxesValue:
    if type(ax) is not dict or set(ax) != {"xlabel", "ylabel", "title", "legend", "lines"}:
        raise BadValue("figure: each axes needs exactly xlabel, ylabel, title, legend, lines")
    legend = ax["legend"]
    if legend is not None:
        if type(legend) is not list or len(legend) > MAX_LINES:
            raise BadValue("figure: legend must be null or a list of labels")
        legend = tuple(_string(label, MAX_STR, "legend label") for label in legend)
    lines = ax["lines"]
    if type(lines) is not list or len(lines) > MAX_LINES:
        raise BadValue(f"figure: lines must be a list of at most {MAX_LINES}")
    return AxesValue(_string(ax["xlabel"], MAX_STR, "xlabel"), _string(ax["ylabel"], MAX_STR, "ylabel"),
                     _string(ax["title"], MAX_STR, "title"), legend,
                     tuple(_decode_line(line, budget) for line in lines))


def _decode_line(line: Any, budget: Budget) -> LineValue:
    if type(line) is not dict or set(line) != {"label", "x", "y"}:
        raise BadValue("figure: each line needs exactly label, x, y")
    x, y = (_decode(line[k], MAX_DEPTH, budget) for k in ("x", "y"))
    if not (isinstance(x, TensorValue) and isinstance(y, TensorValue)) or x.tensor.dim() != 1 \
            or y.tensor.dim() != 1:
        raise BadValue("figure: line data must be 1-D tensors")
    return LineValue(_string(line["label"], MAX_STR, "line label"), x, y)


def _decode_named(obj: dict, depth: int, budget: Budget) -> Any:
    kind = obj["kind"]
    if kind == "fn":
        return Fn(_string(_fields(obj, kind, {"name"})["name"], MAX_NAME, "fn name"))
    if kind == "raised":
        fields = _fields(obj, kind, {"type", "message"})
        return RaisedValue(_string(fields["type"], MAX_NAME, "raised type"),
                           _string(fields["message"], MAX_STR, "raised message"))
    fields = _fields(obj, kind, {"type", "repr"})
    return OtherValue(_string(fields["type"], MAX_NAME, "other type"),
                      _string(fields["repr"], MAX_REPR, "other repr"))


_DECODERS = {
    "none": _decode_scalar, "missing": _decode_scalar, "bool": _decode_scalar,
    "number": _decode_scalar, "str": _decode_scalar, "tensor": _decode_tensor,
    "seq": _decode_seq, "dict": _decode_dict, "figure": _decode_figure,
    "fn": _decode_named, "raised": _decode_named, "other": _decode_named,
}


