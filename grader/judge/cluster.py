"""Scale-out on Dask over mutual TLS: notebooks and per-submission seeds go out, JSON verdicts come back.

What crosses the cluster, and why it is safe for the course machine:
- out: the grading plan without its secret, the submitted bytes, and one rng seed per
  question drawn on the course machine with `seed_rng` (HMAC of student, question and
  file digest under the course secret); a Dask worker can grade that one file and
  nothing else, and never sees the secret;
- back: one `bytes` object of JSON per submission, parsed and validated here into a
  SubmissionResult; anything malformed becomes that student's "crashed" status.
While the client is connected, Dask's own unpickling in this process accepts one type,
`bytes`: a peer holding the course's certificates still cannot run code here with a pickle.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import pickle
import random
import struct
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from grader.course import Course
from grader.intake.notebook import (
    MAX_NOTEBOOK_BYTES,
    UnreadableNotebook,
    find_submission_file,
    read_submitted_bytes,
)
from grader.judge.certificates import cluster_security, require_tls_address
from grader.judge.checks import seed_rng
from grader.judge.handed_in import stamp_submission_time
from grader.judge.plan import GradingPlan
from grader.judge.results import STATUSES, CellOutcome, SubmissionResult, ungraded_result
from grader.judge.submission import _inside_own_folder

__all__ = ["grade_on_cluster", "grade_remote", "submission_seeds", "verdict_from_json",
           "bytes_only_loads", "MAX_VERDICT_BYTES"]

MAX_VERDICT_BYTES = 64 * 1024 * 1024  # cell texts and outputs of one notebook, with room to spare
MAX_ITEMS = 10_000  # any list in a verdict
NO_SECRET = b""  # what the plan a Dask worker gets holds in place of the course secret
SUBMISSION_STATUSES = ("graded", "review", "unreadable", "no notebook", "crashed")

_JUDGES: dict[GradingPlan, object] = {}  # one warm parent per Dask worker process, keyed by plan


def grade_on_cluster(course: Course, students: list[str], address: str, certs: Path) -> Iterator[SubmissionResult]:
    """Grade on the Dask cluster at the tls:// `address`, as the client whose certificate is in `certs`.

    Checks the address and certificates before anything runs (CourseError, one line);
    the gradebook stays with the caller.
    """
    security = cluster_security(certs, "client")
    plan = GradingPlan.for_course(course)
    return _graded(course, students, require_tls_address(address), security, plan)


def _graded(course: Course, students: list[str], address: str, security, plan: GradingPlan) -> Iterator[SubmissionResult]:
    from distributed import Client, as_completed

    remote_plan = dataclasses.replace(plan, secret=NO_SECRET)
    with _unpickling_only_bytes(), Client(address, security=security, timeout="30s") as client:
        window = 4 * max(1, len(client.scheduler_info().get("workers", {})))
        queue, futures, pending, ready = iter(students), as_completed(), {}, []

        def top_up() -> None:
            while futures.count() < window and (batch := _take(queue, 1)):
                ready.extend(_send(client, futures, pending, course, plan, remote_plan, batch[0]))

        top_up()
        while ready or not futures.is_empty():
            if ready:
                yield ready.pop(0)
                continue
            future = next(futures)
            student, filename = pending.pop(future.key)
            result = _collected(future, student, filename, plan.assignment.autograded)
            # read here, never taken from the cluster
            folder = course.submission_folder(student)
            stamp_submission_time(result, folder, folder / filename, plan.released)
            future.release()
            top_up()
            yield result


def _send(client, futures, pending: dict, course: Course, plan: GradingPlan, remote_plan: GradingPlan,
          student: str) -> list[SubmissionResult]:
    """Submit one student's grading; a submission with nothing to grade gets its verdict here."""
    folder = course.submission_folder(student)
    filename, data, notes, status = _submission_bytes(course, student)
    if data is None:
        result = ungraded_result(student, filename, status, notes, plan.assignment.autograded)
        stamp_submission_time(result, folder, folder / filename, plan.released)
        return [result]
    seeds = submission_seeds(plan, student, data)
    future = client.submit(grade_remote, remote_plan, student, filename, data, notes, seeds, pure=False)
    pending[future.key] = (student, filename)
    futures.add(future)
    return []


def _submission_bytes(course: Course, student: str) -> tuple[str, bytes | None, list[str], str]:
    """The file to grade, read with the local path's limits (no links out, size-capped), and a status without one."""
    path, notes = find_submission_file(course.submission_folder(student), course.notebook)
    if path is None:
        return f"{course.notebook}.ipynb", None, notes, "no notebook"
    if not _inside_own_folder(course, student, path):
        why = f"{path.name} links to a file outside submitted/{student}/; it was not graded"
        return path.name, None, [*notes, why], "unreadable"
    try:  # bounded and regular files only, as the local path reads them
        data = read_submitted_bytes(path, MAX_NOTEBOOK_BYTES)
    except UnreadableNotebook as exc:
        return path.name, None, [*notes, str(exc)], "unreadable"
    return path.name, data, notes, "graded"


def submission_seeds(plan: GradingPlan, student: str, data: bytes) -> dict[str, bytes]:
    """Per question, the state of `seed_rng(secret, student, question, digest of data)`, packed.

    These draw exactly the hidden inputs the local path draws for this file, and say
    nothing about the secret (an HMAC output) or about any other student or resubmission.
    """
    digest = hashlib.sha256(data).hexdigest()
    return {qid: _pack_rng(seed_rng(plan.secret, student, qid, digest)) for qid in plan.solution_ids}


def grade_remote(plan: GradingPlan, student: str, filename: str, data: bytes, notes: list[str],
                 seeds: dict[str, bytes]) -> bytes:
    """Runs on a Dask worker: judge one notebook given as bytes; the verdict as JSON bytes."""
    try:
        result = _grade_here(plan, student, filename, data, notes, seeds)
    except Exception as exc:  # a verdict always comes back, never a pickled exception
        result = ungraded_result(student, filename, "crashed", [f"grading failed: {type(exc).__name__}: {exc}"],
                                 plan.assignment.autograded)
    return json.dumps(result.to_dict()).encode("utf-8")


def _grade_here(plan, student, filename, data, notes, seeds) -> SubmissionResult:
    digest = hashlib.sha256(data).hexdigest()
    rngs = {qid: _unpack_rng(state) for qid, state in seeds.items()}

    def draw_rng(for_student: str, qid: str, submission: str) -> random.Random:
        if (for_student, submission) != (student, digest) or qid not in rngs:
            raise LookupError(f"no seed was sent for {qid} of this submission")
        return rngs[qid]

    judge = _judge_for(plan)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / filename
        path.write_bytes(data)
        result = judge.grade_notebook(path, student, draw_rng=draw_rng)
    result.notes[:0] = notes
    return result


def _judge_for(plan: GradingPlan):
    from grader.judge.grader import Grader

    if plan not in _JUDGES:
        _JUDGES[plan] = Grader(None, plan)
    return _JUDGES[plan]


# --- seeds: a random.Random's Mersenne Twister state, 625 32-bit words -----------------------

def _pack_rng(rng: random.Random) -> bytes:
    version, words, gauss_next = rng.getstate()
    if version != 3 or gauss_next is not None or len(words) != 625:
        raise ValueError("unexpected random.Random state")
    return struct.pack("<625I", *words)


def _unpack_rng(state: bytes) -> random.Random:
    rng = random.Random()
    rng.setstate((3, struct.unpack("<625I", state), None))
    return rng


# --- verdicts: JSON bytes from the cluster, validated into a SubmissionResult -----------------

class _Malformed(ValueError):
    """A verdict from the cluster that does not have the shape of one."""


def verdict_from_json(student: str, filename: str, data: object, autograded) -> SubmissionResult:
    """The SubmissionResult in `data` (JSON bytes from a Dask worker), or a "crashed" one; never raises.

    `autograded` are the assignment's autograded questions, which the verdict must hold.
    """
    try:
        return _validated(student, filename, data, autograded)
    except _Malformed as exc:
        reason = str(exc)[:200]
    except (ValueError, RecursionError, OverflowError) as exc:
        reason = f"not JSON ({type(exc).__name__})"
    except Exception as exc:  # a shape the checks above did not foresee: still one student's status
        reason = f"unreadable ({type(exc).__name__})"
    return ungraded_result(student, filename, "crashed", [f"the cluster's verdict was rejected: {reason}"], autograded)


def _validated(student: str, filename: str, data: object, autograded) -> SubmissionResult:
    if not isinstance(data, bytes):
        raise _Malformed(f"{type(data).__name__} came back instead of bytes (a pickle of anything else is refused unopened)")
    if len(data) > MAX_VERDICT_BYTES:
        raise _Malformed(f"{len(data)} bytes, over the {MAX_VERDICT_BYTES // 2**20} MB limit")
    raw = json.loads(data.decode("utf-8"))
    fields = {f.name for f in dataclasses.fields(SubmissionResult)}
    record = _record(raw, fields, "verdict")
    if (record["student"], record["notebook"]) != (student, filename):
        raise _Malformed(f"a verdict for {record['student']!r}/{record['notebook']!r} came back")
    _one_of(record["status"], SUBMISSION_STATUSES, "status")
    expected = ungraded_result(student, filename, "crashed", [], autograded).questions
    questions = _list(record["questions"], "questions")
    if [q.get("id") if isinstance(q, dict) else None for q in questions] != [q.id for q in expected]:
        raise _Malformed("its questions are not the assignment's")
    for question, reference in zip(questions, expected, strict=True):
        _question(question, reference.max_score)
    for cell in _list(record["cells"], "cells"):
        _cell(cell)
    for name in ("notes", "tamper", "review"):
        _strings(record[name], name)
    _number(record["seconds"], "seconds")
    # the submission time and its note are the course machine's, set after the verdict returns
    record["timestamp"] = record["timestamp_note"] = None
    return SubmissionResult.from_dict(record)


def _question(raw: object, max_score: float) -> None:
    question = _record(raw, {"id", "score", "max_score", "status", "messages", "parts"}, "question")
    if _number(question["max_score"], "max_score") != max_score:
        raise _Malformed(f"{question['id']}: max_score {question['max_score']} is not {max_score}")
    if not 0 <= _number(question["score"], "score") <= max_score:
        raise _Malformed(f"{question['id']}: score {question['score']} out of range")
    _one_of(question["status"], STATUSES, "question status")
    _strings(question["messages"], "messages")
    for part in _list(question["parts"], "parts"):
        part = _record(part, {"title", "points", "passed"}, "part")
        _string(part["title"], "part title")
        if not 0 <= _number(part["points"], "part points") <= max_score or type(part["passed"]) is not bool:
            raise _Malformed(f"{question['id']}: a part is not a title, points and passed")


def _cell(raw: object) -> None:
    cell = _record(raw, {f.name for f in dataclasses.fields(CellOutcome)}, "cell")
    if type(cell["index"]) is not int:
        raise _Malformed("a cell index is not an integer")
    for name in ("cell_type", "source", "status", "output"):
        _string(cell[name], name)
    for name in ("grade_id", "error"):
        if cell[name] is not None:
            _string(cell[name], name)


def _record(raw: object, keys: set[str], what: str) -> dict:
    if not isinstance(raw, dict) or set(raw) != keys:
        raise _Malformed(f"a {what} without exactly the fields {sorted(keys)}")
    return raw


def _list(raw: object, what: str) -> list:
    if not isinstance(raw, list) or len(raw) > MAX_ITEMS:
        raise _Malformed(f"{what} is not a list of at most {MAX_ITEMS}")
    return raw


def _strings(raw: object, what: str) -> None:
    for item in _list(raw, what):
        _string(item, what)


def _string(raw: object, what: str) -> str:
    if not isinstance(raw, str):
        raise _Malformed(f"{what} is not text")
    return raw


def _number(raw: object, what: str) -> float:
    if type(raw) not in (int, float) or not math.isfinite(raw):
        raise _Malformed(f"{what} is not a finite number")
    return float(raw)


def _one_of(raw: object, allowed: tuple[str, ...], what: str) -> None:
    if raw not in allowed or not isinstance(raw, str):
        raise _Malformed(f"{what} {str(raw)[:40]!r} is not one of {', '.join(allowed)}")


def _collected(future, student: str, filename: str, autograded) -> SubmissionResult:
    """The verdict of one future; a task that erred on the cluster is that student's status.

    grade_remote never raises, so an erred task means a worker was lost or misbehaved;
    its exception is not looked at (it arrived as None, see bytes_only_loads).
    """
    if future.status != "finished":
        return ungraded_result(student, filename, "crashed", [f"the cluster did not grade it (task {future.status})"],
                               autograded)
    try:
        data = future.result()
    except Exception as exc:  # whatever the cluster did, the batch goes on
        return ungraded_result(student, filename, "crashed", [f"the cluster did not grade it: {type(exc).__name__}"],
                               autograded)
    return verdict_from_json(student, filename, data, autograded)


# --- Dask's unpickling on the course machine: bytes only ------------------------------------

class _BytesOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) == ("builtins", "bytes"):
            return bytes
        raise pickle.UnpicklingError(f"the course machine does not unpickle {module}.{name} from the cluster")

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("the course machine does not unpickle persistent ids from the cluster")


def bytes_only_loads(data, *, buffers=()):
    """`distributed.protocol.pickle.loads` while the client runs: builtins.bytes is the only global.

    Anything else loads as None, nothing of it having run. None rather than an exception:
    Dask decodes the scheduler's stream of task reports with this same loader, where an
    exception would stall the whole batch (and an erred task's exception and traceback
    must be an exception or None), while None ends just that task, as its student's
    "crashed" status.
    """
    try:
        return _BytesOnly(io.BytesIO(bytes(data)), buffers=buffers).load()
    except Exception:  # refused, or a malformed pickle: the restricted unpickler ran nothing
        return None


@contextmanager
def _unpickling_only_bytes():
    """Dask decodes what it receives with its own pickle module: restrict it while the client runs.

    The task's result (bytes, which Dask sends with its type pickled as `builtins.bytes`) is
    all this client needs; any other pickle a peer sends loads as None, and that future
    ends as its student's "crashed" status. The client's default handlers of the "warn"
    and "print" topics are not installed: the first unpickles (with the standard pickle)
    what any worker publishes, the second prints it on the course machine's terminal.
    """
    import distributed.protocol.pickle as dask_pickle
    from distributed import Client

    original_loads, original_handlers = dask_pickle.loads, Client._default_event_handlers
    dask_pickle.loads, Client._default_event_handlers = bytes_only_loads, {}
    try:
        yield
    finally:
        dask_pickle.loads, Client._default_event_handlers = original_loads, original_handlers


def _take(iterator, count: int) -> list:
    taken = []
    for item in iterator:
        taken.append(item)
        if len(taken) == count:
            break
    return taken
