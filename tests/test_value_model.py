"""What autograd exercises pass and read back through a real worker: gradients, leaves, Parameters, containers."""

from __future__ import annotations

import pytest
import torch

from grader.runtime import LocalSubject, TensorValue
from grader.runtime.subject import ProbeSubject
from grader.runtime.values import BadValue, decode, encode

pytestmark = pytest.mark.slow

ANSWERS = '''
import torch

def sgd_step(params, lr):
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad.zero_()

def sgd_step_forgets_zero(params, lr):
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad

def sgd_step_on_a_copy(params, lr):
    params = [p.detach() - lr * p.grad for p in params]

def step_named(state, lr):
    with torch.no_grad():
        state["w"] -= lr * state["w"].grad
    state["w"].grad = None

def what_arrived(p):
    return (type(p).__name__, p.requires_grad, p.is_leaf, p.grad)

def mse_gradients(w, x, y):
    loss = ((x * w - y) ** 2).mean()
    loss.backward()
    return loss.detach()
'''


class WorkerProbes(ProbeSubject):
    """Probes sent to a real grading worker, as the judge sends them."""

    def __init__(self, worker):
        self.worker = worker

    def exchange(self, request: dict) -> dict:
        return self.worker.probe(request, timeout=60)


@pytest.fixture(scope="module")
def worker(grader):
    """A worker of the sample assignment's judge, holding ANSWERS."""
    started = grader.parent.start_worker()
    report = started.run_cell(0, ANSWERS, timeout=60, is_python=True)
    assert report.status == "ok", report
    yield started
    started.close()


@pytest.fixture(params=["worker", "local"])
def subject(request, worker):
    """The same probes through a worker and in this process (LocalSubject): both must agree."""
    if request.param == "worker":
        return WorkerProbes(worker)
    namespace: dict = {}
    exec(compile(ANSWERS, "<answers>", "exec"), namespace)
    return LocalSubject(namespace)


def _parameters() -> list[torch.nn.Parameter]:
    params = [torch.nn.Parameter(torch.tensor([1.0, 2.0])), torch.nn.Parameter(torch.tensor(3.0))]
    params[0].grad, params[1].grad = torch.tensor([0.5, -1.0]), torch.tensor(2.0)
    return params


def test_a_parameter_arrives_as_a_parameter_with_its_gradient(subject):
    """Does a Parameter holding a .grad reach student code as a requires_grad leaf Parameter with that .grad?"""
    [p] = _parameters()[:1]
    kind, requires_grad, is_leaf, grad = subject.call("what_arrived", p).result
    assert (kind, requires_grad, is_leaf) == ("Parameter", True, True)
    assert isinstance(grad, TensorValue) and torch.equal(grad.tensor, torch.tensor([0.5, -1.0]))


def test_an_in_place_sgd_step_on_a_list_is_read_back_with_its_zeroed_gradients(subject):
    """After sgd_step(params, lr) on a list of Parameters, does the check read each one updated in
    place under torch.no_grad(), still a Parameter, with its .grad zeroed?"""
    after = subject.call("sgd_step", _parameters(), 0.1).args_after
    assert [tuple(a.shape) for a in after] == [(2,), ()]
    assert torch.allclose(after[0].tensor, torch.tensor([0.95, 2.1])) and torch.allclose(after[1].tensor,
                                                                                         torch.tensor(2.8))
    assert all(a.parameter and a.requires_grad and a.is_leaf for a in after)
    assert all(a.grad is not None and not a.grad.tensor.any() for a in after)


def test_a_step_that_forgets_to_zero_or_updates_a_copy_is_told_apart(subject):
    """Does a step that leaves .grad as it was, or that updates copies, show exactly that after the call?"""
    kept = subject.call("sgd_step_forgets_zero", _parameters(), 0.1).args_after
    assert torch.allclose(kept[0].tensor, torch.tensor([0.95, 2.1]))
    assert torch.equal(kept[0].grad.tensor, torch.tensor([0.5, -1.0])) and torch.equal(kept[1].grad.tensor,
                                                                                       torch.tensor(2.0))
    copied = subject.call("sgd_step_on_a_copy", tuple(_parameters()), 0.1).args_after
    assert torch.equal(copied[0].tensor, torch.tensor([1.0, 2.0])) and torch.equal(copied[1].tensor,
                                                                                   torch.tensor(3.0))


def test_tensors_in_a_dict_are_read_back(subject):
    """Does an in-place update of a dict's tensor, and the .grad it set to None, come back?"""
    w = torch.tensor([1.0, -1.0], requires_grad=True)
    w.grad = torch.tensor([2.0, 2.0])
    [after] = subject.call("step_named", {"w": w}, 0.5).args_after
    assert torch.equal(after.tensor, torch.tensor([0.0, -2.0])) and after.grad is None and not after.parameter


def test_gradients_of_a_loss_land_on_the_callers_leaves(subject):
    """Does a requires_grad leaf passed in come back holding the gradient the student's backward() left?"""
    w = torch.tensor(2.0, requires_grad=True)
    x, y = torch.tensor([1.0, 2.0]), torch.tensor([1.0, 1.0])
    reply = subject.call("mse_gradients", w, x, y)
    w_after, x_after, _ = reply.args_after
    assert torch.allclose(w_after.grad.tensor, torch.tensor(7.0))  # d/dw mean((xw - y)^2) = mean(2x(xw - y))
    assert x_after.grad is None and reply.grads_left == (True, False, False)


@pytest.mark.parametrize("change", [
    lambda wire: wire.update(grad={"kind": "number", "value": 1}),
    lambda wire: wire.update(grad=encode(torch.zeros(3))),
    lambda wire: wire.update(grad={**encode(torch.zeros(2)), "grad": encode(torch.zeros(2))}),
    lambda wire: wire.update(parameter="yes"),
], ids=["grad-not-a-tensor", "grad-of-another-shape", "grad-holding-a-grad", "parameter-not-true"])
def test_a_reply_with_a_malformed_gradient_is_refused(change):
    """Is a tensor on the wire whose .grad is not a tensor of its shape (or holds a grad of its own) refused?"""
    wire = encode(torch.zeros(2))
    change(wire)
    with pytest.raises(BadValue):
        decode(wire)


def test_a_result_that_is_no_leaf_is_read_without_its_gradient_or_a_warning():
    """Is a tensor computed from a leaf read without .grad and without the warning reading its .grad
    gives (a warning writes into the encoder's module, which the worker watches as its machinery)?"""
    import warnings

    leaf = torch.ones(2, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = decode(encode(leaf * 2))
    assert value.grad is None and not value.is_leaf and value.grad_fn == "MulBackward0"
