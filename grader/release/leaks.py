"""Solution text in what students get: every file of the release folder against every secret line."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

__all__ = ["find_leaks", "find_copied_answers", "secret_lines", "requirement_problems", "SOLUTION_REGION",
           "HIDDEN_REGION"]

SOLUTION_REGION = ("BEGIN SOLUTION", "END SOLUTION")
HIDDEN_REGION = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
# Lines that say nothing about an answer even when they appear in both places.
_TRIVIAL = re.compile(r"^(|pass|return|return [\[({]|\.\.\.|else:|try:|finally:|\"\"\"|'''|#.*|[\[\](){}:,;.]+)$")
_IMPORT = re.compile(r"^(import\s|from\s+\S+\s+import\s)")
_OPENING = re.compile(r"^\w+ = [\[({]$")  # `NAME = {`: the name is public, the content is not
_TRIVIAL_LINE = re.compile("|".join(f"(?:{p.pattern})" for p in (_TRIVIAL, _IMPORT, _OPENING)))
_MIN_SUBSTRING = 16  # shorter fragments (`x.grad, y.grad`) are too generic to flag inside prose
_MIN_MODULE_LINE = 24  # lines of hidden check modules: only distinctive ones
# Packages a student's requirements.txt must never install: the kit, or nbgrader with its course tooling.
_FORBIDDEN = re.compile(r"^(derivatives-grader|grader|nbgrader)\b", re.IGNORECASE)


def _normalize(line: str) -> str:
    return " ".join(line.split())


def _is_trivial(line: str) -> bool:
    return bool(_TRIVIAL.match(line) or _IMPORT.match(line) or _OPENING.match(line))


def _region_lines(source: str, region: tuple[str, str]) -> list[str]:
    """The lines strictly between the region's begin and end delimiters."""
    begin, end = region
    inside, found = False, []
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside:
            found.append(line)
    return found


def _secret_cell_lines(cell) -> list[str]:
    """What a source cell holds that the release must not show."""
    meta = cell.metadata.get("nbgrader", {})
    lines = _region_lines(cell.source, HIDDEN_REGION)
    if meta.get("solution"):
        whole_answer = cell.cell_type == "markdown" and SOLUTION_REGION[0] not in cell.source
        lines += cell.source.splitlines() if whole_answer else _region_lines(cell.source, SOLUTION_REGION)
    return lines


def _notebook_lines(assignment) -> tuple[object, set[str], set[str]]:
    """The source notebook, its secret lines (solutions, hidden tests) and the lines it shows students."""
    nb = nbformat.read(assignment.notebook_path, as_version=4)
    secret = {_normalize(ln) for c in nb.cells for ln in _secret_cell_lines(c)}
    public = {_normalize(ln) for c in nb.cells for ln in c.source.splitlines()} - secret
    return nb, secret, public


def _bank_answers(assignment) -> tuple:
    if not (assignment.folder / "banks" / "__init__.py").is_file():
        return ()
    return (*assignment.banks.correct, *assignment.banks.wrong, *assignment.banks.manual)


def secret_lines(assignment) -> tuple[set[str], set[str]]:
    """Normalised secret lines: (answer lines, from solutions, hidden tests and the banks;
    module lines, from the hidden checks). A line the notebook shows students anyway is public."""
    _, answers, public = _notebook_lines(assignment)
    answers |= {_normalize(ln) for a in _bank_answers(assignment) for ln in a.source.splitlines()}
    visible = {_normalize(ln) for p in (assignment.folder / "checks").glob("*.py") for ln in p.read_text().splitlines()}
    modules = {_normalize(ln) for m in (assignment.folder / "hidden").glob("*.py")
               for ln in m.read_text().splitlines() if len(_normalize(ln)) >= _MIN_MODULE_LINE} - visible
    return _private(answers, public), _private(modules, public)


def _private(lines: set[str], public: set[str]) -> set[str]:
    """The lines that are neither trivial nor part of a line students see anyway."""
    # A line holds no newline, so it is inside one shown line exactly when it is inside them all
    # joined by newlines: one search per line instead of one per pair of lines.
    shown = "\n".join(public)
    kept = set()
    for line in lines:
        core = line.rstrip(",;:")
        if not _is_trivial(line) and not (public and core in shown):
            kept.add(line)
    return kept


def _embeddable(lines: set[str]) -> list[tuple[str, str]]:
    """(line, text to search for) for each line, and for the expression it returns, long enough
    to flag inside a longer line."""
    return [(line, text) for line in lines for text in dict.fromkeys((line, line.removeprefix("return ")))
            if len(text) >= _MIN_SUBSTRING]


def _file_lines(path: Path) -> set[str]:
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        text = "\n".join(c.source for c in nb.cells)
    else:
        text = path.read_text(errors="replace")
    return {_normalize(ln) for ln in text.splitlines()} - {""}


TEXT_SUFFIXES = (".py", ".pyi", ".ipynb", ".txt", ".md", ".rst", ".json", ".html", ".js", ".cfg", ".toml")


def find_leaks(assignment, folder: Path, *, embedded: bool = True) -> list[str]:
    """`file: line` for every secret line that a text file under `folder` shows.

    With `embedded`, answer lines are found inside longer lines too (slower: for a release
    folder, not for a whole site-packages).
    """
    answers, modules = secret_lines(assignment)
    exact = answers | modules | {ln.removeprefix("return ") for ln in answers if ln.startswith("return ")}
    searched = _embeddable(answers) if embedded else []
    leaks: list[str] = []
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix not in TEXT_SUFFIXES:
            continue
        lines = _file_lines(path)
        found = exact & lines
        if searched:  # inside a longer line: the file's lines joined by newlines, which no line holds
            text = "\n".join(lines)
            found |= {line for line, part in searched if part in text}
        leaks += [f"{path.relative_to(folder)}: {line}" for line in sorted(found)]
    return leaks


def answer_windows(assignment, size: int = 3) -> set[str]:
    """Every run of `size` consecutive lines of a solution region or bank answer that students
    are not shown anyway (the notebook's own lines, like a stub's `def`, are skipped)."""
    nb, _, public = _notebook_lines(assignment)
    answers = [_region_lines(c.source, SOLUTION_REGION) for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    answers += [a.source.splitlines() for a in _bank_answers(assignment)]
    windows = set()
    for lines in answers:
        kept = [ln for ln in map(_normalize, lines) if not _is_trivial(ln) and ln not in public]
        windows |= {"\n".join(kept[i:i + size]) for i in range(len(kept) - size + 1)}
    return windows


def find_copied_answers(assignment, folder: Path) -> list[str]:
    """Text files under `folder` (a whole site-packages, say) holding three consecutive lines of an answer.

    A file holds a run when its lines, normalized and without trivial ones, joined by newlines,
    contain the run's text: the line before the run's middle ends with its first line, the
    line after starts with its last. Runs are looked up by their middle lines, so each file is
    read once whatever the number of runs.
    """
    by_middle: dict[tuple[str, ...], list[tuple[str, str, str]]] = {}
    for window in answer_windows(assignment):
        lines = window.split("\n")
        by_middle.setdefault(tuple(lines[1:-1]), []).append((lines[0], lines[-1], window))
    size = len(next(iter(by_middle), ())) + 2
    found = []
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file() or path.suffix not in TEXT_SUFFIXES or "__pycache__" in path.parts:
            continue
        lines = [ln for ln in (" ".join(raw.split()) for raw in path.read_text(errors="replace").splitlines())
                 if not _TRIVIAL_LINE.match(ln)]
        hits = {window for i in range(len(lines) - size + 1)
                for first, last, window in by_middle.get(tuple(lines[i + 1:i + size - 1]), ())
                if lines[i].endswith(first) and lines[i + size - 1].startswith(last)}
        found += [f"{path.relative_to(folder)}: {w.splitlines()[0]}" for w in sorted(hits)]
    return found


def requirement_problems(requirements: Path) -> list[str]:
    """What is wrong with a release's requirements.txt: missing, the kit or nbgrader, local paths, unpinned torch."""
    if not requirements.is_file():
        return [f"{requirements.name} is missing: list what a student installs (torch==..., matplotlib, jupyterlab)"]
    problems = []
    for raw in requirements.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if _FORBIDDEN.match(line):
            problems.append(f"{requirements.name} installs {line!r}: students never get the kit or nbgrader")
        elif line.startswith(("-e", ".", "/", "file:", "git+", "-r", "--")) or "://" in line:
            problems.append(f"{requirements.name} line {line!r}: only packages by name and version")
        elif re.match(r"^torch\b", line) and "==" not in line:
            problems.append(f"{requirements.name}: pin torch (torch==<version>), or pip may pull a multi-GB build")
    return problems
