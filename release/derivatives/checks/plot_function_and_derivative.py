"""Visible checks for plot_function_and_derivative: one Axes, lines "function" and "derivative", legend, xlabel."""

from collections.abc import Callable

import torch

from .runtime import (
    AxesValue,
    FigureValue,
    Fn,
    Hint,
    LineValue,
    Subject,
    assert_close,
    describe,
    fail_if_raised,
    failure,
    is_close,
    kind_of,
    note,
    number,
)
from .vocabulary import f_text

__all__ = ["visible", "check_plot", "LABELS"]

LABELS = ("function", "derivative")


def _call_text(name: str, args: tuple, kwargs: dict) -> str:
    shown = [f_text(name), *(number(a) for a in args), *(f"{k}={number(v)}" for k, v in kwargs.items())]
    return f"plot_function_and_derivative({', '.join(shown)})"


def _figure(subject: Subject, name: str, args: tuple, kwargs: dict, call: str) -> AxesValue:
    value = subject.call("plot_function_and_derivative", Fn(name), *args, **kwargs).result
    fail_if_raised(value, call)
    assert isinstance(value, FigureValue), failure(
        f"plot_function_and_derivative returned {kind_of(value)}; expected a Figure.",
        f"{call} returned {describe(value)}; expected a matplotlib Figure "
        "(for example the figure that plt.subplots() makes, or plt.gcf()).")
    assert len(value.axes) == 1, failure(
        "plot_function_and_derivative returned a new, empty figure."
        if not value.axes else f"plot_function_and_derivative returned {len(value.axes)} axes where one belongs.",
        f"{call} returned a figure with {len(value.axes)} axes; expected exactly one Axes "
        "holding both lines." + (" Each call of plt.figure makes a new, empty figure, and so does plt.gcf "
                                 "once the current one is closed: return the figure your lines were drawn on "
                                 "(kept in a name before any plt.close)." if not value.axes else ""))
    return value.axes[0]


def _labels(ax: AxesValue) -> list[str]:
    """Line labels; ax.legend(["function", "derivative"]) labels unlabelled lines in order."""
    labels = [line.label for line in ax.lines]
    unlabelled = all(label.startswith("_") for label in labels)
    if unlabelled and ax.legend is not None and len(ax.legend) == len(labels):
        return list(ax.legend)
    return labels


def _lines_by_label(ax: AxesValue, call: str) -> dict[str, LineValue]:
    labels = _labels(ax)
    assert len(ax.lines) == 2, failure(
        f"plot_function_and_derivative: {len(ax.lines)} line(s) on the axes where two belong.",
        f"{call}: the axes hold {len(ax.lines)} line(s) labelled {labels}; expected exactly two, "
        "labelled 'function' and 'derivative' " + (
            "(every line drawn on the axes counts, reference lines such as axhline too)."
            if len(ax.lines) > 2 else "(plot f and f' on the same axes, each with plot: scatter draws "
                                      "points, not a line)."))
    assert sorted(labels) == sorted(LABELS), failure(
        "plot_function_and_derivative: lines not labelled 'function' and 'derivative'.",
        f"{call}: the lines are labelled {labels}; expected 'function' and 'derivative' "
        "(pass label='function' and label='derivative' to plot).")
    return dict(zip(labels, ax.lines, strict=True))


def _check_decorations(ax: AxesValue, call: str) -> None:
    # mathtext `$x$` draws the same x
    assert ax.xlabel.strip().strip("$").strip() == "x", failure(
        "plot_function_and_derivative: the x axis is not labelled 'x'.",
        f"{call}: the x-axis label is {ax.xlabel!r}; expected 'x': the x axis is labelled with "
        "the name of the variable the points are values of.")
    assert ax.legend is not None, failure(
        "plot_function_and_derivative: the axes have no legend.",
        f"{call}: the axes have no legend; matplotlib draws one only when asked, with the legend "
        "method of the Axes (or pyplot's), which shows each line's label.")
    missing = [label for label in LABELS if label not in ax.legend]
    assert not missing, failure(f"plot_function_and_derivative: the legend lacks {missing}.",
                                f"{call}: the legend shows {list(ax.legend)}; it lacks {missing}.")


def _check_line(lines: dict[str, LineValue], what_line: str, grid: torch.Tensor,
                expected: torch.Tensor, call: str, what: Hint | Callable[[], Hint]) -> None:
    line = lines[what_line]
    # Plotted data is float32 at best, whatever matplotlib stores it as.
    assert_close(line.x, grid, f"{call}: the x data of the '{what_line}' line", tolerance="float32",
                 hint=Hint(f"the '{what_line}' line is not drawn against the points",
                           "Plot against x = torch.linspace(start, end, steps)."))
    assert_close(line.y, expected, f"{call}: the y data of the '{what_line}' line", hint=what, tolerance="float32")


def _holds(line: LineValue, expected: torch.Tensor) -> bool:
    return tuple(line.y.shape) == tuple(expected.shape) and is_close(line.y.tensor, expected, "float32")


def _holds_slopes(line: LineValue, f_values: torch.Tensor, grid: torch.Tensor) -> bool:
    """Whether the line holds the slopes between f's values (any difference quotient, roughly)."""
    if grid.numel() < 3 or tuple(line.y.shape) != tuple(f_values.shape):
        return False
    (slopes,) = torch.gradient(f_values, spacing=(grid,))
    return bool(torch.allclose(line.y.tensor.to(torch.float64)[1:-1], slopes[1:-1], rtol=1e-2, atol=1e-2))


def _check_not_swapped(lines: dict[str, LineValue], f_values: torch.Tensor, slopes: torch.Tensor, call: str) -> None:
    swapped = (not is_close(f_values, slopes, "float32") and _holds(lines["function"], slopes)
               and _holds(lines["derivative"], f_values))
    assert not swapped, failure(
        "plot_function_and_derivative: the labels are swapped.",
        f"{call}: the line labelled 'function' holds f'(x) and the one labelled 'derivative' holds f(x). "
        "Each label belongs to the line it is drawn with; a list given to legend() labels the lines in the "
        "order they were drawn.")


def _derivative_hint(line: LineValue, f_values: torch.Tensor, grid: torch.Tensor) -> Hint:
    if _holds(line, f_values):
        return Hint("the 'derivative' line holds f(x), not f'(x)",
                    "This line holds f(x) itself: it should hold f'(x), the gradient autograd leaves on the points.")
    if _holds_slopes(line, f_values, grid):
        return Hint("the 'derivative' line holds difference quotients",
                    "This line holds how f's values change between neighbouring points (a difference quotient), "
                    "not the derivative autograd computes: the two differ by the step's error, and wholly where "
                    ".detach() hides part of f from autograd. Take it from one backward pass through f.")
    return Hint("the 'derivative' line does not hold f'(x)",
                "This line should hold f'(x) at every point, as autograd computes it (one backward pass through "
                "the sum of f's values leaves it on the points): a formula for one f, or slopes between "
                "neighbouring points, is off for other f or near the ends.")


def check_plot(subject: Subject, name: str, args: tuple, kwargs: dict, values, derivative) -> None:
    """The figure for f; `values(grid)` and `derivative(grid)` give the lines' expected y data."""
    call = _call_text(name, args, kwargs)
    ax = _figure(subject, name, args, kwargs, call)
    lines = _lines_by_label(ax, call)
    _check_decorations(ax, call)
    bounds = dict(zip(("start", "end", "steps"), args, strict=False)) | kwargs
    grid = torch.linspace(bounds.get("start", -10.0), bounds.get("end", 10.0),
                          bounds.get("steps", 100), dtype=torch.float64)
    f_values, slopes = values(grid), derivative(grid)
    _check_not_swapped(lines, f_values, slopes, call)
    _check_line(lines, "function", grid, f_values, call,
                Hint("the 'function' line does not hold f(x)", "This line should hold f(x)."))
    _check_line(lines, "derivative", grid, slopes, call, lambda: _derivative_hint(lines["derivative"], f_values, grid))
    note(f"{call}: one axes, lines 'function' and 'derivative', legend, xlabel 'x'")


def visible(subject: Subject) -> None:
    """The cases shown in the notebook: x**2 with the default range (derivative 2x), and an f whose
    derivative only autograd gives (value 3x, slope 1 through .detach(): slopes between
    neighbouring points and hand formulas say 3) over another range and step count, start passed
    by position, end and steps by keyword."""
    check_plot(subject, "square", (), {}, lambda x: x**2, lambda x: 2 * x)
    check_plot(subject, "detach_trick", (-3.0,), {"end": 2.0, "steps": 26}, lambda x: 3 * x, torch.ones_like)
