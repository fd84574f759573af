"""Named functions f that the checks pass to student code to differentiate.

They run beside student code (in the grading worker too), so they use torch alone."""

from collections.abc import Callable
from dataclasses import dataclass

import torch

__all__ = ["FUNCTIONS", "VocabFunction", "ONE_ARGUMENT", "TWO_ARGUMENTS", "describe", "f_text"]

# Captured at import so a notebook that rebinds torch.sin does not change what f computes.
_sin, _cos, _exp, _tanh, _log = torch.sin, torch.cos, torch.exp, torch.tanh, torch.log
_relu, _where, _sigmoid = torch.relu, torch.where, torch.sigmoid


@dataclass(frozen=True)
class VocabFunction:
    """A named f with the text shown to students; calling it calls f."""

    name: str
    arity: int
    description: str
    fn: Callable

    def __call__(self, *args):
        return self.fn(*args)

    def __repr__(self) -> str:
        return self.description


def _detach_trick(x):
    # Value 3x, autograd derivative 1: finite differences and hand formulas both say 3.
    return 3 * x.detach() + x - x.detach()


def _where_kink(x):
    # At 0 autograd takes the -x branch (derivative -1); a central difference gives -0.5.
    return _where(x > 0, x**2, -x)


def _uv_detach(u, v):
    # df/du = v and df/dv = 1 for autograd; the formula for u*v + v would give u + 1.
    return u * v.detach() + v


_TABLE: tuple[VocabFunction, ...] = (
    VocabFunction("square", 1, "lambda x: x**2", lambda x: x**2),
    VocabFunction("cube", 1, "lambda x: x**3", lambda x: x**3),
    VocabFunction("cube_plus_x", 1, "lambda x: 2*x**3 + x", lambda x: 2 * x**3 + x),
    VocabFunction("shifted_square", 1, "lambda x: x**2 + 2*x + 1", lambda x: x**2 + 2 * x + 1),
    VocabFunction("sin", 1, "lambda x: torch.sin(x)", lambda x: _sin(x)),
    VocabFunction("exp_sin", 1, "lambda x: torch.exp(torch.sin(x))", lambda x: _exp(_sin(x))),
    VocabFunction("x_tanh", 1, "lambda x: x * torch.tanh(x)", lambda x: x * _tanh(x)),
    VocabFunction("log_one_plus_square", 1, "lambda x: torch.log(1 + x**2)",
                  lambda x: _log(1 + x**2)),
    VocabFunction("sigmoid_cos", 1, "lambda x: torch.sigmoid(x) * torch.cos(x)",
                  lambda x: _sigmoid(x) * _cos(x)),
    VocabFunction("relu", 1, "lambda x: torch.relu(x)", lambda x: _relu(x)),
    VocabFunction("detach_trick", 1, "lambda x: 3*x.detach() + x - x.detach()", _detach_trick),
    VocabFunction("where_kink", 1, "lambda x: torch.where(x > 0, x**2, -x)", _where_kink),
    VocabFunction("uv_plus_u2", 2, "lambda u, v: u*v + u**2", lambda u, v: u * v + u**2),
    VocabFunction("uv_plus_uv_squared", 2, "lambda u, v: u*v + (u*v)**2",
                  lambda u, v: u * v + (u * v) ** 2),
    VocabFunction("u_cubed_v", 2, "lambda u, v: u**3 * v", lambda u, v: u**3 * v),
    VocabFunction("sin_u_exp_v", 2, "lambda u, v: torch.sin(u) * torch.exp(v)",
                  lambda u, v: _sin(u) * _exp(v)),
    VocabFunction("uv_detach", 2, "lambda u, v: u*v.detach() + v", _uv_detach),
)

FUNCTIONS: dict[str, VocabFunction] = {f.name: f for f in _TABLE}
ONE_ARGUMENT: tuple[str, ...] = tuple(f.name for f in _TABLE if f.arity == 1)
TWO_ARGUMENTS: tuple[str, ...] = tuple(f.name for f in _TABLE if f.arity == 2)


def describe(name: str) -> str:
    """The text shown to students for the function called `name`."""
    return FUNCTIONS[name].description


f_text = describe  # how the checks name an f in their messages
