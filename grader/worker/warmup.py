"""The warm parent's warm-up: imports and first calls paid once, before any worker is forked."""

from __future__ import annotations

import functools

__all__ = ["warm_up", "warm_probes"]


def warm_up(functions_path: str | None = None, *, exercise: bool = True) -> tuple[dict, object]:
    """Import and exercise what cells use, so each worker starts with it already initialised.

    With exercise=False (a warm parent that forks one worker) the first-call costs are left to
    that worker, which would pay them once either way.

    Returns what it did (for the containment report) and the probe function workers answer
    with (None when the probes could not be imported). Nothing of an assignment's answers or
    checks is loaded here: only its vocabulary (the
    functions the checks pass to student code, which students see too), so nothing
    instructor-only can be found in what this process forks.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy  # noqa: F401
    import numpy.testing  # noqa: F401 -- numpy loads it on first use: present before the patch watch starts,

    # so a student's np.testing (or scipy's import of it) is not read as a rebound function
    import torch
    from IPython.core.inputtransformer2 import TransformerManager

    import grader.worker.worker  # noqa: F401 -- a worker cannot import from the course tree later

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    TransformerManager().transform_cell("%matplotlib inline\nx = 1\n!echo\n")
    if exercise:
        _warm_figure(plt, torch)  # drawing: the probes below only build figures
    functions = _load_functions(functions_path)
    probes = _import_probes(functions)
    if run_probe is not None and exercise:
        warm_probes(torch, plt, functions)
    _prepare_machinery_manifest()
    return {"probes": probes, "functions": len(functions)}, run_probe


def _prepare_machinery_manifest() -> None:
    """Where the grading machinery lives, listed once here rather than in every worker (5 ms each)."""
    from grader.worker.evidence import WATCHED
    from grader.worker.integrity import prepare_manifest

    prepare_manifest(WATCHED)


def _warm_figure(plt, torch) -> None:
    xs = torch.linspace(-2.0, 2.0, 50)
    fig, ax = plt.subplots()
    ax.plot(xs, xs**3, label="f")
    ax.plot(xs, 3 * xs**2, label="f'")
    ax.set_xlabel("x")
    ax.legend()
    fig.canvas.draw()
    plt.close(fig)


def _load_functions(path: str | None) -> dict:
    """The assignment's vocabulary (FUNCTIONS of its checks/vocabulary.py), loaded before any fork."""
    if not path:
        return {}
    import importlib.util

    spec = importlib.util.spec_from_file_location("assignment_vocabulary", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(getattr(module, "FUNCTIONS", {}))


def _import_probes(functions: dict) -> str:
    global run_probe
    try:
        from grader.runtime.probes import reply_text
    except Exception as exc:  # a worker then answers {"error": "probes unavailable"}
        run_probe = None
        return f"unavailable: {type(exc).__name__}: {exc}"
    run_probe = functools.partial(reply_text, functions=functions)
    return "grader.runtime.probes.reply_text"


def warm_probes(torch, plt, functions: dict) -> None:
    """One probe of every kind against the kit's own exercise code (never an assignment's answers).

    This pays the lazy imports and first-call costs a worker would otherwise pay on every job
    (explicit upstream gradients import torch's symbolic-shapes module and sympy, for example).
    The exercise code is dropped afterwards.
    """
    from grader.runtime.subject import make_request
    from grader.runtime.values import Fn

    namespace = _exercise_namespace(torch, plt)
    one = [n for n, f in functions.items() if getattr(f, "arity", 1) == 1][:1]
    two = [n for n, f in functions.items() if getattr(f, "arity", 1) == 2][:1]
    vector = torch.linspace(-1.0, 1.0, 4, dtype=torch.float64)
    ones = torch.ones(4, dtype=torch.float64)
    requests = [
        make_request("call", "_apply", args=(Fn(one[0]) if one else None, vector)),
        make_request("call", "_apply2", args=(Fn(two[0]) if two else None, 1.0, 2.0)),
        make_request("call", "_draw", args=(vector,)),
        make_request("get", "_values"),
        make_request("autograd_function", "_Triple", inputs=[vector.clone().requires_grad_()],
                     upstream=ones, second_upstream=ones),
        make_request("autograd_function", "_Triple", inputs=[vector.clone().requires_grad_(), 2.0],
                     upstream=ones),
        make_request("describe_class", "_Triple"),
    ]
    for request in requests:
        run_probe(namespace, request)
    namespace.clear()
    plt.close("all")


def _exercise_namespace(torch, plt) -> dict:
    """Code of the kit's own that exercises calls, tensors, figures and an autograd Function."""

    class _Triple(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, scale=1.0):
            ctx.save_for_backward(x)
            ctx.scale = scale
            return 3 * x + x.detach() * 0

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return 3 * grad + 0 * x, None

    def _apply(f, x):
        return f(x) if f is not None else x

    def _apply2(f, u, v):
        return f(torch.tensor(u), torch.tensor(v)) if f is not None else u

    def _draw(x):
        fig, ax = plt.subplots()
        ax.plot(x, x, label="x")
        ax.legend()
        return fig

    return {"_Triple": _Triple, "_apply": _apply, "_apply2": _apply2, "_draw": _draw,
            "_values": {"a": (True, 1.0, None, "s")}}


run_probe = None
