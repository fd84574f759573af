"""Read a submitted notebook as data: size-capped, JSON only, never executed here."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from grader.intake.text import printable, storable

__all__ = ["MAX_NOTEBOOK_BYTES", "SubmittedCell", "Intake", "UnreadableNotebook", "read_notebook",
           "find_submission_file", "read_submitted_bytes"]

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
MAX_CELLS = 500
MAX_CELL_CHARS = 200_000


class UnreadableNotebook(ValueError):
    """The file is not a notebook the kit can read; the message is one line for the TA."""


@dataclass(frozen=True)
class SubmittedCell:
    """One cell as the student handed it in; `grade_id` comes from untrusted metadata."""

    index: int
    cell_type: str
    source: str
    grade_id: str | None
    locked: bool
    # a markdown cell's pasted images, {name: {mime: base64}}: raster types only, as submitted
    attachments: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass
class Intake:
    """What the judge knows about a submission before any of it runs."""

    path: Path
    cells: list[SubmittedCell]
    notes: list[str] = field(default_factory=list)
    digest: str = ""  # SHA-256 of the file's bytes: which submission of this student it is
    metadata: dict = field(default_factory=dict)  # the notebook's own metadata, as submitted

    def cell_with_grade_id(self, grade_id: str) -> SubmittedCell | None:
        return next((c for c in self.cells if c.grade_id == grade_id), None)


def read_notebook(path: Path) -> Intake:
    """Parse `path` into cells; raise UnreadableNotebook with a one-line reason."""
    data = _read_capped(path)
    nb = _parse_json(data)
    metadata = nb.get("metadata") if isinstance(nb, dict) else None
    return Intake(path=path, cells=_cells_of(nb), notes=[], digest=hashlib.sha256(data).hexdigest(),
                  metadata=metadata if isinstance(metadata, dict) else {})


def find_submission_file(folder: Path, notebook: str) -> tuple[Path | None, list[str]]:
    """The notebook to grade in a student's folder, tolerating a renamed file."""
    expected = folder / f"{notebook}.ipynb"
    if expected.is_file():
        return expected, []
    others = sorted(p for p in folder.glob("*.ipynb") if p.is_file()) if folder.is_dir() else []
    if len(others) == 1:
        return others[0], [f"notebook was renamed to {printable(others[0].name)}; graded it as {expected.name}"]
    if others:
        return None, [f"no {expected.name}; several other notebooks ({', '.join(printable(p.name) for p in others)})"]
    return None, [f"no {expected.name} in the submission"]


def _read_capped(path: Path) -> bytes:
    return read_submitted_bytes(path, MAX_NOTEBOOK_BYTES)


# O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOFOLLOW: a link to /dev/zero or to
# the instructor's files is refused, never followed; O_NOCTTY: a terminal device stays ours.
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)


def read_submitted_bytes(path: Path, limit: int) -> bytes:
    """At most `limit` bytes of a submitted file that is a regular file of its own.

    A symbolic link, FIFO, device or directory is refused, as is a file whose inode has other
    names (a hard link to the source notebook or a classmate's file): only what the student
    handed in is read, in bounded bytes and so bounded time. Raises UnreadableNotebook.
    """
    name = printable(path.name)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnreadableNotebook(f"{name} is a symbolic link; only the submission's own files are read") from None
        raise UnreadableNotebook(f"cannot read {name}: {exc.strerror or exc}") from None
    try:
        return _read_open_file(fd, name, limit)
    except OSError as exc:
        raise UnreadableNotebook(f"cannot read {name}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _read_open_file(fd: int, name: str, limit: int) -> bytes:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise UnreadableNotebook(f"{name} is not a regular file (a FIFO, device or directory); it was not read")
    if info.st_nlink > 1:
        raise UnreadableNotebook(f"{name} is a hard link shared with {info.st_nlink - 1} other name(s), "
                                 "not a file of the submission's own; it was not graded")
    if info.st_size > limit:
        raise UnreadableNotebook(f"{name} is {_size(info.st_size)}, over the {_size(limit)} limit")
    chunks, total = [], 0
    while total <= limit:  # a file that grows while read still stops at the limit
        chunk = os.read(fd, min(1 << 20, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    if total > limit:
        raise UnreadableNotebook(f"{name} grew over the {_size(limit)} limit while it was read")
    return b"".join(chunks)


def _size(nbytes: int) -> str:
    return f"{nbytes // 2**20} MB" if nbytes >= 2**20 else f"{nbytes // 1024} kB" if nbytes >= 1024 else f"{nbytes} bytes"


def _parse_json(data: bytes) -> dict:
    try:
        nb = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise UnreadableNotebook(f"not valid notebook JSON ({type(exc).__name__})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells", nb.get("worksheets")), list):
        raise UnreadableNotebook("not a notebook: no list of cells")
    if nb.get("nbformat") == 3:
        nb = _upgrade_v3(nb)
    return nb


def _upgrade_v3(nb: dict) -> dict:
    import nbformat

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return dict(nbformat.convert(nbformat.from_dict(nb), 4))
    except Exception as exc:  # nbformat raises many types on odd input
        raise UnreadableNotebook(f"old (v3) notebook that cannot be upgraded ({type(exc).__name__})") from None


def _cells_of(nb: dict) -> list[SubmittedCell]:
    raw_cells = nb.get("cells")
    if not isinstance(raw_cells, list):
        raise UnreadableNotebook("not a notebook: no list of cells")
    if len(raw_cells) > MAX_CELLS:
        raise UnreadableNotebook(f"{len(raw_cells)} cells, over the limit of {MAX_CELLS}")
    return [_cell_of(i, raw) for i, raw in enumerate(raw_cells) if isinstance(raw, dict)]


def _cell_of(index: int, raw: dict) -> SubmittedCell:
    meta = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
    nbg = meta.get("nbgrader") if isinstance(meta.get("nbgrader"), dict) else {}
    grade_id = storable(nbg["grade_id"]) if isinstance(nbg.get("grade_id"), str) else None
    cell_type = raw.get("cell_type") if raw.get("cell_type") in ("code", "markdown", "raw") else "raw"
    attachments = _raster_attachments(raw.get("attachments")) if cell_type == "markdown" else {}
    return SubmittedCell(index, cell_type, _source_text(raw.get("source")), grade_id, nbg.get("locked") is True,
                         attachments)


RASTER_TYPES = ("image/png", "image/jpeg", "image/gif")
MAX_ATTACHMENTS = 8


def _raster_attachments(attachments: object) -> dict:
    """The images pasted into a markdown cell that a page may show (raster types, base64 text);
    the pages check each one again before it is drawn."""
    kept: dict = {}
    for name, bundle in (attachments.items() if isinstance(attachments, dict) else ()):
        if len(kept) >= MAX_ATTACHMENTS:
            break
        if isinstance(name, str) and len(name) <= 200 and isinstance(bundle, dict):
            images = {mime: bundle[mime] for mime in RASTER_TYPES if isinstance(bundle.get(mime), str)}
            if images:
                kept[storable(name)] = images
    return kept


def _source_text(source: object) -> str:
    if isinstance(source, list):
        source = "".join(part for part in source if isinstance(part, str))
    if not isinstance(source, str):
        return ""
    return storable(source[:MAX_CELL_CHARS])
