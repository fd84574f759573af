"""A notebook made safe to render: only what the templates need, every text bounded, outputs of
known kinds, and the values formgrader's template prints escaped.

nbconvert's classic template and nbgrader's own print several things as they are: an output's
text/html, SVG and JavaScript, an image's width, a raw cell's HTML, formgrader's student name.
This step (an nbconvert preprocessor, first in `HTMLExporter.preprocessors`) leaves the page
nothing of the kind to print: markdown is rendered by grader.pages.markdown (the course config's
`markdown2html` filter), raw cells become code blocks, outputs keep plain text and raster images
with well-formed base64, and cell metadata keeps nbgrader's grading fields.
"""

from __future__ import annotations

import itertools
import re

import nbformat
from nbconvert.preprocessors import Preprocessor

from grader.pages.highlight import MAX_HIGHLIGHT_CHARS, PAGE_HIGHLIGHT_CHARS, PLAIN
from grader.pages.markdown import ELEMENTS_LEFT, MAX_MARKDOWN_CHARS, PAGE_ELEMENTS
from grader.pages.safe import IMAGE_TYPES, data_uri, escape_text

__all__ = ["InertNotebook", "PAGE_TEXT_CHARS", "MAX_CELL_CHARS", "MAX_OUTPUT_CHARS", "INERT"]

PAGE_TEXT_CHARS = 300_000  # of the notebook's text on one page (an honest notebook has about 25,000)
MAX_CELL_CHARS = MAX_MARKDOWN_CHARS  # of one cell's source
MAX_OUTPUT_CHARS = 20_000  # of one output's text
MAX_OUTPUTS = 50  # per cell
PAGE_ANSI_CODES = 2_000  # colour codes in outputs (each an element on the page); past them, plain text
INERT = "grader_inert"  # in resources once the notebook has been made inert
_ANSI = re.compile(r"\x1b\[[0-9;]*+[A-Za-z]?+|\x1b")
_GRADING_FLAGS = ("grade", "solution", "locked", "task")
_CELL_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# What formgrader's submission handler passes for its template to print as is.
_SHOWN_RESOURCES = ("student", "first_name", "last_name", "notebook_path", "notebook_id", "assignment_id")


class InertNotebook(Preprocessor):
    """Rebuild each cell from what a page may show; running twice changes nothing."""

    def preprocess(self, nb, resources):
        if resources.get(INERT):
            return nb, resources
        budget = _Budget()
        graded_first = sorted(range(len(nb.cells)), key=lambda i: not _graded(nb.cells[i]))
        rebuilt = {i: _inert_cell(nb.cells[i], budget) for i in graded_first}
        nb.cells = [cell for i in range(len(nb.cells)) for cell in rebuilt[i]]
        _unique_ids(nb.cells)
        nb.metadata = nbformat.NotebookNode(language_info={"name": "python"})
        nb.nbformat, nb.nbformat_minor = 4, 5  # every cell has an id
        _escape_shown(resources)
        resources[ELEMENTS_LEFT] = PAGE_ELEMENTS
        resources[INERT] = True
        return nb, resources


class _Budget:
    """What is left of a page's text and highlighting."""

    def __init__(self):
        self.text, self.highlight, self.ansi = PAGE_TEXT_CHARS, PAGE_HIGHLIGHT_CHARS, PAGE_ANSI_CODES

    def take(self, text: str, most: int) -> str:
        shown = text[:max(0, min(most, self.text))]
        self.text -= len(shown)
        return shown


def _graded(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader")
    return isinstance(meta, dict) and any(meta.get(flag) is True for flag in ("grade", "solution", "task"))


def _is_test_cell(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader")
    return isinstance(meta, dict) and meta.get("grade") is True and meta.get("solution") is not True


def _points_value(output) -> bool:
    """The bare number a test cell's value holds for nbgrader's partial credit (`Out[ ]: 1`),
    which the cell's printed verdict already says in words."""
    if not isinstance(output, dict) or output.get("output_type") != "execute_result":
        return False
    data = output.get("data")
    text = data.get("text/plain") if isinstance(data, dict) else None
    try:
        float(text if isinstance(text, str) else "x")
    except ValueError:
        return False
    return set(data) == {"text/plain"}


def _inert_cell(cell, budget: _Budget) -> list:
    """The cell as a page may show it, and a note after it when its text was cut."""
    kind = cell.get("cell_type")
    source = _text(cell.get("source"))
    shown = budget.take(source, MAX_CELL_CHARS)
    if kind == "code":
        count = cell.get("execution_count")
        outputs = cell.get("outputs")
        if _is_test_cell(cell) and isinstance(outputs, list):  # its partial credit is said in words above it
            outputs = [o for o in outputs if not _points_value(o)]
        new = _node(cell_type="code", source=shown, metadata=_node(), outputs=_outputs(outputs, budget),
                    execution_count=count if isinstance(count, int) and not isinstance(count, bool) else None)
        if len(shown) > MAX_HIGHLIGHT_CHARS or len(shown) > budget.highlight:
            new.metadata["grader"] = {PLAIN: True}
        else:
            budget.highlight -= len(shown)
    elif kind == "markdown":
        new = _markdown(shown)
        attachments = _attachments(cell.get("attachments"))
        if attachments:
            new.attachments = attachments
    else:  # raw (or unknown): its text as a code block, never as HTML
        new = _markdown("\n".join("    " + line for line in shown.split("\n")))
    new.metadata.update(_metadata(cell.get("metadata")))
    if isinstance(cell.get("id"), str) and _CELL_ID.fullmatch(cell["id"]):
        new.id = cell["id"]
    if len(shown) < len(source):
        return [new, _markdown(_cut_note(len(source), len(shown)))]
    return [new]


def _unique_ids(cells: list) -> None:
    """Every cell an id, each once (nbformat 4.5 requires both): a cell whose id is missing,
    malformed or taken gets `cell-<its place>`, the same on every page made of the notebook."""
    seen = set()
    for place, cell in enumerate(cells):
        if cell.get("id") in seen or "id" not in cell:
            candidates = (f"cell-{place}" + (f"-{n}" if n else "") for n in itertools.count())
            cell.id = next(candidate for candidate in candidates if candidate not in seen)
        seen.add(cell.id)


def _node(fields: dict | None = None, **more) -> nbformat.NotebookNode:
    """A notebook node built directly: nbformat's new_* functions validate each one against the
    schema, which was most of this step's time."""
    return nbformat.NotebookNode({**(fields or {}), **more})


def _markdown(source: str) -> nbformat.NotebookNode:
    return _node(cell_type="markdown", source=source, metadata=_node())


def _cut_note(length: int, shown: int) -> str:
    what = f"the first {shown:,} are shown here" if shown else "it is not shown, as this page already shows as much text as it can"
    return f"*This cell is {length:,} characters long; {what}. The whole cell is in the notebook.*"


def _text(value) -> str:
    if isinstance(value, list):
        value = "".join(item for item in value if isinstance(item, str))
    return value if isinstance(value, str) else ""


def _number(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _metadata(metadata) -> dict:
    """nbgrader's fields that grading and the templates read, each of its own type."""
    meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    if not isinstance(meta, dict):
        return {}
    kept = {flag: meta[flag] for flag in _GRADING_FLAGS if isinstance(meta.get(flag), bool)}
    if isinstance(meta.get("grade_id"), str):
        kept["grade_id"] = escape_text(meta["grade_id"][:200])
    for field in ("points", "score"):
        if field in meta:
            kept[field] = _number(meta[field])
    if isinstance(meta.get("comment"), str):
        kept["comment"] = meta["comment"][:MAX_CELL_CHARS]
    for field in ("schema_version", "cell_type", "checksum"):
        if isinstance(meta.get(field), (str, int)) and not isinstance(meta.get(field), bool):
            kept[field] = meta[field]
    return {"nbgrader": kept}


def _attachments(attachments) -> dict:
    """Raster images with well-formed base64 only; the markdown renderer loads nothing else."""
    kept = {}
    for name, bundle in (attachments.items() if isinstance(attachments, dict) else ()):
        if isinstance(name, str) and isinstance(bundle, dict):
            images = {mime: bundle[mime] for mime in IMAGE_TYPES
                      if isinstance(bundle.get(mime), str) and data_uri(mime, bundle[mime])}
            if images:
                kept[name] = images
    return kept


def _outputs(outputs, budget: _Budget) -> list:
    kept = []
    for output in (outputs if isinstance(outputs, list) else [])[:MAX_OUTPUTS]:
        new = _output(output, budget) if isinstance(output, dict) else None
        if new is not None:
            kept.append(new)
    return kept


def _output(output: dict, budget: _Budget):
    kind = output.get("output_type")
    if kind == "stream":
        name = output.get("name") if output.get("name") in ("stdout", "stderr") else "stdout"
        return _node(output_type="stream", name=name, text=_bounded(_text(output.get("text")), budget))
    if kind == "error":
        traceback = _bounded("\n".join(_text(line) for line in output.get("traceback") or [] if isinstance(line, str)),
                             budget)
        return _node(output_type="error", ename=_bounded(_text(output.get("ename")), budget, 200),
                     evalue=_bounded(_text(output.get("evalue")), budget, 2000), traceback=traceback.split("\n"))
    if kind in ("execute_result", "display_data"):
        new = _node(output_type=kind, data=_node(_bundle(output.get("data"), budget)),
                    metadata=_node(_image_sizes(output.get("metadata"))))
        if kind == "execute_result":
            count = output.get("execution_count")
            new.execution_count = count if isinstance(count, int) and not isinstance(count, bool) else None
        return new
    return None


def _bundle(data, budget: _Budget) -> dict:
    """Plain text, markdown (rendered safely) and raster images; anything else is named, not shown."""
    data = data if isinstance(data, dict) else {}
    kept = {}
    for mime in ("text/plain", "text/markdown"):
        if mime in data:
            kept[mime] = _bounded(_text(data[mime]), budget)
    for mime in ("image/png", "image/jpeg"):
        uri = data_uri(mime, data[mime]) if isinstance(data.get(mime), str) else None
        if uri:
            kept[mime] = uri.split(",", 1)[1]
    if not kept and data:
        kinds = ", ".join(sorted(escape_text(str(mime))[:60] for mime in list(data)[:5]))
        kept["text/plain"] = f"[an output of type {kinds}: pages show only text and images]"
    return kept


def _image_sizes(metadata) -> dict:
    kept = {}
    for mime in ("image/png", "image/jpeg"):
        sizes = metadata.get(mime) if isinstance(metadata, dict) else None
        if isinstance(sizes, dict):
            size = {k: int(sizes[k]) for k in ("width", "height")
                    if isinstance(sizes.get(k), (int, float)) and not isinstance(sizes.get(k), bool) and 0 < sizes[k] < 10_000}
            if size:
                kept[mime] = size
    return kept


def _bounded(text: str, budget: _Budget, most: int = MAX_OUTPUT_CHARS) -> str:
    shown = budget.take(text, most)
    codes = shown.count("\x1b")
    if codes > budget.ansi:
        shown = _ANSI.sub("", shown)
    else:
        budget.ansi -= codes
    if len(shown) < len(text):
        shown += f"\n[{len(text) - len(shown):,} more characters not shown]"
    return shown


def _escape_shown(resources) -> None:
    """Formgrader's template prints these as they are (in text, attributes and a script's strings):
    a student id is the student's folder name."""
    for key in _SHOWN_RESOURCES:
        if isinstance(resources.get(key), str):
            resources[key] = escape_text(resources[key])
    nbgrader = resources.get("nbgrader")
    if isinstance(nbgrader, dict) and isinstance(nbgrader.get("notebook"), str):
        nbgrader["notebook"] = escape_text(nbgrader["notebook"])
