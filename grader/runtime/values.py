"""Values on the wire: their kinds, caps and budget; `encoding.py` makes them beside student code,
`decoding.py` validates them in the judge."""

import base64
from dataclasses import dataclass

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
_get_grad = _TensorBase.__dict__["grad"].__get__
_Parameter = torch.nn.Parameter
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
    """A tensor read from the wire: a plain copy plus the metadata the student's tensor had
    (its `.grad`, when it held one, and whether it was an `nn.Parameter`)."""

    tensor: torch.Tensor
    dtype: str
    requires_grad: bool
    is_leaf: bool
    grad_fn: str | None
    grad: "TensorValue | None" = None
    parameter: bool = False

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


def to_torch_dtype(name: str) -> torch.dtype:
    """The torch dtype a decoded TensorValue's `dtype` names."""
    return _DTYPE_BY_NAME[name]


# The two directions, re-exported: checks and probes import them from here.
from .decoding import decode  # noqa: E402
from .encoding import encode, encode_raised  # noqa: E402
