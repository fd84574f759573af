"""Known-wrong answers, one misconception each, each meant to lose exactly its own question."""

from textwrap import dedent

from grader.banks import Answer

from .correct import CORRECT

__all__ = ["WRONG"]


def _cell(text: str) -> str:
    return dedent(text).strip() + "\n"


def _variant(reference_name: str, old: str, new: str) -> str:
    """A correct answer's source with one passage changed (which must be there)."""
    (source,) = (a.source for a in CORRECT if a.name == reference_name)
    if source.count(old) != 1:
        raise ValueError(f"{old!r} must occur exactly once in {reference_name}")
    return source.replace(old, new)


# Why a few misconceptions are shown only by the grading-time tests.
_PREDICTION = "the pair of bools is the answer itself: a visible check that judged it would hand it out"
_VALUE = "the value is the answer itself: a visible check that judged it would hand it out"

_ATTRIBUTES = "attributes_literal"
_LEAVES = "leaves_literal"
_PLOT = "plot_subplots"

WRONG: tuple[Answer, ...] = (
    # ---------------------------------------------------------------- grad_at
    Answer(
        "grad_at_y_grad",
        "grad_at",
        _cell("""
            def grad_at(f, x0):
                x = torch.tensor(float(x0), requires_grad=True)
                y = f(x)
                y.backward()
                return y.grad
        """),
        "I called backward on y, so I thought the gradient is stored in y.grad.",
        cause="not y.grad",
    ),
    Answer(
        "grad_at_shared_leaf",
        "grad_at",
        _cell("""
            _x = torch.tensor(0.0, requires_grad=True)


            def grad_at(f, x0):
                with torch.no_grad():
                    _x.fill_(float(x0))
                f(_x).backward()
                return _x.grad
        """),
        "I made one leaf and reuse it on every call; I didn't know .grad adds up across backward calls.",
        cause="accumulate in .grad",
    ),
    Answer(
        "grad_at_int_leaf",
        "grad_at",
        _cell("""
            def grad_at(f, x0):
                x = torch.tensor(x0, requires_grad=True)
                f(x).backward()
                return x.grad
        """),
        "I passed x0 straight to torch.tensor; I didn't think of an integer x0 making an integer tensor.",
        cause="an integer tensor cannot require gradients",
    ),
    Answer(
        "grad_at_truncates_to_int",
        "grad_at",
        _cell("""
            def grad_at(f, x0):
                x = torch.tensor(int(x0), dtype=torch.float32, requires_grad=True)
                f(x).backward()
                return x.grad
        """),
        "The examples used integers, so I turned x0 into an int first.",
        cause="truncated to an int",
    ),
    Answer(
        "grad_at_finite_difference",
        "grad_at",
        _cell("""
            def grad_at(f, x0, h=1e-6):
                x = torch.tensor(float(x0), dtype=torch.float64)
                return (f(x + h) - f(x - h)) / (2 * h)
        """),
        "A derivative is a limit of difference quotients, so a tiny h is as good as autograd.",
        cause="not the slope of f's values",
    ),
    Answer(
        "grad_at_hardcoded_square",
        "grad_at",
        _cell("""
            def grad_at(f, x0):
                return torch.tensor(2.0 * x0)
        """),
        "The example was x ** 2, so I returned its derivative 2 * x0.",
        cause="whatever f is",
    ),
    Answer(
        "grad_at_item",
        "grad_at",
        _cell("""
            def grad_at(f, x0):
                x = torch.tensor(float(x0), requires_grad=True)
                f(x).backward()
                return x.grad.item()
        """),
        "A single number is a number, so I returned a Python float with .item().",
        cause="not .item()",
    ),
    Answer(
        "grad_at_returns_value",
        "grad_at",
        _cell("""
            def grad_at(f, x0):
                x = torch.tensor(float(x0), requires_grad=True)
                y = f(x)
                y.backward()
                return y.detach()
        """),
        "After backward() I thought y itself had become the derivative.",
        cause="the values of f, not its derivative",
    ),
    Answer(
        "grad_at_backward_twice",
        "grad_at",
        _cell("""
            def grad_at(f, x0):
                x = torch.tensor(float(x0), requires_grad=True)
                y = f(x)
                y.backward(retain_graph=True)
                print("dy/dx =", x.grad)
                y.backward()
                return x.grad
        """),
        "I called backward() once to print the gradient and again before returning it.",
        cause="twice the derivative",
    ),
    Answer(
        "grad_at_zeroes_a_shared_grad",
        "grad_at",
        _cell("""
            _x = torch.zeros((), requires_grad=True)
            _x.grad = torch.zeros(())


            def grad_at(f, x0):
                with torch.no_grad():
                    _x.fill_(float(x0))
                _x.grad.zero_()  # as in a training loop: zero the gradient before backward
                f(_x).backward()
                return _x.grad
        """),
        "Training loops zero the gradient before each backward, so I reuse one leaf and zero its .grad.",
        cause="a gradient of its own",
    ),
    Answer(
        "grad_at_forgets_return",
        "grad_at",
        _cell("""
            def grad_at(f, x0):
                x = torch.tensor(float(x0), requires_grad=True)
                f(x).backward()
                x.grad  # the gradient, as the notebook shows it
        """),
        "In the notebook the last line shows the value, so I ended with x.grad.",
        cause="no return statement with a value",
    ),
    Answer(
        "grad_at_returns_the_grad_tuple",
        "grad_at",
        _cell("""
            def grad_at(f, x0):
                x = torch.tensor(float(x0), requires_grad=True)
                return torch.autograd.grad(f(x), x)
        """),
        "torch.autograd.grad gives the gradient, so I returned what it gave.",
        cause="torch.autograd.grad returns a tuple",
    ),
    # ------------------------------------------------------------- attributes
    Answer(
        "attributes_mulbackward",
        "attributes",
        _variant(_ATTRIBUTES, '"grad_fn": "PowBackward0"', '"grad_fn": "MulBackward0"'),
        "x ** 2 is x times x, so y must come from a multiplication.",
        cause="the last operation that produced this tensor",
        left_to_hidden=_VALUE,
    ),
    Answer(
        "attributes_grad_fn_repr",
        "attributes",
        _cell("""
            x = torch.tensor(2.0, requires_grad=True)
            y = x ** 2
            y.backward()


            def describe(t):
                grad = t.grad.item() if t.is_leaf and t.grad is not None else None
                return {"data": t.item(), "grad": grad,
                        "grad_fn": None if t.grad_fn is None else str(t.grad_fn),
                        "is_leaf": t.is_leaf, "requires_grad": t.requires_grad}


            ATTRIBUTES = {"x": describe(x), "y": describe(y)}
        """),
        "str() gives anything's name, so I wrote str(t.grad_fn).",
        cause="not the node itself or its repr",
    ),
    Answer(
        "attributes_tensors_for_numbers",
        "attributes",
        _cell("""
            x = torch.tensor(2.0, requires_grad=True)
            y = x ** 2
            y.backward()

            ATTRIBUTES = {
                "x": {"data": x.data, "grad": x.grad, "grad_fn": None, "is_leaf": True, "requires_grad": True},
                "y": {"data": y.data, "grad": None, "grad_fn": "PowBackward0", "is_leaf": False,
                      "requires_grad": True},
            }
        """),
        "x.data and x.grad print as the numbers, so I put them in as they are.",
        cause=".item() or float() gives its number",
    ),
    Answer(
        "attributes_grad_fn_object",
        "attributes",
        _cell("""
            x = torch.tensor(2.0, requires_grad=True)
            y = x ** 2
            y.backward()

            ATTRIBUTES = {
                "x": {"data": 2.0, "grad": 4.0, "grad_fn": x.grad_fn, "is_leaf": True, "requires_grad": True},
                "y": {"data": 4.0, "grad": None, "grad_fn": y.grad_fn, "is_leaf": False, "requires_grad": True},
            }
        """),
        "grad_fn names the operation, so I stored y.grad_fn itself.",
        cause="the node itself, not its class name",
    ),
    Answer(
        "attributes_x_not_leaf",
        "attributes",
        _variant(_ATTRIBUTES, '"grad_fn": None, "is_leaf": True', '"grad_fn": None, "is_leaf": False'),
        "x has a gradient flowing into it, so I thought it is not a leaf.",
        cause="so it has a grad_fn",
    ),
    Answer(
        "attributes_y_grad_one",
        "attributes",
        _variant(_ATTRIBUTES, '"grad": None', '"grad": 1.0'),
        "dy/dy is 1, so y.grad should be 1.0 after y.backward().",
        cause="keeps no gradient unless it called retain_grad()",
        left_to_hidden=_VALUE,
    ),
    Answer(
        "attributes_x_grad_two",
        "attributes",
        _variant(_ATTRIBUTES, '"grad": 4.0', '"grad": 2.0'),
        "The derivative of x ** 2 is 2x, and I wrote the 2 without putting x = 2 in.",
        cause="its value at x",
        left_to_hidden=_VALUE,
    ),
    # ----------------------------------------------------- derivative_on_grid
    Answer(
        "grid_mean",
        "derivative_on_grid",
        _cell("""
            def derivative_on_grid(f, x):
                x = x.detach().clone().requires_grad_()
                f(x).mean().backward()
                return x.grad
        """),
        "backward needs a scalar, and mean or sum both make one, so I took the mean.",
        cause=".mean() was used where .sum() belongs",
    ),
    Answer(
        "grid_backward_per_point",
        "derivative_on_grid",
        _cell("""
            def derivative_on_grid(f, x):
                out = []
                for xi in x:
                    p = xi.detach().clone().requires_grad_(True)
                    f(p).backward()
                    out.append(p.grad)
                return torch.stack(out)
        """),
        "backward needs a scalar, so I took each point on its own, one backward each.",
        cause="backward inside a loop",
    ),
    Answer(
        "grid_grad_at_per_point",
        "derivative_on_grid",
        _cell("""
            def derivative_on_grid(f, x):
                return torch.stack([grad_at(f, float(xi)) for xi in x])
        """),
        "I already had grad_at, so I called it at every point of the grid.",
        cause="backward inside a loop",
    ),
    Answer(
        "grid_grad_imported_per_point",
        "derivative_on_grid",
        _cell("""
            from torch.autograd import grad


            def derivative_on_grid(f, x):
                slopes = []
                for p in x:
                    p = p.detach().clone().requires_grad_()
                    (g,) = grad(f(p), p)
                    slopes.append(g)
                return torch.stack(slopes)
        """),
        "grad gives the derivative at a point, so I asked it at each point in turn.",
        cause="backward inside a loop",
    ),
    Answer(
        "grid_map_grad_at",
        "derivative_on_grid",
        _cell("""
            def derivative_on_grid(f, x):
                return torch.stack(list(map(lambda p: grad_at(f, float(p)), x)))
        """),
        "map applies grad_at to every point without writing a loop.",
        cause="backward inside a loop",
    ),
    Answer(
        "grid_func_grad_per_point",
        "derivative_on_grid",
        _cell("""
            def derivative_on_grid(f, x):
                df = torch.func.grad(f)
                return torch.stack([df(p) for p in x.detach()])
        """),
        "torch.func.grad(f) is the derivative as a function, so I evaluated it at each point.",
        cause="backward inside a loop",
    ),
    Answer(
        "grid_helper_holds_the_loop",
        "derivative_on_grid",
        _cell("""
            def _slopes(f, x):
                return [grad_at(f, p.item()) for p in x]


            def derivative_on_grid(f, x):
                return torch.stack(_slopes(f, x))
        """),
        "A helper collects the derivative at each point; derivative_on_grid just stacks them.",
        cause="backward inside a loop",
    ),
    Answer(
        "grid_lambda_per_point",
        "derivative_on_grid",
        _cell("""
            derivative_on_grid = lambda f, x: torch.stack([grad_at(f, float(p)) for p in x])
        """),
        "A lambda is enough for a one-liner: grad_at at every point of the grid.",
        cause="backward inside a loop",
    ),
    Answer(
        "grid_jacobian_summed_over_a_dimension",
        "derivative_on_grid",
        _cell("""
            def derivative_on_grid(f, x):
                jac = torch.autograd.functional.jacobian(lambda t: f(t)[None].sum(0), x.detach())
                return jac.diagonal()
        """),
        "Summing over the new first dimension keeps f's values, so the Jacobian holds them all.",
        cause="builds a whole Jacobian",
    ),
    Answer(
        "grid_jacobian_diagonal",
        "derivative_on_grid",
        _cell("""
            def derivative_on_grid(f, x):
                jac = torch.autograd.functional.jacobian(f, x.detach().clone())
                return jac.diagonal()
        """),
        "The derivatives of a vector function form its Jacobian, so I took its diagonal.",
        cause="a whole Jacobian",
    ),
    Answer(
        "grid_returns_the_values",
        "derivative_on_grid",
        _cell("""
            def derivative_on_grid(f, x):
                x = x.detach().clone().requires_grad_()
                y = f(x)
                y.sum().backward()
                return y.detach()
        """),
        "After backward() I thought y held the derivative at each point.",
        cause="the values of f, not its derivative",
    ),
    Answer(
        "grid_modifies_caller_x",
        "derivative_on_grid",
        _cell("""
            def derivative_on_grid(f, x):
                x.requires_grad_()
                f(x).sum().backward()
                return x.grad
        """),
        "I switched on requires_grad on the x I was given; I didn't think it changes the caller's tensor.",
        cause="turned on requires_grad for the caller's x",
    ),
    Answer(
        "grid_points_as_the_gradient",
        "derivative_on_grid",
        _cell("""
            def derivative_on_grid(f, x):
                xs = x.detach().clone().requires_grad_()
                f(xs).backward(xs)  # y is a vector, so backward needs a gradient of its shape
                return xs.grad
        """),
        "backward on a vector needs a gradient argument, so I passed the points.",
        cause="times x_i",
    ),
    Answer(
        "grid_leaves_a_grad_on_caller_x",
        "derivative_on_grid",
        _cell("""
            def derivative_on_grid(f, x):
                x.requires_grad = True
                f(x).sum().backward()
                x.requires_grad = False  # switched back off, so the caller's x is as it was
                return x.grad
        """),
        "I switched requires_grad back off afterwards, so I thought x was left as it was.",
        cause="left a gradient in the caller's x.grad",
    ),
    Answer(
        "grid_create_graph",
        "derivative_on_grid",
        _cell("""
            def derivative_on_grid(f, x):
                xs = x.detach().clone().requires_grad_()
                (dydx,) = torch.autograd.grad(f(xs).sum(), xs, create_graph=True)
                return dydx
        """),
        "I thought create_graph=True is needed to get the gradient back, so my result still requires grad.",
        cause="still part of a graph",
    ),
    Answer(
        "grid_torch_gradient",
        "derivative_on_grid",
        _cell("""
            def derivative_on_grid(f, x):
                (dydx,) = torch.gradient(f(x), spacing=(x,))
                return dydx
        """),
        "torch.gradient sounded like the derivative, but it takes finite differences between grid points.",
        cause="difference quotients",
    ),
    Answer(
        "grid_backward_without_sum",
        "derivative_on_grid",
        _cell("""
            def derivative_on_grid(f, x):
                xs = x.detach().clone().requires_grad_()
                f(xs).backward()
                return xs.grad
        """),
        "backward() works on a scalar, so I thought it works on a vector the same way.",
        cause="needs a scalar",
    ),
    # ------------------------------------------- plot_function_and_derivative
    Answer(
        "plot_numpy_without_detach",
        "plot_function_and_derivative",
        _cell("""
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
        """),
        ".numpy() turns any tensor into an array; I didn't know it refuses tensors that require grad.",
        cause="call .detach() before .numpy()",
    ),
    Answer(
        "plot_wrong_labels",
        "plot_function_and_derivative",
        _variant(_PLOT, 'label="derivative"', 'label="f\'(x)"').replace('label="function"', 'label="f(x)"'),
        "Any labels that say what the lines are should do, so I used f(x) and f'(x).",
        cause="label='function'",
    ),
    Answer(
        "plot_no_legend",
        "plot_function_and_derivative",
        _variant(_PLOT, "    ax.legend()\n", ""),
        "I gave the lines labels, so I thought the legend appears by itself.",
        cause="no legend",
    ),
    Answer(
        "plot_no_xlabel",
        "plot_function_and_derivative",
        _variant(_PLOT, '    ax.set_xlabel("x")\n', ""),
        "The x axis is obviously x, so I didn't label it.",
        cause="not labelled 'x'",
    ),
    Answer(
        "plot_derivative_line_holds_f",
        "plot_function_and_derivative",
        _variant(_PLOT, "dydx.numpy(), label", "y.detach().numpy(), label"),
        "I copied the first plot call for the derivative line and forgot to change y.",
        cause="holds f(x), not f'(x)",
    ),
    Answer(
        "plot_one_line",
        "plot_function_and_derivative",
        _variant(_PLOT, '    ax.plot(x.detach().numpy(), y.detach().numpy(), label="function")\n', ""),
        "The question is about the derivative, so I only drew the derivative.",
        cause="plot f and f' on the same axes",
    ),
    Answer(
        "plot_arange_grid",
        "plot_function_and_derivative",
        _variant(
            _PLOT,
            "torch.linspace(start, end, steps, requires_grad=True)",
            "torch.arange(start, end, (end - start) / steps, requires_grad=True)",
        ),
        "arange with step (end - start) / steps gives the same points as linspace, I thought.",
        cause="torch.linspace(start, end, steps)",
    ),
    Answer(
        "plot_difference_quotients",
        "plot_function_and_derivative",
        _cell("""
            def plot_function_and_derivative(f, start=-10.0, end=10.0, steps=100):
                x = torch.linspace(start, end, steps, dtype=torch.float64)
                h = 1e-5
                slope = (f(x + h) - f(x - h)) / (2 * h)  # central differences, no graph needed
                fig, ax = plt.subplots()
                ax.plot(x, f(x), label="function")
                ax.plot(x, slope, label="derivative")
                ax.set_xlabel("x")
                ax.legend()
                return fig
        """),
        "Central differences in float64 are as accurate as autograd, and need no backward pass.",
        cause="holds difference quotients",
    ),
    Answer(
        "plot_returns_a_new_figure",
        "plot_function_and_derivative",
        _cell("""
            def plot_function_and_derivative(f, start=-10.0, end=10.0, steps=100):
                x = torch.linspace(start, end, steps, requires_grad=True)
                y = f(x)
                y.sum().backward()
                plt.plot(x.detach(), y.detach(), label="function")
                plt.plot(x.detach(), x.grad, label="derivative")
                plt.xlabel("x")
                plt.legend()
                return plt.figure()  # the figure to hand back
        """),
        "plt.figure() gives the figure, so I returned it at the end.",
        cause="plt.figure makes a new, empty figure",
    ),
    # ---------------------------------------------------- partial_derivatives
    Answer(
        "partials_swapped",
        "partial_derivatives",
        _cell("""
            def partial_derivatives(f, u0, v0):
                u = torch.tensor(float(u0), requires_grad=True)
                v = torch.tensor(float(v0), requires_grad=True)
                f(u, v).backward()
                return v.grad, u.grad
        """),
        "I mixed up which partial goes first in the tuple.",
        cause="the partials are swapped",
    ),
    Answer(
        "partials_shared_leaves_zeroed",
        "partial_derivatives",
        _cell("""
            _u = torch.zeros((), requires_grad=True)
            _v = torch.zeros((), requires_grad=True)


            def partial_derivatives(f, u0, v0):
                with torch.no_grad():
                    _u.fill_(float(u0))
                    _v.fill_(float(v0))
                if _u.grad is not None:  # like optimizer.zero_grad()
                    _u.grad.zero_()
                    _v.grad.zero_()
                f(_u, _v).backward()
                return _u.grad, _v.grad
        """),
        "Two leaves made once and zeroed before each pass, as a training loop does with zero_grad().",
        cause="a .grad that later calls change",
    ),
    Answer(
        "partials_integer_leaves",
        "partial_derivatives",
        _cell("""
            def partial_derivatives(f, u0, v0):
                u = torch.tensor(u0, requires_grad=True)
                v = torch.tensor(v0, requires_grad=True)
                f(u, v).backward()
                return u.grad, v.grad
        """),
        "u0 and v0 are the point, so I made the leaves from them as they are.",
        cause="an integer tensor cannot require gradients",
    ),
    Answer(
        "partials_same_twice",
        "partial_derivatives",
        _cell("""
            def partial_derivatives(f, u0, v0):
                u = torch.tensor(float(u0), requires_grad=True)
                v = torch.tensor(float(v0), requires_grad=True)
                f(u, v).backward()
                return u.grad, u.grad
        """),
        "I thought one backward gives one derivative that holds for both inputs.",
        cause="its own leaf",
    ),
    Answer(
        "partials_v_without_requires_grad",
        "partial_derivatives",
        _cell("""
            def partial_derivatives(f, u0, v0):
                u = torch.tensor(float(u0), requires_grad=True)
                v = torch.tensor(float(v0))
                f(u, v).backward()
                return u.grad, v.grad
        """),
        "I switched on requires_grad for u and thought v would follow.",
        cause="u and v must be leaves that require grad",
    ),
    Answer(
        "partials_total_derivative",
        "partial_derivatives",
        _cell("""
            def partial_derivatives(f, u0, v0):
                t = torch.tensor(0.0, requires_grad=True)
                f(float(u0) + t, float(v0) + t).backward()
                return t.grad, t.grad
        """),
        "I moved both inputs together and thought that gives each partial derivative.",
        cause="its own leaf",
    ),
    Answer(
        "partials_leaves_of_shape_one",
        "partial_derivatives",
        _cell("""
            def partial_derivatives(f, u0, v0):
                u = torch.tensor([u0], requires_grad=True)
                v = torch.tensor([v0], requires_grad=True)
                f(u, v).sum().backward()
                return u.grad, v.grad
        """),
        "torch.tensor takes a list, so I wrapped each number in one.",
        cause="has shape [1]",
    ),
    # --------------------------------------------------------------------- SQ
    Answer(
        "sq_ignores_grad_output",
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
                    return 2 * i
        """),
        "The tutorial's backward: the derivative of i ** 2 is 2 * i, and grad_output is always 1.",
        cause="ignores grad_output",
    ),
    Answer(
        "sq_float32_for_float64",
        "SQ",
        _variant("sq_save_for_backward", "return i ** 2", "return (i ** 2).float()"),
        "Models train in float32, so I made SQ always return float32.",
        cause="for a float64 input",
    ),
    Answer(
        "sq_ctx_attribute",
        "SQ",
        _cell("""
            class SQ(torch.autograd.Function):
                @staticmethod
                def forward(ctx, i):
                    ctx.i = i
                    return i ** 2

                @staticmethod
                def backward(ctx, grad_output):
                    return grad_output * 2 * ctx.i
        """),
        "ctx is an object, so I stored i on it directly instead of save_for_backward.",
        cause="keeps ctx.i instead",
    ),
    Answer(
        "sq_saves_a_decoy",
        "SQ",
        _cell("""
            class SQ(torch.autograd.Function):
                @staticmethod
                def forward(ctx, i):
                    ctx.save_for_backward(torch.empty(0))  # something saved, as the test wants
                    ctx.i = i
                    return i ** 2

                @staticmethod
                def backward(ctx, grad_output):
                    return grad_output * 2 * ctx.i
        """),
        "The test wants save_for_backward called, so I saved an empty tensor and kept i on ctx.",
        cause="never reads ctx.saved_tensors",
    ),
    Answer(
        "sq_saves_a_decoy_and_reads_it_unused",
        "SQ",
        _cell("""
            class SQ(torch.autograd.Function):
                @staticmethod
                def forward(ctx, i):
                    ctx.save_for_backward(torch.zeros(1))  # something saved, as the test wants
                    ctx.i = i
                    return i ** 2

                @staticmethod
                def backward(ctx, grad_output):
                    ctx.saved_tensors  # and read back, as the test wants
                    return grad_output * 2 * ctx.i
        """),
        "The test wants something saved and read back, so I did both and kept i on ctx.",
        cause="none of which holds i",
    ),
    Answer(
        "sq_saved_tensors_not_unpacked",
        "SQ",
        _cell("""
            class SQ(torch.autograd.Function):
                @staticmethod
                def forward(ctx, i):
                    ctx.save_for_backward(i)
                    return i ** 2

                @staticmethod
                def backward(ctx, grad_output):
                    i = ctx.saved_tensors  # one tensor saved, one tensor back
                    return grad_output * 2 * i
        """),
        "I saved one tensor, so I thought saved_tensors is that tensor.",
        cause="ctx.saved_tensors is a tuple",
    ),
    Answer(
        "sq_scales_grad_output_in_place",
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
                    grad_output *= 2 * i  # no new tensor needed
                    return grad_output
        """),
        "Scaling grad_output where it is saves making a new tensor.",
        cause="changed grad_output in place",
    ),
    Answer(
        "sq_saves_the_output_and_takes_its_root",
        "SQ",
        _cell("""
            class SQ(torch.autograd.Function):
                @staticmethod
                def forward(ctx, i):
                    out = i ** 2
                    ctx.save_for_backward(out)
                    return out

                @staticmethod
                def backward(ctx, grad_output):
                    (out,) = ctx.saved_tensors
                    return grad_output * 2 * torch.sqrt(out)  # i is the root of i ** 2
        """),
        "I saved the output, and i is its square root.",
        cause="wrong sign where i < 0",
    ),
    Answer(
        "sq_forward_squares_in_place",
        "SQ",
        _cell("""
            class SQ(torch.autograd.Function):
                @staticmethod
                def forward(ctx, i):
                    ctx.save_for_backward(i)
                    return i.mul_(i)  # no copy: squares i where it is

                @staticmethod
                def backward(ctx, grad_output):
                    (i,) = ctx.saved_tensors
                    return grad_output * 2 * i
        """),
        "Squaring in place saves memory, and i is already saved.",
        cause="changed its input i in place",
    ),
    Answer(
        "sq_backward_returns_a_list",
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
                    return [grad_output * 2 * i]
        """),
        "backward returns the gradients, so I returned them in a list.",
        cause="not a list",
    ),
    Answer(
        "sq_backward_under_no_grad",
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
                    with torch.no_grad():  # backward computes gradients, so no graph needed
                        return grad_output * 2 * i
        """),
        "backward computes gradients, so I thought it should run under torch.no_grad().",
        cause="not under torch.no_grad()",
    ),
    Answer(
        "sq_backward_uses_forwards_i",
        "SQ",
        _cell("""
            class SQ(torch.autograd.Function):
                @staticmethod
                def forward(ctx, i):
                    ctx.save_for_backward(i)
                    return i ** 2

                @staticmethod
                def backward(ctx, grad_output):
                    return grad_output * 2 * i  # i as forward got it
        """),
        "forward saved i, so backward can use i by its name.",
        cause="backward cannot see",
    ),
    Answer(
        "sq_marks_output_non_differentiable",
        "SQ",
        _cell("""
            class SQ(torch.autograd.Function):
                @staticmethod
                def forward(ctx, i):
                    ctx.save_for_backward(i)
                    out = i ** 2
                    ctx.mark_non_differentiable(out)  # backward computes the gradient by hand
                    return out

                @staticmethod
                def backward(ctx, grad_output):
                    (i,) = ctx.saved_tensors
                    return grad_output * 2 * i
        """),
        "backward gives the gradient by hand, so autograd need not differentiate the output itself.",
        cause="marked non-differentiable",
    ),
    Answer(
        "sq_returns_grad_output",
        "SQ",
        _cell("""
            class SQ(torch.autograd.Function):
                @staticmethod
                def forward(ctx, i):
                    ctx.save_for_backward(i)
                    return i ** 2

                @staticmethod
                def backward(ctx, grad_output):
                    return grad_output
        """),
        "backward passes the incoming gradient along; I thought autograd does the rest.",
        cause="times the local derivative",
    ),
    Answer(
        "sq_forward_two_i",
        "SQ",
        _cell("""
            class SQ(torch.autograd.Function):
                @staticmethod
                def forward(ctx, i):
                    ctx.save_for_backward(i)
                    return 2 * i

                @staticmethod
                def backward(ctx, grad_output):
                    (i,) = ctx.saved_tensors
                    return grad_output * 2 * i
        """),
        "I wrote the derivative 2 * i in forward as well as in backward.",
        cause="2 * i, the derivative",
    ),
    Answer(
        "sq_item_in_backward",
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
                    return grad_output * 2 * i.item()
        """),
        "I thought i is always a single number, so .item() was fine.",
        cause=".item() turns a one-element tensor",
    ),
    # ------------------------------------------------------------ MulConstant
    Answer(
        "mulconstant_one_gradient",
        "MulConstant",
        _cell("""
            class MulConstant(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, k):
                    ctx.k = k
                    return k * x

                @staticmethod
                def backward(ctx, grad_output):
                    return grad_output * ctx.k
        """),
        "Only x needs a gradient, so I returned one thing from backward.",
        cause="one gradient per input",
    ),
    Answer(
        "mulconstant_scales_x_in_place",
        "MulConstant",
        _cell("""
            class MulConstant(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, k):
                    ctx.k = k
                    return x.mul_(k)

                @staticmethod
                def backward(ctx, grad_output):
                    return grad_output * ctx.k, None
        """),
        "mul_ saves making a new tensor, and nothing is recorded inside forward anyway.",
        cause="changed its input x in place",
    ),
    Answer(
        "mulconstant_gradient_of_one_element",
        "MulConstant",
        _variant("mulconstant_ctx_k", "return grad_output * ctx.k, None", "return ctx.k * torch.ones(1), None"),
        "The derivative of k * x is k, so backward returns k as a tensor.",
        cause="shaped unlike its input",
    ),
    Answer(
        "mulconstant_k_cut_to_an_integer",
        "MulConstant",
        _variant("mulconstant_ctx_k", "ctx.k = k", "ctx.k = int(k)"),
        "k is a constant, so I stored it as an int.",
        cause="cut to a whole number",
    ),
    Answer(
        "mulconstant_gradients_in_the_wrong_order",
        "MulConstant",
        _cell("""
            class MulConstant(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, k):
                    ctx.k = k
                    return k * x

                @staticmethod
                def backward(ctx, grad_output):
                    return None, grad_output * ctx.k
        """),
        "k comes first in k * x, so I returned its gradient (None) first.",
        cause="in forward's order",
    ),
    Answer(
        "mulconstant_save_for_backward_number",
        "MulConstant",
        _cell("""
            class MulConstant(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, k):
                    ctx.save_for_backward(k)
                    return k * x

                @staticmethod
                def backward(ctx, grad_output):
                    (k,) = ctx.saved_tensors
                    return grad_output * k, None
        """),
        "save_for_backward is how you keep things for backward, so I saved k with it too.",
        cause="save_for_backward only takes tensors",
    ),
    Answer(
        "mulconstant_save_for_backward_tensor",
        "MulConstant",
        _cell("""
            class MulConstant(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, k):
                    ctx.save_for_backward(torch.tensor(k))
                    return k * x

                @staticmethod
                def backward(ctx, grad_output):
                    (k,) = ctx.saved_tensors
                    return grad_output * k, None
        """),
        "save_for_backward refused a number, so I wrapped k in a tensor instead of keeping it on ctx.",
        cause="store it as an attribute of ctx",
    ),
    Answer(
        "mulconstant_backward_uses_forwards_k",
        "MulConstant",
        _cell("""
            class MulConstant(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, k):
                    return k * x

                @staticmethod
                def backward(ctx, grad_output):
                    return grad_output * k, None  # k was given to forward
        """),
        "k was passed to forward, so backward, in the same class, can use it.",
        cause="backward cannot see",
    ),
    Answer(
        "mulconstant_marks_output_non_differentiable",
        "MulConstant",
        _cell("""
            class MulConstant(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, k):
                    ctx.k = k
                    out = k * x
                    ctx.mark_non_differentiable(out)  # the gradient comes from backward
                    return out

                @staticmethod
                def backward(ctx, grad_output):
                    return grad_output * ctx.k, None
        """),
        "The gradient comes from backward, so I told autograd not to differentiate the output.",
        cause="marked non-differentiable",
    ),
    Answer(
        "mulconstant_ignores_k",
        "MulConstant",
        _cell("""
            class MulConstant(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, k):
                    ctx.k = k
                    return k * x

                @staticmethod
                def backward(ctx, grad_output):
                    return grad_output, None
        """),
        "k is a constant and the derivative of a constant is zero, so I left k out of backward.",
        cause="ignoring k",
    ),
    Answer(
        "mulconstant_ignores_grad_output",
        "MulConstant",
        _cell("""
            class MulConstant(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, k):
                    ctx.k = k
                    return k * x

                @staticmethod
                def backward(ctx, grad_output):
                    return ctx.k * torch.ones_like(grad_output), None
        """),
        "The derivative of k * x is k, so backward returns k everywhere.",
        cause="ignoring grad_output",
    ),
    Answer(
        "mulconstant_int_k",
        "MulConstant",
        _cell("""
            class MulConstant(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, k):
                    ctx.k = int(k)
                    return ctx.k * x

                @staticmethod
                def backward(ctx, grad_output):
                    return grad_output * ctx.k, None
        """),
        "The examples multiplied by 2 or 3, so I stored k as an int.",
        cause="was rounded to 2",
    ),
    Answer(
        "mulconstant_scales_grad_output_in_place",
        "MulConstant",
        _cell("""
            class MulConstant(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, k):
                    ctx.k = k
                    return k * x

                @staticmethod
                def backward(ctx, grad_output):
                    grad_output.mul_(ctx.k)  # scaled where it is
                    return grad_output, None
        """),
        "mul_ scales the gradient without a copy, and backward only needs the result.",
        cause="changed grad_output in place",
    ),
    Answer(
        "mulconstant_backward_returns_a_list",
        "MulConstant",
        _cell("""
            class MulConstant(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, k):
                    ctx.k = k
                    return k * x

                @staticmethod
                def backward(ctx, grad_output):
                    return [grad_output * ctx.k, None]
        """),
        "backward returns two gradients, so I put them in a list.",
        cause="a list counts as one gradient",
    ),
    # ----------------------------------------------------------------- leaves
    Answer(
        "leaves_mul_one_is_leaf",
        "leaves",
        _variant(
            _LEAVES,
            '"torch.linspace(-10, 10, 10, requires_grad=True) * 1": (False, True)',
            '"torch.linspace(-10, 10, 10, requires_grad=True) * 1": (True, True)',
        ),
        "Multiplying by 1 changes nothing, so the result is still a leaf.",
        cause="even * 1, is recorded",
        left_to_hidden=_PREDICTION,
    ),
    Answer(
        "leaves_clone_is_leaf",
        "leaves",
        _variant(
            _LEAVES,
            '"torch.tensor(2.0, requires_grad=True).clone()": (False, True)',
            '"torch.tensor(2.0, requires_grad=True).clone()": (True, True)',
        ),
        "A clone is a fresh copy, so I thought it starts a new leaf.",
        cause="clone() is a recorded operation",
        left_to_hidden=_PREDICTION,
    ),
    Answer(
        "leaves_index_is_leaf",
        "leaves",
        _variant(
            _LEAVES,
            '"torch.tensor([1.0, 2.0], requires_grad=True)[0]": (False, True)',
            '"torch.tensor([1.0, 2.0], requires_grad=True)[0]": (True, True)',
        ),
        "Indexing just reads an element, so I thought it is the same leaf.",
        cause="Indexing is a recorded operation",
        left_to_hidden=_PREDICTION,
    ),
    Answer(
        "leaves_detach_keeps_requires_grad",
        "leaves",
        _variant(
            _LEAVES,
            '"torch.tensor(2.0, requires_grad=True).detach()": (True, False)',
            '"torch.tensor(2.0, requires_grad=True).detach()": (True, True)',
        ),
        "detach cuts the graph but I thought the tensor keeps requires_grad.",
        cause="a new leaf that does not require grad",
        left_to_hidden=_PREDICTION,
    ),
    Answer(
        "leaves_parameter_no_grad",
        "leaves",
        _variant(
            _LEAVES,
            '"torch.nn.Parameter(torch.ones(2))": (True, True)',
            '"torch.nn.Parameter(torch.ones(2))": (True, False)',
        ),
        "torch.ones does not require grad, so I thought wrapping it in a Parameter doesn't either.",
        cause="requires grad by default",
        left_to_hidden=_PREDICTION,
    ),
    Answer(
        "leaves_without_retain_grad",
        "leaves",
        _variant(_LEAVES, "    y.retain_grad()\n", ""),
        "I thought backward fills .grad on every tensor in the graph, y included.",
        cause="retain_grad()",
    ),
    Answer(
        "leaves_integer_leaf",
        "leaves",
        _variant(_LEAVES, "x = torch.tensor(float(x0), requires_grad=True)", "x = torch.tensor(x0, requires_grad=True)"),
        "x0 is the value of x, so I made the leaf from it as it is.",
        cause="an integer tensor cannot require gradients",
    ),
    Answer(
        "leaves_backward_twice",
        "leaves",
        _variant(_LEAVES, "    z.backward()\n", "    z.backward(retain_graph=True)\n    z.backward()\n"),
        "I called backward a second time to make sure the gradients were there.",
        cause=".grad accumulates over passes",
    ),
    Answer(
        "leaves_grads_by_hand",
        "leaves",
        _variant(_LEAVES, """    x = torch.tensor(float(x0), requires_grad=True)
    y = x ** 2
    y.retain_grad()
    z = 3 * y
    z.backward()
    return x.grad, y.grad""", "    return torch.tensor(6.0 * x0), torch.tensor(3.0)"),
        "I worked out dz/dx = 6x and dz/dy = 3 on paper, so autograd is not needed.",
        cause="typed in, not computed by autograd",
    ),
    Answer(
        "leaves_grads_swapped",
        "leaves",
        _variant(_LEAVES, "return x.grad, y.grad", "return y.grad, x.grad"),
        "Backward goes from z back to y, then x, so I listed the gradients in that order.",
        cause="the pair is swapped",
    ),
)
