"""Honest correct answers in several styles, each of which must keep full marks."""

from textwrap import dedent

from grader.banks import Answer

__all__ = ["CORRECT", "EXPLAIN_BUG"]


def _cell(text: str) -> str:
    return dedent(text).strip() + "\n"


# The reference's predictions for leaves (a), which the part (b) styles below share.
_LEAF_PREDICTIONS = _cell("""
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
""")


CORRECT: tuple[Answer, ...] = (
    # ---------------------------------------------------------------- grad_at
    Answer(
        "grad_at_backward",
        "grad_at",
        _cell("""
            def grad_at(f, x0):
                x = torch.tensor(float(x0), requires_grad=True)
                y = f(x)
                y.backward()
                return x.grad
        """),
        "reference: a fresh float leaf, backward(), then .grad",
    ),
    Answer(
        "grad_at_float32_returned_as_float64",
        "grad_at",
        _cell("""
            def grad_at(f, x0):
                x = torch.tensor(float(x0), requires_grad=True)
                f(x).backward()
                return x.grad.double()  # float64 for whoever uses it next
        """),
        "computed in float32, handed back as float64",
    ),
    Answer(
        "grad_at_autograd_grad_as_tensor",
        "grad_at",
        _cell("""
            def grad_at(f, x0):
                x = torch.as_tensor(x0, dtype=torch.float32).requires_grad_()
                (dydx,) = torch.autograd.grad(f(x), x)
                return dydx
        """),
        "torch.autograd.grad on torch.as_tensor(x0, dtype=float32).requires_grad_()",
    ),
    Answer(
        "grad_at_one_leaf_grad_reset",
        "grad_at",
        _cell("""
            _x = torch.zeros((), requires_grad=True)


            def grad_at(f, x0):
                with torch.no_grad():
                    _x.fill_(float(x0))
                _x.grad = None  # backward then makes a new gradient tensor
                f(_x).backward()
                return _x.grad
        """),
        "one module-level leaf reused, its .grad reset to None on every call",
    ),
    Answer(
        "grad_at_float64_chatty",
        "grad_at",
        _cell("""
            import sys
            import warnings

            warnings.warn("grad_at: I am computing in float64")


            def _fresh_leaf(value):
                return torch.tensor(value, dtype=torch.float64, requires_grad=True)


            def grad_at(f, x0):
                print(f"grad_at called at {x0!r}")
                print("debug: building a fresh leaf", file=sys.stderr)
                warnings.warn("grad_at: float64 on purpose")
                x = _fresh_leaf(x0)
                f(x).backward()
                return x.grad
        """),
        "float64 leaf from a helper, with prints to stdout and stderr and warnings",
    ),
    # ------------------------------------------------------------- attributes
    Answer(
        "attributes_literal",
        "attributes",
        _cell("""
            # The computation to describe:
            x = torch.tensor(2.0, requires_grad=True)
            y = x ** 2
            y.backward()

            ATTRIBUTES = {
                "x": {"data": 2.0, "grad": 4.0, "grad_fn": None, "is_leaf": True, "requires_grad": True},
                "y": {"data": 4.0, "grad": None, "grad_fn": "PowBackward0", "is_leaf": False, "requires_grad": True},
            }
        """),
        "reference: the table written out by hand",
    ),
    Answer(
        "attributes_computed",
        "attributes",
        _cell("""
            import warnings

            x = torch.tensor(2.0, requires_grad=True)
            y = x ** 2
            y.backward()


            def describe(t):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # reading .grad of a non-leaf warns
                    grad = t.grad
                return {
                    "data": t.item(),
                    "grad": None if grad is None else grad.item(),
                    "grad_fn": None if t.grad_fn is None else type(t.grad_fn).__name__,
                    "is_leaf": t.is_leaf,
                    "requires_grad": t.requires_grad,
                }


            ATTRIBUTES = {"x": describe(x), "y": describe(y)}
            print(ATTRIBUTES)
        """),
        "computed from the real tensors with a helper, then printed",
    ),
    Answer(
        "attributes_computed_warns",
        "attributes",
        _cell("""
            x = torch.tensor(2.0, requires_grad=True)
            y = x ** 2
            y.backward()
            ATTRIBUTES = {}
            for name, t in (("x", x), ("y", y)):
                ATTRIBUTES[name] = {
                    "data": float(t.data),
                    "grad": t.grad if t.grad is None else float(t.grad),  # y.grad warns: non-leaf
                    "grad_fn": t.grad_fn.name() if t.grad_fn is not None else None,
                    "is_leaf": bool(t.is_leaf),
                    "requires_grad": bool(t.requires_grad),
                }
        """),
        "computed in a loop, letting torch's non-leaf .grad warning through",
    ),
    # ----------------------------------------------------- derivative_on_grid
    Answer(
        "grid_sum_backward",
        "derivative_on_grid",
        _cell("""
            def derivative_on_grid(f, x):
                x = x.detach().clone().requires_grad_()
                f(x).sum().backward()
                return x.grad
        """),
        "reference: a detached copy, one backward through the sum",
    ),
    Answer(
        "grid_vmap_of_jacrev",
        "derivative_on_grid",
        _cell("""
            def derivative_on_grid(f, x):
                # each point's own derivative, vectorised into one pass
                return torch.func.vmap(torch.func.jacrev(f))(x.detach())
        """),
        "torch.func.vmap of jacrev: every point's derivative in one vectorised pass",
    ),
    Answer(
        "grid_jacobian_of_a_sum",
        "derivative_on_grid",
        _cell("""
            def derivative_on_grid(f, x):
                # the Jacobian of a scalar is its gradient: one backward pass
                return torch.autograd.functional.jacobian(lambda t: f(t).sum(), x.detach())
        """),
        "the Jacobian of the summed function, which is its gradient",
    ),
    Answer(
        "grid_jacrev_of_a_named_sum",
        "derivative_on_grid",
        _cell("""
            def derivative_on_grid(f, x):
                total = lambda t: f(t).sum()
                return torch.func.jacrev(total)(x.detach())
        """),
        "torch.func.jacrev of the summed function, named first",
    ),
    Answer(
        "grid_ones_like",
        "derivative_on_grid",
        _cell("""
            def derivative_on_grid(f, x):
                xs = x.clone().requires_grad_(True)
                ys = f(xs)
                ys.backward(torch.ones_like(ys))
                return xs.grad
        """),
        "backward(torch.ones_like(Y)) instead of a sum",
    ),
    Answer(
        "grid_float64_autograd_grad",
        "derivative_on_grid",
        _cell("""
            def _as_leaf64(x):
                return x.detach().to(torch.float64).requires_grad_()


            def derivative_on_grid(f, x):
                xs = _as_leaf64(x)
                (dydx,) = torch.autograd.grad(f(xs).sum(), xs)
                return dydx
        """),
        "torch.autograd.grad in float64 (returns float64)",
    ),
    # ------------------------------------------- plot_function_and_derivative
    Answer(
        "plot_subplots",
        "plot_function_and_derivative",
        _cell("""
            def plot_function_and_derivative(f, start=-10.0, end=10.0, steps=100):
                x = torch.linspace(start, end, steps, requires_grad=True)
                y = f(x)
                (dydx,) = torch.autograd.grad(y.sum(), x)
                fig, ax = plt.subplots()
                ax.plot(x.detach().numpy(), y.detach().numpy(), label="function")
                ax.plot(x.detach().numpy(), dydx.numpy(), label="derivative")
                ax.set_xlabel("x")
                ax.legend()
                return fig
        """),
        "reference: fig, ax = plt.subplots() and autograd.grad",
    ),
    Answer(
        "plot_state_machine",
        "plot_function_and_derivative",
        _cell("""
            def plot_function_and_derivative(f, start=-10.0, end=10.0, steps=100):
                x = torch.linspace(start, end, steps, requires_grad=True)
                y = f(x)
                y.backward(torch.ones_like(y))
                plt.figure()
                plt.plot(x.detach(), y.detach(), label="function")
                plt.plot(x.detach(), x.grad, "--", color="tab:red", label="derivative")
                plt.xlabel("x")
                plt.ylabel("value")
                plt.title("f and f'")
                plt.legend()
                return plt.gcf()
        """),
        "plt.figure()/plt.plot state machine, returns plt.gcf(), with title and styling",
    ),
    Answer(
        "plot_derivative_first_float64",
        "plot_function_and_derivative",
        _cell("""
            def _values_and_slopes(f, x):
                x = x.detach().requires_grad_()
                y = f(x)
                y.sum().backward()
                return y.detach(), x.grad


            def plot_function_and_derivative(f, start=-10.0, end=10.0, steps=100):
                x = torch.linspace(start, end, steps, dtype=torch.float64)
                y, dydx = _values_and_slopes(f, x)
                fig = plt.figure(figsize=(6, 4))
                ax = fig.add_subplot()
                ax.plot(x.numpy(), dydx.numpy(), label="derivative")
                ax.plot(x.numpy(), y.numpy(), label="function", linewidth=2)
                ax.grid(True)
                ax.set_xlabel("x")
                ax.legend(loc="best")
                return fig
        """),
        "float64 grid, derivative drawn first, fig.add_subplot, grid lines",
    ),
    # ---------------------------------------------------- partial_derivatives
    Answer(
        "partials_backward",
        "partial_derivatives",
        _cell("""
            def partial_derivatives(f, u0, v0):
                u = torch.tensor(float(u0), requires_grad=True)
                v = torch.tensor(float(v0), requires_grad=True)
                f(u, v).backward()
                return u.grad, v.grad
        """),
        "reference: two fresh leaves, one backward",
    ),
    Answer(
        "partials_float32_returned_as_float64",
        "partial_derivatives",
        _cell("""
            def partial_derivatives(f, u0, v0):
                u = torch.tensor(float(u0), requires_grad=True)
                v = torch.tensor(float(v0), requires_grad=True)
                f(u, v).backward()
                return u.grad.double(), v.grad.double()
        """),
        "computed in float32, handed back as float64",
    ),
    Answer(
        "partials_autograd_grad_float64",
        "partial_derivatives",
        _cell("""
            def partial_derivatives(f, u0, v0):
                u = torch.tensor(float(u0), dtype=torch.float64, requires_grad=True)
                v = torch.tensor(float(v0), dtype=torch.float64, requires_grad=True)
                du, dv = torch.autograd.grad(f(u, v), (u, v), allow_unused=True, materialize_grads=True)
                return du, dv
        """),
        "torch.autograd.grad over both inputs in float64",
    ),
    # --------------------------------------------------------------------- SQ
    Answer(
        "sq_save_for_backward",
        "SQ",
        _cell("""
            class SQ(torch.autograd.Function):
                @staticmethod
                def forward(ctx, i):
                    ctx.save_for_backward(i)
                    return i ** 2

                @staticmethod
                def backward(ctx, grad_output):
                    (i,) = ctx.saved_tensors
                    return grad_output * 2 * i
        """),
        "reference: the tutorial's SQ with the chain rule in backward",
    ),
    Answer(
        "sq_setup_context_i_times_i",
        "SQ",
        _cell("""
            class SQ(torch.autograd.Function):
                @staticmethod
                def forward(i):
                    return i * i

                @staticmethod
                def setup_context(ctx, inputs, output):
                    (i,) = inputs
                    ctx.save_for_backward(i)

                @staticmethod
                def backward(ctx, grad_output):
                    i, = ctx.saved_tensors
                    return 2 * i * grad_output
        """),
        "setup_context style (forward without ctx) and i * i",
    ),
    Answer(
        "sq_setup_context_pow",
        "SQ",
        _cell("""
            class SQ(torch.autograd.Function):
                # y = i ** 2, with a backward that follows the chain rule

                @staticmethod
                def forward(i):
                    return i.pow(2)

                @staticmethod
                def setup_context(ctx, inputs, output):
                    (i,) = inputs
                    ctx.save_for_backward(i)

                @staticmethod
                def backward(ctx, grad_output):
                    (i,) = ctx.saved_tensors
                    return grad_output * 2 * i
        """),
        "setup_context style, forward written with a tensor method (i.pow)",
    ),
    Answer(
        "sq_saved_variables",
        "SQ",
        _cell("""
            class SQ(torch.autograd.Function):
                @staticmethod
                def forward(ctx, i):
                    ctx.save_for_backward(i)
                    return i ** 2

                @staticmethod
                def backward(ctx, grad_output):
                    (i,) = ctx.saved_variables  # an older tutorial's name for saved_tensors
                    return grad_output * 2 * i
        """),
        "ctx.saved_variables, the older name torch still answers to",
    ),
    Answer(
        "sq_chatty",
        "SQ",
        _cell("""
            import sys
            import warnings


            class SQ(torch.autograd.Function):
                \"\"\"Square, with a hand-written backward.\"\"\"

                @staticmethod
                def forward(ctx, i):
                    print("SQ.forward", tuple(i.shape), file=sys.stderr)
                    ctx.save_for_backward(i)
                    return torch.pow(i, 2)

                @staticmethod
                def backward(ctx, grad_output):
                    warnings.warn("SQ.backward called")
                    (i,) = ctx.saved_tensors
                    return torch.mul(grad_output, 2.0 * i)


            print(SQ.apply(torch.tensor(3.0)))
        """),
        "torch.pow and torch.mul, prints to stderr and warns in backward",
    ),
    Answer(
        "sq_alias_of_a_named_function",
        "SQ",
        _cell("""
            class Square(torch.autograd.Function):
                @staticmethod
                def forward(ctx, i):
                    ctx.save_for_backward(i)
                    return i ** 2

                @staticmethod
                def backward(ctx, grad_output):
                    (i,) = ctx.saved_tensors
                    return grad_output * 2 * i


            SQ: type[torch.autograd.Function] = Square
        """),
        "the Function written under another name, then bound to SQ",
    ),
    Answer(
        "sq_helper_saves",
        "SQ",
        _cell("""
            def keep_for_backward(ctx, *tensors):
                ctx.save_for_backward(*tensors)


            class SQ(torch.autograd.Function):
                @staticmethod
                def forward(ctx, i):
                    keep_for_backward(ctx, i)
                    return i ** 2

                @staticmethod
                def backward(ctx, grad_output):
                    (i,) = ctx.saved_tensors
                    return grad_output * 2 * i
        """),
        "forward hands ctx to a helper that saves",
    ),
    # ------------------------------------------------------------ MulConstant
    Answer(
        "mulconstant_ctx_k",
        "MulConstant",
        _cell("""
            class MulConstant(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, k):
                    ctx.k = k
                    return k * x

                @staticmethod
                def backward(ctx, grad_output):
                    return grad_output * ctx.k, None
        """),
        "reference: k kept as ctx.k",
    ),
    Answer(
        "mulconstant_k_in_a_dict",
        "MulConstant",
        _cell("""
            class MulConstant(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, k):
                    ctx.constants = {"k": k}
                    return x * k

                @staticmethod
                def backward(ctx, grad_output):
                    return grad_output * ctx.constants["k"], None
        """),
        "k kept in a dict on ctx",
    ),
    Answer(
        "mulconstant_ctx_constant",
        "MulConstant",
        _cell("""
            class MulConstant(torch.autograd.Function):
                @staticmethod
                def forward(ctx, tensor, constant):
                    ctx.constant = constant
                    return tensor * constant

                @staticmethod
                def backward(ctx, grad_output):
                    grad_tensor = grad_output * ctx.constant
                    grad_constant = None  # k is a Python number: no gradient
                    return grad_tensor, grad_constant
        """),
        "ctx.constant = k, other argument names, x * k",
    ),
    Answer(
        "sq_setup_context_from_a_base",
        "SQ",
        _cell("""
            class SavesInputs(torch.autograd.Function):
                @staticmethod
                def setup_context(ctx, inputs, output):
                    ctx.save_for_backward(*inputs)


            class SQ(SavesInputs):
                @staticmethod
                def forward(i):
                    return i.square()

                @staticmethod
                def backward(ctx, grad_output):
                    (i,) = ctx.saved_tensors
                    return grad_output * 2 * i
        """),
        "setup_context inherited from a base of the student's own, forward with a tensor method",
    ),
    Answer(
        "mulconstant_k_as_float32",
        "MulConstant",
        _cell("""
            import numpy as np


            class MulConstant(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, k):
                    setattr(ctx, "k", np.float32(k))  # k kept as a float32 number
                    return x * float(k)

                @staticmethod
                def backward(ctx, grad_output):
                    return grad_output * float(ctx.k), None
        """),
        "k kept as a numpy float32 with setattr",
    ),
    Answer(
        "mulconstant_setup_context",
        "MulConstant",
        _cell("""
            class MulConstant(torch.autograd.Function):
                @staticmethod
                def forward(x, k):
                    return k * x

                @staticmethod
                def setup_context(ctx, inputs, output):
                    _, k = inputs
                    ctx.k = k

                @staticmethod
                def backward(ctx, grad_output):
                    return ctx.k * grad_output, None
        """),
        "setup_context style",
    ),
    # ----------------------------------------------------------------- leaves
    Answer(
        "leaves_literal",
        "leaves",
        _LEAF_PREDICTIONS + "\n\n" + _cell("""
            def leaf_and_intermediate_grads(x0):
                x = torch.tensor(float(x0), requires_grad=True)
                y = x ** 2
                y.retain_grad()
                z = 3 * y
                z.backward()
                return x.grad, y.grad
        """),
        "reference: predictions written by hand, retain_grad on y",
    ),
    Answer(
        "leaves_evaluated_clone",
        "leaves",
        _cell("""
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


            def _leaf_facts(expression):
                t = eval(expression)  # I checked my predictions by running them
                return (t.is_leaf, t.requires_grad)


            LEAF_PREDICTIONS = {e: _leaf_facts(e) for e in _EXPRESSIONS}


            def leaf_and_intermediate_grads(x0):
                x = torch.as_tensor(x0, dtype=torch.float64).requires_grad_()
                y = x ** 2
                y.retain_grad()
                (3 * y).backward()
                return x.grad.clone(), y.grad.clone()
        """),
        "predictions computed by eval, float64, returns .clone()d grads",
    ),
    Answer(
        "leaves_autograd_grad_helper",
        "leaves",
        _LEAF_PREDICTIONS + "\n\n" + _cell("""
            def _both_gradients(x, y, z):
                return torch.autograd.grad(z, (x, y))


            def leaf_and_intermediate_grads(x0):
                x = torch.tensor(float(x0), requires_grad=True)
                y = x * x
                return tuple(_both_gradients(x, y, 3 * y))
        """),
        "torch.autograd.grad for both gradients, through a helper; no retain_grad needed",
    ),
)

EXPLAIN_BUG = Answer(
    "explain_bug_chain_rule",
    "explain_bug",
    _cell("""
        `backward` must return dL/di = grad_output * dy/di (the chain rule), where
        `grad_output` = dL/dy is what arrives from later in the graph. The tutorial returns
        only dy/di = 2*i. For `y.backward()` the incoming gradient is 1, so 2*i happens to be
        right; for `(3*y).backward()` the incoming gradient is 3, the true gradient is 6*i,
        and the tutorial's version still returns 2*i. The fix: `return grad_output * 2 * i`.
    """),
    "the chain rule: backward must multiply by grad_output, which is 1 only for y.backward()",
)
