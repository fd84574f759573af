"""The checks judge the banks: each WRONG answer loses exactly its question, each CORRECT one scores full."""

import random
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from sample import (  # noqa: E402
    AUTOGRADED,
    CORRECT,
    WRONG,
    Answer,
    local_subject,
    question,
    reference,
    run_question,
)

from grader.runtime import LocalSubject  # noqa: E402
from grader.worker.session import definition_source  # noqa: E402

SEEDS = (0, 1)

# WRONG answers the checks do not catch yet (checks belong to source/<assignment>/); strict, so a fix shows.
KNOWN_GAPS: dict[str, str] = {}


def _wrong_params():
    return [
        pytest.param(a, id=a.name, marks=[pytest.mark.xfail(reason=KNOWN_GAPS[a.name], strict=True)])
        if a.name in KNOWN_GAPS
        else pytest.param(a, id=a.name)
        for a in WRONG
    ]


def _subject(ans: Answer) -> LocalSubject:
    """The reference answers in notebook order, with `ans` in place of its question's reference."""
    cells = {q.id: reference(q.id) for q in AUTOGRADED} | {ans.question: ans}
    sources = [cells[q.id].source for q in AUTOGRADED]
    namespace = {"torch": torch, "plt": plt, "__name__": "__main__"}
    for q in AUTOGRADED:
        exec(compile(cells[q.id].source, f"<{cells[q.id].name}>", "exec"), namespace)
    return local_subject(namespace, source_lookup=lambda name: definition_source(sources, name))  # as the judge reads it


def _statuses(ans: Answer, seed: int) -> dict[str, tuple[str, list]]:
    # Honest answers may warn; a plain process shows warnings, it does not raise them.
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        subject = _subject(ans)
        try:
            verdicts = {q.id: run_question(q.id, subject, random.Random(seed)) for q in AUTOGRADED}
        finally:
            plt.close("all")
    return {qid: (v.status, list(v.messages)) for qid, v in verdicts.items()}


@pytest.mark.parametrize("ans", _wrong_params())
@pytest.mark.parametrize("seed", SEEDS)
def test_wrong_answer_loses_exactly_its_question(ans: Answer, seed: int):
    """Does this misconception lose its own question, and nothing else?"""
    statuses = _statuses(ans, seed)
    status, messages = statuses[ans.question]
    assert status != "passed", f"{ans.name} passed {ans.question}: {ans.note}"
    assert not any("internal error" in m for m in messages), messages
    others = {qid: s for qid, s in statuses.items() if qid != ans.question and s[0] != "passed"}
    assert not others, f"{ans.name} also failed other questions: {others}"


@pytest.mark.parametrize("ans", CORRECT, ids=[a.name for a in CORRECT])
@pytest.mark.parametrize("seed", SEEDS)
def test_correct_answer_scores_full(ans: Answer, seed: int):
    """Does this honest style keep every point?"""
    failed = {qid: s for qid, s in _statuses(ans, seed).items() if s[0] != "passed"}
    assert not failed, f"{ans.name} ({ans.note}) lost: {failed}"


def test_targets_are_autograded():
    """Is every bank answer aimed at a question the checks grade?"""
    assert {a.question for a in (*CORRECT, *WRONG)} <= {q.id for q in AUTOGRADED}
    assert set(KNOWN_GAPS) <= {a.name for a in WRONG}
    assert all(question(a.question).points > 0 for a in WRONG)
