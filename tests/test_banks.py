"""The answer banks are well formed, and each WRONG answer behaves differently from the reference."""

import contextlib
import io
import json
import math
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sample import (  # noqa: E402  # noqa: E402  # noqa: E402
    ASSIGNMENT,
    AUTOGRADED,
    BROKEN,
    CORRECT,
    EXPLAIN_BUG,
    QUESTIONS,
    WRONG,
    Answer,
    correct_for,
    reference,
    solved,
    with_answers,
    with_extra_cell,
    write_submission,
    wrong_for,
)

from grader.runtime import calls_any, function_uses, loop_uses  # noqa: E402
from grader.worker.session import definition_source  # noqa: E402

QUESTION_IDS = [q.id for q in QUESTIONS]


def by_name(answers):
    return pytest.mark.parametrize("ans", answers, ids=[a.name for a in answers])


# ------------------------------------------------------------------ shape of the banks
def test_names_are_unique():
    """Can every answer be named on its own in a pytest id?"""
    names = [a.name for a in (*CORRECT, EXPLAIN_BUG, *WRONG)]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_every_answer_targets_a_known_question():
    """Does every answer name a question of the assignment?"""
    assert {a.question for a in (*CORRECT, EXPLAIN_BUG, *WRONG)} <= set(QUESTION_IDS)


@pytest.mark.parametrize("qid", [q.id for q in AUTOGRADED])
def test_every_autograded_question_has_two_correct_and_two_wrong(qid):
    """Is every autograded question covered by at least two honest styles and two misconceptions?"""
    assert len(correct_for(qid)) >= 2
    assert len(wrong_for(qid)) >= 2
    assert reference(qid) is correct_for(qid)[0]


def test_at_least_thirty_wrong_answers():
    """Does the WRONG bank hold at least 30 misconceptions?"""
    assert len(WRONG) >= 30


def test_manual_question_is_answered_in_markdown_only():
    """Is explain_bug kept out of the code banks, with its own markdown answer?"""
    assert all(a.question != "explain_bug" for a in (*CORRECT, *WRONG))
    assert EXPLAIN_BUG.question == "explain_bug" and "grad_output" in EXPLAIN_BUG.source


@by_name((*CORRECT, *WRONG))
def test_source_compiles_and_has_a_note(ans: Answer):
    """Is every answer valid Python with a note that says what it is?"""
    compile(ans.source, ans.name, "exec")
    assert ans.note.strip() and ans.source.endswith("\n")


# ------------------------------------------------------------------ quick behaviour
def _norm(value):
    """Plain, comparable data for a value an answer produced."""
    if isinstance(value, torch.Tensor):
        kind = "float" if value.is_floating_point() else str(value.dtype)
        data = value.detach().reshape(-1).tolist()
        return ("tensor", kind, tuple(value.shape), value.requires_grad, tuple(data))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((k, _norm(v)) for k, v in value.items())))
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, tuple(_norm(v) for v in value))
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return ("number", float(value))
    return ("other", type(value).__name__)


def _attempt(thunk, read: bool = True):
    try:
        value = thunk()
        return _norm(value) if read else value
    except Exception as e:  # a raised exception is an observation too
        return ("raised", type(e).__name__)


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-6)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _observe_grad_at(ns):
    g = ns["grad_at"]
    cube = lambda x: x**3  # noqa: E731
    returned = [
        _attempt(lambda: g(lambda x: x**2, 3), read=False),
        _attempt(lambda: g(torch.sin, 0.7), read=False),
        _attempt(lambda: g(torch.relu, 0.0), read=False),
        _attempt(lambda: g(cube, 1.5), read=False),
        _attempt(lambda: g(cube, 1.5), read=False),
        _attempt(lambda: g(torch.exp, -0.3), read=False),
    ]
    # read once every call has run: an answer that later calls change shows as changed
    return [value if isinstance(value, tuple) and value[:1] == ("raised",) else _norm(value) for value in returned]


def _observe_attributes(ns):
    return [_attempt(lambda: ns["ATTRIBUTES"])]


def _observe_grid(ns):
    out = []
    for f in (lambda t: t**3, torch.sin):
        x = torch.linspace(-2, 2, 5)
        out += [_attempt(lambda f=f, x=x: ns["derivative_on_grid"](f, x)), _norm(x), x.grad is None]
    return out


def _observe_plot(ns):
    return [_plot_summary(ns, lambda t: t**2),
            _plot_summary(ns, lambda t: 3 * t.detach() + t - t.detach())]  # a slope only autograd gives


def _plot_summary(ns, f):
    def summary():
        fig = ns["plot_function_and_derivative"](f, -1.0, 2.0, 4)
        assert isinstance(fig, Figure)
        return [
            (
                ax.get_xlabel(),
                None if ax.get_legend() is None else sorted(t.get_text() for t in ax.get_legend().get_texts()),
                sorted(
                    (ln.get_label(), tuple(map(float, ln.get_xdata())), tuple(map(float, ln.get_ydata())))
                    for ln in ax.get_lines()
                ),
            )
            for ax in fig.axes
        ]

    try:
        return _attempt(summary)
    finally:
        plt.close("all")


def _observe_partials(ns):
    p = ns["partial_derivatives"]
    return [
        _attempt(lambda: p(lambda u, v: u**2 * v + 3 * v, 1.5, -2.0)),
        _attempt(lambda: p(lambda u, v: u * torch.sin(v), 2, 1)),
        _attempt(lambda: _first_after_second(p)),  # a pair later calls change
    ]


def _first_after_second(p):
    first = p(lambda u, v: u * v, 1.0, 2.0)
    p(lambda u, v: u * v, 3.0, 4.0)
    return first


def _observe_autograd_function(apply, x, upstream, *extra):
    def run():
        leaf = x.clone().requires_grad_()
        y = apply(leaf, *extra)
        untouched = bool(torch.equal(leaf.detach(), x))  # forward left its input as it was
        saved = [tuple(t.shape) for t in y.grad_fn.saved_tensors]  # a decoy saves the wrong shape
        given = upstream.clone()
        y.backward(given)
        return y, leaf.grad, saved, bool(torch.equal(given, upstream)), untouched  # grad_output left as it was

    return _attempt(run)


def _observe_sq(ns):
    sq = ns["SQ"].apply
    x = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    return [
        _observe_autograd_function(sq, x, torch.tensor([1.0, 3.0, -2.0], dtype=torch.float64)),
        _observe_autograd_function(sq, torch.tensor(3.0), torch.tensor(1.0)),
        _attempt(lambda: torch.autograd.gradgradcheck(sq, (x.clone().requires_grad_(),))),
    ]


def _observe_mulconstant(ns):
    mc = ns["MulConstant"].apply
    x = torch.tensor([1.0, -2.0], dtype=torch.float64)
    return [
        _observe_autograd_function(mc, x, torch.tensor([1.0, 3.0], dtype=torch.float64), 2.5),
        _observe_autograd_function(mc, x, torch.tensor([-1.0, 0.5], dtype=torch.float64), 3),
    ]


def _observe_leaves(ns):
    grads = ns["leaf_and_intermediate_grads"]
    return [
        _attempt(lambda: ns["LEAF_PREDICTIONS"]),
        _attempt(lambda: grads(1.5)),
        _attempt(lambda: grads(2)),
    ]


OBSERVE = {
    "grad_at": _observe_grad_at,
    "attributes": _observe_attributes,
    "derivative_on_grid": _observe_grid,
    "plot_function_and_derivative": _observe_plot,
    "partial_derivatives": _observe_partials,
    "SQ": _observe_sq,
    "MulConstant": _observe_mulconstant,
    "leaves": _observe_leaves,
}


def observe(ans: Answer):
    """What an answer does on a few fixed inputs, executed in a plain namespace, and what the
    judge's parse of it costs."""
    ns = {"torch": torch, "plt": plt, "__name__": "__main__"}
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            exec(compile(ans.source, ans.name, "exec"), ns)
        except Exception as e:
            return [("cell raised", type(e).__name__)]
        return [*OBSERVE[ans.question](ns), _as_written(ans)]


def _as_written(ans: Answer) -> tuple:
    """The structure the question's checks read in the source (a function that never reaches
    autograd, a backward pass per item), as the judge reads each definition."""
    checks = ASSIGNMENT.visible_checks(ans.question)
    facts = []
    for name in ASSIGNMENT.question(ans.question).answers:
        def lookup(wanted):
            return definition_source([ans.source], wanted)
        if hasattr(checks, "AUTOGRAD"):
            facts.append(function_uses(lookup, name, checks.AUTOGRAD) is False)
        if hasattr(checks, "PER_POINT"):
            facts.append(bool(loop_uses(lookup, name, checks.PER_POINT, getattr(checks, "PER_POINT_CALLS", ()))))
        if hasattr(checks, "whole_jacobian"):
            facts.append(checks.whole_jacobian(lookup))
        elif hasattr(checks, "WHOLE_JACOBIAN"):
            facts.append(bool(calls_any(lookup, name, checks.WHOLE_JACOBIAN)))
    return ("as written", tuple(facts))


def test_observations_cover_every_autograded_question():
    """Does the quick harness know every autograded question?"""
    assert set(OBSERVE) == {q.id for q in AUTOGRADED}


@by_name(CORRECT)
def test_correct_answer_behaves_like_the_reference(ans: Answer):
    """Does every honest style give the reference's results (up to float precision)?"""
    expected = observe(reference(ans.question))
    assert not any(o and o[0] == "raised" for o in expected if isinstance(o, tuple))
    assert _same(tuple(observe(ans)), tuple(expected))


@by_name(WRONG)
def test_wrong_answer_behaves_differently(ans: Answer):
    """Does every misconception show up on a few quick inputs?"""
    assert not _same(tuple(observe(ans)), tuple(observe(reference(ans.question))))


# ------------------------------------------------------------------ broken files
def _mini_release() -> bytes:
    """A stand-in for the release notebook: an import cell, then a solution and a test cell per question."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("import torch\nimport matplotlib.pyplot as plt\n"))
    for q in QUESTIONS:
        meta = {"grade": q.manual, "grade_id": q.id, "locked": False, "schema_version": 3, "solution": True}
        if q.manual:
            nb.cells.append(nbformat.v4.new_markdown_cell("YOUR ANSWER HERE", metadata={"nbgrader": meta}))
            continue
        nb.cells.append(nbformat.v4.new_code_cell("# YOUR CODE HERE\n", metadata={"nbgrader": meta}))
        test = {"grade": True, "grade_id": q.test_cell_id, "locked": True, "points": q.points, "schema_version": 3, "solution": False}
        nb.cells.append(nbformat.v4.new_code_cell(f"check({q.id!r})\n", metadata={"nbgrader": test}))
    return nbformat.writes(nb).encode()


def test_broken_names_are_unique():
    """Can every broken file be named on its own?"""
    names = [b.name for b in BROKEN]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("broken", BROKEN, ids=[b.name for b in BROKEN])
def test_broken_file_builds_and_differs(broken):
    """Does every broken-file builder give bytes different from the notebook it started from?"""
    release = _mini_release()
    data = broken.build(release)
    assert isinstance(data, bytes) and data != release and broken.expected.strip()


def test_broken_notebook_edits_hit_their_cells():
    """Do the structural edits change exactly what their names say?"""
    release = _mini_release()
    build = {b.name: b.build for b in BROKEN}
    ids = lambda name: [c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in json.loads(build[name](release))["cells"]]  # noqa: E731
    assert "grad_at" not in ids("grad_at_cell_deleted")
    assert "test_grad_at" not in ids("test_cell_deleted")
    assert ids("solution_after_test").index("grad_at") == ids("solution_after_test").index("test_grad_at") + 1
    assert json.loads(build["zero_cells"](release))["cells"] == []
    assert isinstance(json.loads(build["json_list"](release)), list)
    assert json.loads(build["nbformat3"](release))["nbformat"] == 3


# ------------------------------------------------------------------ scenario builders
def test_with_answers_rejects_an_unknown_question():
    """Does a typo in a question id fail loudly?"""
    nb = nbformat.reads(_mini_release().decode(), as_version=4)
    with pytest.raises(KeyError, match="grad_att"):
        with_answers(nb, {"grad_att": "pass\n"})


def test_solved_fills_every_question_and_leaves_the_original():
    """Does solved() answer every question in a copy?"""
    nb = nbformat.reads(_mini_release().decode(), as_version=4)
    out = solved(nb)
    sources = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in out.cells}
    assert all(sources[q.id] == reference(q.id).source for q in QUESTIONS)
    assert "YOUR CODE HERE" in nb.cells[1].source


def test_with_extra_cell_and_write_submission(tmp_path):
    """Does an extra cell land after its anchor, and a submission where nbgrader looks for it?"""
    nb = nbformat.reads(_mini_release().decode(), as_version=4)
    out = with_extra_cell(nb, "print('hi')\n", after="grad_at")
    assert out.cells[2].source == "print('hi')\n" and len(out.cells) == len(nb.cells) + 1
    path = write_submission(tmp_path, "alice", out)
    assert path == tmp_path / "submitted" / "alice" / "derivatives" / "derivatives.ipynb"
    assert (path.parent / "timestamp.txt").read_text().endswith("UTC")
    with pytest.raises(ValueError):
        write_submission(tmp_path, "../bob", b"{}")
