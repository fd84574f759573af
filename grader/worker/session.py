"""The judge's side of a worker: run cells with restarts, and a Subject whose probes cross to it."""

from __future__ import annotations

import ast
import contextlib
import re
import time
import unicodedata
from collections.abc import Callable, Iterator

from grader.intake.tamper import python_source
from grader.judge.results import CellOutcome
from grader.runtime.subject import ProbeFailed, ProbeSubject
from grader.runtime.textcache import cached_for_short_texts
from grader.runtime.values import MISSING, Missing
from grader.worker.evidence import INSIDE_THE_CHECKS
from grader.worker.outside import OutsideView

__all__ = ["WorkerSession", "WorkerSubject", "definition_source"]

CELL_TIMEOUT = 10.0
PROBE_TIMEOUT = 10.0
MAX_STARTS = 12  # for running the cells, and again for the checks
# While the checks run, a process or thread of the notebook's could answer in the loop's place:
# counted from outside, any one started then is enough to distrust the replies.
STARTED_DURING_CHECKS = "a process or thread was started while the checks ran"
UNTRUSTED = "the worker's replies could not be trusted; a TA will review this notebook"
# Wall-clock seconds for running a submission's cells (replays included), and again for its
# checks. Per-cell timeouts alone let 500 cells of `time.sleep(9)`, or replays after each
# os._exit, hold a judge for hours; a separate budget for the checks means slow cells after the
# answers cannot starve them.
SUBMISSION_BUDGET = 120.0


class WorkerSession:
    """One submission's worker: cells run in order; a cell that kills or hangs it is skipped on replay."""

    def __init__(self, parent, *, cell_timeout: float | None = CELL_TIMEOUT, probe_timeout: float = PROBE_TIMEOUT,
                 budget: float = SUBMISSION_BUDGET, answer_ids: frozenset[str] | tuple[str, ...] = ()):
        """`cell_timeout`: seconds an answer cell (one whose grade_id is in `answer_ids`) may run
        (None: the kit's own), never past the budget; any other cell gets at most the kit's own,
        so slow scratch cells cannot use up the time the answer cells after them need."""
        self.parent = parent
        self.cell_timeout = min(cell_timeout or CELL_TIMEOUT, budget)
        self.scratch_timeout = min(self.cell_timeout, CELL_TIMEOUT)
        self.answer_ids = frozenset(answer_ids)
        self.probe_timeout = probe_timeout
        self.budget = budget
        self.deadline = time.monotonic() + budget
        self.worker = None
        self.starts = 0
        self.check_starts = 0
        self.ran: list = []  # cells that completed, replayed after a restart
        self.events: list[str] = []  # tamper evidence
        self.notes: list[str] = []  # what happened that a TA should know, not held against the student
        self.review: list[str] = []  # why the verdict cannot be trusted: a TA must review it
        self._definitions: dict[tuple[int | None, str], str | None] = {}
        self.horizon: int | None = None  # checks run before this cell: the source they read ends there
        self._checks_left = budget  # the checks' own budget, kept while cells run between them
        self._parsed: list[dict] | None = None
        self._views: dict[int, OutsideView] = {}
        self._changed: set[str] = set()  # machinery labels already put up for review
        self.sources: list[str] = []
        self.cell_texts: list[str] = []  # the cells as submitted: a cell magic's body is a string in `sources`
        self.killed: list[int] = []  # worker ids whose death the caller must confirm
        self.indices: list[int] = []
        self.outcomes: dict[int, CellOutcome] = {}  # of the cells run so far
        self.checking = None  # the Question whose checks are probing, for evidence
        self._unvouched = False  # a reply arrived that the judge has not yet seen the loop answer for
        self._probed: set[int] = set()  # workers probed at least once
        self.untrusted = False  # a reply did not come from the worker's own loop: probe no further
        self._distrusted = False  # ... seen since the last look, which ends the probing

    def __enter__(self) -> "WorkerSession":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Kill the worker's whole tree; its death is confirmed through `killed` before anything is recorded."""
        if self.worker is not None:
            view = self._views.get(self.worker.id)
            if view is not None:
                view.close()
            self.worker.close(wait=False)
            self.killed.append(self.worker.id)
            self.worker = None

    def run_cells(self, cells: list, before: Callable[[int], None] | None = None) -> dict[int, CellOutcome]:
        """Run every cell in order; a fatal cell is recorded and later cells still run.

        `before(index)` is called before each cell runs: checks it runs there (`checks_between`)
        see the notebook as it stands at that point, as a test cell placed there would."""
        self.sources = [python_source(c.source) for c in cells]
        self.cell_texts = [c.source for c in cells]
        self._definitions, self._parsed = {}, None
        self.indices = [c.index for c in cells]
        outcomes = self.outcomes = {}  # filled as the cells run: checks between them read it
        for cell in cells:
            if before is not None:
                before(cell.index)
            outcomes[cell.index] = self._run_one(cell)
        self.look_from_outside("after the cells", quick=True)
        self.deadline = time.monotonic() + self._checks_left  # the checks' own budget, what is left of it
        self.horizon = None
        return outcomes

    @contextlib.contextmanager
    def checks_between(self, horizon: int) -> Iterator[None]:
        """Checks run while the cells are paused before cell `horizon`: on their own time budget
        (the cells' is paused), reading only the cells before it as the submitted source, and
        vouched for afresh (cells ran since the last probe: the worker's loop must be seen
        waiting again, and a process started by those cells is not one started during checks)."""
        now = time.monotonic()
        cells_left, self.deadline = self.deadline - now, now + self._checks_left
        self.horizon, self._unvouched = horizon, True
        if self.ran:
            self.look_from_outside(f"after cell {self.ran[-1].index}", quick=True)
        try:
            yield
        finally:
            now = time.monotonic()
            self._checks_left, self.deadline = max(0.0, self.deadline - now), now + cells_left
            self.horizon, self.checking = None, None
            view = self._views.get(self.worker.id) if self.worker is not None else None
            if view is not None:
                view.end_checks()

    def names_bound(self, *, before: int | None = None, after: int | None = None) -> set[str]:
        """The names submitted cells bind at their top level, in the cells before or after an index."""
        return {name for index, definitions in zip(self.indices, self._parsed_sources(), strict=False)
                if (before is None or index < before) and (after is None or index > after) for name in definitions}

    def ensure_alive(self) -> None:
        """Restart and replay the cells that ran, if the last probe killed the worker.

        The checks get their own MAX_STARTS: cells that used up theirs must not cost the answers.
        """
        if self.untrusted:
            raise ProbeFailed("error", UNTRUSTED)
        if self.worker is not None and self.worker.alive:
            return
        self._check_time()
        if self.check_starts >= MAX_STARTS:
            raise ProbeFailed("error", "the worker was restarted too often")
        self.check_starts += 1
        self._start()

    def subject(self) -> "WorkerSubject":
        return WorkerSubject(self)

    def probe(self, request: dict) -> dict:
        """Send one probe; a worker that dies, hangs or garbles its reply raises ProbeFailed.

        Before each probe the judge sees the worker's own loop waiting for it (so the reply
        before it came from that loop) and nothing else of the notebook's running (`vouch`)."""
        checked = self.checking.id if self.checking is not None else "a"
        if self.untrusted:
            raise ProbeFailed("error", UNTRUSTED)
        if self.worker is not None and self.worker.id not in self._probed:
            self._probed.add(self.worker.id)  # its first probe: nothing of the cells may run beside it
            self._unvouched = True
        self.vouch(f"during the {checked} check")
        if self.worker is None or not self.worker.alive:
            raise ProbeFailed("error", "the worker is not running (an earlier call killed it)")
        self._check_time()
        worker = self.worker
        try:
            reply = worker.probe(request, timeout=self._time_left(self.probe_timeout))
        except ProbeFailed as failure:
            self._note_failure(f"{self._answer_cell()}during the {checked} check: {failure.message}")
            self._heard_from_another(f"during the {checked} check", worker)
            self.close()
            raise
        self._unvouched = True
        self._probe_events(f"during the {checked} check", worker.probe_events)
        return reply

    def vouch(self, where: str) -> None:
        """Whether the worker's own loop answered since the judge last looked: seen from outside,
        its one thread waits in the loop's receive call, nothing of the notebook's runs beside it,
        and it sent nothing it was not asked for. Otherwise the verdict goes to review, and the
        probing stops at the next look (the end of the part): so the other probes of the part
        find the same whenever a thread that answered is seen, alive or already counted gone."""
        if not self._unvouched or self.worker is None or self._distrusted:
            return  # (one reply not from the loop is enough: the probing ends at the next look)
        self._unvouched = False
        view = self._view()
        # processes are listed as the checks begin; after that the pid count sees any started
        # (at the next look), unless there is no counter
        processes = view.checks_from is None or not view.counting
        view.begin_checks()
        why = view.loop_waiting(time.monotonic() + max(self._time_left(self.probe_timeout), 1.0),
                                processes=processes)
        if why is None and self.worker.unsolicited():
            why = "the worker sent more than its reply"
        if why is not None:
            self._count_gone(where, view)
            self._distrust(where, STARTED_DURING_CHECKS if view.started_during_checks() else why)

    def _distrust(self, where: str, why: str) -> None:
        self.review.append(f"{where}: a reply did not come from the worker's own loop ({why}), "
                           "seen from outside the worker")
        self._distrusted = True

    def _heard_from_another(self, where: str, worker) -> None:
        if worker.foreign is not None:
            self.untrusted = True
            self.review.append(f"{where}: another process than the worker sent on its channel to the judge "
                               "(the kernel's word), seen from outside the worker")

    def _probe_events(self, where: str, events: list[str]) -> None:
        """What student code did while a probe ran is evidence; a trace or profile function it
        installed, or a torch mode it made active, then saw the probe's own frames or tensors,
        so the verdict goes to review."""
        self._record(where, events)
        self.review.extend(f"{where}: {event}" for event in events if event in INSIDE_THE_CHECKS)

    def _record(self, where: str, events: list[str]) -> None:
        """Tamper evidence, but for a file saved in the worker's own /tmp (a note: see _SAVED_OUTPUT)."""
        for event in events:
            (self.notes if _SAVED_OUTPUT.search(event) else self.events).append(f"{where}: {event}")

    def evidence(self) -> list[str]:
        return list(dict.fromkeys(self.events))

    def look_from_outside(self, where: str, *, machinery: bool = True, quick: bool = False) -> None:
        """What the judge itself sees of the worker through /proc (student code cannot hide it):
        machinery changed since before the first cell (a review), processes alive, files left in
        the worker's private /tmp outside its working directory (evidence).

        The machinery is compared after the cells and after each question's checks (about 1 ms
        a look), not after every cell: a change that stays is caught all the same, only not
        named with its cell. A look per question, not just one at the end, catches a change
        whose worker a later question's probe kills (its replacement replays only the cells);
        those and the look after the cells are `quick` (a namespace whose dict version is
        unchanged is not re-read: only a raw write into its memory leaves the version as it
        was), the look after the checks reads everything."""
        if self.worker is None or not self.worker.alive:
            return
        view = self._view()
        for label in view.machinery_changes(quick=quick) if machinery else ():
            if label not in self._changed:  # named where it is first seen, not again at each look
                self._changed.add(label)
                self.review.append(f"{where}: changed the grader's own machinery ({label}), seen from outside the worker")
        self._record(where, view.new_processes() + view.files_outside())
        self._count_gone(where, view)
        self.vouch(where)  # the last reply, if one came since the judge last saw the loop waiting
        if view.started_during_checks():  # the count this look read
            self._distrust(where, STARTED_DURING_CHECKS)
        self.untrusted = self.untrusted or self._distrusted  # no probe after this look

    def _count_gone(self, where: str, view: OutsideView) -> None:
        """Processes and threads that came and went since the last look, counted from outside."""
        gone = view.tasks_gone()
        if gone:
            self.events.append(f"{where}: started {gone} process{'es' if gone > 1 else ''} or thread{'s' if gone > 1 else ''} "
                               f"that ended before the judge looked, counted from outside the worker")

    def _view(self) -> OutsideView:
        """The judge's view of the current worker, made as soon as it said hello."""
        view = self._views.get(self.worker.id)
        if view is None:
            prepared = self.parent.wait_ready().get("machinery")
            view = self._views[self.worker.id] = OutsideView(self.worker.pid, self.worker.hello, prepared,
                                                             self.worker.counter)
        return view

    def contradiction(self, text: str) -> None:
        """A worker's reply that the judge's own reading of the submitted source contradicts."""
        where = f"during the {self.checking.id} check" if self.checking is not None else "during the checks"
        self.review.append(f"{where}: {text}")

    def source_of(self, name: str, before: int | None = None) -> str | None:
        """The submitted source of `name`'s last top-level definition (parsed once per name), in
        the cells before `before`, or before the horizon while checks run between cells."""
        key = (before if before is not None else self.horizon, name)
        if key not in self._definitions:
            count = self._before_horizon(key[0])
            self._definitions[key] = definition_source(self.sources[:count], name, self._parsed_sources()[:count])
        return self._definitions[key]

    def _before_horizon(self, horizon: int | None) -> int:
        """How many of the submitted cells come before `horizon` (all of them without one)."""
        return len(self.indices) if horizon is None else sum(index < horizon for index in self.indices)

    def _parsed_sources(self) -> list[dict]:
        """Each submitted cell's top-level definitions, parsed once however many names are looked up."""
        if self._parsed is None:
            self._parsed = [top_level_definitions(text) for text in self.sources]
        return self._parsed

    def _time_left(self, limit: float) -> float:
        return max(0.0, min(limit, self.deadline - time.monotonic()))

    def _out_of_time(self) -> bool:
        if self.deadline - time.monotonic() > 0.05:  # less would only start and kill a cell
            return False
        phase = "checks" if self.checking else "cells"
        self._note_failure(f"the notebook used up its time budget of {self.budget:g} s for its {phase}")
        return True

    def _check_time(self) -> None:
        if self._out_of_time():
            raise ProbeFailed("timeout", f"the notebook used up its time budget of {self.budget:g} s")

    def _answer_cell(self) -> str:
        """`cell N: ` for the cell defining the checked question's answer, if known."""
        names = self.checking.answers if self.checking is not None else ()
        found = [self.definition_index(name) for name in names]
        found = [index for index in found if index is not None]
        return f"cell {found[0]}: " if found else ""

    def definition_index(self, name: str) -> int | None:
        """The index of the last submitted cell whose source defines `name` at its top level
        (before the horizon, while checks run between cells)."""
        count = self._before_horizon(self.horizon)
        return definition_cell(self.indices[:count], self.sources[:count], name, self._parsed_sources()[:count])

    def _run_one(self, cell) -> CellOutcome:
        outcome = CellOutcome(cell.index, cell.cell_type, cell.source, cell.grade_id)
        skipped = self._why_not_run()
        if skipped:
            outcome.status, outcome.error = "skipped", f"not run: {skipped}"
            return outcome
        worker = self.worker
        report = self._run_in_worker(cell, self._time_left(self._limit(cell)))
        self._heard_from_another(f"cell {cell.index}", worker)
        outcome.status, outcome.output, outcome.error = report.status, report.output, report.error
        self._record(f"cell {cell.index}", report.events + _limits_hit(report))
        if report.status in ("died", "timeout"):
            self._note_failure(f"cell {cell.index} {_said(report)}; it was skipped and later cells still ran")
            self.close()
        else:
            self.ran.append(cell)
            self.look_from_outside(f"cell {cell.index}", machinery=False)
        return outcome

    def _why_not_run(self) -> str | None:
        budget = f"the notebook used up its time budget of {self.budget:g} s"
        if self._out_of_time():
            return budget
        if not self._ready():
            return "the worker was restarted too often"
        return budget if self._out_of_time() else None  # the replay may have used the rest

    def _ready(self) -> bool:
        if self.worker is not None and self.worker.alive:
            return True
        if self.starts >= MAX_STARTS:
            return False
        self.starts += 1
        self._start()
        return self.worker is not None

    def _start(self) -> None:
        """A fresh worker with the cells that ran replayed (within the time budget)."""
        self.close()
        self.worker = self.parent.start_worker()
        self._view()  # what it looks like before any cell runs (its channel, where its loop waits)
        for cell in self.ran:
            timeout = self._time_left(self._limit(cell))
            if timeout <= 0:
                break
            self._run_in_worker(cell, timeout)

    def _limit(self, cell) -> float:
        """Seconds `cell` may run: an answer cell the course's limit, any other the kit's at most."""
        return self.cell_timeout if cell.grade_id in self.answer_ids else self.scratch_timeout

    def _run_in_worker(self, cell, timeout: float):
        """The worker runs the Python the checks and the tamper scan read, transformed once here."""
        return self.worker.run_cell(cell.index, python_source(cell.source), timeout=timeout, is_python=True)

    def _note_failure(self, text: str) -> None:
        """A cell or probe that hung, died or ran out of time: recorded for the TA, not as tamper
        (an honest scratch cell can hang; what it did to get there is evidence of its own)."""
        self.notes.append(text)


class WorkerSubject(ProbeSubject):
    """The Subject the checks use in trusted grading: every probe crosses to the worker as data."""

    def __init__(self, session: WorkerSession):
        self.session = session

    def exchange(self, request: dict) -> dict:
        return self.session.probe(request)

    def source_of(self, name: str) -> str | None:
        return self.session.source_of(name)

    def get(self, name: str):
        """The value bound to `name`; MISSING when no submitted cell names it, whatever the worker says."""
        value = super().get(name)
        if not isinstance(value, Missing) and not mentions(self.session.cell_texts + self.session.sources, name):
            self.contradiction(f"a worker reply claimed {name} is defined, but no submitted cell names it")
            return MISSING
        return value

    def contradiction(self, text: str) -> None:
        self.session.contradiction(text)

    def between_parts(self) -> None:
        """A part passed: the judge looks at the worker's machinery before the next part's first
        probe, so a change its replies were made with is seen even if a later probe kills the
        worker (that probe fails its own part)."""
        checked = self.session.checking.id if self.session.checking is not None else "a"
        self.session.look_from_outside(f"during the {checked} check", quick=True)


def mentions(sources: list[str], name: str) -> bool:
    """Whether `name` appears in the submitted cells at all (as a word, in code or in a string),
    read as Python reads names: after NFKC normalisation (`ｇrad_at` defines grad_at)."""
    pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])")
    return any(pattern.search(_as_python_reads(text)) for text in sources)


def _as_python_reads(text: str) -> str:
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def definition_cell(indices: list[int], sources: list[str], name: str, parsed: list[dict]) -> int | None:
    """Index of the last cell with a top-level def, class or assignment of `name`
    (`parsed`: `top_level_definitions` of each source)."""
    found = None
    for index, text, definitions in zip(indices, sources, parsed, strict=False):
        if definition_source([text], name, [definitions]) is not None:
            found = index
    return found


def definition_source(sources: list[str], name: str, parsed: list[dict] | None = None) -> str | None:
    """Source text of the last top-level def, class or assignment of `name` across the cells.

    `parsed`: `top_level_definitions` of each source, when the caller keeps them."""
    parsed = parsed if parsed is not None else [top_level_definitions(text) for text in sources]
    for text, definitions in zip(reversed(sources), reversed(parsed), strict=True):
        for node in reversed(definitions.get(name, ())):
            segment = ast.get_source_segment(text, node)
            if segment:
                return segment
    return None


@cached_for_short_texts(maxsize=64)  # the release's own cells recur in every submission; trees are large
def top_level_definitions(text: str) -> dict[str, list[ast.AST]]:
    """The top-level statements of one cell that define each name, in order ({} if it does not parse).

    Shared between submissions with the same cell text: callers only read it."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}
    found: dict[str, list[ast.AST]] = {}
    for node in tree.body:
        for name in _defined_names(node):
            found.setdefault(name, []).append(node)
    return found


def _defined_names(node: ast.AST) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
    return [t.id for t in targets if isinstance(t, ast.Name)]


# A figure, table or checkpoint a notebook saves in /tmp rather than its own folder: the worker's
# /tmp is its own, emptied with it, so the file reaches no one (a note, not tamper evidence). Any
# other name there (no extension, a dot file, a folder) is still evidence.
_SAVED_OUTPUT = re.compile(r"(?:directory: |^left )/tmp/\w(?:[\w.-]*\w)?\.(?:png|jpe?g|svg|pdf|eps|gif|csv|txt|json|npy|npz|pt|pth|pkl)"
                           r"(?: outside|$)")


# A worker limit shows in a cell's report as its error or the capture's truncation note.
_LIMIT_ERRORS = (("MemoryError", "hit the memory limit (MemoryError)"),
                 ("[Errno 27]", "hit the file size limit"),
                 ("[Errno 24]", "hit the open files limit"))


def _limits_hit(report) -> list[str]:
    found = [event for marker, event in _LIMIT_ERRORS if marker in (report.error or "")]
    if "[output truncated:" in report.output:
        found.append("printed past the output cap (the rest was dropped)")
    return found


def _said(report) -> str:
    if report.status == "timeout":
        return "ran past its time limit"
    return f"killed its worker ({report.error or 'died'})"
