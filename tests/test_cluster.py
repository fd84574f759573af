"""Scale-out on Dask: a mutual-TLS cluster only the course's graders join, seeds instead of the
secret, and verdicts that come back as validated JSON bytes."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sample import AUTOGRADED, AUTOGRADED_POINTS, WRONG, solved, with_answers, write_submission

from grader.cli import main
from grader.course import CourseError
from grader.judge.batch import autograde
from grader.judge.certificates import CERT_FILES, cluster_security, make_cluster_certs
from grader.judge.checks import seed_rng
from grader.judge.cluster import (
    MAX_VERDICT_BYTES,
    _unpack_rng,
    bytes_only_loads,
    submission_seeds,
    verdict_from_json,
)
from grader.judge.plan import GradingPlan
from grader.judge.results import ungraded_result

STATUS_FILE = "grading.json"


# --- certificates -------------------------------------------------------------------------

def test_cluster_certs_writes_a_course_ca_and_private_keys(tmp_path, capsys):
    """Does `grader cluster-certs` write the CA's certificate (not its key), each role's pair
    signed by it with keys mode 0600, and refuse to overwrite them?"""
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    out = tmp_path / "certs"
    assert main(["cluster-certs", "--out", str(out), "--hosts", "gradebox", "10.1.2.3"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(CERT_FILES)  # no ca-key.pem
    ca = x509.load_pem_x509_certificate((out / "ca.pem").read_bytes())
    for role in ("scheduler", "worker", "client"):
        assert stat.S_IMODE((out / f"{role}-key.pem").stat().st_mode) == 0o600
        cert = x509.load_pem_x509_certificate((out / f"{role}.pem").read_bytes())
        cert.verify_directly_issued_by(ca)
        purposes = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert (ExtendedKeyUsageOID.SERVER_AUTH in purposes) is (role != "client")
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert "gradebox" in names.get_values_for_type(x509.DNSName)
    capsys.readouterr()
    assert main(["cluster-certs", "--out", str(out)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8786", "127.0.0.1:8786", "ws://127.0.0.1:8786"],
                         ids=["tcp", "bare", "websocket"])
def test_autograde_refuses_a_cluster_without_tls_in_one_line(course, tmp_path, address, capsys):
    """Is a scheduler address that is not tls:// refused before anything runs, in one line (no insecure mode)?"""
    make_cluster_certs(tmp_path / "certs")
    argv = ["--course", str(course.root), "autograde", "derivatives", "--cluster", address,
            "--cluster-certs", str(tmp_path / "certs")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tls://" in err[0]


def test_autograde_without_the_course_certificates_says_how_to_make_them(course, capsys):
    """Does --cluster without ca.pem/client.pem stop in one line that names `grader cluster-certs`?"""
    argv = ["--course", str(course.root), "autograde", "derivatives", "--cluster", "tls://127.0.0.1:8786"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "grader cluster-certs" in err[0]


# --- seeds instead of the secret ----------------------------------------------------------

def test_seeds_draw_exactly_what_the_secret_draws(course):
    """Do a submission's seeds draw the same hidden inputs as seed_rng under the course secret,
    while holding none of the secret's bytes?"""
    import hashlib

    plan = GradingPlan.for_course(course)
    data = b'{"cells": []}'
    seeds = submission_seeds(plan, "ada", data)
    assert set(seeds) == set(plan.solution_ids)
    digest = hashlib.sha256(data).hexdigest()
    for qid, state in seeds.items():
        local = seed_rng(plan.secret, "ada", qid, digest)
        remote = _unpack_rng(state)
        assert [remote.random() for _ in range(5)] == [local.random() for _ in range(5)]
        assert plan.secret not in state
    assert submission_seeds(plan, "ada", data + b" ") != seeds  # a resubmission draws anew


# --- verdicts: JSON bytes, validated ------------------------------------------------------

def _verdict(student="ada", notebook="derivatives.ipynb", **changes) -> dict:
    record = ungraded_result(student, notebook, "graded", [], AUTOGRADED).to_dict()
    record["questions"][0].update(score=record["questions"][0]["max_score"], status="passed")
    record.update(changes)
    return record


def _inflated() -> bytes:
    record = _verdict()
    record["questions"][0]["score"] = 100.0
    return json.dumps(record).encode()


def _max_raised() -> bytes:
    record = _verdict()
    record["questions"][0].update(score=50.0, max_score=50.0)
    return json.dumps(record).encode()


def _deep() -> bytes:
    return b"[" * 100_000 + b"]" * 100_000


MALFORMED = {
    "a dict, not bytes": _verdict(),
    "not utf-8": b"\xff\xfe{}",
    "not json": b"{'student': 'ada'}",
    "deeply nested": _deep(),
    "another student's": json.dumps(_verdict(student="ben")).encode(),
    "score over max": _inflated(),
    "max_score raised": _max_raised(),
    "extra field": json.dumps(_verdict(admin=True)).encode(),
    "nan seconds": json.dumps(_verdict(seconds=float("nan"))).encode(),
    "huge number": json.dumps(_verdict()).replace('"seconds": 0.0', '"seconds": ' + "9" * 4000).encode(),
    "bad status": json.dumps(_verdict(status="full marks")).encode(),
    "cells not a list": json.dumps(_verdict(cells={"0": "x"})).encode(),
    "oversized": b" " * (MAX_VERDICT_BYTES + 1),
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_verdict_becomes_a_status_not_an_exception(data):
    """Does anything but a well-formed verdict for this very student become "crashed" with 0 points?"""
    result = verdict_from_json("ada", "derivatives.ipynb", data, AUTOGRADED)
    assert result.status == "crashed" and result.score == 0
    assert "rejected" in result.notes[0]


def test_a_well_formed_verdict_is_taken_as_sent():
    """Is a valid verdict read back unchanged?"""
    record = _verdict(notes=["renamed"], tamper=["patched torch.allclose"], seconds=1.5)
    result = verdict_from_json("ada", "derivatives.ipynb", json.dumps(record).encode(), AUTOGRADED)
    assert result.to_dict() == record


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch /tmp/grader-cluster-pwned",))


def test_the_course_machine_unpickles_nothing_but_bytes(tmp_path):
    """Does the client's unpickler load `bytes` (how Dask names a bytes result's type) and turn
    anything else, such as a payload that would run a command, into None without running it?"""
    assert bytes_only_loads(pickle.dumps(bytes)) is bytes
    assert bytes_only_loads(pickle.dumps(b"verdict")) == b"verdict"
    for payload in (pickle.dumps(_Exploit()), pickle.dumps(ValueError("x")), pickle.dumps(Path("/")), b"\x80\x05junk"):
        assert bytes_only_loads(payload) is None
    assert not Path("/tmp/grader-cluster-pwned").exists()


# --- a real TLS LocalCluster --------------------------------------------------------------

def _task_recorder():
    """A scheduler plugin keeping the pickled run spec of every task: what a worker receives."""
    from distributed.diagnostics.plugin import SchedulerPlugin

    class TaskRecorder(SchedulerPlugin):
        def __init__(self):
            self.sent: list[bytes] = []

        def update_graph(self, scheduler, *, keys, **kwargs):
            for key in keys:
                self.sent.append(pickle.dumps(scheduler.tasks[key].run_spec))

    return TaskRecorder()


def _write_class(course, release_nb) -> None:
    reference = solved(release_nb)
    write_submission(course.root, "ada", reference)
    write_submission(course.root, "ben", with_answers(reference, {WRONG[0].question: WRONG[0].source}))
    write_submission(course.root, "cy", b"not a notebook")
    folder = course.root / "submitted" / "di" / "derivatives"
    folder.mkdir(parents=True)  # no notebook, only the timestamp nbgrader's submit writes
    (folder / "timestamp.txt").write_text((course.root / "submitted" / "ada" / "derivatives" / "timestamp.txt").read_text())


def _recorded(course, student: str) -> dict:
    return json.loads((course.root / "autograded" / student / "derivatives" / STATUS_FILE).read_text())


def _client_refused(address: str, security) -> bool:
    from distributed import Client

    try:
        with Client(address, security=security, timeout="3s"):
            return False
    except (OSError, TimeoutError):  # the scheduler's TLS handshake refused it
        return True


def _tls_without_certificate_refused(address: str, ca: Path) -> bool:
    """A TLS client that trusts the course CA but shows no certificate of its own."""
    import socket
    import ssl

    host, port = address.removeprefix("tls://").rsplit(":", 1)
    context = ssl.create_default_context(cafile=str(ca))
    context.check_hostname = False
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        try:
            with context.wrap_socket(raw) as tls:
                tls.sendall(b"x")
                return tls.recv(1) == b""
        except (ssl.SSLError, OSError):
            return True


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory):
    """A LocalCluster (one worker process) over mutual TLS with the kit's certificates.

    Yields (address, certificate folder, a stranger's certificate folder, the task recorder).
    """
    from distributed import LocalCluster

    certs, stranger = tmp_path_factory.mktemp("certs"), tmp_path_factory.mktemp("stranger")
    make_cluster_certs(certs)
    make_cluster_certs(stranger)
    recorder = _task_recorder()
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", protocol="tls://",
                      security=cluster_security(certs, "scheduler", "worker", "client"),
                      dashboard_address=None) as cluster:
        cluster.scheduler.add_plugin(recorder, name="record-tasks")
        yield cluster.scheduler_address, certs, stranger, recorder


def _autograde_elsewhere(course_root: Path, address: str, certs: Path) -> subprocess.CompletedProcess:
    """`grader autograde --cluster` in its own process, as on the course machine.

    Its client accepts only bytes from Dask, so it cannot share a process with the
    scheduler here (which unpickles the task graph it is sent).
    """
    return subprocess.run([sys.executable, "-m", "grader", "--course", str(course_root), "autograde",
                           "derivatives", "--cluster", address, "--cluster-certs", str(certs)],
                          capture_output=True, text=True, timeout=180, env={**os.environ, "COURSE_MACHINE": "1"})


@pytest.mark.slow
def test_a_tls_cluster_admits_only_holders_of_the_course_certificates(tls_cluster):
    """Is a client refused when it shows no certificate, speaks plain TCP, or shows a certificate
    from another CA, while the course's own client gets in?"""
    from distributed.security import Security

    address, certs, stranger, _ = tls_cluster
    assert address.startswith("tls://")
    assert _tls_without_certificate_refused(address, certs / "ca.pem")
    assert _client_refused(address.replace("tls://", "tcp://"), None)
    assert _client_refused(address, cluster_security(stranger, "client"))
    assert _client_refused(address, Security(require_encryption=True, tls_ca_file=str(certs / "ca.pem"),
                                             tls_client_cert=str(stranger / "client.pem"),
                                             tls_client_key=str(stranger / "client-key.pem")))
    assert not _client_refused(address, cluster_security(certs, "client"))


@pytest.mark.slow
def test_tls_cluster_grades_like_the_local_run_and_never_sees_the_secret(tls_cluster, course, release_nb, tmp_path):
    """Do grades and autograded notebooks from the TLS cluster equal a local autograde of the
    same class, while no task a worker receives holds the course secret?"""
    address, certs, _, recorder = tls_cluster
    _write_class(course, release_nb)
    secret = course.secret()  # made before the copy, so both runs draw from one secret
    remote_root = tmp_path / "remote-course"
    shutil.copytree(course.root, remote_root)
    autograde(course, jobs=1, show_progress=False)
    recorder.sent.clear()
    done = _autograde_elsewhere(remote_root, address, certs)
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(recorder.sent) == 3  # ada, ben, cy; di had no notebook to send
    for sent in recorder.sent:
        assert secret not in sent and secret.hex().encode() not in sent
    remote = type(course).at(remote_root)
    for student in ("ada", "ben", "cy", "di"):
        assert _recorded(remote, student) == _recorded(course, student), student
        assert (remote.autograded_notebook(student).read_bytes()
                == course.autograded_notebook(student).read_bytes()), student
    assert _recorded(course, "ada")["autograded_score"] == AUTOGRADED_POINTS
    assert _recorded(course, "di")["autograded_score"] == 0
    assert _recorded(remote, "cy")["status"] == "unreadable"


# Run in the Dask worker's process: the worker now answers like a compromised grading machine.
# Its payloads touch MARKER only where COURSE_MACHINE is set (Dask's worker itself unpickles
# the exceptions it raises, which runs them there: that machine is the attacker's already).
_HOSTILE_WORKER = """
import os
import grader.judge.cluster as cluster

class Exploit:
    def __reduce__(self):
        return (os.system, ('[ -z "$COURSE_MACHINE" ] || touch ' + MARKER,))

class ExploitError(Exception):
    def __reduce__(self):
        return (os.system, ('[ -z "$COURSE_MACHINE" ] || touch ' + MARKER,))

honest = cluster.grade_remote
def hostile(plan, student, filename, data, notes, seeds):
    if student == "ada":
        return Exploit()
    if student == "ben":
        raise ExploitError()
    if student == "cy":
        return b'{"student": "cy", "score": 1e9'
    return honest(plan, student, filename, data, notes, seeds)
cluster.grade_remote = hostile
cluster.honest_grade_remote = honest
"""


@pytest.mark.slow
def test_a_hostile_worker_cannot_run_code_on_the_course_machine(tls_cluster, course, release_nb, tmp_path):
    """When a grading machine returns a pickle that would run a command, raises an exception that
    would, or returns a broken verdict, does the course machine run nothing, record those students
    as "crashed", and finish the batch?"""
    from distributed import Client

    address, certs, _, _ = tls_cluster
    marker = tmp_path / "pwned"
    _write_class(course, release_nb)
    with Client(address, security=cluster_security(certs, "client"), timeout="30s") as client:
        client.run(exec, _HOSTILE_WORKER, {"MARKER": str(marker)})
        try:
            done = _autograde_elsewhere(course.root, address, certs)
        finally:
            client.run(exec, "import grader.judge.cluster as c; c.grade_remote = c.honest_grade_remote", {})
    assert done.returncode == 0, done.stderr[-3000:]
    assert not marker.exists()
    for student in ("ada", "ben", "cy"):
        record = _recorded(course, student)
        assert (record["status"], record["autograded_score"]) == ("crashed", 0), record
    assert "NoneType came back instead of bytes" in _recorded(course, "ada")["notes"][0]
    assert "did not grade it" in _recorded(course, "ben")["notes"][0]
    assert "verdict was rejected: not JSON" in _recorded(course, "cy")["notes"][0]
    assert _recorded(course, "di")["status"] == "no notebook"


def test_cluster_security_requires_encryption(tmp_path):
    """Does the kit's Security refuse unencrypted connections and pin TLS 1.3?"""
    import ssl

    make_cluster_certs(tmp_path)
    security = cluster_security(tmp_path, "client")
    assert security.require_encryption is True
    assert security.tls_min_version == ssl.TLSVersion.TLSv1_3
    with pytest.raises(CourseError):
        cluster_security(tmp_path / "missing", "client")


def test_a_link_out_of_the_student_folder_is_not_sent_to_the_cluster(course):
    """Is a submission that links to the source notebook kept on the course machine as unreadable,
    as the local path judges it, instead of being sent out and graded as the student's work?"""
    from grader.judge.cluster import _submission_bytes

    folder = course.submission_folder("eve")
    folder.mkdir(parents=True)
    (folder / "derivatives.ipynb").symlink_to(course.source_notebook())
    filename, data, notes, status = _submission_bytes(course, "eve")
    assert (filename, data, status) == ("derivatives.ipynb", None, "unreadable")
    assert "links to a file outside" in notes[-1]
