"""Static scan of submitted source for tampering, cell by cell, for the TA's eyes."""

from __future__ import annotations

import ast
import io
import re
import tokenize
import unicodedata
from collections.abc import Iterable

from grader.runtime.textcache import cached_for_short_texts

__all__ = ["scan_cell", "scan_cells", "python_source", "split_findings"]

PATCHABLE_ROOTS = {"torch", "np", "numpy", "math", "builtins", "grader", "plt", "matplotlib", "sys", "os", "random", "nbgrader", "IPython"}
# Honest notebooks import gc (gc.collect()) and importlib (importlib.reload of a helper module) too:
# what reaches other objects through them is what is named (walking the collector's objects).
SUSPICIOUS_MODULES = {"subprocess", "ctypes", "socket", "sqlite3", "pty", "multiprocessing", "resource", "signal", "pickle", "marshal", "shutil"}
COLLECTOR_WALKS = ("get_objects", "get_referrers", "get_referents")
SUSPICIOUS_CALLS = {
    "os.fork": "forks a process", "os.forkpty": "forks a process", "os.system": "runs a shell command",
    "os.popen": "runs a shell command", "os.kill": "signals a process", "os.killpg": "signals a process group",
    "os.setsid": "detaches from its session", "os._exit": "exits the interpreter",
    "os.remove": "deletes files", "os.unlink": "deletes files", "os.chmod": "changes file permissions",
    "sys.settrace": "installs a tracer", "sys.setprofile": "installs a profiler", "sys._getframe": "inspects the caller's frames",
    "sys.addaudithook": "installs an audit hook", "inspect.stack": "inspects the caller's frames",
    "inspect.currentframe": "inspects frames", "exec": "runs dynamically built code", "eval": "runs dynamically built code",
    "__import__": "imports dynamically", "setattr": "sets attributes dynamically",
    **{f"gc.{name}": "walks the collector's objects" for name in COLLECTOR_WALKS},
}
# Findings that honest answers show too (an answer style that builds predictions with eval):
# notes for the TA, not tamper evidence.
NOTE_ONLY = ("runs dynamically built code", "deletes files")
# An IPython hook read as an attribute (`.events`, `.run_cell(`), not a magic's call (`run_cell_magic`).
IPYTHON_HOOK_ACCESS = re.compile(r"\.\s*(?:input_transformers\w*|ast_transformers|events|register_magic\w*"
                                 r"|set_custom_exc|set_hook|run_cell|user_ns\w*)\b")
# Settings honest notebooks make on a library (reproducibility flags), not patches of it.
SETTINGS = ("torch.backends.",)
# The controls that reorder how text is shown (Trojan Source: embeddings, overrides and isolates),
# so a cell can show one thing and run another. The marks (U+200E, U+200F, U+061C) only say which
# way a neutral character leans: honest right-to-left comments and strings hold them.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
# The course's own files and the interpreter's start-up files, named in a path. Read in the strings
# a cell's code holds, not in its comments or docstrings, and only in a string with no space in it
# (a path, not prose: "Exercise 1 (autograded)" names nothing); `..` alone and a `.pth` file (torch's
# checkpoints) are what honest notebooks write too.
SENSITIVE_PATHS = re.compile(r"(gradebook|/source/|source/derivatives|autograded|submitted/|\.grader-secret|/work/|/root|/proc/|site-packages|sitecustomize)")


@cached_for_short_texts(maxsize=4096)
def python_source(cell_source: str) -> str:
    """The plain Python an IPython cell stands for (magics become calls), or the text itself."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(cell_source)
    except Exception:  # a broken cell is still worth scanning as text
        return cell_source


def scan_cells(cells: Iterable[tuple[int, str]]) -> list[str]:
    """Evidence lines `cell N: ...` for every suspicious construct in the given (index, source) pairs."""
    return [f"cell {index}: {finding}" for index, source in cells for finding in scan_cell(source)]


def split_findings(findings: list[str]) -> tuple[list[str], list[str]]:
    """(tamper evidence, notes): findings honest code shows too are notes."""
    notes = [f for f in findings if any(kind in f for kind in NOTE_ONLY)]
    return [f for f in findings if f not in notes], notes


def scan_cell(source: str) -> list[str]:
    """Findings for one cell; the same finding is listed once."""
    return list(_scan_cell(source))


@cached_for_short_texts(maxsize=4096)  # most cells of a class are the release's own, identical text
def _scan_cell(source: str) -> tuple[str, ...]:
    text = python_source(source)
    findings = _scan_text(text)
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return tuple(_unique(findings + _path_findings([_without_comments(_normalised(text))])))
    paths = _strings(tree) if SENSITIVE_PATHS.search(_normalised(text)) else []  # rare: only then are strings read
    return tuple(_unique(findings + _scan_tree(tree) + _path_findings(paths)))


def _normalised(text: str) -> str:
    # Python reads identifiers after NFKC normalisation (`ｇet_ipython` is get_ipython), and so does
    # exec of a string: the patterns are matched on the text as Python would read its names.
    return unicodedata.normalize("NFKC", text)


def _scan_text(text: str) -> list[str]:
    text = _normalised(text)
    findings = []
    if "get_ipython" in text and IPYTHON_HOOK_ACCESS.search(text):
        findings.append("reaches into IPython's hooks (get_ipython())")
    if BIDI_CONTROLS.search(text):
        findings.append("holds bidirectional text controls, so the code may read differently from how it runs")
    return findings


def _strings(tree: ast.AST) -> list[str]:
    """The strings a cell's code holds with no space in them (parts of f-strings too): paths, not
    prose; docstrings left out."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [_normalised(node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
            and not any(c.isspace() for c in node.value)]


def _path_findings(texts: list[str]) -> list[str]:
    """A course file or a start-up file named in a path: a word of each text (a string of the
    code, or the text of a cell that does not parse, its comments cut out)."""
    return [f"names a path outside its own folder ({match.group(0)!r})"
            for text in texts for word in text.split() for match in SENSITIVE_PATHS.finditer(word)]


def _without_comments(text: str) -> str:
    """The text with its comments cut out: a path a comment names ("this cell is autograded", "the
    gradebook") reaches nothing. The text as it is when it does not tokenize."""
    try:
        comments = [t for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type == tokenize.COMMENT]
    except (tokenize.TokenError, SyntaxError, ValueError, RecursionError, MemoryError):
        return text
    lines = text.splitlines(keepends=True)
    for comment in comments:  # one comment a line at most, from where it starts to the line's end
        row, column = comment.start
        line = lines[row - 1]
        lines[row - 1] = line[:column] + line[comment.end[1]:]
    return "".join(lines)


def _scan_tree(tree: ast.AST) -> list[str]:
    findings = []
    for node in ast.walk(tree):
        findings.extend(_patch_findings(node))
        findings.extend(_import_findings(node))
        findings.extend(_call_findings(node))
        findings.extend(_subclass_findings(node))
    return findings


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def _patch_findings(node: ast.AST) -> list[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
    found = []
    for target in targets:
        name = _dotted(target) if isinstance(target, ast.Attribute) else None
        if name and name.split(".")[0] in PATCHABLE_ROOTS and not name.startswith(SETTINGS):
            found.append(f"patches {name}")
    if isinstance(node, (ast.Global, ast.Nonlocal)) and any(n in PATCHABLE_ROOTS for n in node.names):
        found.append("rebinds a library name globally")
    return found


def _import_findings(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        names = [alias.name.split(".")[0] for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        names = [(node.module or "").split(".")[0]]
        if node.module == "gc" and any(alias.name in COLLECTOR_WALKS + ("*",) for alias in node.names):
            return [f"walks the collector's objects (from gc import {', '.join(a.name for a in node.names)})"]
    else:
        return []
    return [f"imports {name}" for name in names if name in SUSPICIOUS_MODULES]


def _call_findings(node: ast.AST) -> list[str]:
    if not isinstance(node, ast.Call):
        return []
    name = _dotted(node.func)
    if name == "setattr" and not _on_a_library(node):
        return []  # setattr(ctx, "k", k): an object's own attribute
    if name in SUSPICIOUS_CALLS:
        return [f"{SUSPICIOUS_CALLS[name]} ({name})"]
    if name and name.startswith(("os.exec", "os.spawn", "os.posix_spawn")):
        return [f"starts a program ({name})"]
    return []


def _on_a_library(call: ast.Call) -> bool:
    """Whether setattr's first argument is a library (or anything it cannot tell: not a plain name)."""
    if not call.args:
        return True
    target = _dotted(call.args[0]) if isinstance(call.args[0], (ast.Name, ast.Attribute)) else None
    return target is None or target.split(".")[0] in PATCHABLE_ROOTS


def _subclass_findings(node: ast.AST) -> list[str]:
    if not isinstance(node, ast.ClassDef):
        return []
    overrides = {item.name for item in node.body if isinstance(item, ast.FunctionDef)}
    comparisons = overrides & {"__eq__", "__bool__", "__float__", "__ne__", "__torch_function__", "__array__", "__len__"}
    # Any class counts: `class AlwaysEqual:` has no bases and is the classic spoof.
    if comparisons:
        return [f"defines a class {node.name} overriding {', '.join(sorted(comparisons))}"]
    return []


def _unique(findings: list[str]) -> list[str]:
    return list(dict.fromkeys(findings))
