"""Encoding any object as plain data, beside student code: never raises, caps every size."""

import sys
from typing import Any

import torch

from .values import (  # noqa: F401
    _WIRE,
    _WIRE_ITEMSIZE,
    MAX_AXES,
    MAX_DEPTH,
    MAX_ELEMENTS,
    MAX_ITEMS,
    MAX_LINES,
    MAX_NAME,
    MAX_REPR,
    MAX_STR,
    Budget,
    Fn,
    _as_subclass,
    _b64encode,
    _detach,
    _get_grad,
    _get_grad_fn,
    _get_is_leaf,
    _get_requires_grad,
    _issubclass,
    _len,
    _NoTorchFunction,
    _numel,
    _numpy,
    _Parameter,
    _repr,
    _size,
    _str,
    _to,
    _to_dense,
    _type,
)

__all__ = ["encode", "encode_raised"]


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
        if kind is not figure.Figure:  # a subclass could describe lines it never drew
            return _other(obj, "a subclass of matplotlib's Figure, not a Figure that plt.subplots() makes")
        return _guarded(_encode_figure, obj, budget)
    return _other(obj)


def _matplotlib_made(obj: Any, module: str, name: str) -> bool:
    """Whether `obj` is exactly matplotlib's own class (a subclass may report what it likes)."""
    real = getattr(sys.modules.get(module), name, None)
    return real is not None and _type(obj) is real


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


def _encode_tensor(obj: torch.Tensor, budget: Budget, with_grad: bool = True) -> dict:
    """dtype, shape and data; autograd's flags; `grad` when a leaf holds a gradient, `parameter` for an nn.Parameter."""
    encoded = _plain_tensor(obj, budget)
    if encoded["kind"] != "tensor":
        return encoded
    # A leaf's only: reading a non-leaf's .grad warns, and a warning writes into this module's globals.
    with _NoTorchFunction():  # a subclass's __torch_function__ would answer for .grad
        grad = _get_grad(obj) if with_grad and _get_is_leaf(obj) else None
    if grad is not None:
        encoded["grad"] = _guarded(lambda g, b: _encode_tensor(g, b, with_grad=False), grad, budget)
    if _type(obj) is _Parameter:
        encoded["parameter"] = True
    return encoded


def _plain_tensor(obj: torch.Tensor, budget: Budget) -> dict:
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
    """What the figure draws, read through matplotlib's own classes: every object read is first
    found to be exactly matplotlib's class, and every method is the class's (a method set on one
    object, or a subclass, could report anything); a line's data is recomputed from what it was
    given, as drawing recomputes it, so data written past matplotlib's caches reads as drawn."""
    axes = list(fig.axes)  # a property: no object of its own can answer in its place
    if _len(axes) > MAX_AXES:
        return _other(fig, f"a figure with {_len(axes)} axes is too large")
    if not all(_matplotlib_made(ax, "matplotlib.axes", "Axes") for ax in axes):
        return _other(fig, "a figure holding axes that are not matplotlib's own")
    shown = _visible(fig)
    figure_legends = [_legend_labels(legend) for legend in _own_list(fig, "legends")
                      if shown and _matplotlib_made(legend, "matplotlib.legend", "Legend") and _visible(legend)]
    encoded = [_encode_axes(ax, budget, shown and _visible(ax)) for ax in axes]
    if _len(encoded) == 1 and encoded[0]["legend"] is None and figure_legends:
        # fig.legend(...) is a legend for the single axes as far as a reader can tell.
        encoded[0]["legend"] = [label for labels in figure_legends for label in labels][:MAX_LINES]
    return {"kind": "figure", "axes": encoded}


def _encode_axes(ax: Any, budget: Budget, shown: bool) -> dict:
    """The axes as drawn: what is invisible (the axes, its legend, a line, a label) is not there."""
    if not shown:
        return {"xlabel": "", "ylabel": "", "title": "", "legend": None, "lines": []}
    axes_class = _type(ax)
    legend = axes_class.get_legend(ax)
    if not (_matplotlib_made(legend, "matplotlib.legend", "Legend") and _visible(legend)):
        legend = None
    lines = [line for line in axes_class.get_lines(ax) if _matplotlib_made(line, "matplotlib.lines", "Line2D")
             and _visible(line)][:MAX_LINES]
    return {
        "xlabel": _axis_label(_own(ax, "xaxis"), "XAxis"),
        "ylabel": _axis_label(_own(ax, "yaxis"), "YAxis"),
        "title": _text_of(_own(ax, "title")),
        "legend": None if legend is None else _legend_labels(legend),
        "lines": [_encode_line(line, budget) for line in lines],
    }


def _visible(artist: Any) -> bool:
    return bool(_type(artist).get_visible(artist))


def _own(obj: Any, name: str) -> Any:
    """An attribute the object holds itself (a plain instance attribute, never a method)."""
    return object.__getattribute__(obj, "__dict__").get(name)


def _own_list(obj: Any, name: str) -> list:
    value = _own(obj, name)
    return list(value) if _type(value) is list else []


def _axis_label(axis: Any, name: str) -> str:
    if not (_matplotlib_made(axis, "matplotlib.axis", name) and _visible(axis)):
        return ""
    return _text_of(_type(axis).get_label(axis))


def _text_of(text: Any) -> str:
    """A text as drawn: "" when it is not matplotlib's own Text or is not visible."""
    if not (_matplotlib_made(text, "matplotlib.text", "Text") and _visible(text)):
        return ""
    return _cut(_str(_type(text).get_text(text)), MAX_STR)


def _legend_labels(legend: Any) -> list[str]:
    return [_text_of(text) for text in _type(legend).get_texts(legend)][:MAX_LINES]


def _encode_line(line: Any, budget: Budget) -> dict:
    import numpy

    def column(values: Any) -> dict:
        array = numpy.asarray(values, dtype=numpy.float64).reshape(-1)
        return _encode_tensor(torch.from_numpy(array.copy()), budget)

    line_class = _type(line)
    line_class.recache(line, always=True)  # from the data the line was given, as drawing does
    return {"label": _cut(_str(line_class.get_label(line)), MAX_STR),
            "x": column(line_class.get_xdata(line, orig=False)), "y": column(line_class.get_ydata(line, orig=False))}


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


