"""A class drawn from the banks for measuring the look-alike section: honest students differ where
real students differ, and copiers take a classmate's notebook and change what copying changes cheaply.

Honest students pick each answer from the banks (a habit of style that usually holds across the
notebook, some of the known mistakes, now and then a blank), write the explanation in one of
WORDINGS or leave it blank, and add scratch cells and sometimes a helper of their own, built from
templates with their own functions and numbers (some the same for many: the visible example).

Copiers take one classmate's notebook and rename its variables and helpers, reformat it, reorder
independent statements and their scratch cells, reword or drop its comments and docstrings and,
for half of them, reword a few words of the explanation. Partial copiers take the answers to five
questions and the explanation, and do the rest as an honest student would.
"""

from __future__ import annotations

import ast
import copy
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from sample import BANKS, EXPLAIN_BUG, QUESTIONS

__all__ = ["SyntheticClass", "Student", "build_class", "write_class", "notebook_of", "copy_student", "disguise",
           "renames_for", "WORDINGS", "ANSWER_IDS"]

ANSWER_IDS = tuple(q.id for q in QUESTIONS if q.id != EXPLAIN_BUG.question)
WRITTEN_ID = EXPLAIN_BUG.question

# Explanations of the tutorial's SQ bug, each as a different student might write it.
WORDINGS = (
    EXPLAIN_BUG.source,
    "The backward of the tutorial throws away grad_output and just returns 2*i. By the chain rule the "
    "gradient that should flow back is the upstream gradient times the local derivative. When you call "
    "y.backward() the upstream gradient is 1 so nothing is lost, but with (3*y).backward() it is 3 and "
    "the result should be 6x, not 2x.\n",
    "Chain rule: dL/dx = dL/dy * dy/dx. In SQ.backward, grad_output *is* dL/dy (the upstream gradient), "
    "and the code overwrites it with 2*i, so it only returns dy/dx. For y.backward() dL/dy = 1, so the "
    "answer is still right. For 3*y, dL/dy = 3 and x.grad comes out 3 times too small.\n",
    "It works for y.backward() only by luck. backward is supposed to multiply the incoming (upstream) "
    "gradient by the derivative of the square, following the chain rule. The tutorial ignores the "
    "incoming gradient. If y is the final output that gradient is one, so multiplying by it would not "
    "change anything; once y is scaled by 3 it matters and the tutorial's gradient is wrong.\n",
    "Because `grad_output` is replaced instead of used. Autograd passes the upstream gradient into "
    "backward and expects grad_output * 2i back (chain rule). With y.backward() the upstream gradient "
    "equals 1. With (3 * y).backward() it equals 3, so the right x.grad is 6x but the tutorial gives 2x.\n",
    "The upstream gradient is what autograd hands to backward: the derivative of the loss with respect "
    "to SQ's output. The chain rule says to multiply it by d(i^2)/di = 2i. The tutorial forgets this "
    "multiplication. Backward from y itself starts from an upstream gradient of 1, which hides the bug; "
    "backward from 3*y starts from 3, which shows it.\n",
    "y.backward() seeds the graph with a gradient of 1, so returning 2*i happens to equal 1 * 2*i. "
    "(3*y).backward() seeds it so that SQ receives an upstream gradient of 3, and the chain rule needs "
    "3 * 2*i = 6*i. Since the tutorial's backward drops grad_output, it returns 2*i in both cases.\n",
    "In the tutorial backward returns the local gradient only. The chain rule needs the upstream gradient "
    "(grad_output) times the local gradient. For plain y.backward() the upstream gradient is 1 and the "
    "two agree. For (3*y).backward() they do not: x.grad should be 12 at x = 2 but the tutorial gives 4.\n",
    "I think the problem is that backward doesn't use grad_output at all. grad_output is the upstream "
    "gradient coming from whatever was computed after SQ, and the chain rule says you multiply by it. "
    "y.backward() sends 1 so it looks fine, but (3*y).backward() sends 3 and then the answer is off by "
    "a factor of 3.\n",
    "SQ.backward should compute dL/di. Applying the chain rule, dL/di = dL/dy * dy/di where dL/dy is the "
    "upstream gradient. With L = y, dL/dy = 1 and the tutorial's 2*i is correct. With L = 3*y, "
    "dL/dy = 3 and dL/di = 6*i; the tutorial still says 2*i because it never looks at grad_output.\n",
    "The tutorial's backward overwrites grad_output = 2 * i and returns that, which is only the "
    "derivative of i**2. It should return grad_output * 2 * i, the upstream gradient times the local "
    "derivative (chain rule). Calling backward on y directly means the upstream gradient is 1, which is "
    "why x.grad looks right there and wrong after multiplying by 3.\n",
    "When y is the thing we call backward on, the gradient arriving at SQ is 1 and multiplying by it "
    "changes nothing, so 2x is right. When we call it on 3y, the gradient arriving is 3 (upstream "
    "gradient), and by the chain rule x.grad should be 3 * 2x = 6x. The tutorial returns 2x anyway.\n",
    "Missing chain rule. The upstream gradient has to be multiplied in, and the tutorial's code discards "
    "it. Works for y.backward() (upstream gradient = 1), fails for (3*y).backward() (upstream gradient = 3).\n",
    "backward receives grad_output, the gradient of the final result with respect to the output of SQ. "
    "To get the gradient with respect to the input, the chain rule multiplies this upstream gradient by "
    "2i. The tutorial returns just 2i. That equals the correct value exactly when the upstream gradient "
    "is 1, that is when y itself is the result we differentiate, and not when it is 3*y.\n",
    "Autograd calls backward with the upstream gradient so that each operation can apply the chain rule "
    "locally. The tutorial's SQ does not multiply by it. For y.backward() the upstream gradient is a "
    "tensor of ones and the mistake is invisible; with a factor of 3 in front, x.grad is a third of "
    "what it should be.\n",
    "Its backward forgets to multiply by the upstream gradient (grad_output), which the chain rule "
    "requires. For y.backward() that gradient is 1 and so the output is correct anyway, but for "
    "(3 * y).backward() it is 3 and the returned gradient is 3x too small.\n",
)
PERSONAL = ("I checked this by running both versions in a scratch cell.", "This confused me at first.",
            "So the fix is to multiply by grad_output.", "The visible test only tries y.backward(), which is why it passes.",
            "Took me a while to see it.", "In other words the upstream gradient gets lost.",
            "The same thing would happen with any constant other than 1.", "It is basically the chain rule again.",
            "I printed x.grad in both cases to be sure.", "A second-order gradient would be wrong too.")
# What a copier changes in the explanation: a few words, never its sentences.
REWORDINGS = {"gradient": "derivative", "returns": "gives back", "tutorial": "tutorial code", "because": "since",
              "multiply": "scale", "correct": "right", "wrong": "incorrect", "only": "just", "so": "therefore"}
COMMENTS = ("# my solution", "# compute the gradient here", "# uses autograd", "# this took me a while",
            "# see the lecture notes", "# clean up later", "# works for the examples", "# checked by hand")
FUNCTIONS = ("lambda x: x ** 3", "torch.sin", "torch.exp", "lambda x: x ** 2 + 3 * x", "torch.tanh",
             "lambda x: 1 / (1 + x ** 2)", "lambda x: torch.sqrt(x)", "torch.cos", "lambda t: t * torch.exp(t)")
TWO_ARGUMENT = ("lambda u, v: u * v", "lambda u, v: u ** 2 * v", "lambda u, v: torch.sin(u) + v ** 3",
                "lambda a, b: a / b")


def _number(rng: random.Random) -> str:
    return f"{rng.choice([-3, -2, -1, 0, 1, 2, 3]) + rng.choice([0.0, 0.5, 0.25]):g}"


def _scratch(rng: random.Random) -> str:
    """A cell a student tries things in: some are what many try (the visible example), most their own."""
    f, a, b = rng.choice(FUNCTIONS), _number(rng), _number(rng)
    options = (
        lambda: "print(grad_at(lambda x: x ** 2, 2.0))\n",
        lambda: "print(ATTRIBUTES)\n",
        lambda: f"print(grad_at({f}, {a}))\n",
        lambda: f"xs = torch.linspace({a}, {a} + {rng.randint(1, 9)}, {rng.choice([5, 10, 11, 50])})\n"
                f"print(derivative_on_grid({f}, xs))\n",
        lambda: f"fig = plot_function_and_derivative({f}, {a}, {float(a) + rng.randint(2, 12)})\n"
                + rng.choice(["fig\n", "plt.show()\n", f"fig.savefig('plot{rng.randint(1, 99)}.png')\n"]),
        lambda: f"x = torch.tensor({a}, requires_grad=True)\ny = SQ.apply(x)\n({rng.randint(2, 9)} * y).backward()\n"
                "print(x.grad)\n",
        lambda: f"du, dv = partial_derivatives({rng.choice(TWO_ARGUMENT)}, {a}, {b})\nprint(du, dv)\n",
        lambda: f"x = torch.randn({rng.randint(2, 6)}, requires_grad=True)\n"
                f"MulConstant.apply(x, {b}).sum().backward()\nprint(x.grad)\n",
        lambda: "for expression, (leaf, grad) in LEAF_PREDICTIONS.items():\n"
                "    print(expression, leaf, grad)\n",
    )
    return rng.choice(options)()


def _helper(rng: random.Random) -> str:
    """A helper of the student's own, in one of several shapes with their own numbers."""
    tol = rng.choice(["1e-6", "1e-5", "1e-4", "0.001"])
    h = rng.choice(["1e-4", "1e-3", "0.01", "1e-5"])
    shapes = (
        lambda: f"def close(a, b, tol={tol}):\n    return abs(float(a) - float(b)) < tol\n",
        lambda: f"def close(a, b):\n    return torch.allclose(torch.as_tensor(a), torch.as_tensor(b), atol={tol})\n",
        lambda: f"def numeric_derivative(f, x0, h={h}):\n    x = torch.tensor(float(x0))\n"
                "    return (f(x + h) - f(x - h)) / (2 * h)\n",
        lambda: f"def compare(f, x0):\n    auto = grad_at(f, x0)\n    x = torch.tensor(float(x0))\n"
                f"    numeric = (f(x + {h}) - f(x)) / {h}\n    print(x0, auto.item(), numeric.item())\n",
        lambda: "def show(name, t):\n"
                + rng.choice(["    print(name, t.item(), t.requires_grad, t.grad_fn)\n",
                              "    print(f'{name}: data={t.data} grad={t.grad} leaf={t.is_leaf}')\n",
                              "    print(name, '->', t)\n"]),
        lambda: f"def check_many(points=({_number(rng)}, {_number(rng)}, {_number(rng)})):\n"
                f"    for p in points:\n        print(p, grad_at({rng.choice(FUNCTIONS)}, p))\n",
    )
    return rng.choice(shapes)()


@dataclass
class Student:
    id: str
    kind: str  # honest | copier | partial copier
    answers: dict[str, str] = field(default_factory=dict)  # question -> source ("" leaves the release's cell)
    written: str = ""
    extras: list[str] = field(default_factory=list)  # code cells of the student's own, in order
    choices: dict[str, str] = field(default_factory=dict)  # question -> bank answer name (honest picks)
    source: str | None = None  # whom a copier copied


@dataclass
class SyntheticClass:
    students: list[Student]

    @property
    def families(self) -> list[set[str]]:
        """Each source with everyone who copied from it."""
        families: dict[str, set[str]] = {}
        for s in self.students:
            if s.source:
                families.setdefault(s.source, {s.source}).add(s.id)
        return list(families.values())

    def copied_pairs(self) -> dict[tuple[str, str], str]:
        """Every pair within a family, and the kind of copy it involves."""
        kinds = {s.id: s.kind for s in self.students}
        pairs = {}
        for family in self.families:
            for a in family:
                for b in family:
                    if a < b:
                        pairs[a, b] = "partial" if "partial copier" in (kinds[a], kinds[b]) else "whole"
        return pairs

    def honest_pairs(self) -> list[tuple[str, str]]:
        """Pairs of students who did their own work (a copier's source counts: its work is its own)."""
        copied = set(self.copied_pairs())
        own = sorted(s.id for s in self.students if s.kind == "honest")
        return [(a, b) for i, a in enumerate(own) for b in own[i + 1:] if (a, b) not in copied]

    def same_style_pairs(self) -> list[tuple[str, str]]:
        """Honest pairs who picked the same bank answer for every question."""
        choices = {s.id: s.choices for s in self.students}
        return [(a, b) for a, b in self.honest_pairs() if choices[a] == choices[b]]


def build_class(honest: int, copiers: int, *, seed: int = 0) -> SyntheticClass:
    """`honest` students and `copiers` more, each copying an honest classmate (a few copy the same
    one, so some families are three); a quarter of copiers copy only part of the notebook."""
    rng = random.Random(seed)
    students = [_honest(f"s{i:04d}", rng) for i in range(honest)]
    sources = [s for s in students if any(s.answers.values())]
    for i in range(copiers):
        source = rng.choice(sources[:len(sources) // 8]) if i % 6 == 5 else rng.choice(sources)
        partial = i % 4 == 3
        students.append(copy_student(f"c{i:04d}", source, rng, partial))
    rng.shuffle(students)
    return SyntheticClass(students)


def _honest(student_id: str, rng: random.Random) -> Student:
    """Answers from the banks in the student's own names, layout and comments (seven in ten: the
    rest keep the bank's text), an explanation, scratch cells and perhaps a helper."""
    student = Student(student_id, "honest")
    habit = rng.choices(["reference", "alternate", "mixed"], weights=[5, 2, 3])[0]
    for qid in ANSWER_IDS:
        student.choices[qid] = _pick(qid, habit, rng)
        student.answers[qid] = "" if student.choices[qid] == "blank" else BANKS.answer(student.choices[qid]).source
    if rng.random() < 0.7:
        own = renames_for(student, rng)
        student.answers = {qid: disguise(source, own, rng) for qid, source in student.answers.items()}
    student.written = "" if rng.random() < 0.1 else _own_words(rng)
    count = rng.choices([0, 1, 2, 3], weights=[35, 30, 20, 15])[0]
    student.extras = [_scratch(rng) for _ in range(count)]
    if rng.random() < 0.3:
        student.extras.insert(rng.randint(0, len(student.extras)), _helper(rng))
    return student


def _pick(qid: str, habit: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.04:
        return "blank"
    if roll < 0.16:
        return rng.choice(BANKS.wrong_for(qid)).name
    styles = BANKS.correct_for(qid)
    if habit == "reference" and rng.random() < 0.8:
        return styles[0].name
    if habit == "alternate" and rng.random() < 0.8:
        return styles[-1].name
    return rng.choice(styles).name


def copy_student(student_id: str, source: Student, rng: random.Random, partial: bool) -> Student:
    copier = Student(student_id, "partial copier" if partial else "copier", source=source.id)
    own = _honest(student_id, rng)
    taken = set(rng.sample(ANSWER_IDS, 5)) if partial else set(ANSWER_IDS)
    renames = renames_for(source, rng)
    for qid in ANSWER_IDS:
        if qid in taken:
            copier.answers[qid] = disguise(source.answers[qid], renames, rng)
            copier.choices[qid] = source.choices[qid]
        else:
            copier.answers[qid], copier.choices[qid] = own.answers[qid], own.choices[qid]
    copier.written = _reword(source.written, rng) if rng.random() < 0.5 else source.written
    if partial:
        copier.extras = own.extras
    else:
        copier.extras = [disguise(cell, renames, rng) for cell in source.extras]
        rng.shuffle(copier.extras)
    return copier


def renames_for(source: Student, rng: random.Random) -> dict[str, str]:
    """New names for the variables and helpers the student bound: never the assignment's names
    nor a method's (the copy must still work)."""
    fixed = {"ATTRIBUTES", "LEAF_PREDICTIONS", "SQ", "MulConstant", "ctx", "grad_output", "self"} | set(ANSWER_IDS)
    bound = set()
    for cell in [*source.answers.values(), *source.extras]:
        tree = ast.parse(cell)
        methods = {f.name for c in ast.walk(tree) if isinstance(c, ast.ClassDef) for f in c.body
                   if isinstance(f, ast.FunctionDef)}
        fixed |= methods
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                bound.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                bound.add(node.name)
    synonyms = ["val", "tmp", "out", "res", "t0", "leaf", "point", "grid", "vals", "g", "inp", "z1", "w", "q"]
    rng.shuffle(synonyms)
    names = sorted(bound - fixed)
    return {name: f"{synonyms[i % len(synonyms)]}{i}" for i, name in enumerate(names)}


class _Rename(ast.NodeTransformer):
    def __init__(self, renames: dict[str, str]):
        self.renames = renames

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self.renames.get(node.id, node.id)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node.name = self.renames.get(node.name, node.name)
        self.generic_visit(node)
        return node

    visit_ClassDef = visit_FunctionDef

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self.renames.get(node.arg, node.arg)
        return node


def disguise(cell: str, renames: dict[str, str], rng: random.Random) -> str:
    """The cell renamed, its independent statements reordered, reformatted, its comments and
    docstrings reworded."""
    if not cell:
        return cell
    tree = _Rename(renames).visit(ast.parse(cell))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            _swap_independent(body, rng)
            if body and _is_docstring(body[0]):
                body[0].value.value = rng.choice(["My version.", "Does what the exercise asks.", "helper"])
    lines = ast.unparse(tree).splitlines()
    out = []
    for line in lines:
        if line.strip() and rng.random() < 0.2:
            out.append(" " * (len(line) - len(line.lstrip())) + rng.choice(COMMENTS))
        out.append(line.replace(" = ", "=") if rng.random() < 0.3 else line)
        if rng.random() < 0.15:
            out.append("")
    return "\n".join(out) + "\n"


def _is_docstring(node) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _swap_independent(body: list, rng: random.Random) -> None:
    """Swap neighbouring assignments when neither reads or writes what the other binds."""
    for i in range(len(body) - 1):
        first, second = body[i], body[i + 1]
        if isinstance(first, ast.Assign) and isinstance(second, ast.Assign) and rng.random() < 0.7:
            if not (_names(first) & _names(second)):
                body[i], body[i + 1] = second, first


def _names(node) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id not in ("torch", "float")}


def _sentences(text: str) -> list[str]:
    return [part.strip() + "." for part in text.replace("\n", " ").split(". ") if part.strip()]


def _own_words(rng: random.Random) -> str:
    """An explanation in a student's own words: each sentence, in order, taken from one of the
    wordings (students who heard the same lecture say some things alike), and a sentence of their own."""
    length = len(_sentences(rng.choice(WORDINGS)))
    sentences = []
    for position in range(length):
        candidates = [w for w in (_sentences(w) for w in WORDINGS) if len(w) > position]
        sentences.append(rng.choice(candidates)[position].rstrip("."))
    if rng.random() < 0.5:
        sentences.insert(rng.randint(1, len(sentences)), rng.choice(PERSONAL).rstrip("."))
    return ". ".join(sentences) + ".\n"


def _reword(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    changed = [REWORDINGS.get(w, w) if rng.random() < 0.6 else w for w in words]
    return " ".join(changed)


def notebook_of(student: Student, release: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The release with the student's answers and written answer in place and their own cells:
    helpers before the first answer that may use them, scratch cells after random answers."""
    nb = copy.deepcopy(release)
    index = {c.metadata.get("nbgrader", {}).get("grade_id"): i for i, c in enumerate(nb.cells)}
    for qid, source in student.answers.items():
        if source:
            nb.cells[index[qid]].source = source
    if student.written:
        nb.cells[index[WRITTEN_ID]].source = student.written
    rng = random.Random(student.id)
    for extra in student.extras:
        nb.cells.insert(rng.randint(1, len(nb.cells)), nbformat.v4.new_code_cell(extra))
    return nb


def write_class(synthetic: SyntheticClass, release_path: Path, folder: Path) -> dict[str, Path]:
    """Each student's notebook under folder/<student>.ipynb; {student: path}."""
    release = nbformat.read(release_path, as_version=4)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for student in synthetic.students:
        path = folder / f"{student.id}.ipynb"
        path.write_text(json.dumps(notebook_of(student, release)), encoding="utf-8")
        paths[student.id] = path
    return paths
