"""`grader release`: generate the student version with nbgrader, then audit it, loudly."""

from __future__ import annotations

import ast
import json

import nbformat
import pytest

from grader.cli import main
from grader.course import Course
from grader.demo.run import kit_course_root


@pytest.fixture
def fresh_course(tmp_path) -> Course:
    from sample import SAMPLE

    from grader.demo.run import prepare_course

    return prepare_course(tmp_path, kit_course_root(), SAMPLE)


def edit_source(course: Course, grade_id: str, edit) -> None:
    path = course.source_notebook()
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = edit(cell.source)
    nbformat.write(nb, path)


@pytest.mark.slow(17)
def test_release_generates_the_student_version_and_passes_the_audit(fresh_course, capsys, monkeypatch):
    """Does `grader release derivatives` write release/ and report a passing audit with exit 0,
    grading each distinct notebook once (the correct answers packed, the n-th of every question
    together) while reporting every case?"""
    from grader.judge.pool import JudgePool
    from grader.release.audit import _cases, _packs

    graded = []
    real = JudgePool.grade_notebooks

    def counted(pool, notebooks, questions=None):
        notebooks = list(notebooks)
        graded.extend(json.dumps(json.loads(item[1].read_text()), sort_keys=True) for item in notebooks)
        return real(pool, notebooks, questions)

    monkeypatch.setattr(JudgePool, "grade_notebooks", counted)
    code = main(["--course", str(fresh_course.root), "release", "derivatives"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert fresh_course.release_notebook().is_file()
    assert "audit passed" in out
    assert out.count("wrong answer ") >= 30 and "FAIL" not in out
    assert "ok  visible tests catch " in out and "misconceptions before submission (" in out  # the two rates
    assert "ok  messages name the cause of " in out
    cases = list(_cases(fresh_course, None))
    assert out.count("correct answer ") + out.count("wrong answer ") + 2 == len(cases), "every case is reported"
    alone = [json.dumps(case.notebook, sort_keys=True) for case in cases if case.answer is None]
    packs = [json.dumps(pack.notebook, sort_keys=True) for pack in _packs(cases)]
    assert sorted(graded) == sorted(set(alone + packs)), "each distinct notebook graded once"
    assert len(graded) < len(cases) - sum(case.answer is not None for case in cases) / 2


@pytest.mark.slow(12)
def test_a_correct_answer_that_loses_points_is_named_though_graded_in_a_pack(fresh_course, capsys):
    """Does a bank's "correct" answer that is wrong fail the audit under its own name, with its
    lost question, while the answers packed with it still hold?"""
    bank = fresh_course.root / "source" / "derivatives" / "banks" / "correct.py"
    bank.write_text(bank.read_text() + (
        "\nCORRECT = (*CORRECT, Answer('grad_at_secretly_wrong', 'grad_at', "
        "'def grad_at(f, x0):\\n    return torch.tensor(0.0)\\n', 'a wrong answer filed as correct'))\n"))
    code = main(["--course", str(fresh_course.root), "release", "derivatives"])
    out = capsys.readouterr().out
    assert code == 1
    [failure] = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert "correct answer grad_at_secretly_wrong scores full" in failure and "lost grad_at" in failure


def test_a_wrong_answer_that_passes_is_named_though_graded_in_a_pack(fresh_course, capsys):
    """Does a bank's "wrong" answer that is right fail the audit under its own name (it passed
    its question), while the wrong answers packed with it still hold?"""
    bank = fresh_course.root / "source" / "derivatives" / "banks" / "wrong.py"
    right = ("def grad_at(f, x0):\n    x = torch.tensor(float(x0), requires_grad=True)\n"
             "    f(x).backward()\n    return x.grad\n")
    bank.write_text(bank.read_text() + (
        f"\nWRONG = (Answer('grad_at_secretly_right', 'grad_at', {right!r}, 'a right answer filed as wrong'), *WRONG)\n"))
    code = main(["--course", str(fresh_course.root), "release", "derivatives"])
    out = capsys.readouterr().out
    assert code == 1
    [failure] = [line for line in out.splitlines() if line.startswith("FAIL") and "loses exactly" in line]
    assert "wrong answer grad_at_secretly_right loses exactly grad_at" in failure and "passed grad_at" in failure
    [unseen] = [line for line in out.splitlines() if line.startswith("FAIL visible tests catch")]
    assert "not shown before submission: grad_at_secretly_right" in unseen


def test_only_wrong_answers_that_cannot_reach_another_question_are_packed():
    """Is a wrong answer packed with others only when its cell holds nothing but definitions and
    imports of names no other question's reference cell binds or reads, and reads no other
    question's answer (which, in a pack, is another wrong one)?"""
    from grader.banks import Answer
    from grader.release.audit import _packable

    others = {"grad_at": {"grad_at"}, "derivative_on_grid": {"derivative_on_grid", "plot_helper"}}
    answers = {"grad_at": {"grad_at"}, "derivative_on_grid": {"derivative_on_grid"}}

    def packable(source: str) -> bool:
        return _packable(Answer("a", "grad_at", source, ""), others, answers=answers)

    assert packable("import torch\n\ndef grad_at(f, x0):\n    return f(x0)\n")
    assert packable('class Helper:\n    """doc"""\n    def m(self):\n        pass\n\ndef grad_at(f, x0):\n    pass\n')
    assert not packable("torch.set_default_dtype(torch.float64)\ndef grad_at(f, x0):\n    pass\n")
    assert not packable("@torch.no_grad()\ndef grad_at(f, x0):\n    pass\n")
    assert not packable("def plot_helper():\n    pass\ndef grad_at(f, x0):\n    pass\n")
    assert not packable("class C:\n    x = print('side effect')\n")
    assert not packable("def grad_at(f, x0):\n    return derivative_on_grid(f, torch.tensor([x0]))[0]\n")


def test_a_predicted_value_is_packed_as_a_literal_beside_the_lines_the_release_gives():
    """An answer that binds its own name to a literal (ATTRIBUTES = {...}) after the lines its
    release cell gives every student is packed; one that computes it, or runs other code, is not."""
    from grader.banks import Answer
    from grader.release.audit import _packable

    given = frozenset(ast.dump(node) for node in ast.parse("x = torch.tensor(2.0, requires_grad=True)\n"
                                                             "y = x ** 2\ny.backward()\n").body)
    others = {"grad_at": {"grad_at", "x", "y"}, "attributes": {"ATTRIBUTES", "x", "y"}}
    answers = {"grad_at": {"grad_at"}, "attributes": {"ATTRIBUTES"}}

    def packable(source: str) -> bool:
        return _packable(Answer("a", "attributes", source, ""), others, answers=answers, given=given)

    lines = "x = torch.tensor(2.0, requires_grad=True)\ny = x ** 2\ny.backward()\n"
    assert packable(lines + 'ATTRIBUTES = {"x": {"data": 2.0, "grad": 4.0}}\n')
    assert not packable(lines + 'ATTRIBUTES = {"x": {"data": x.item()}}\n')  # computed: it runs code
    assert not packable(lines + "x = torch.tensor(3.0)\nATTRIBUTES = {}\n")  # rebinds what others read
    assert not packable('OTHER = {"a": 1}\n')  # a literal, but not the question's answer name


@pytest.mark.slow(8)
def test_release_fails_loudly_when_the_source_solution_is_wrong(fresh_course, capsys):
    """Does a source notebook whose SQ ignores grad_output fail the audit with exit 1?"""
    edit_source(fresh_course, "SQ", lambda s: s.replace("grad_output * 2 * i", "2 * i"))
    code = main(["--course", str(fresh_course.root), "release", "derivatives", "--question", "SQ"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL the source notebook passes all its own tests" in out and "SQ" in out


@pytest.mark.slow(10)
def test_release_fails_loudly_when_a_solution_leaks(fresh_course, capsys):
    """Does solution text copied outside the solution region fail the audit?"""
    source = nbformat.read(fresh_course.source_notebook(), as_version=4)
    leaked = next(c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "grad_at")
    answer = leaked.source.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
    source.cells.insert(0, nbformat.v4.new_markdown_cell("Hint:\n" + answer))
    nbformat.write(source, fresh_course.source_notebook())
    assert main(["--course", str(fresh_course.root), "release", "derivatives", "--question", "grad_at"]) == 1
    assert "FAIL no solution text in any released file" in capsys.readouterr().out


def test_release_refuses_an_unknown_assignment(fresh_course, capsys):
    """Does `grader release homework2` exit 2 with a one-line error naming the folder to create?"""
    assert main(["--course", str(fresh_course.root), "release", "homework2"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "source/homework2/" in error


def test_an_unknown_question_is_one_line_naming_the_known_ones(fresh_course, capsys):
    """Does `grader release derivatives --question sq` (the question is SQ) exit 2 with one line
    that lists the assignment's autograded questions?"""
    assert main(["--course", str(fresh_course.root), "release", "derivatives", "--question", "sq"]) == 2
    [error] = capsys.readouterr().err.strip().splitlines()
    assert "no autograded question 'sq' in derivatives" in error and "SQ, " in error and "grad_at" in error


def test_commands_outside_a_course_fail_with_one_line(tmp_path, capsys):
    """Does every course command fail with a one-line error and exit 2 outside a course directory?"""
    for command in (["autograde", "derivatives"], ["export", "derivatives"], ["feedback", "derivatives"]):
        assert main(["--course", str(tmp_path), *command]) == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.slow(40)
def test_a_question_release_regenerates_only_what_changed_and_equals_a_full_one(fresh_course, capsys):
    """Does `--question` keep the release notebook when its source is unchanged (refreshing the
    checks beside it, and judging only that question), regenerate it with nbgrader when the source
    changed, and write each time exactly the release a full generation writes?"""
    from grader.release.generate import release_is_current

    root = str(fresh_course.root)
    assert main(["--course", root, "release", "derivatives", "--question", "leaves"]) == 0
    assert "as it was" not in capsys.readouterr().out  # no release yet: nbgrader writes it
    check = fresh_course.root / "source" / "derivatives" / "checks" / "leaves.py"
    check.write_text(check.read_text() + "\n# a remark for students\n")
    assert main(["--course", root, "release", "derivatives", "--question", "leaves"]) == 0
    out = capsys.readouterr().out
    assert "the notebook as it was" in out and "audit passed" in out
    assert "wrong answer sq_" not in out and "gradebook" not in out
    released = fresh_course.release_notebook().parent / "checks" / "leaves.py"
    assert released.read_text() == check.read_text()
    assert release_is_current(fresh_course) is True
    edit_source(fresh_course, "leaves", lambda s: s + "\n")
    assert main(["--course", root, "release", "derivatives", "--question", "leaves"]) == 0
    assert "as it was" not in capsys.readouterr().out
    assert release_is_current(fresh_course) is True


def test_a_question_release_runs_its_misconceptions_as_a_student_does(fresh_course, capsys):
    """Does `--question` still run the question's misconceptions through the release's own test
    cells (in the child its judges' process forks), failing a bank that leaves to the hidden tests
    a misconception the visible tests show?"""
    edit_check(fresh_course, "banks/wrong.py", 'cause="the pair is swapped",',
               'cause="the pair is swapped",\n        left_to_hidden=_PREDICTION,')
    root = str(fresh_course.root)
    assert main(["--course", root, "release", "derivatives", "--question", "leaves"]) != 0
    out = capsys.readouterr().out
    assert "FAIL visible tests catch 5 of 10 misconceptions" in out
    assert "left to hidden tests but shown: leaves_grads_swapped" in out


def edit_check(course: Course, relative: str, old: str, new: str) -> None:
    path = course.root / "source" / "derivatives" / relative
    text = path.read_text()
    assert old in text, f"{relative} no longer holds {old!r}"
    path.write_text(text.replace(old, new))


@pytest.mark.slow(12)
def test_a_check_that_raises_on_wrong_answers_fails_the_release_naming_answer_and_line(fresh_course, capsys):
    """Does a check that raises AttributeError on every wrong value fail the release, though each
    wrong answer still loses its question, naming the answer, the check's line and the error?"""
    edit_check(fresh_course, "checks/grad_at.py", '    assert_close(value, expected, call, tolerance="float32", hint=',
               "    value.tensor if is_close(value.tensor, expected, 'float32') else value.held_gradient\n"
               '    assert_close(value, expected, call, tolerance="float32", hint=')
    code = main(["--course", str(fresh_course.root), "release", "derivatives", "--question", "grad_at"])
    out = capsys.readouterr().out
    assert code == 1, out
    failures = [line for line in out.splitlines() if line.startswith("FAIL")]
    hardcoded = next(line for line in failures if "wrong answer grad_at_hardcoded_square loses exactly grad_at" in line)
    assert "a check raised in grad_at" in hardcoded and "AttributeError" in hardcoded and "held_gradient" in hardcoded
    line = next(n for n, text in enumerate((fresh_course.root / "source/derivatives/checks/grad_at.py")
                                           .read_text().splitlines(), 1) if "held_gradient" in text)
    assert f"checks/grad_at.py:{line} in check_grad_at" in hardcoded
    assert not any("correct answer" in line for line in failures), "right answers never reach the bad line"


@pytest.mark.slow(8)
def test_a_check_that_raises_on_the_reference_fails_the_release(fresh_course, capsys):
    """Does a hidden check that raises KeyError on every answer fail the source notebook's case by
    name, with the hidden module's line?"""
    edit_check(fresh_course, "hidden/grad_at.py", '    x0 = round(rng.uniform(0.5, 3.0), 3)\n',
               '    x0 = round(rng.uniform(0.5, 3.0), 3)\n    {}["x0"]\n')
    code = main(["--course", str(fresh_course.root), "release", "derivatives", "--question", "grad_at"])
    out = capsys.readouterr().out
    assert code == 1, out
    [source] = [line for line in out.splitlines() if "the source notebook passes all its own tests" in line]
    assert source.startswith("FAIL") and "KeyError: 'x0'" in source and "hidden/grad_at.py:" in source


@pytest.mark.slow(12)
def test_the_audit_prints_what_each_misconception_reads_and_fails_a_vague_message(fresh_course, capsys):
    """Does the audit print the message each misconception's student reads, and fail a question whose
    wrong values are told only "not quite right", naming those answers and the rule?"""
    code = main(["--course", str(fresh_course.root), "release", "derivatives", "--question", "grad_at"])
    out = capsys.readouterr().out
    assert code == 0, out
    [hardcoded] = [line for line in out.splitlines() if "wrong answer grad_at_hardcoded_square" in line]
    assert "a student reads: grad_at: that is 2 * x0" in hardcoded and "expected" in hardcoded
    edit_check(fresh_course, "checks/grad_at.py", '    assert_close(value, expected, call, tolerance="float32", hint=',
               "    assert is_close(value.tensor, expected, 'float32'), 'not quite right'\n"
               '    assert_close(value, expected, call, tolerance="float32", hint=')
    code = main(["--course", str(fresh_course.root), "release", "derivatives", "--question", "grad_at"])
    out = capsys.readouterr().out
    assert code == 1, out
    [failure] = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert "grad_at: each misconception's message names the call or the value" in failure
    assert "grad_at_hardcoded_square reads 'not quite right'" in failure and "must name" in failure
    assert "grad_at_forgets_return" not in failure, "a message that names the call is specific"
