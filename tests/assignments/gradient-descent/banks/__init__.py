"""The answer banks of gradient-descent.ipynb (instructor-only): Cube's, the one question with checks of its own."""

from grader.banks import Answer


def cube(forward: str, backward: str) -> str:
    """A Cube cell whose forward and backward have the given one-line bodies."""
    return (f"class Cube(torch.autograd.Function):\n    @staticmethod\n    def forward(ctx, x):\n        {forward}\n\n"
            f"    @staticmethod\n    def backward(ctx, grad_output):\n        {backward}\n")


CORRECT = (Answer("cube_saved", "Cube", cube("ctx.save_for_backward(x); return x ** 3",
                                             "return grad_output * 3 * ctx.saved_tensors[0] ** 2"), "save_for_backward"),)
WRONG = (
    Answer("cube_ignores_upstream", "Cube", cube("ctx.save_for_backward(x); return x ** 3",
                                                 "return 3 * ctx.saved_tensors[0] ** 2"), "ignores grad_output", cause="gradcheck"),
    Answer("cube_3x", "Cube", cube("ctx.save_for_backward(x); return x ** 3", "return grad_output * 3 * ctx.saved_tensors[0]"),
           "takes 3 * x for the derivative of x ** 3", cause="gradcheck"),
    Answer("cube_saves_output", "Cube", cube("y = x ** 3; ctx.save_for_backward(y); return y",
                                             "return grad_output * 3 * ctx.saved_tensors[0] ** 2"),
           "saves forward's output, not its input", cause="gradcheck"),
    Answer("cube_ctx_attribute", "Cube", cube("ctx.x = x; return x ** 3", "return grad_output * 3 * ctx.x ** 2"),
           "keeps x as an attribute of ctx", cause="save_for_backward"),
    Answer("cube_saves_detached", "Cube", cube("ctx.save_for_backward(x.detach()); return x ** 3",
                                               "return grad_output * 3 * ctx.saved_tensors[0] ** 2"),
           "saves a detached copy of x, so backward cannot be differentiated", cause="not connected to a leaf"),
)
MANUAL: tuple = ()
BROKEN: tuple = ()
