"""From inside a grading worker: nothing instructor-only by import, by walking modules and objects, or on disk."""

from __future__ import annotations

import json

import pytest
from sample import ASSIGNMENT

pytestmark = pytest.mark.slow

ANSWER_NAMES = sorted({name for q in ASSIGNMENT.autograded for name in q.answers})
MODULES = ["grader.banks", "grader.assignment", "grader.judge.checks", "grader.notebook", "banks", "hidden",
           "checks", "grader.demo.simulate"]


def _run(worker, index: int, source: str) -> dict:
    report = worker.run_cell(index, source, timeout=60)
    assert report.status == "ok", report
    line = [ln for ln in report.output.splitlines() if ln.startswith("FOUND ")][-1]
    return json.loads(line[len("FOUND "):])


@pytest.fixture(scope="module")
def worker(grader):
    """A worker forked from the warm parent a judge of the sample assignment uses."""
    started = grader.parent.start_worker()
    yield started
    started.close()


def test_no_instructor_module_can_be_imported(worker):
    """Can student code import the kit's banks, checks or the assignment's hidden modules? (It must not.)"""
    found = _run(worker, 0, f"""
import importlib, json
imported = []
for name in {MODULES!r}:
    try:
        importlib.import_module(name)
        imported.append(name)
    except BaseException:
        pass
print("FOUND " + json.dumps(imported))
""")
    assert found == []


def test_no_answer_is_reachable_through_loaded_modules_or_objects(worker):
    """Walking sys.modules and every object the collector knows, is any answer, bank or check there?"""
    found = _run(worker, 1, f"""
import gc, json, sys, types
names = set({ANSWER_NAMES!r})
hits = []
gc.unfreeze()
for name, module in list(sys.modules.items()):
    where = str(getattr(module, "__file__", "") or "")
    if "_assignment_" in name or "banks" in name or "/hidden/" in where or "/banks/" in where:
        hits.append("module " + name)
    for attr in list(getattr(module, "__dict__", {{}})):
        if attr in names:
            hits.append(f"{{name}}.{{attr}}")
for obj in gc.get_objects():
    if isinstance(obj, (types.FunctionType, type)):
        code = getattr(obj, "__code__", None)
        source = code.co_filename if code is not None else ""
        if obj.__name__ in names or "/banks/" in source or "/hidden/" in source:
            hits.append("object " + obj.__qualname__ + " from " + source)
print("FOUND " + json.dumps(sorted(set(hits))))
""")
    assert found == []


def test_no_instructor_file_is_visible(worker):
    """Does the worker's filesystem show the assignment's folder, a course's notebooks, an assignment
    layout (checks/ beside banks/), the gradebook or the secret?"""
    found = _run(worker, 2, f"""
import json, os
seen = []
for top in [p for p in os.listdir("/") if p not in ("proc", "sys", "dev")]:
    for folder, dirs, files in os.walk("/" + top):
        library = "site-packages" in folder or "dist-packages" in folder
        if {{"checks", "banks"}} <= set(dirs) or folder.startswith({str(ASSIGNMENT.folder.parent)!r}):
            seen.append(folder)
        for name in files:
            if not library and (name in ("gradebook.db", ".grader-secret") or name.endswith(".ipynb")):
                seen.append(os.path.join(folder, name))
print("FOUND " + json.dumps(seen[:20]))
""")
    assert found == []


def test_no_visible_python_file_holds_a_reference_answer(worker):
    """Does any Python file the worker can read contain a line of a reference answer?"""
    needles = sorted({line.strip() for q in ASSIGNMENT.autograded
                      for line in ASSIGNMENT.banks.reference(q.id).source.splitlines()
                      if len(line.strip()) > 30 and not line.strip().startswith(("def ", "class ", '"""', "#"))})
    assert needles
    found = _run(worker, 3, f"""
import json, os, sys
needles = {needles!r}
hits = []
for top in {{p for p in sys.path if p and os.path.isdir(p)}}:
    for folder, dirs, files in os.walk(top):
        for name in files:
            if name.endswith(".py"):
                try:
                    text = open(os.path.join(folder, name), errors="replace").read()
                except OSError:
                    continue
                hits += [os.path.join(folder, name) for n in needles if n in text]
print("FOUND " + json.dumps(hits[:20]))
""")
    assert found == []
