"""Banks of answers through LocalSubject: correct styles pass everything, each misconception fails its own question."""

import random
import textwrap

import pytest
import torch
from sample import CHECKS, local_subject, run_question

HEADER = """
import sys
import warnings
import torch
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
"""

CORRECT = {
    "grad_at": """
        def grad_at(f, x0):
            x = torch.tensor(float(x0), requires_grad=True)
            y = f(x)
            y.backward()
            return x.grad
    """,
    "attributes": """
        ATTRIBUTES = {
            "x": {"data": 2.0, "grad": 4.0, "grad_fn": None, "is_leaf": True, "requires_grad": True},
            "y": {"data": 4.0, "grad": None, "grad_fn": "PowBackward0", "is_leaf": False,
                  "requires_grad": True},
        }
    """,
    "derivative_on_grid": """
        def derivative_on_grid(f, x):
            x = x.detach().clone().requires_grad_(True)
            f(x).sum().backward()
            return x.grad
    """,
    "plot_function_and_derivative": """
        def plot_function_and_derivative(f, start=-10.0, end=10.0, steps=100):
            x = torch.linspace(start, end, steps, requires_grad=True)
            y = f(x)
            y.sum().backward()
            fig, ax = plt.subplots()
            ax.plot(x.detach().numpy(), y.detach().numpy(), label="function")
            ax.plot(x.detach().numpy(), x.grad.numpy(), label="derivative")
            ax.set_xlabel("x")
            ax.legend()
            return fig
    """,
    "partial_derivatives": """
        def partial_derivatives(f, u0, v0):
            u = torch.tensor(float(u0), requires_grad=True)
            v = torch.tensor(float(v0), requires_grad=True)
            f(u, v).backward()
            return u.grad, v.grad
    """,
    "SQ": """
        class SQ(torch.autograd.Function):
            @staticmethod
            def forward(ctx, i):
                ctx.save_for_backward(i)
                return i ** 2

            @staticmethod
            def backward(ctx, grad_output):
                i, = ctx.saved_tensors
                return grad_output * 2 * i
    """,
    "MulConstant": """
        class MulConstant(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                ctx.k = k
                return k * x

            @staticmethod
            def backward(ctx, grad_output):
                return grad_output * ctx.k, None
    """,
    "leaves": """
        LEAF_PREDICTIONS = {
            "torch.linspace(-10, 10, 10, requires_grad=True)": (True, True),
            "torch.linspace(-10, 10, 10).requires_grad_()": (True, True),
            "torch.linspace(-10, 10, 10, requires_grad=True) * 1": (False, True),
            "torch.tensor(2.0)": (True, False),
            "torch.tensor(2.0, requires_grad=True).detach()": (True, False),
            "torch.tensor(2.0, requires_grad=True).clone()": (False, True),
            "torch.tensor([1.0, 2.0], requires_grad=True)[0]": (False, True),
            "torch.nn.Parameter(torch.ones(2))": (True, True),
        }

        def leaf_and_intermediate_grads(x0):
            x = torch.tensor(float(x0), requires_grad=True)
            y = x ** 2
            y.retain_grad()
            z = 3 * y
            z.backward()
            return x.grad, y.grad
    """,
}

# Other honest ways to answer: each replaces one question's answer and must still pass everything.
OTHER_CORRECT = [
    ("grad_at", "autograd_grad", """
        def grad_at(f, x0):
            x = torch.tensor(float(x0), requires_grad=True)
            (g,) = torch.autograd.grad(f(x), x)
            return g
    """),
    ("grad_at", "float64_prints_warnings_helper", """
        def _leaf(x0):
            return torch.tensor(x0, dtype=torch.float64, requires_grad=True)

        def grad_at(f, x0):
            print("computing the gradient at", x0)
            warnings.warn("just a warning")
            print("to stderr", file=sys.stderr)
            x = _leaf(x0)
            f(x).backward()
            return x.grad
    """),
    ("grad_at", "as_tensor_requires_grad_", """
        def grad_at(f, x0):
            x = torch.as_tensor(x0, dtype=torch.float32).clone().requires_grad_()
            y = f(x)
            y.backward(torch.ones_like(y))
            return x.grad.detach()
    """),
    ("attributes", "computed_with_torch", """
        x = torch.tensor(2.0, requires_grad=True)
        y = x ** 2
        y.backward()
        def _describe(t):
            return {"data": float(t.detach()), "grad": None if t.grad is None else t.grad.item(),
                    "grad_fn": None if t.grad_fn is None else type(t.grad_fn).__name__,
                    "is_leaf": t.is_leaf, "requires_grad": t.requires_grad}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ATTRIBUTES = {"x": _describe(x), "y": _describe(y)}
        del x, y
    """),
    ("derivative_on_grid", "ones_like_gradient", """
        def derivative_on_grid(f, x):
            x = x.clone().requires_grad_()
            y = f(x)
            y.backward(torch.ones_like(y))
            return x.grad
    """),
    ("derivative_on_grid", "autograd_grad_float64", """
        def derivative_on_grid(f, x):
            x = x.detach().double().requires_grad_()
            (g,) = torch.autograd.grad(f(x), x, grad_outputs=torch.ones_like(x))
            return g
    """),
    ("plot_function_and_derivative", "pyplot_gcf_tensors_styled", """
        def plot_function_and_derivative(f, start=-10.0, end=10.0, steps=100):
            x = torch.linspace(start, end, steps).requires_grad_(True)
            y = f(x)
            (dy,) = torch.autograd.grad(y.sum(), x)
            plt.figure(figsize=(4, 3))
            plt.plot(x.detach(), dy, "r--", label="derivative")
            plt.plot(x.detach(), y.detach(), color="k", label="function")
            plt.xlabel("x")
            plt.ylabel("value")
            plt.title("f and f'")
            plt.legend()
            plt.grid(True)
            return plt.gcf()
    """),
    ("plot_function_and_derivative", "figure_legend", """
        def plot_function_and_derivative(f, start=-10.0, end=10.0, steps=100):
            x = torch.linspace(start, end, steps, dtype=torch.float64, requires_grad=True)
            y = f(x)
            y.backward(torch.ones_like(x))
            fig = plt.figure()
            ax = fig.add_subplot()
            ax.plot(x.detach().numpy(), y.detach().numpy(), label="function")
            ax.plot(x.detach().numpy(), x.grad.numpy(), label="derivative")
            ax.set_xlabel("x")
            fig.legend()
            return fig
    """),
    ("plot_function_and_derivative", "labels_through_legend_list", """
        def plot_function_and_derivative(f, start=-10.0, end=10.0, steps=100):
            x = torch.linspace(start, end, steps, requires_grad=True)
            y = f(x)
            y.sum().backward()
            fig, ax = plt.subplots()
            ax.plot(x.detach(), y.detach())
            ax.plot(x.detach(), x.grad)
            ax.set_xlabel("x")
            ax.legend(["function", "derivative"])
            plt.close(fig)
            return fig
    """),
    ("partial_derivatives", "autograd_grad_float64", """
        def partial_derivatives(f, u0, v0):
            u = torch.tensor(u0, dtype=torch.float64, requires_grad=True)
            v = torch.tensor(v0, dtype=torch.float64, requires_grad=True)
            return torch.autograd.grad(f(u, v), [u, v])
    """),
    ("SQ", "setup_context_style", """
        class SQ(torch.autograd.Function):
            @staticmethod
            def forward(i):
                return i ** 2

            @staticmethod
            def setup_context(ctx, inputs, output):
                (i,) = inputs
                ctx.save_for_backward(i)

            @staticmethod
            def backward(ctx, grad_output):
                (i,) = ctx.saved_tensors
                return 2 * i * grad_output
    """),
    ("SQ", "saves_input_and_output_with_prints", """
        class SQ(torch.autograd.Function):
            @staticmethod
            def forward(ctx, i):
                out = i * i
                ctx.save_for_backward(i, out)
                print("forward")
                return out

            @staticmethod
            def backward(ctx, grad_output):
                i, _ = ctx.saved_tensors
                return grad_output.mul(i).mul(2)
    """),
    ("MulConstant", "setup_context_style", """
        class MulConstant(torch.autograd.Function):
            @staticmethod
            def forward(x, k):
                return x * k

            @staticmethod
            def setup_context(ctx, inputs, output):
                ctx.k = inputs[1]

            @staticmethod
            def backward(ctx, grad_output):
                return ctx.k * grad_output, None
    """),
    ("leaves", "computed_lists_float64", """
        _EXPRESSIONS = [
            "torch.linspace(-10, 10, 10, requires_grad=True)",
            "torch.linspace(-10, 10, 10).requires_grad_()",
            "torch.linspace(-10, 10, 10, requires_grad=True) * 1",
            "torch.tensor(2.0)",
            "torch.tensor(2.0, requires_grad=True).detach()",
            "torch.tensor(2.0, requires_grad=True).clone()",
            "torch.tensor([1.0, 2.0], requires_grad=True)[0]",
            "torch.nn.Parameter(torch.ones(2))",
        ]
        LEAF_PREDICTIONS = {e: [eval(e).is_leaf, eval(e).requires_grad] for e in _EXPRESSIONS}

        def leaf_and_intermediate_grads(x0):
            x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
            y = x ** 2
            y.retain_grad()
            (3 * y).backward()
            return [x.grad, y.grad]
    """),
]

# (question, misconception, answer, a fragment the student's message must contain)
MISCONCEPTIONS = [
    ("grad_at", "module_level_leaf_accumulates", """
        _x = torch.zeros((), requires_grad=True)
        def grad_at(f, x0):
            with torch.no_grad():
                _x.fill_(float(x0))
            f(_x).backward()
            return _x.grad.clone()
    """, "accumulate"),
    ("grad_at", "y_grad_instead_of_x_grad", """
        def grad_at(f, x0):
            x = torch.tensor(float(x0), requires_grad=True)
            y = f(x)
            y.backward()
            return y.grad
    """, "not y.grad"),
    ("grad_at", "int_x0_integer_leaf", """
        def grad_at(f, x0):
            x = torch.tensor(x0, requires_grad=True)
            f(x).backward()
            return x.grad
    """, "integer tensor cannot require gradients"),
    ("grad_at", "integer_dtype_result", """
        def grad_at(f, x0):
            x = torch.tensor(float(x0), requires_grad=True)
            f(x).backward()
            return x.grad.to(torch.int64)
    """, "dtype int64"),
    ("grad_at", "central_finite_difference", """
        def grad_at(f, x0):
            h = 1e-4
            x = torch.tensor(float(x0), dtype=torch.float64)
            return (f(x + h) - f(x - h)) / (2 * h)
    """, "finite differences"),
    ("grad_at", "returns_python_float", """
        def grad_at(f, x0):
            x = torch.tensor(float(x0), requires_grad=True)
            f(x).backward()
            return x.grad.item()
    """, "expected a torch tensor"),
    ("attributes", "wrong_grad_fn", """
        ATTRIBUTES = {
            "x": {"data": 2.0, "grad": 4.0, "grad_fn": None, "is_leaf": True, "requires_grad": True},
            "y": {"data": 4.0, "grad": None, "grad_fn": "MulBackward0", "is_leaf": False,
                  "requires_grad": True},
        }
    """, "grad_fn"),
    ("attributes", "leaf_grad_fn_accumulate", """
        ATTRIBUTES = {
            "x": {"data": 2.0, "grad": 4.0, "grad_fn": "AccumulateGrad", "is_leaf": True, "requires_grad": True},
            "y": {"data": 4.0, "grad": None, "grad_fn": "PowBackward0", "is_leaf": False,
                  "requires_grad": True},
        }
    """, "grad_fn is None, the Python value"),
    ("attributes", "y_is_leaf", """
        ATTRIBUTES = {
            "x": {"data": 2.0, "grad": 4.0, "grad_fn": None, "is_leaf": True, "requires_grad": True},
            "y": {"data": 4.0, "grad": None, "grad_fn": "PowBackward0", "is_leaf": True,
                  "requires_grad": True},
        }
    """, "is_leaf"),
    ("derivative_on_grid", "mean_instead_of_sum", """
        def derivative_on_grid(f, x):
            x = x.detach().clone().requires_grad_(True)
            f(x).mean().backward()
            return x.grad
    """, ".mean()"),
    ("derivative_on_grid", "requires_grad_on_callers_x", """
        def derivative_on_grid(f, x):
            x.requires_grad_()
            f(x).sum().backward()
            return x.grad
    """, "turned on requires_grad"),
    ("derivative_on_grid", "modifies_x_in_place", """
        def derivative_on_grid(f, x):
            xs = x.detach().clone().requires_grad_(True)
            f(xs).sum().backward()
            with torch.no_grad():
                x.mul_(2)
            return xs.grad
    """, "in place"),
    ("derivative_on_grid", "returns_tensor_requiring_grad", """
        def derivative_on_grid(f, x):
            x = x.detach().clone().requires_grad_(True)
            (g,) = torch.autograd.grad(f(x).sum(), x, create_graph=True)
            return g
    """, "requires grad"),
    ("derivative_on_grid", "finite_differences", """
        def derivative_on_grid(f, x):
            h = 1e-3
            x = x.double()
            return ((f(x + h) - f(x - h)) / (2 * h)).float()
    """, "finite differences"),
    ("plot_function_and_derivative", "numpy_without_detach", """
        def plot_function_and_derivative(f, start=-10.0, end=10.0, steps=100):
            x = torch.linspace(start, end, steps, requires_grad=True)
            y = f(x)
            y.sum().backward()
            fig, ax = plt.subplots()
            ax.plot(x.numpy(), y.numpy(), label="function")
            ax.plot(x.numpy(), x.grad.numpy(), label="derivative")
            ax.set_xlabel("x")
            ax.legend()
            return fig
    """, ".detach()"),
    ("plot_function_and_derivative", "wrong_labels", """
        def plot_function_and_derivative(f, start=-10.0, end=10.0, steps=100):
            x = torch.linspace(start, end, steps, requires_grad=True)
            y = f(x)
            y.sum().backward()
            fig, ax = plt.subplots()
            ax.plot(x.detach(), y.detach(), label="f")
            ax.plot(x.detach(), x.grad, label="f'")
            ax.set_xlabel("x")
            ax.legend()
            return fig
    """, "labelled"),
    ("plot_function_and_derivative", "no_legend", """
        def plot_function_and_derivative(f, start=-10.0, end=10.0, steps=100):
            x = torch.linspace(start, end, steps, requires_grad=True)
            y = f(x)
            y.sum().backward()
            fig, ax = plt.subplots()
            ax.plot(x.detach(), y.detach(), label="function")
            ax.plot(x.detach(), x.grad, label="derivative")
            ax.set_xlabel("x")
            return fig
    """, "no legend"),
    ("plot_function_and_derivative", "no_xlabel", """
        def plot_function_and_derivative(f, start=-10.0, end=10.0, steps=100):
            x = torch.linspace(start, end, steps, requires_grad=True)
            y = f(x)
            y.sum().backward()
            fig, ax = plt.subplots()
            ax.plot(x.detach(), y.detach(), label="function")
            ax.plot(x.detach(), x.grad, label="derivative")
            ax.legend()
            return fig
    """, "x-axis label"),
    ("plot_function_and_derivative", "only_one_line", """
        def plot_function_and_derivative(f, start=-10.0, end=10.0, steps=100):
            x = torch.linspace(start, end, steps, requires_grad=True)
            y = f(x)
            y.sum().backward()
            fig, ax = plt.subplots()
            ax.plot(x.detach(), x.grad, label="derivative")
            ax.set_xlabel("x")
            ax.legend()
            return fig
    """, "1 line"),
    ("plot_function_and_derivative", "derivative_line_holds_f", """
        def plot_function_and_derivative(f, start=-10.0, end=10.0, steps=100):
            x = torch.linspace(start, end, steps, requires_grad=True)
            y = f(x)
            y.sum().backward()
            fig, ax = plt.subplots()
            ax.plot(x.detach(), y.detach(), label="function")
            ax.plot(x.detach(), y.detach(), label="derivative")
            ax.set_xlabel("x")
            ax.legend()
            return fig
    """, "should hold f'(x)"),
    ("partial_derivatives", "swapped", """
        def partial_derivatives(f, u0, v0):
            u = torch.tensor(float(u0), requires_grad=True)
            v = torch.tensor(float(v0), requires_grad=True)
            f(u, v).backward()
            return v.grad, u.grad
    """, "swapped"),
    ("SQ", "ignores_grad_output", """
        class SQ(torch.autograd.Function):
            @staticmethod
            def forward(ctx, i):
                ctx.save_for_backward(i)
                return i ** 2

            @staticmethod
            def backward(ctx, grad_output):
                i, = ctx.saved_tensors
                return 2 * i
    """, "ignores grad_output"),
    ("SQ", "ctx_attribute_instead_of_save_for_backward", """
        class SQ(torch.autograd.Function):
            @staticmethod
            def forward(ctx, i):
                ctx.i = i
                return i ** 2

            @staticmethod
            def backward(ctx, grad_output):
                return grad_output * 2 * ctx.i
    """, "save_for_backward"),
    ("SQ", "backward_not_differentiable", """
        class SQ(torch.autograd.Function):
            @staticmethod
            def forward(ctx, i):
                ctx.save_for_backward(i)
                return i ** 2

            @staticmethod
            def backward(ctx, grad_output):
                i, = ctx.saved_tensors
                return (grad_output * 2 * i).detach()
    """, "second order"),
    ("MulConstant", "one_gradient_only", """
        class MulConstant(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                ctx.k = k
                return k * x

            @staticmethod
            def backward(ctx, grad_output):
                return grad_output * ctx.k
    """, "one gradient per input"),
    ("MulConstant", "k_in_save_for_backward", """
        class MulConstant(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                ctx.save_for_backward(k)
                return k * x

            @staticmethod
            def backward(ctx, grad_output):
                (k,) = ctx.saved_tensors
                return grad_output * k, None
    """, "save_for_backward only takes tensors"),
    ("MulConstant", "ignores_k", """
        class MulConstant(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                ctx.k = k
                return k * x

            @staticmethod
            def backward(ctx, grad_output):
                return grad_output, None
    """, "ignoring k"),
]


def _leaves_with(text: str, prediction: str) -> str:
    return CORRECT["leaves"].replace(f'"{text}": (False, True)', f'"{text}": {prediction}')


MISCONCEPTIONS += [
    ("attributes", "tensors_for_numbers", """
        x = torch.tensor(2.0, requires_grad=True)
        y = x ** 2
        y.backward()
        ATTRIBUTES = {name: {"data": t.detach(), "grad": t.grad if t.is_leaf else None,
                             "grad_fn": None if t.grad_fn is None else type(t.grad_fn).__name__,
                             "is_leaf": t.is_leaf, "requires_grad": t.requires_grad}
                      for name, t in (("x", x), ("y", y))}
    """, "expected a Python float"),
    ("leaves", "times_one_is_a_leaf",
     _leaves_with("torch.linspace(-10, 10, 10, requires_grad=True) * 1", "(True, True)"), "* 1"),
    ("leaves", "clone_is_a_leaf",
     _leaves_with("torch.tensor(2.0, requires_grad=True).clone()", "(True, True)"), ".clone()"),
    ("leaves", "indexing_is_a_leaf",
     _leaves_with("torch.tensor([1.0, 2.0], requires_grad=True)[0]", "(True, False)"), "[0]"),
    ("leaves", "no_retain_grad", CORRECT["leaves"].replace("y.retain_grad()", "pass"),
     "retain_grad"),
]


def namespace_with(qid: str | None = None, answer: str | None = None) -> tuple[dict, str]:
    """Exec the correct answers, with `qid` answered by `answer` instead; returns (namespace, source)."""
    answers = dict(CORRECT)
    if qid is not None:
        answers[qid] = answer
    source = HEADER + "\n".join(textwrap.dedent(a) for a in answers.values())
    namespace: dict = {"__name__": "__main__"}
    exec(compile(source, "<submission>", "exec"), namespace)
    return namespace, source


def grade(namespace: dict, source: str | None = None, seed: int = 7) -> dict:
    """Every autograded question's verdict for this namespace."""
    subject = local_subject(namespace, source_lookup=(lambda name: source) if source else None)
    return {qid: run_question(qid, subject, random.Random(seed)) for qid in CHECKS}


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_reference_answers_pass_everything(seed):
    """Does the reference solution pass every question, whatever the grading-time rng draws?"""
    namespace, source = namespace_with()
    verdicts = grade(namespace, source, seed)
    assert {q: v.status for q, v in verdicts.items()} == dict.fromkeys(CHECKS, "passed"), verdicts


@pytest.mark.parametrize(("qid", "answer"), [pytest.param(q, a, id=f"{q}-{name}")
                                             for q, name, a in OTHER_CORRECT])
def test_other_honest_answers_pass(qid, answer, capsys):
    """Does an honest answer in another style (float64, autograd.grad, gcf, setup_context, prints) pass?"""
    namespace, source = namespace_with(qid, answer)
    verdicts = grade(namespace, source)
    assert {q: v.status for q, v in verdicts.items()} == dict.fromkeys(CHECKS, "passed"), verdicts


@pytest.mark.parametrize(("qid", "answer", "fragment"),
                         [pytest.param(q, a, f, id=f"{q}-{name}") for q, name, a, f in MISCONCEPTIONS])
def test_misconception_fails_only_its_question(qid, answer, fragment):
    """Does each misconception lose its own question's points, with a message naming it, and no others?"""
    namespace, source = namespace_with(qid, answer)
    verdicts = grade(namespace, source)
    assert verdicts[qid].status == "failed", verdicts[qid]
    message = "\n".join(verdicts[qid].messages)
    assert fragment in message, message
    others = {q: v.status for q, v in verdicts.items() if q != qid}
    assert others == dict.fromkeys(others, "passed"), verdicts


def test_ignored_grad_output_message_reads_as_documented():
    """Does the SQ message for an ignored grad_output say so in its headline, then spell out the
    upstream gradient and both values?"""
    answer = dict(MISCONCEPTIONS_BY_ID)["SQ-ignores_grad_output"]
    namespace, source = namespace_with("SQ", answer)
    verdict = grade(namespace, source)["SQ"]
    assert verdict.messages[0].startswith(
        "SQ: your backward ignores grad_output, the upstream gradient.\n"
        "SQ.apply(x) at x = [1.5, -2, 0.5] (float32) with upstream gradient [3, -1, 0.5]: the input gradient "
        "should be [9, 4, 0.5] (shape [3]), got [3, -4, 1] (shape [3])"), verdict.messages


MISCONCEPTIONS_BY_ID = [(f"{q}-{name}", a) for q, name, a, _ in MISCONCEPTIONS]


def test_save_for_backward_is_checked_by_behaviour_without_source():
    """Without source text, is ctx.i = i still caught from the ctx's empty saved_tensors?"""
    answer = dict(MISCONCEPTIONS_BY_ID)["SQ-ctx_attribute_instead_of_save_for_backward"]
    namespace, _ = namespace_with("SQ", answer)
    verdict = run_question("SQ", local_subject(namespace, source_lookup=lambda name: None),
                           random.Random(0))
    assert verdict.status == "failed" and "ctx.i" in verdict.messages[0], verdict


def test_visible_only_skips_hidden_cases():
    """Does a wrong LEAF_PREDICTIONS pair pass the visible case alone (the pairs are the answer
    itself, checked only at grading)?"""
    answer = dict(MISCONCEPTIONS_BY_ID)["leaves-clone_is_a_leaf"]
    namespace, _ = namespace_with("leaves", answer)
    verdict = run_question("leaves", local_subject(namespace), random.Random(0), hidden=False)
    assert verdict.status == "passed" and verdict.messages[0].startswith("LEAF_PREDICTIONS has a")
    assert run_question("leaves", local_subject(namespace), random.Random(0)).status == "failed"


def test_mulconstant_keeping_k_only_in_saved_tensors_fails():
    """Does a MulConstant that keeps k as a saved tensor instead of on ctx lose its points?"""
    answer = """
        class MulConstant(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                ctx.save_for_backward(torch.tensor(float(k)))
                return k * x

            @staticmethod
            def backward(ctx, grad_output):
                (k,) = ctx.saved_tensors
                return grad_output * k, None
    """
    namespace, source = namespace_with("MulConstant", answer)
    verdict = grade(namespace, source)["MulConstant"]
    assert verdict.status == "failed" and "attribute of ctx" in verdict.messages[0], verdict


def test_grad_mode_switched_off_by_the_notebook_does_not_break_grading():
    """Does a notebook that calls torch.set_grad_enabled(False) at top level still pass correct answers?"""
    namespace, source = namespace_with()
    try:
        exec("torch.set_grad_enabled(False)", namespace)
        verdicts = grade(namespace, source)
    finally:
        torch.set_grad_enabled(True)
    assert {q: v.status for q, v in verdicts.items()} == dict.fromkeys(CHECKS, "passed"), verdicts


def test_a_right_pair_of_gradients_is_never_read_as_swapped():
    """At x0 = 0.5, where x.grad and y.grad are both 3, does the right leaf_and_intermediate_grads pass the check
    (a hidden draw can land there), while a swapped pair at another point still reads as swapped?"""
    from sample import ASSIGNMENT, reference

    check_grads = ASSIGNMENT.module("checks.leaves").check_grads
    namespace = {"torch": torch}
    exec(reference("leaves").source, namespace)  # the bank's reference answer
    right = namespace["leaf_and_intermediate_grads"]

    check_grads(local_subject({"leaf_and_intermediate_grads": right}), 0.5)
    swapped = local_subject({"leaf_and_intermediate_grads": lambda x0: right(x0)[::-1]})
    with pytest.raises(AssertionError, match="the pair is swapped"):
        check_grads(swapped, 1.25)
