"""Plain-data encoding of values beside student code, and the validating judge-side decoder."""

import base64
import binascii
import math
import sys
from dataclasses import dataclass
from typing import Any

import torch

__all__ = [
    "BadValue", "TensorValue", "FigureValue", "AxesValue", "LineValue", "RaisedValue",
    "OtherValue", "Missing", "MISSING", "Fn", "Budget", "encode", "decode", "encode_raised",
    "to_torch_dtype", "MAX_ELEMENTS", "MAX_STR", "MAX_DEPTH", "MAX_ITEMS", "DTYPES",
]

MAX_ELEMENTS = 1_000_000        # per tensor
MAX_TOTAL_ELEMENTS = 4_000_000  # per encoded value
MAX_STR = 500
MAX_REPR = 200
MAX_NAME = 100
MAX_DEPTH = 8
MAX_ITEMS = 1000                # per container
MAX_TOTAL_ITEMS = 20_000        # per encoded value
MAX_REPLY_BYTES = 6 * 1024 * 1024  # base64 tensors and strings: a reply fits the 8 MiB frame
MAX_NDIM = 8
MAX_AXES = 20
MAX_LINES = 50

# dtype name -> dtype carried in the buffer; half precisions travel as float32.
_WIRE: dict[str, torch.dtype] = {
    "float32": torch.float32, "float64": torch.float64, "float16": torch.float32,
    "bfloat16": torch.float32, "int64": torch.int64, "int32": torch.int32,
    "int16": torch.int16, "int8": torch.int8, "uint8": torch.uint8, "bool": torch.bool,
}
DTYPES: tuple[str, ...] = tuple(_WIRE)
_WIRE_ITEMSIZE: dict[str, int] = {name: torch.empty((), dtype=d).element_size()
                                  for name, d in _WIRE.items()}
_DTYPE_BY_NAME: dict[str, torch.dtype] = {
    "float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
    "bfloat16": torch.bfloat16, "int64": torch.int64, "int32": torch.int32,
    "int16": torch.int16, "int8": torch.int8, "uint8": torch.uint8, "bool": torch.bool,
}

# Real functions captured at import: student code may rebind the public names later.
_TensorBase = torch._C.TensorBase
_get_requires_grad = _TensorBase.__dict__["requires_grad"].__get__
_get_is_leaf = _TensorBase.__dict__["is_leaf"].__get__
_get_grad_fn = _TensorBase.__dict__["grad_fn"].__get__
_as_subclass = torch.Tensor.as_subclass
_detach, _to, _numpy = torch.Tensor.detach, torch.Tensor.to, torch.Tensor.numpy
_numel, _size, _to_dense = torch.Tensor.numel, torch.Tensor.size, torch.Tensor.to_dense
_NoTorchFunction = torch._C.DisableTorchFunctionSubclass
_type, _issubclass, _len, _repr, _str = type, issubclass, len, repr, str
_b64encode, _b64decode = base64.b64encode, base64.b64decode


class BadValue(ValueError):
    """A reply or value that does not follow the wire format."""


@dataclass(frozen=True, eq=False)
class TensorValue:
    """A tensor read from the wire: a plain copy plus the metadata the student's tensor had."""

    tensor: torch.Tensor
    dtype: str
    requires_grad: bool
    is_leaf: bool
    grad_fn: str | None

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.tensor.shape)


@dataclass(frozen=True)
class LineValue:
    """One plotted line: its label and data."""

    label: str
    x: TensorValue
    y: TensorValue


@dataclass(frozen=True)
class AxesValue:
    """One Axes of a figure."""

    xlabel: str
    ylabel: str
    title: str
    legend: tuple[str, ...] | None
    lines: tuple[LineValue, ...]


@dataclass(frozen=True)
class FigureValue:
    """A matplotlib figure described as its axes."""

    axes: tuple[AxesValue, ...]


@dataclass(frozen=True)
class RaisedValue:
    """Student code raised instead of returning."""

    type: str
    message: str


@dataclass(frozen=True)
class OtherValue:
    """A value of a type the wire format does not carry."""

    type: str
    repr: str


@dataclass(frozen=True)
class Missing:
    """The name is not defined in the student's namespace."""


MISSING = Missing()


@dataclass(frozen=True)
class Fn:
    """An argument naming a function of an assignment's vocabulary (checks/vocabulary.py)."""

    name: str


# ---------------------------------------------------------------- encode (beside student code)

class Budget:
    """Running totals shared by the values of one reply, so it stays small however it is built."""

    def __init__(self) -> None:
        self.elements = 0
        self.items = 0
        self.nbytes = 0

    def take(self, elements: int = 0, items: int = 0, nbytes: int = 0) -> bool:
        """Count more data; False once any total is over its cap."""
        self.elements += elements
        self.items += items
        self.nbytes += nbytes
        return (self.elements <= MAX_TOTAL_ELEMENTS and self.items <= MAX_TOTAL_ITEMS
                and self.nbytes <= MAX_REPLY_BYTES)


def encode(obj: Any, budget: Budget | None = None) -> dict:
    """Encode any object as plain JSON-able data; never raises, caps every size.

    Pass one `budget` to every encode of a reply to cap the reply as a whole.
    """
    try:
        return _encode(obj, 0, budget if budget is not None else Budget())
    except BaseException:  # hostile objects may raise anything
        return _other_fallback(obj)


def encode_raised(exc: BaseException) -> dict:
    """Encode an exception that student code raised; never raises."""
    try:
        name = _cut(_type(exc).__name__, MAX_NAME)
    except BaseException:
        name = "BaseException"
    try:
        message = _cut(_str(exc), MAX_STR)
    except BaseException:
        message = "<message could not be read>"
    return {"kind": "raised", "type": name, "message": message}


def _encode(obj: Any, depth: int, budget: Budget) -> dict:
    kind = _type(obj)
    if obj is None:
        return {"kind": "none"}
    if kind is bool:
        return {"kind": "bool", "value": obj}
    if _issubclass(kind, int) and not _issubclass(kind, bool):
        return _encode_int(int.__int__(obj))
    if _issubclass(kind, float):
        return {"kind": "number", "value": float.__float__(obj)}
    if _issubclass(kind, str):
        text = _cut(str.__str__(obj), MAX_STR)
        if not budget.take(nbytes=_len(text) + 16):
            return {"kind": "other", "type": "str", "repr": "a string over the reply's size cap"}
        return {"kind": "str", "value": text}
    if _issubclass(kind, torch.Tensor):
        return _guarded(_encode_tensor, obj, budget)
    if kind is Fn:
        return {"kind": "fn", "name": _cut(obj.name, MAX_NAME)}
    return _encode_container(obj, kind, depth, budget)


def _encode_container(obj: Any, kind: type, depth: int, budget: Budget) -> dict:
    if depth >= MAX_DEPTH and _issubclass(kind, (list, tuple, dict)):
        return _other(obj, "nested too deeply")  # its items would sit deeper than decode allows
    if _issubclass(kind, (list, tuple)):
        items = list.copy(obj) if _issubclass(kind, list) else tuple.__getitem__(obj, slice(None))
        if _len(items) > MAX_ITEMS or not budget.take(items=_len(items)):
            return _other(obj, f"a sequence of {_len(items)} items is too long")
        return {"kind": "seq", "type": "list" if _issubclass(kind, list) else "tuple",
                "items": [_encode(item, depth + 1, budget) for item in items]}
    if _issubclass(kind, dict):
        pairs = list(dict.items(obj))
        if _len(pairs) > MAX_ITEMS or not budget.take(items=2 * _len(pairs)):
            return _other(obj, f"a dict of {_len(pairs)} items is too long")
        return {"kind": "dict", "items": [[_encode(k, depth + 1, budget), _encode(v, depth + 1, budget)]
                                          for k, v in pairs]}
    numpy = sys.modules.get("numpy")
    if numpy is not None and _issubclass(kind, numpy.generic):
        return _encode(numpy.generic.item(obj), depth + 1, budget)
    figure = sys.modules.get("matplotlib.figure")
    if figure is not None and _issubclass(kind, figure.Figure):
        return _guarded(_encode_figure, obj, budget)
    return _other(obj)


def _guarded(encoder: Any, obj: Any, budget: Budget) -> dict:
    # One unreadable tensor or figure (meta device, broken subclass) must not hide its siblings.
    try:
        return encoder(obj, budget)
    except BaseException:
        return _other_fallback(obj)


def _encode_int(value: int) -> dict:
    if abs(value) < 2**63:
        return {"kind": "number", "value": value}
    try:
        return {"kind": "number", "value": float(value)}
    except OverflowError:
        return {"kind": "other", "type": "int", "repr": "an integer too large to encode"}


def _encode_tensor(obj: torch.Tensor, budget: Budget) -> dict:
    with _NoTorchFunction():
        plain = _as_subclass(obj, torch.Tensor)
        dtype = _str(plain.dtype).removeprefix("torch.")
        if dtype not in _WIRE:
            return _other(obj, f"a tensor of dtype {dtype}, which the grader does not read")
        count = int(_numel(plain))
        encoded_bytes = 4 * count * _WIRE_ITEMSIZE[dtype] // 3
        if count > MAX_ELEMENTS or not budget.take(elements=count, nbytes=encoded_bytes):
            return _other(obj, f"a tensor of {count} elements is too large")
        data = _tensor_bytes(plain, _WIRE[dtype])
        # Autograd metadata from the original: the plain alias has its own AliasBackward0.
        grad_fn = _get_grad_fn(obj)
        return {
            "kind": "tensor", "dtype": dtype, "shape": [int(n) for n in _size(plain)],
            "data": _b64encode(data).decode("ascii"),
            "requires_grad": bool(_get_requires_grad(obj)), "is_leaf": bool(_get_is_leaf(obj)),
            "grad_fn": None if grad_fn is None else _cut(_type(grad_fn).__name__, MAX_NAME),
        }


def _tensor_bytes(plain: torch.Tensor, wire: torch.dtype) -> bytes:
    data = _detach(plain)
    if data.layout != torch.strided:
        data = _to_dense(data)
    data = _to(data, device="cpu", dtype=wire, copy=True)
    return _numpy(data, force=True).tobytes(order="C")


def _encode_figure(fig: Any, budget: Budget) -> dict:
    axes = list(fig.axes)
    if _len(axes) > MAX_AXES:
        return _other(fig, f"a figure with {_len(axes)} axes is too large")
    figure_legends = [_legend_labels(legend) for legend in getattr(fig, "legends", [])]
    encoded = [_encode_axes(ax, budget) for ax in axes]
    if _len(encoded) == 1 and encoded[0]["legend"] is None and figure_legends:
        # fig.legend(...) is a legend for the single axes as far as a reader can tell.
        encoded[0]["legend"] = [label for labels in figure_legends for label in labels][:MAX_LINES]
    return {"kind": "figure", "axes": encoded}


def _encode_axes(ax: Any, budget: Budget) -> dict:
    legend = ax.get_legend()
    lines = list(ax.get_lines())[:MAX_LINES]
    return {
        "xlabel": _cut(_str(ax.get_xlabel()), MAX_STR),
        "ylabel": _cut(_str(ax.get_ylabel()), MAX_STR),
        "title": _cut(_str(ax.get_title()), MAX_STR),
        "legend": None if legend is None else _legend_labels(legend),
        "lines": [_encode_line(line, budget) for line in lines],
    }


def _legend_labels(legend: Any) -> list[str]:
    return [_cut(_str(text.get_text()), MAX_STR) for text in legend.get_texts()][:MAX_LINES]


def _encode_line(line: Any, budget: Budget) -> dict:
    import numpy

    def column(values: Any) -> dict:
        array = numpy.asarray(values, dtype=numpy.float64).reshape(-1)
        return _encode_tensor(torch.from_numpy(array.copy()), budget)

    return {"label": _cut(_str(line.get_label()), MAX_STR),
            "x": column(line.get_xdata(orig=False)), "y": column(line.get_ydata(orig=False))}


def _other(obj: Any, note: str | None = None) -> dict:
    try:
        name = _cut(_type(obj).__name__, MAX_NAME)
    except BaseException:
        name = "object"
    if note is not None:
        return {"kind": "other", "type": name, "repr": _cut(note, MAX_REPR)}
    return {"kind": "other", "type": name, "repr": _safe_repr(obj)}


def _safe_repr(obj: Any) -> str:
    try:
        return _cut(_str(_repr(obj)), MAX_REPR)
    except BaseException:
        try:
            return _cut(object.__repr__(obj), MAX_REPR)
        except BaseException:
            return "<unreadable>"


def _other_fallback(obj: Any) -> dict:
    try:
        return _other(obj, "a value the grader could not read")
    except BaseException:
        return {"kind": "other", "type": "object", "repr": "a value the grader could not read"}


def _cut(text: str, limit: int) -> str:
    text = str.__str__(text)
    return text if _len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------- decode (judge side)

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


def _decode_tensor(obj: dict, depth: int, budget: Budget) -> TensorValue:
    fields = _fields(obj, "tensor", {"dtype", "shape", "data", "requires_grad", "is_leaf", "grad_fn"})
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
    return TensorValue(_tensor_from(fields["data"], _WIRE[dtype], shape), dtype,
                       _boolean(fields["requires_grad"], "tensor requires_grad"),
                       _boolean(fields["is_leaf"], "tensor is_leaf"), grad_fn)


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


def to_torch_dtype(name: str) -> torch.dtype:
    """The torch dtype a decoded TensorValue's `dtype` names."""
    return _DTYPE_BY_NAME[name]
