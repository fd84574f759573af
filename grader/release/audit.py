"""Audit an assignment before it goes out: its facts agree, the release leaks nothing, its own tests and banks behave."""

from __future__ import annotations

import ast
import contextlib
import json
import random
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader.assignment import INSTRUCTOR_ONLY
from grader.course import Course

__all__ = ["AuditReport", "Finding", "audit_assignment", "MIN_MISCONCEPTIONS", "MIN_CAUGHT_BEFORE_SUBMISSION",
           "MIN_NAMED", "caught_before_submission", "named_by_message"]

MIN_MISCONCEPTIONS = 2  # known wrong answers each autograded question must have in its bank
MIN_CAUGHT_BEFORE_SUBMISSION = 0.85  # of the WRONG bank, shown by the release's own test cells
MIN_NAMED = 0.90  # of the WRONG bank, named by its message (the bank's cause words)
# "(2 points)", "(1 point, graded by hand)": the points a question's text states
POINTS_TEXT = re.compile(r"\((\d+(?:\.\d+)?) points?\b", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    """One audit check: what was checked, whether it held, and why not."""

    check: str
    ok: bool
    detail: str = ""


@dataclass
class AuditReport:
    findings: list[Finding] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(f.ok for f in self.findings)

    def failures(self) -> list[Finding]:
        return [f for f in self.findings if not f.ok]

    def summary(self) -> str:
        return f"{sum(f.ok for f in self.findings)}/{len(self.findings)} checks held"

    def table(self) -> str:
        lines = [f"{'ok ' if f.ok else 'FAIL'} {f.check}{': ' + f.detail if f.detail else ''}" for f in self.findings]
        verdict = "audit passed" if self.passed else f"audit FAILED: {len(self.failures())} problem(s)"
        return "\n".join([*lines, f"{verdict} ({self.summary()})"])


def audit_assignment(course: Course, *, jobs: int | None = None, question: str | None = None,
                     judges=None, students=None, gradebook: bool = True) -> AuditReport:
    """Run every audit check (those of one question with `question`); the report says which failed and why.

    The cases are graded in parallel by `judges` (a JudgePool of this course, left open) or by
    `jobs` judges started here; meanwhile `students` (a StudentRunner; else the judges' own, or
    one started here) runs every misconception through the release's own test cells. gradebook=False leaves the
    gradebook's points unread (see `static_findings`).
    """
    from grader.demo.scenarios import solved
    from grader.judge.batch import default_jobs
    from grader.judge.pool import JudgePool
    from grader.release.student_run import StudentRun, StudentRunner

    report = AuditReport()
    with contextlib.ExitStack() as stack:
        if judges is None:  # started first: their start-up, and the student runs', overlap what follows
            judges = stack.enter_context(JudgePool(course, jobs or default_jobs(), wait=False,
                                                   student_run=students is None))
        students = students or judges.students or stack.enter_context(StudentRunner())
        report.findings += static_findings(course, question=question, gradebook=gradebook)
        release = nbformat.read(course.release_notebook(), as_version=4)
        reference = solved(release, course.spec.banks)
        cases = list(_cases(course, question, release, reference))
        packs = _packs(cases)
        wrong = [case for case in cases if case.wrong]
        # the release's own test cells, run as a student runs them, while the judges grade
        shown = students.start(course.release_notebook().parent, reference,
                               [StudentRun(c.bank_answer.name, c.bank_answer.question, c.bank_answer.source)
                                for c in wrong])
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        alone = [case for case in cases if case.answer is None]
        only = {question} if question else None  # one question's audit judges that question alone
        judged = [only] * len(alone) + [pack.scope if pack.wrong else only for pack in packs]
        results = _grade(judges, scratch, [case.notebook for case in alone] + [pack.notebook for pack in packs], judged)
        graded = {id(case): result for case, result in zip(alone, results, strict=False)}
        failed = []
        for pack, result in zip(packs, results[len(alone):], strict=True):
            held = _finding(pack, result).ok
            graded.update({id(case): result for case in pack.cases} if held else {})
            failed += [] if held else pack.cases
        # a pack that lost a question is graded answer by answer: which answer it was, and why
        graded.update({id(case): result for case, result in
                       zip(failed, _grade(judges, scratch, [case.notebook for case in failed], only),
                           strict=True)})
        caught = _caught_finding([case.bank_answer for case in wrong], shown, whole=question is None)
    packed = {id(case) for pack in packs for case in pack.cases} - {id(case) for case in failed}
    read = {id(case): _student_reads(graded[id(case)], case.bank_answer.question) for case in wrong}
    report.findings += [_shown(Finding(case.check, True) if id(case) in packed else _finding(case, graded[id(case)]),
                               read.get(id(case))) for case in cases]
    report.findings += _specific_messages(course, [(case, read[id(case)]) for case in wrong])
    report.findings += [caught, _named_finding([case.bank_answer for case in wrong],
                                               [_messages(graded[id(case)], case.bank_answer.question)
                                                for case in wrong], whole=question is None)]
    return report


def caught_before_submission(answers, shown: dict) -> tuple[list, list, list]:
    """(caught by the release's test cells, not caught though the bank says they must be, caught
    though the bank leaves them to hidden tests): `shown[name]` is what the answer's test cell showed."""
    caught = [a for a in answers if shown.get(a.name) is not None]
    missed = [a for a in answers if shown.get(a.name) is None and not a.left_to_hidden]
    surplus = [a for a in caught if a.left_to_hidden]
    return caught, missed, surplus


def named_by_message(answer, messages: list[str]) -> bool:
    """Whether the messages on the answer's question hold the words its bank entry names it by."""
    return bool(answer.cause) and any(answer.cause in message for message in messages)


def _caught_finding(answers, shown, *, whole: bool) -> Finding:
    """The share of the WRONG bank a student sees fail before handing in (a full audit holds it to the minimum)."""
    try:
        outcomes = shown()
    except (RuntimeError, OSError, ValueError) as exc:
        return Finding("visible tests catch the misconceptions before submission", False, str(exc))
    if not answers:
        return Finding("visible tests catch misconceptions before submission: the banks hold none to catch", True)
    caught, missed, surplus = caught_before_submission(answers, outcomes)
    left = sum(bool(a.left_to_hidden) for a in answers)
    rate = len(caught) / len(answers)
    detail = [f"not shown before submission: {', '.join(a.name for a in missed)}" if missed else "",
              f"left to hidden tests but shown: {', '.join(a.name for a in surplus)}" if surplus else "",
              f"under {MIN_CAUGHT_BEFORE_SUBMISSION:.0%}" if whole and rate < MIN_CAUGHT_BEFORE_SUBMISSION else ""]
    return Finding(f"visible tests catch {len(caught)} of {len(answers)} misconceptions before submission "
                   f"({rate:.0%}; at least {MIN_CAUGHT_BEFORE_SUBMISSION:.0%}; the bank leaves {left} to hidden tests)",
                   not any(detail), "; ".join(d for d in detail if d))


def _named_finding(answers, messages: list[list[str]], *, whole: bool) -> Finding:
    """The share of the WRONG bank whose graded message holds the bank's words for its cause."""
    if not answers:
        return Finding("messages name the cause of misconceptions: the banks hold none", True)
    unnamed = [a.name for a, said in zip(answers, messages, strict=True) if not named_by_message(a, said)]
    rate = 1 - len(unnamed) / len(answers)
    held = rate >= MIN_NAMED or not whole
    return Finding(f"messages name the cause of {len(answers) - len(unnamed)} of {len(answers)} misconceptions "
                   f"({rate:.0%}; at least {MIN_NAMED:.0%})", held,
                   "" if held and not unnamed else f"not named: {', '.join(unnamed)}")


def _messages(result, question: str) -> list[str]:
    return next((q.messages for q in result.questions if q.id == question), [])


@dataclass
class _Case:
    check: str
    notebook: object
    expected: set[str]
    scope: set[str]
    answer: object = None  # a bank's answer that may be graded packed with others' (see _packs)
    cases: list = field(default_factory=list)  # for a pack: the cases it stands for
    wrong: bool = False
    bank_answer: object = None  # the bank's answer this case grades, packable or not


def _packs(cases: list[_Case]) -> list[_Case]:
    """Answers packed into as few notebooks as there are answers to one question: the n-th
    correct answer of every question together, and apart from them the n-th packable wrong
    answer of every question. A pack of correct answers that scores full shows that each
    scores full; a pack of wrong answers whose own questions, and only those, lose points shows
    that each loses exactly its own (a packable wrong answer cannot reach another question's:
    see `_packable`). A pack that does not hold is graded answer by answer."""
    from grader.demo.scenarios import with_answers

    packs = []
    for wrong in (False, True):
        by_question: dict[str, list[_Case]] = {}
        for case in cases:
            if case.answer is not None and case.wrong is wrong:
                by_question.setdefault(case.answer.question, []).append(case)
        for n in range(max(map(len, by_question.values()), default=0)):
            members = [answers[n] for answers in by_question.values() if n < len(answers)]
            # the first member's notebook is the reference with its answer: the others' go in beside it
            notebook = with_answers(members[0].notebook, {case.answer.question: case.answer.source for case in members})
            names = ", ".join(c.answer.name for c in members)
            lost = {c.answer.question for c in members}
            # a pack of wrong answers is judged on their own questions: no packable answer reaches another's
            packs.append(_Case(f"wrong answers {names} each lose exactly their own question" if wrong else
                               f"correct answers {names} score full",
                               notebook, members[0].expected - lost if wrong else members[0].expected,
                               members[0].scope & lost if wrong else members[0].scope, cases=members, wrong=wrong))
    return packs


def _packable(answer, others: dict[str, set[str]], shared: frozenset[str] = frozenset(),
              answers: dict[str, set[str]] | None = None, given: frozenset[str] = frozenset()) -> bool:
    """Whether a wrong answer can only change its own question's outcome: its cell defines
    functions and classes (no decorators, class bodies of definitions only), imports, and binds
    its question's answer names to literals (`ATTRIBUTES = {...}`), and nothing else but the
    statements the release's own answer cell gives (`given`, as `ast.dump`s: the reference runs
    them too); none of the names it binds is bound or read by another question's reference
    cell. Its code then runs only when its own question's checks call it. Nor may it read
    another question's answer (`answers`: each question's answer names): in a pack that answer
    is another wrong one, and this one's outcome would be that one's (a grid made with grad_at)."""
    try:
        tree = ast.parse(answer.source)
    except SyntaxError:
        return False
    bound: set[str] = set()
    own = (answers or {}).get(answer.question, set())
    for node in tree.body:
        if ast.dump(node) in given:
            continue
        if _literal_answer(node, own):
            bound.add(node.targets[0].id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.decorator_list:
            if isinstance(node, ast.ClassDef) and not all(
                    isinstance(item, (ast.FunctionDef, ast.Pass)) or _docstring(item) for item in node.body):
                return False
            bound.add(node.name)
        elif not _docstring(node):
            return False
    bound -= shared  # what the notebook's import cell binds, every answer's too
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return all(not (bound & names) and not (read & (answers or {}).get(question, set()))
               for question, names in others.items() if question != answer.question)


def _literal_answer(node: ast.stmt, names: set[str]) -> bool:
    """`NAME = <a literal>` for one of the question's answer names: binding it runs nothing."""
    if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id in names):
        return False
    try:
        ast.literal_eval(node.value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _given_statements(release, question: str) -> frozenset[str]:
    """The statements of the release's answer cell for `question` (what every answer starts from)."""
    cell = next((c for c in release.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == question), None)
    try:
        return frozenset(ast.dump(node) for node in ast.parse(cell.source).body) if cell is not None else frozenset()
    except SyntaxError:
        return frozenset()


def _imported_names(setup: str) -> frozenset[str]:
    """The names the notebook's import cell binds."""
    try:
        tree = ast.parse(setup)
    except SyntaxError:
        return frozenset()
    return frozenset((alias.asname or alias.name).split(".")[0] for node in tree.body
                     if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names)


def _docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _reference_names(banks, questions) -> dict[str, set[str]]:
    """The names each question's reference cell binds or reads."""
    names = {}
    for question in questions:
        try:
            tree = ast.parse(banks.reference(question.id).source)
        except (KeyError, SyntaxError):
            tree = ast.Module(body=[], type_ignores=[])
        names[question.id] = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
            n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))} | set(question.answers)
    return names


def _grade(judges, scratch: Path, notebooks: list, questions: set[str] | list | None = None) -> list:
    """The result of each notebook (judged on `questions` alone, if given: one set for all, or a
    list with each notebook's); a notebook that recurs is graded once (with every question it is
    judged on)."""
    each = questions if isinstance(questions, list) else [questions] * len(notebooks)
    graded_as, texts = _distinct(notebooks)
    judged: dict[str, set[str] | None] = {}
    for name, wanted in zip(graded_as, each, strict=True):
        judged[name] = None if wanted is None or (name in judged and judged[name] is None) \
            else set(wanted) | judged.get(name, set())
    for name, text in texts.items():
        (scratch / f"{name}.ipynb").write_text(text, encoding="utf-8")
    results = {r.student: r for r in judges.grade_notebooks(
        [(n, scratch / f"{n}.ipynb", judged[n]) for n in texts])}
    return [results[name] for name in graded_as]


def _distinct(notebooks: list) -> tuple[list[str], dict[str, str]]:
    """The name each notebook is graded under, and each distinct notebook's text by that name.

    The same notebook (a bank's correct answer that is the reference solution's own gives the
    reference again) is graded once, and each case holding it is judged against its own
    expectations."""
    first: dict[str, str] = {}
    # plain JSON: these notebooks are the kit's own copies of the release, and the judge's intake
    # validates each as it reads it (nbformat.writes would validate every one here too)
    graded_as = [first.setdefault(json.dumps(notebook, sort_keys=True), f"audit-{len(first)}") for notebook in notebooks]
    return graded_as, {name: text for text, name in first.items()}


def static_findings(course: Course, *, question: str | None = None, gradebook: bool = True) -> list[Finding]:
    """What can be checked without running anything: facts agree, the release shows nothing secret.

    With `question`, the checks of each question's bank and parts are that question's alone.
    gradebook=False compares points in the source and the release only: a release whose notebook
    was not regenerated left the gradebook as the last generation recorded it (and reading it
    costs a command nbgrader's start-up).
    """
    from grader.release.leaks import find_leaks, requirement_problems

    assignment = course.spec
    folder = course.release_notebook().parent
    leaks = find_leaks(assignment, folder)
    shipped = [name for name in INSTRUCTOR_ONLY if (folder / name).exists()]
    problems = requirement_problems(folder / "requirements.txt")
    findings = [
        Finding("no solution text in any released file", not leaks, "; ".join(leaks[:3])),
        Finding("no instructor-only folder in the release", not shipped, ", ".join(shipped)),
        Finding("requirements.txt lists only what a student installs", not problems, "; ".join(problems)),
        _points_agree(course, gradebook),
        _points_in_text(course),
        *_compared_findings(assignment, folder),
    ]
    for q in assignment.autograded:
        if question is not None and q.id != question:
            continue
        findings += _parts_share(assignment, q)
        honest = bool(assignment.banks.correct_for(q.id))
        findings.append(Finding(f"{q.id} has an honest answer in its bank", honest,
                                "" if honest else f"CORRECT in {assignment.folder / 'banks'} has none"))
        known = len(assignment.banks.wrong_for(q.id))
        findings.append(Finding(f"{q.id} has at least {MIN_MISCONCEPTIONS} known misconceptions in its bank",
                                known >= MIN_MISCONCEPTIONS,
                                f"{known} in {assignment.folder / 'banks'}" if known < MIN_MISCONCEPTIONS else ""))
    return findings


def _compared_findings(assignment, folder: Path) -> list[Finding]:
    """A compared question's hidden inputs stay out of the release, and it has some: the visible
    cases' expected values ship, so an answer that only looks them up must lose at grading."""
    from grader.compared import hidden_inputs_shown

    compared = [q.id for q in assignment.autograded if assignment.compared(q.id)]
    if not compared:
        return []
    shown = hidden_inputs_shown(assignment, folder / "checks")
    findings = [Finding("no hidden input of a compared question in the release", not shown, "; ".join(shown[:3]))]
    for qid in compared:
        drawn = assignment.hidden_checks(qid).hidden_cases
        cases = drawn(random.Random(0)) if drawn else {}
        findings.append(Finding(f"{qid} is compared at hidden inputs too", any(cases.values()),
                                "" if any(cases.values()) else f"hidden/{qid}.py: declare HIDDEN(rng)"))
    return findings


def _parts_share(assignment, question) -> list[Finding]:
    """A question of several parts: its points split over them by the rule of `grader.runtime.points`."""
    from grader.runtime.points import part_points

    module = assignment.folder / "checks" / f"{question.id}.py"
    try:
        parts = assignment.parts(question.id)
    except Exception as exc:  # the instructor's module: said in one line, the audit goes on
        return [Finding(f"{question.id}'s visible checks import", False, f"{module}: {type(exc).__name__}: {exc}")]
    if len(parts) < 2:
        return []
    check = f"{question.id}: {question.points:g} points split over its {len(parts)} parts"
    try:
        worth = part_points(parts, question.points)
    except ValueError as exc:
        return [Finding(check, False, f"{module}: {exc}")]
    return [Finding(f"{check} as {', '.join(f'{w:g}' for w in worth)}", True)]


def _points_in_text(course: Course) -> Finding:
    """Every "(N points)" in a question's markdown (the cells after the previous question's) states
    the question's points, or one of its parts'."""
    spec, path = course.spec, course.source_notebook()
    nb = nbformat.read(path, as_version=4)
    wrong, text_cells = [], []
    for index, cell in enumerate(nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "markdown" and grade_id is None:
            text_cells.append((index, cell))
        if grade_id not in {q.id for q in spec.questions}:
            continue
        question = spec.question(grade_id)
        for number, text in text_cells:
            for match in POINTS_TEXT.finditer(text.source):
                if float(match.group(1)) not in _stated_points(spec, question):
                    line = text.source[:match.start()].count("\n")
                    said = text.source.splitlines()[line].strip()[:80]
                    wrong.append(f"markdown cell {number} says {said!r}, but {grade_id} is worth "
                                 f"{question.points:g} (its nbgrader points)")
        text_cells = []
    return Finding("the points a question's text states agree with its metadata", not wrong,
                   f"{path}: " + "; ".join(wrong) if wrong else "")


def _stated_points(spec, question) -> set[float]:
    """The points a question's text may state: its own, or one of its parts'."""
    from grader.runtime.points import part_points

    try:
        return {question.points, *(() if question.manual else part_points(spec.parts(question.id), question.points))}
    except Exception:  # a split refused, a module that does not import: said by their own findings
        return {question.points}


def _points_agree(course: Course, gradebook: bool = True) -> Finding:
    """Ids and points of the source notebook, the release notebook and (unless gradebook=False)
    the gradebook agree."""
    expected = {(q.id if q.manual else q.test_cell_id): q.points for q in course.questions}
    seen = {"release notebook": _notebook_points(course.release_notebook())}
    recorded = _gradebook_points(course) if gradebook else None
    if recorded is not None:
        seen["gradebook"] = recorded
    wrong = [f"{where} has {points} (the source says {expected})" for where, points in seen.items() if points != expected]
    where = "the source, the release and the gradebook" if gradebook else "the source and the release"
    return Finding(f"ids and points agree in {where}", not wrong, "; ".join(wrong))


def _notebook_points(path: Path) -> dict[str, float]:
    nb = nbformat.read(path, as_version=4)
    metas = (c.metadata.get("nbgrader", {}) for c in nb.cells)
    return {m["grade_id"]: float(m.get("points", 0)) for m in metas if m.get("grade") and "grade_id" in m}


def _gradebook_points(course: Course) -> dict[str, float] | None:
    from nbgrader.api import Gradebook, MissingEntry

    try:
        with Gradebook(course.db_url, course.course_id) as gb:
            notebook = gb.find_notebook(course.notebook, course.assignment)
            return {cell.name: float(cell.max_score) for cell in notebook.grade_cells}
    except MissingEntry:
        return None


def _cases(course: Course, only: str | None, release=None, reference=None):
    """Every audited notebook: its check's name, the ids expected to pass, the ids judged
    (`release` read and `reference`, the release with each question's reference answer, made
    here unless given)."""
    from grader.demo.scenarios import solved, with_answers

    banks = course.spec.banks
    release = release if release is not None else nbformat.read(course.release_notebook(), as_version=4)
    reference = reference if reference is not None else solved(release, banks)
    everything = {q.id for q in course.autograded}
    scope = {only} if only else everything
    source = nbformat.read(course.source_notebook(), as_version=4)
    yield _Case("the source notebook passes all its own tests", source, everything, scope)
    yield _Case("the blank release scores 0", release, set(), scope)
    for answer in banks.correct:
        if answer.question in scope:
            yield _Case(f"correct answer {answer.name} scores full",
                        with_answers(reference, {answer.question: answer.source}), everything, scope, answer,
                        bank_answer=answer)
    others, shared = _reference_names(banks, course.autograded), _imported_names(course.spec.setup)
    answers = {q.id: set(q.answers) for q in course.autograded}
    given = {q.id: _given_statements(release, q.id) for q in course.autograded}
    for answer in banks.wrong:
        if answer.question in scope:
            yield _Case(f"wrong answer {answer.name} loses exactly {answer.question}",
                        with_answers(reference, {answer.question: answer.source}), everything - {answer.question},
                        scope, answer if _packable(answer, others, shared, answers,
                                                   given.get(answer.question, frozenset())) else None, wrong=True,
                        bank_answer=answer)


def _finding(case: _Case, result) -> Finding:
    check, expected, scope = case.check, case.expected & case.scope, case.scope
    raised = _checks_that_raised(result, scope)
    if raised:  # whatever the score: a check that breaks on an answer grades it by accident
        return Finding(check, False, "; ".join(raised))
    passed = {q.id for q in result.questions if q.status == "passed"} & scope
    if passed == expected:
        return Finding(check, True)
    unexpected = sorted(passed - expected)
    lost = sorted(expected - passed)
    detail = []
    if lost:
        first = next(q for q in result.questions if q.id == lost[0])
        detail.append(f"lost {', '.join(lost)} ({first.status}: {(first.messages or [''])[0][:160]})")
    if unexpected:
        detail.append(f"passed {', '.join(unexpected)} but should not")
    return Finding(check, False, "; ".join(detail))


def _checks_that_raised(result, scope: set[str]) -> list[str]:
    """The TA's notes of checks of the questions in `scope` that raised something other than
    their own failure (see grader.runtime.parts): which check, what it raised, at which line."""
    from grader.runtime.messages import (
        CHECK_RAISED,  # not from .parts: that imports torch, which the audit needs not
    )

    return [note for note in result.notes if any(note.startswith(f"{CHECK_RAISED} in {q} ") for q in scope)]


def _student_reads(result, question: str) -> str:
    """The message a student reads for `question` in a graded `result`, its parts joined."""
    return " / ".join(m.strip() for m in _messages(result, question) if m.strip())


def _shown(finding: Finding, message: str | None) -> Finding:
    """A wrong answer's finding, with the message its student reads when it held."""
    if message is None or not finding.ok:
        return finding
    return Finding(finding.check, True, f"a student reads: {' '.join(message.split())[:MESSAGE_SHOWN]}")


MESSAGE_SHOWN = 400  # characters of a student's message the audit prints
# the messages of the engine's own, which say nothing about the answer (see grader.runtime.parts)
GENERIC = ("a check failed", "the grader could not check this")


def _specific_messages(course: Course, read: list[tuple[_Case, str]]) -> list[Finding]:
    """Each question's misconceptions are told something specific: each message names the call
    (one of the question's answers, called or read) or a value (a number), is not one of the
    engine's generic messages, and the question's misconceptions do not all read the same."""
    by_question: dict[str, list[tuple[_Case, str]]] = {}
    for case, message in read:
        by_question.setdefault(case.bank_answer.question, []).append((case, message))
    findings = []
    for qid, messages in by_question.items():
        names = course.spec.question(qid).answers
        vague = [f"{case.bank_answer.name} reads {message[:160]!r}" for case, message in messages
                 if not _specific(message, qid, names)]
        if len(messages) >= 2 and len({message for _, message in messages}) == 1:
            vague.append(f"all {len(messages)} misconceptions read the same message")
        findings.append(Finding(f"{qid}: each misconception's message names the call or the value", not vague,
                                "; ".join(vague) + (f" ({_RULE})" if vague else "")))
    return findings


_RULE = "a message must name one of the question's answers or a value, and tell misconceptions apart"


def _specific(message: str, qid: str, names: tuple[str, ...]) -> bool:
    said = message.removeprefix(f"{qid}:").strip()
    if not said or any(generic in said for generic in GENERIC):
        return False
    return any(re.search(rf"\b{re.escape(name)}\b", message) for name in names) or bool(re.search(r"\d", said))
