"""Answers that look alike: copies found, honest students who chose alike left alone, hostile notebooks bounded."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from lookalike_class import (
    build_class,
    copy_student,
    disguise,
    notebook_of,
    renames_for,
    write_class,
)
from sample import BANKS, KIT_ROOT, QUESTIONS

from grader.intake.bounds import MAX_CODE_CHARS
from grader.intake.notebook import read_notebook
from grader.report.similar.compare import compare_submissions
from grader.report.similar.pieces import MAX_PIECES, MAX_SHOWN_CHARS, PieceReader

RELEASE = KIT_ROOT / "release" / "derivatives" / "derivatives.ipynb"
ANSWERS = frozenset(q.id for q in QUESTIONS)
ENOUGH = 0.90  # of copied pairs found
AT_MOST = 0.05  # of honest pairs grouped


def _compare(paths: dict[str, Path]):
    return compare_submissions({s: {"derivatives": p} for s, p in paths.items()}, {"derivatives": RELEASE}, ANSWERS)


def _grouped(groups: list[list[str]]) -> set[tuple[str, str]]:
    """Pairs of students the section puts in one group."""
    return {(a, b) for students in groups for a in students for b in students if a < b}


def _figures(synthetic, groups: list[list[str]]) -> dict:
    grouped = _grouped(groups)
    copied = synthetic.copied_pairs()
    honest, same = synthetic.honest_pairs(), synthetic.same_style_pairs()
    found = Counter(kind for pair, kind in copied.items() if pair in grouped)
    kinds = Counter(copied.values())
    return {
        "whole copies found": (found["whole"], kinds["whole"]),
        "partial copies found": (found["partial"], kinds["partial"]),
        "honest pairs grouped": (sum(p in grouped for p in honest), len(honest)),
        "same-style honest pairs grouped": (sum(p in grouped for p in same), len(same)),
    }


def _share(figure: tuple[int, int]) -> float:
    return figure[0] / figure[1] if figure[1] else 0.0


def _print(capsys, title: str, figures: dict, **more) -> None:
    shown = [f"{name} {k:,} of {n:,} ({_share((k, n)):.2%})" for name, (k, n) in figures.items()]
    with capsys.disabled():
        print(f"\n{title}: " + "; ".join(shown + [f"{name} {value}" for name, value in more.items()]))


def _assert_measured(figures: dict) -> None:
    assert _share(figures["whole copies found"]) >= ENOUGH, figures
    assert _share(figures["honest pairs grouped"]) <= AT_MOST, figures
    assert figures["same-style honest pairs grouped"][1] > 0, "the class has students who chose the same styles"
    assert _share(figures["same-style honest pairs grouped"]) <= AT_MOST, figures


def _pooled(figures: list[dict]) -> dict:
    return {name: tuple(map(sum, zip(*(f[name] for f in figures), strict=True))) for name in figures[0]}


@pytest.mark.duration(25)
@pytest.mark.parametrize("honest, copiers, classes", [(80, 20, 6), (300, 60, 1)], ids=["100-students", "360-students"])
def test_copies_are_found_and_honest_students_who_chose_alike_are_not(honest, copiers, classes, tmp_path, capsys):
    """In a class of honest students drawn from the banks and a fifth as many who copied a classmate's
    notebook (renamed, reformatted, statements and cells reordered, comments reworded; a quarter copied
    only five answers and the explanation), are at least 90% of the whole copies grouped with their
    source, and at most 5% of honest pairs, also among those who chose the same styles? A class of 100
    holds about 16 whole copies, too few for a rate (one family copied from a notebook of nothing but
    the commonest styles is a fifth of them), so that size is measured over several classes, pooled."""
    measured = []
    for seed in range(7, 7 + classes):
        synthetic = build_class(honest, copiers, seed=seed)
        result = _compare(write_class(synthetic, RELEASE, tmp_path / f"class-{seed}"))
        measured.append(_figures(synthetic, [g.students for g in result.groups]))
        _print(capsys, f"{honest + copiers} students (seed {seed})", measured[-1], groups=len(result.groups),
               threshold=result.threshold)
    figures = _pooled(measured)
    if classes > 1:
        _print(capsys, f"{classes} classes of {honest + copiers}, pooled", figures)
    _assert_measured(figures)


@pytest.mark.duration(40)
def test_a_thousand_students_are_compared_within_the_reports_budget(tmp_path, capsys):
    """For 1,000 students, how long does the comparison take in a fresh process, from the files on disk
    to its groups, imports included (printed: wall and CPU seconds; the report's budget is 10 s), and
    does it still find the copies and spare the honest?"""
    synthetic = build_class(900, 100, seed=11)
    paths = write_class(synthetic, RELEASE, tmp_path / "class")
    job = {"paths": {s: str(p) for s, p in paths.items()}, "answers": sorted(ANSWERS), "release": str(RELEASE)}
    (tmp_path / "job.json").write_text(json.dumps(job), encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", TIMED_COMPARISON, str(tmp_path / "job.json")],
                          capture_output=True, text=True, timeout=600, cwd=KIT_ROOT)
    assert done.returncode == 0, done.stderr
    measured = json.loads(done.stdout)
    figures = _figures(synthetic, measured["groups"])
    _print(capsys, "1,000 students", figures, seconds=measured["seconds"], cpu_seconds=measured["cpu"],
           groups=len(measured["groups"]), threshold=measured["threshold"])
    assert measured["compared"] == 1000
    _assert_measured(figures)


# What `grader report` does for this section, alone in a fresh process: its imports, reading, comparing.
TIMED_COMPARISON = """
import json, sys, time
started, cpu = time.perf_counter(), time.process_time()
from pathlib import Path
from grader.report.similar.compare import compare_submissions
job = json.loads(Path(sys.argv[1]).read_text())
result = compare_submissions({s: {"derivatives": Path(p)} for s, p in job["paths"].items()},
                             {"derivatives": Path(job["release"])}, frozenset(job["answers"]))
print(json.dumps({"seconds": round(time.perf_counter() - started, 2), "cpu": round(time.process_time() - cpu, 2),
                  "compared": result.compared, "threshold": result.threshold,
                  "groups": [g.students for g in result.groups]}))
"""


def test_what_copying_changes_cheaply_changes_no_piece():
    """Does every bank answer keep its pieces when its names are changed, it is reformatted, its
    comments and docstrings are reworded and its independent statements swapped?"""
    reader = PieceReader(read_notebook(RELEASE).cells, ANSWERS)
    for answer in (*BANKS.correct, *BANKS.wrong):
        student = build_class(1, 0, seed=1).students[0]
        student.answers = {answer.question: answer.source}
        # each answer disguised on its own draws (a short one is left as it was by a few of them)
        changed = next(text for seed in range(20) if (text := _disguised(answer, student, seed)) != answer.source)
        assert _features(reader, answer.source) == _features(reader, changed), answer.name


def _disguised(answer, student, seed: int) -> str:
    rng = random.Random(f"{answer.name}:{seed}")
    return disguise(answer.source, renames_for(student, rng), rng)


def _features(reader: PieceReader, source: str):
    cells = [type("Cell", (), {"index": 0, "cell_type": "code", "source": source, "grade_id": None})()]
    return [p.features for p in reader.pieces("s", cells)]


def test_what_the_release_holds_counts_for_no_one(tmp_path):
    """Does a notebook handed in unchanged have no pieces, and one with a single answer exactly that one?"""
    import nbformat

    release = nbformat.read(RELEASE, as_version=4)
    reader = PieceReader(read_notebook(RELEASE).cells, ANSWERS)
    assert reader.pieces("blank", read_notebook(RELEASE).cells) == []
    student = build_class(1, 0, seed=1).students[0]
    student.answers, student.written, student.extras = {"grad_at": BANKS.reference("grad_at").source}, "", []
    path = tmp_path / "one.ipynb"
    path.write_text(json.dumps(notebook_of(student, release)), encoding="utf-8")
    assert [p.label for p in reader.pieces("one", read_notebook(path).cells)] == ["grad_at"]


def _hostile_notebooks(release: dict) -> dict[str, bytes]:
    """Notebooks a student could hand in to make the comparison slow or crash it."""
    def notebook(*cells) -> bytes:
        nb = json.loads(json.dumps(release))
        nb["cells"].extend({"cell_type": kind, "metadata": {}, "source": source, **extra} for kind, source, extra in cells)
        return json.dumps(nb).encode("utf-8", "surrogatepass")

    code = "x = torch.tensor(1.0) * 2\n" * 8000
    return {
        "huge-cells": notebook(("code", code[:199_000], {}), ("markdown", "word " * 40_000, {})),
        "many-cells": notebook(*[("code", f"print({i} + {i})\n" * 20, {}) for i in range(400)]),
        "deep-nesting": notebook(("code", "x = " + "[" * 5000 + "]" * 5000, {}), ("code", "y = a" + " + a" * 30_000, {}),
                                 ("code", "f = " + "lambda: " * 3000 + "1", {}), ("code", "(" * 100_000, {})),
        "odd-cells": notebook(("code", ["print(1)\n", 7, None], {}), ("widget", "x = 1", {}), ("code", "\ud800 = 1", {}),
                              ("markdown", "<script>alert(1)</script></pre>", {"metadata": {"nbgrader": {"grade_id": 5}}})),
        "not-utf8": b'{"cells": [], "nbformat": 4, "x": "\xff\xfe"}',
        "not-json": b"this is not a notebook",
        "nested-json": b"[" * 200_000 + b"]" * 200_000,
    }


@pytest.mark.duration(10)
def test_hostile_notebooks_are_read_within_bounds_and_never_stop_the_comparison(tmp_path, capsys):
    """With huge cells, hundreds of cells, nesting deeper than Python's parser takes, odd cell fields,
    non-UTF-8 bytes and JSON nested 200,000 deep among an honest class: does the comparison finish,
    name each unreadable file in one line, and read no notebook past its budget of pieces and characters?"""
    synthetic = build_class(14, 2, seed=5)
    paths = write_class(synthetic, RELEASE, tmp_path)
    release = json.loads(RELEASE.read_text(encoding="utf-8"))
    for name, data in _hostile_notebooks(release).items():
        paths[name] = tmp_path / f"{name}.ipynb"
        paths[name].write_bytes(data)
    started = time.process_time()
    result = _compare(paths)
    with capsys.disabled():
        print(f"\nhostile class of {len(paths)}: compared in {time.process_time() - started:.2f} CPU seconds")
    assert set(result.not_compared) == {"not-utf8", "not-json", "nested-json"}
    assert all("\n" not in why and why for why in result.not_compared.values())
    reader = PieceReader(read_notebook(RELEASE).cells, ANSWERS)
    for name in ("huge-cells", "many-cells", "deep-nesting", "odd-cells"):
        pieces = reader.pieces(name, read_notebook(paths[name]).cells)
        assert 0 < len(pieces) <= MAX_PIECES, name
        assert all(len(p.text) <= MAX_SHOWN_CHARS for p in pieces), name
    many = reader.pieces("many-cells", read_notebook(paths["many-cells"]).cells)
    assert len(many) == MAX_PIECES  # 400 cells of work, the first MAX_PIECES compared
    huge = read_notebook(paths["huge-cells"]).cells
    assert sum(len(c.source) for c in huge) > MAX_CODE_CHARS  # over the budget, which stops reading there


def test_an_assignment_of_two_notebooks_is_compared_as_one_piece_of_work(tmp_path):
    """When an assignment has two notebooks and a copier put a classmate's work in the other one, is
    the pair still grouped, each piece labelled with its notebook?"""
    import nbformat

    release = nbformat.read(RELEASE, as_version=4)
    students = build_class(11, 0, seed=21).students
    source = max(students, key=lambda s: (len(s.extras), bool(s.written), s.id))
    copier = copy_student("zed", source, random.Random(4), partial=False)
    submissions = {}
    for student in [*students, copier]:
        work, blank = tmp_path / f"{student.id}-work.ipynb", tmp_path / f"{student.id}-blank.ipynb"
        work.write_text(json.dumps(notebook_of(student, release)), encoding="utf-8")
        blank.write_text(json.dumps(release), encoding="utf-8")
        first, second = (blank, work) if student is copier else (work, blank)
        submissions[student.id] = {"part1": first, "part2": second}
    result = compare_submissions(submissions, {"part1": RELEASE, "part2": RELEASE}, ANSWERS)
    [group] = result.groups
    assert group.students == sorted([source.id, copier.id])
    [pair] = group.pairs
    by_student = dict(zip(pair.students, ("left_label", "right_label"), strict=True))
    labels = {getattr(piece, by_student[copier.id]) for piece in pair.shared}
    assert "part2: grad_at" in labels and all(label.startswith("part2: ") for label in labels)
