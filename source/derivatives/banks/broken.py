"""Ways a submitted file can be broken, each a function from the release notebook's bytes to new bytes."""

import json
import random
from collections.abc import Callable

from grader.banks import BrokenFile

__all__ = ["BROKEN"]

# ------------------------------------------------------------- JSON helpers
def _load(data: bytes) -> dict:
    return json.loads(data.decode("utf-8"))


def _dump(nb: dict) -> bytes:
    return (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def _grade_id(cell: dict) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _index(nb: dict, grade_id: str) -> int:
    for i, cell in enumerate(nb["cells"]):
        if _grade_id(cell) == grade_id:
            return i
    raise KeyError(f"the notebook has no cell with grade_id {grade_id!r}")


def _edit(change: Callable[[dict], None]) -> Callable[[bytes], bytes]:
    """A builder that parses the notebook, applies `change` in place and writes it back."""

    def build(data: bytes) -> bytes:
        nb = _load(data)
        change(nb)
        return _dump(nb)

    return build


# ---------------------------------------------------------------- builders
def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _empty(data: bytes) -> bytes:
    return b""


def _json_list(data: bytes) -> bytes:
    return _dump(_load(data)["cells"])  # type: ignore[arg-type]


def _binary_garbage(data: bytes) -> bytes:
    return b"\x89PNG\r\n\x1a\n\x00\xff" + random.Random(0).randbytes(4096)


def _delete(grade_id: str) -> Callable[[dict], None]:
    def change(nb: dict) -> None:
        del nb["cells"][_index(nb, grade_id)]

    return change


def _test_to_pass(nb: dict) -> None:
    nb["cells"][_index(nb, "test_SQ")]["source"] = "pass\n"


def _rename_grade_id(nb: dict) -> None:
    nb["cells"][_index(nb, "grad_at")]["metadata"]["nbgrader"]["grade_id"] = "grad_at_mine"


def _points_100(nb: dict) -> None:
    nb["cells"][_index(nb, "test_grad_at")]["metadata"]["nbgrader"]["points"] = 100


def _solution_after_test(nb: dict) -> None:
    cell = nb["cells"].pop(_index(nb, "grad_at"))
    nb["cells"].insert(_index(nb, "test_grad_at") + 1, cell)


def _no_cells(nb: dict) -> None:
    nb["cells"] = []


def _nbformat3(data: bytes) -> bytes:
    import nbformat

    old = nbformat.convert(nbformat.reads(data.decode("utf-8"), as_version=4), 3)
    return nbformat.writes(old, version=3).encode("utf-8")


BROKEN: tuple[BrokenFile, ...] = (
    BrokenFile(
        "truncated_json",
        _truncated,
        "unreadable: the submission scores 0 with a message saying the file is not valid JSON; the batch goes on",
    ),
    BrokenFile(
        "empty_file",
        _empty,
        "unreadable: scores 0 with a message saying the file is empty; the batch goes on",
    ),
    BrokenFile(
        "json_list",
        _json_list,
        "valid JSON but not a notebook (a list): scores 0 with a message; no crash on a missing 'cells' key",
    ),
    BrokenFile(
        "binary_garbage",
        _binary_garbage,
        "not text at all: scores 0 with a message; no UnicodeDecodeError escapes",
    ),
    BrokenFile(
        "zero_cells",
        _edit(_no_cells),
        "a notebook with no cells: every question scores 0 as unanswered; no crash",
    ),
    BrokenFile(
        "nbformat3",
        _nbformat3,
        "an old nbformat 3 notebook (worksheets): either upgraded and graded, or 0 with a message; never a crash",
    ),
    BrokenFile(
        "grad_at_cell_deleted",
        _edit(_delete("grad_at")),
        "grad_at scores 0 as unanswered; every other question is graded normally",
    ),
    BrokenFile(
        "test_cell_deleted",
        _edit(_delete("test_grad_at")),
        "submitted test cells are ignored: grad_at is graded from the instructor's tests as usual",
    ),
    BrokenFile(
        "test_cell_pass",
        _edit(_test_to_pass),
        "submitted test cells are ignored: SQ is graded from the instructor's tests, not the edited `pass`",
    ),
    BrokenFile(
        "grade_id_renamed",
        _edit(_rename_grade_id),
        "the grad_at answer is not credited under a made-up id: grad_at is graded as the instructor's "
        "grad_at cell is found (or 0 if it is not), never more; no crash, other questions graded normally",
    ),
    BrokenFile(
        "points_100",
        _edit(_points_100),
        "submitted points metadata is ignored: grad_at is worth its 2 points, never 100",
    ),
    BrokenFile(
        "solution_after_test",
        _edit(_solution_after_test),
        "cell order does not matter for grading: the answer defined after its test still gets graded normally",
    ),
)

