"""run_question's statuses, the probes in a hostile namespace, seed_rng, and the notebook entry points."""

import random
import subprocess
import sys
import textwrap

import pytest
import torch
from sample import CHECKS, TUTORIAL_SQ, check_visible, local_subject, run_question
from test_checks import CORRECT, HEADER, MISCONCEPTIONS, namespace_with

from grader.judge.checks import seed_rng
from grader.notebook import check as grading_check
from grader.runtime.probes import run_probe
from grader.runtime.subject import ProbeFailed, ProbeSubject
from grader.runtime.values import encode

ANSWERS = {f"{q}-{name}": answer for q, name, answer, _ in MISCONCEPTIONS}


def _run(qid: str, answer: str) -> object:
    namespace, source = namespace_with(qid, answer)
    return run_question(qid, local_subject(namespace, lambda name: source), random.Random(0))


def test_undefined_answers_are_missing():
    """Is every question 'missing' (not failed or crashed) for an empty notebook?"""
    subject = local_subject({})
    assert {q: run_question(q, subject, random.Random(0)).status for q in CHECKS} == \
        dict.fromkeys(CHECKS, "missing")


class Raising(ProbeSubject):
    """A subject whose probes fail the way a worker can."""

    def __init__(self, error: BaseException | None = None, reply: object = None):
        self.error, self.reply = error, reply

    def exchange(self, request):
        if self.error is not None:
            raise self.error
        return self.reply


@pytest.mark.parametrize(("subject", "status"), [
    pytest.param(Raising(ProbeFailed("timeout", "worker timed out")), "timeout", id="timeout"),
    pytest.param(Raising(ProbeFailed("error", "worker died")), "error", id="worker-died"),
    pytest.param(Raising(reply={"error": "no such name"}), "error", id="error-reply"),
    pytest.param(Raising(reply={"result": {"kind": "tensor"}}), "failed", id="malformed-reply"),
    pytest.param(Raising(reply=["not", "a", "dict"]), "failed", id="reply-not-an-object"),
    pytest.param(Raising(ZeroDivisionError("judge bug")), "error", id="unexpected-exception"),
])
def test_probe_failures_become_statuses(subject, status):
    """Do dead workers, error replies, malformed replies and grader bugs become verdicts, not crashes?"""
    verdict = run_question("grad_at", subject, random.Random(0))
    assert verdict.status == status, verdict
    assert verdict.messages and all(isinstance(m, str) for m in verdict.messages)


def test_internal_error_message_is_student_safe():
    """Does an unexpected exception inside a check become an error naming its kind, without the
    judge's traceback, paths or source lines in the student's message?"""
    verdict = run_question("grad_at", Raising(ZeroDivisionError("judge bug")), random.Random(0))
    assert verdict.status == "error" and "ZeroDivisionError" in verdict.messages[0]
    assert "Traceback" not in verdict.messages[0] and ".py" not in verdict.messages[0]


@pytest.mark.parametrize("statement", ["sys.exit(3)", "raise KeyboardInterrupt", "raise SystemExit"])
def test_student_exits_and_interrupts_are_contained(statement):
    """Does sys.exit() or KeyboardInterrupt inside an answer fail that question without stopping grading?"""
    answer = f"""
        def grad_at(f, x0):
            {statement}
    """
    verdict = _run("grad_at", answer)
    assert verdict.status == "failed" and "raised" in verdict.messages[0], verdict


def test_spoofing_tensor_subclass_is_judged_on_its_data():
    """Does a tensor subclass whose __eq__ and __bool__ always say True still fail a wrong answer?"""
    answer = """
        class Always(torch.Tensor):
            def __eq__(self, other):
                return True
            def __bool__(self):
                return True
            @classmethod
            def __torch_function__(cls, func, types, args=(), kwargs=None):
                return True

        def grad_at(f, x0):
            return torch.Tensor._make_subclass(Always, torch.tensor(-1.0))
    """
    verdict = _run("grad_at", answer)
    assert verdict.status == "failed" and "got -1" in verdict.messages[0], verdict


def test_object_equal_to_everything_fails():
    """Does an object whose __eq__ says True fail instead of passing a comparison?"""
    answer = """
        class Yes:
            def __eq__(self, other):
                return True
        def partial_derivatives(f, u0, v0):
            return Yes()
    """
    verdict = _run("partial_derivatives", answer)
    assert verdict.status == "failed" and "Yes object" in verdict.messages[0], verdict


def test_rebinding_autograd_grad_does_not_fool_the_sq_probe(monkeypatch):
    """Does the SQ probe use the real torch.autograd.grad when the notebook rebinds it?"""
    real = torch.autograd.grad
    monkeypatch.setattr(torch.autograd, "grad", real)  # restored after the test
    answer = ANSWERS["SQ-ignores_grad_output"] + textwrap.indent(textwrap.dedent("""
        torch.autograd.grad = lambda outputs, inputs, grad_outputs=None, **kw: tuple(
            2 * g * i for g, i in zip(grad_outputs, inputs))
    """), " " * 8)
    namespace, source = namespace_with("SQ", answer)
    assert torch.autograd.grad is not real  # the notebook's fake is live while grading
    verdict = run_question("SQ", local_subject(namespace, lambda name: source), random.Random(0))
    assert verdict.status == "failed" and "ignores grad_output" in verdict.messages[0], verdict


def test_figures_are_closed_after_a_probe():
    """Are the student's figures closed once described, so memory stays flat?"""
    import matplotlib.pyplot as plt

    namespace, _ = namespace_with()
    subject = local_subject(namespace)
    for _ in range(5):
        run_question("plot_function_and_derivative", subject, random.Random(0), hidden=False)
    assert plt.get_fignums() == []


BAD_REQUESTS = {
    "not_a_dict": ["call"],
    "unknown_op": {"op": "exec", "name": "grad_at"},
    "name_not_a_string": {"op": "get", "name": 3},
    "unknown_function": {"op": "call", "name": "grad_at", "args": [{"kind": "fn", "name": "os.system"}],
                         "kwargs": {}},
    "raised_as_argument": {"op": "call", "name": "grad_at", "kwargs": {},
                           "args": [{"kind": "raised", "type": "E", "message": ""}]},
    "undefined_class": {"op": "describe_class", "name": "Nope"},
}


@pytest.mark.parametrize("request_", BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
def test_bad_requests_get_error_replies(request_):
    """Does run_probe answer a bad request with {"error": ...} instead of raising?"""
    namespace, _ = namespace_with()
    reply = run_probe(namespace, request_)
    assert set(reply) == {"error"} and isinstance(reply["error"], str)


def test_describe_class_reports_the_students_staticmethods():
    """Does describe_class tell torch's inherited setup_context apart from the student's own?"""
    namespace, _ = namespace_with()
    reply = run_probe(namespace, {"op": "describe_class", "name": "SQ"})
    assert reply == {"is_autograd_function": True,
                     "staticmethods": {"forward": True, "backward": True, "setup_context": False}}


def test_call_on_an_undefined_name_is_missing():
    """Is calling an undefined answer a 'missing' result rather than an exception?"""
    reply = run_probe({}, {"op": "call", "name": "grad_at", "args": [encode(1.0)], "kwargs": {}})
    assert reply == {"result": {"kind": "missing"}, "args_after": [], "grads_left": []}


def test_seed_rng_depends_on_secret_student_and_question():
    """Is the grading-time rng reproducible, yet different per secret, student and question?"""
    def draw(*key):
        return seed_rng(*key).random()

    base = draw(b"s", "alice", "grad_at")
    assert base == draw(b"s", "alice", "grad_at")
    assert draw(b"s", "alice", "grad_at", "file-1") == draw(b"s", "alice", "grad_at", "file-1")
    assert len({base, draw(b"t", "alice", "grad_at"), draw(b"s", "bob", "grad_at"),
                draw(b"s", "alice", "SQ"), draw(b"s", "alice", "grad_at", "file-1"),
                draw(b"s", "alice", "grad_at", "file-2")}) == 6


def test_checks_refuse_python_dash_o():
    """Does importing the check runtime under python -O stop with a clear RuntimeError?"""
    done = subprocess.run([sys.executable, "-O", "-c", "import grader.runtime"],
                          capture_output=True, text=True)
    assert done.returncode != 0 and "python -O" in done.stderr


def _notebook_namespace(qid: str | None = None, answer: str | None = None) -> dict:
    namespace, _ = namespace_with(qid, answer)
    return namespace


def test_check_visible_prints_passing_cases_and_nothing_on_stderr(capsys):
    """Does a passing visible test cell print one line per case and write nothing to stderr?"""
    check_visible("grad_at", _notebook_namespace("grad_at", """
        def grad_at(f, x0):
            import warnings
            warnings.warn("noisy")
            print("side note", file=sys.stderr)
            x = torch.tensor(float(x0), requires_grad=True)
            f(x).backward()
            return x.grad
    """))
    out, err = capsys.readouterr()
    assert out == ("ok: grad_at(lambda x: x**3, 2) = 12\nok: grad_at(lambda x: x**2, -1.5) = -3\n"
                   "ok: grad_at(lambda x: torch.relu(x), 0.0) = 0\n") and err == ""


def test_check_visible_raises_the_student_message():
    """Does a failing visible case raise AssertionError with the student's message (nbgrader marks it failed)?"""
    with pytest.raises(AssertionError, match=r"\.mean\(\)"):
        check_visible("derivative_on_grid",
                      _notebook_namespace("derivative_on_grid", ANSWERS["derivative_on_grid-mean_instead_of_sum"]))


@pytest.fixture
def in_autograded_folder(course, monkeypatch):
    """The working directory nbgrader gives a kernel at autograde time: autograded/<student>/<assignment>/."""
    folder = course.root / "autograded" / "ada" / course.assignment
    folder.mkdir(parents=True)
    monkeypatch.chdir(folder)
    return course


def test_grading_time_check_passes_correct_answers(in_autograded_folder, capsys):
    """Does the hidden region's check give full marks (no value) to the reference answers?"""
    for qid in CHECKS:
        assert grading_check(qid, _notebook_namespace()) is None
    out, err = capsys.readouterr()
    assert err == "" and out.count("passed its visible and hidden tests") == len(CHECKS)
    assert (in_autograded_folder.root / ".grader-secret").is_file()  # the course's secret, not a default


def test_grading_time_check_catches_accumulation(in_autograded_folder):
    """Does the grading-time check fail a grad_at that accumulates across calls, as its visible check does?"""
    namespace = _notebook_namespace("grad_at", ANSWERS["grad_at-module_level_leaf_accumulates"])
    with pytest.raises(AssertionError, match="accumulate"):
        check_visible("grad_at", namespace)
    with pytest.raises(AssertionError, match="accumulate"):
        grading_check("grad_at", namespace)


def test_grading_time_check_returns_partial_credit(in_autograded_folder, capsys):
    """Does the tutorial's SQ (backward ignores grad_output) earn some of SQ's points in a kernel, not all?"""
    namespace = _notebook_namespace("SQ", TUTORIAL_SQ)
    earned = grading_check("SQ", namespace)
    assert earned is not None and 0 < earned < in_autograded_folder.spec.question("SQ").points
    assert "ignores grad_output" in capsys.readouterr().out


def test_grading_time_check_outside_a_course_says_so(tmp_path, monkeypatch):
    """Does the grading-time check refuse, in one line, a kernel that is not inside a course?"""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(Exception, match="not inside an nbgrader course"):
        grading_check("grad_at", _notebook_namespace())


def test_header_and_correct_answers_are_importable():
    """Is the answer bank itself valid Python (guards the other tests)?"""
    compile(HEADER + "\n".join(textwrap.dedent(a) for a in CORRECT.values()), "<bank>", "exec")


def test_parts_that_fail_for_one_reason_say_it_once():
    """Does a derivative_on_grid that returns a numpy array (both parts fail on its type) get the
    message once, while both parts are failed?"""
    namespace = {"torch": torch}
    exec("def derivative_on_grid(f, x):\n    x = x.detach().clone().requires_grad_()\n"
         "    f(x).sum().backward()\n    return x.grad.numpy()\n", namespace)
    verdict = run_question("derivative_on_grid", local_subject(namespace), random.Random(0))
    assert [p.status for p in verdict.parts] == ["failed", "failed"]
    assert len(verdict.messages) == 1 and "numpy array" in verdict.messages[0]


class _Counted(ProbeSubject):
    """Probes run in a namespace, each exchange counted."""

    def __init__(self, namespace: dict):
        self.namespace, self.sent = namespace, []

    def exchange(self, request: dict) -> dict:
        self.sent.append(request["op"])
        return run_probe(self.namespace, request)


def test_one_questions_checks_reuse_a_functions_reply_but_call_every_time():
    """The same Function applied to the same inputs, or the same class described, crosses to the
    worker once per subject (one question's checks); a call, whose answer may change from one call
    to the next, crosses every time."""
    namespace, _ = namespace_with()
    exec("def twice(x):\n    return 2 * x\n", namespace)
    subject = _Counted(namespace)
    x, upstream = torch.tensor([1.0, -2.0], requires_grad=True), torch.tensor([3.0, 0.5])
    first = subject.autograd_function("SQ", [x], upstream)
    again = subject.autograd_function("SQ", [x], upstream)
    other = subject.autograd_function("SQ", [x], torch.tensor([1.0, 1.0]))
    subject.describe_class("SQ"), subject.describe_class("SQ")
    subject.call("twice", 2.0), subject.call("twice", 2.0)
    assert subject.sent == ["autograd_function", "autograd_function", "describe_class", "call", "call"]
    assert again.grads[0].tensor is not first.grads[0].tensor  # decoded afresh: no check shares another's
    assert torch.equal(again.grads[0].tensor, first.grads[0].tensor)
    assert not torch.equal(other.grads[0].tensor, first.grads[0].tensor)
