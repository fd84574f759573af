"""Questions graded against the notebook's own solution: the cases in `hidden/<q>.py`, the solution run by the kit.

A compared question has no `checks/<q>.py`. Its `hidden/<q>.py` (instructor-only) declares
`VISIBLE` (the calls a student's test cell makes) and `HIDDEN(rng)` (the grading-time calls);
optionally `ANSWER` (the name called, by default the question's first answer), `CONCEPT`,
`PARTS`, `diagnose(call, got, expected)`, and its bank answers `WRONG` (whole cells, or
`Mistake`s: edits of the solution cell) and `CORRECT` (by default the solution cell itself). An
answer that is an autograd Function is applied at each case's inputs and backpropagated, and may
declare `GRADCHECK` ("gradcheck", "gradgradcheck"). The solution cell runs in the kit's own process
(the judge's, or the release step's), never in a worker: the release ships the visible cases
with the solution's replies as `checks/<q>.json` (data, not code), and the judge compares the
worker's replies with the solution's at every case.
"""

from __future__ import annotations

import ast
import json
import sys
from functools import cache
from pathlib import Path

__all__ = ["is_compared", "compared_checks", "shipped_cases", "write_shipped_cases", "hidden_inputs_shown",
           "shipped_names", "solution_namespace", "bank_answers", "SHIPPED_SUFFIX"]

SHIPPED_SUFFIX = ".json"  # checks/<q>.json: a compared question's visible cases and the solution's replies


def is_compared(folder: Path, qid: str) -> bool:
    """Whether `qid` is compared with the solution: no visible check module, and a hidden one that
    declares VISIBLE or HIDDEN (read without importing it)."""
    if (folder / "checks" / f"{qid}.py").is_file():
        return False
    path = folder / "hidden" / f"{qid}.py"
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return False
    return bool(_declared(tree) & {"VISIBLE", "HIDDEN"})


def _declared(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.FunctionDef | ast.AnnAssign):
            names.add(node.name if isinstance(node, ast.FunctionDef) else getattr(node.target, "id", ""))
    return names


def solution_namespace(assignment) -> dict:
    """The notebook's import cell and every autograded answer cell, run here, in a namespace of their own."""
    return _solution_namespace(assignment.notebook_path, assignment.notebook_path.stat().st_mtime_ns)


@cache
def _solution_namespace(path: Path, _mtime: int) -> dict:
    from grader.ipynb import read_ipynb

    nb = read_ipynb(path)
    namespace: dict = {"__name__": "__solution__"}
    code = [c for c in nb.cells if c.get("cell_type") == "code"]
    cells = code[:1] + [c for c in code[1:] if (c.metadata.get("nbgrader") or {}).get("solution")]
    # the import cell's `from checks import check_question` must not find a `checks` on this
    # process's path (a folder next to where it runs): the notebook's own fallback is taken instead
    saved = sys.modules.get("checks", _ABSENT)
    sys.modules["checks"] = None  # type: ignore[assignment]
    try:
        for cell in cells:
            source = "\n".join(ln for ln in cell.source.splitlines() if not ln.lstrip().startswith(("%", "!")))
            name = (cell.metadata.get("nbgrader") or {}).get("grade_id", "setup")
            exec(compile(source, f"<{path.name}: {name}>", "exec"), namespace)  # the instructor's own, trusted code
    finally:
        if saved is _ABSENT:
            del sys.modules["checks"]
        else:
            sys.modules["checks"] = saved
    return namespace


_ABSENT = object()


def _declaration(assignment, qid: str):
    return assignment.module(f"hidden.{qid}")


def _parts(declaration) -> tuple:
    from grader.runtime.points import Part

    return tuple(getattr(declaration, "PARTS", ())) or (Part("", "the whole question"),)


def compared_checks(assignment, qid: str):
    """The ComparedChecks of `qid`, each case's expected reply the solution's, computed here."""
    from grader.runtime import CallResult, LocalSubject
    from grader.runtime.compared import ComparedChecks, cases_by_part, function_reply

    declaration = _declaration(assignment, qid)
    parts = _parts(declaration)
    answer = getattr(declaration, "ANSWER", None) or assignment.question(qid).answers[0]
    namespace = solution_namespace(assignment)
    reference = LocalSubject(namespace, assignment.functions)
    value = answer in namespace and not callable(namespace[answer])
    function = _is_function(namespace.get(answer))
    gradchecks = _gradchecks(declaration, function, f"hidden/{qid}.py")
    drawn = getattr(declaration, "HIDDEN", None)

    def expected(case):
        if function:
            return function_reply(reference, answer, case.args)
        return CallResult(reference.get(answer)) if value else reference.call(answer, *case.args, **case.kwargs)

    return ComparedChecks(
        answer, cases_by_part(getattr(declaration, "VISIBLE", None), parts), expected,
        getattr(declaration, "CONCEPT", ""),
        (lambda rng: cases_by_part(drawn(rng), parts)) if callable(drawn) else None,
        getattr(declaration, "diagnose", None), tuple(getattr(declaration, "PARTS", ())), value, function, gradchecks)


def _is_function(target) -> bool:
    """Whether the solution's answer is an autograd Function (a class: applied, not called)."""
    from torch.autograd import Function

    return isinstance(target, type) and issubclass(target, Function)


def _gradchecks(declaration, function: bool, where: str) -> tuple[str, ...]:
    """The declaration's GRADCHECK, checked: names of GRADCHECKS, for a Function only."""
    from grader.assignment import AssignmentError
    from grader.runtime.compared import GRADCHECKS

    declared = getattr(declaration, "GRADCHECK", ())
    declared = (declared,) if isinstance(declared, str) else tuple(declared)
    if declared and not function:
        raise AssignmentError(f"{where}: GRADCHECK applies to an autograd Function; the answer is not one")
    unknown = [name for name in declared if name not in GRADCHECKS]
    if unknown:
        raise AssignmentError(f"{where}: GRADCHECK names {', '.join(map(repr, unknown))}; it may name "
                              f"{' and '.join(map(repr, GRADCHECKS))}")
    return declared


def shipped_cases(assignment, qid: str) -> dict:
    """What the release ships for `qid`: the visible calls on the wire, each with the solution's reply.

    A value answer (not callable) gets no shipped cases: its expected value would be the
    answer itself, pasteable into the answer cell."""
    from grader.runtime.compared import upstream_for
    from grader.runtime.probes import run_probe
    from grader.runtime.subject import make_request

    checks = compared_checks(assignment, qid)
    namespace = solution_namespace(assignment)
    if checks.value_answer and any(checks.visible_cases.values()):
        raise ValueError(f"hidden/{qid}.py: {checks.answer} is a value, not a function: a visible case would "
                         "ship the answer itself; declare HIDDEN cases only")
    cases: dict[str, list] = {}
    for part, calls in checks.visible_cases.items():
        cases[part] = []
        for case in calls:
            if checks.function_answer:
                upstream = upstream_for(checks.expected(case).output)
                request = make_request("autograd_function", checks.answer, inputs=case.args, upstream=upstream)
                shipped = {"args": request["inputs"], "kwargs": {}, "upstream": request["upstream"]}
            else:
                request = make_request("call", checks.answer, args=case.args, kwargs=case.kwargs)
                shipped = {"args": request["args"], "kwargs": request["kwargs"]}
            reply = run_probe(namespace, json.loads(json.dumps(request)), assignment.functions)
            cases[part].append(shipped | {"reply": reply})
    parts = [{"name": p.name, "title": p.title} for p in checks.PARTS]
    function = {"function": True, "gradchecks": list(checks.gradchecks)} if checks.function_answer else {}
    return {"answer": checks.answer, "concept": checks.concept, "parts": parts, "cases": cases} | function


def write_shipped_cases(assignment, checks_folder: Path) -> list[Path]:
    """checks/<q>.json in a release's checks folder for each compared question; the files written."""
    written = []
    for q in assignment.autograded:
        if is_compared(assignment.folder, q.id):
            path = checks_folder / f"{q.id}{SHIPPED_SUFFIX}"
            path.write_text(json.dumps(shipped_cases(assignment, q.id), indent=1, sort_keys=True) + "\n")
            written.append(path)
    return written


def hidden_inputs_shown(assignment, release_checks: Path, draws: int = 3) -> list[str]:
    """`<q>: <call>` for each hidden case (drawn with a few rngs) whose arguments the release ships."""
    import random

    from grader.runtime.compared import call_text
    from grader.runtime.subject import make_request

    found = []
    for q in assignment.autograded:
        path = release_checks / f"{q.id}{SHIPPED_SUFFIX}"
        if not is_compared(assignment.folder, q.id) or not path.is_file():
            continue
        text = path.read_text()
        shipped = [json.dumps([c["args"], c["kwargs"]], sort_keys=True)
                   for cases in json.loads(text)["cases"].values() for c in cases]
        checks = compared_checks(assignment, q.id)
        for seed in range(draws):
            for calls in (checks.hidden_cases(random.Random(seed)) if checks.hidden_cases else {}).values():
                for case in calls:
                    wire = make_request("call", checks.answer, args=case.args, kwargs=case.kwargs)
                    if json.dumps([wire["args"], wire["kwargs"]], sort_keys=True) in shipped:
                        found.append(f"{q.id}: {call_text(checks.answer, case.args, case.kwargs)}")
    return sorted(set(found))


def bank_answers(assignment, qid: str) -> tuple[tuple, tuple]:
    """A compared question's bank answers, declared beside its cases: its CORRECT (by default the
    notebook's own solution cell) and its WRONG."""
    from grader.assignment import AssignmentError
    from grader.banks import Answer, Mistake
    from grader.ipynb import read_ipynb

    declaration = _declaration(assignment, qid)
    [cell] = [c for c in read_ipynb(assignment.notebook_path).cells
              if (c.metadata.get("nbgrader") or {}).get("grade_id") == qid]
    correct = tuple(getattr(declaration, "CORRECT", ())) or (
        Answer(f"{qid}_solution", qid, cell.source, "the notebook's solution"),)
    where = str(assignment.folder / "hidden" / f"{qid}.py")
    try:
        wrong = tuple(a.answer(qid, cell.source, where) if isinstance(a, Mistake) else a
                      for a in getattr(declaration, "WRONG", ()))
    except ValueError as exc:
        raise AssignmentError(str(exc)) from None
    return correct, wrong


def shipped_names(assignment) -> set[str]:
    """The file names the release step adds to checks/ (relative to the release folder)."""
    return {f"checks/{q.id}{SHIPPED_SUFFIX}" for q in assignment.autograded if is_compared(assignment.folder, q.id)}
