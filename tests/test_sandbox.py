"""Worker containment: hostile cells stay inside their worker, honest cells behave as in Jupyter."""

from __future__ import annotations

import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from grader.runtime.subject import decode_reply, make_request
from grader.runtime.values import decode
from grader.worker import CellReport, Limits, ProbeFailed, WarmParent, hugepages
from grader.worker.channel import ChannelClosed, FrameBuffer, FrameTimeout, encode_frame

COURSE_ROOT = Path(__file__).resolve().parents[1]
# A directory inside a read-only bound prefix, standing in for a course root kept under /usr or the venv.
HIDDEN_INSIDE_PREFIX = Path(pytest.__file__).resolve().parents[1] / "_pytest"
SECRETS = {"NBGRADER_EXECUTION": "autograde", "GRADER_SECRET": "hunter2"}

pytestmark = [
    pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux-only"),
    pytest.mark.duration(0.4),  # each starts workers
]


@pytest.fixture(scope="module")
def parent():
    saved = {key: os.environ.get(key) for key in SECRETS}
    os.environ.update(SECRETS)  # the judge holds these; no worker may see them
    try:
        with WarmParent(course_root=COURSE_ROOT, hidden_paths=(HIDDEN_INSIDE_PREFIX,)) as warm:
            yield warm
    finally:
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)


@pytest.fixture(scope="module")
def tight_parent():
    with WarmParent(limits=Limits(cpu_seconds=2, address_space=2 * 1024**3)) as warm:
        yield warm


@pytest.fixture
def worker(parent):
    started = parent.start_worker()
    yield started
    started.close()


def run(worker, source: str, timeout: float = 10.0) -> CellReport:
    return worker.run_cell(0, source, timeout=timeout)


def value_of(worker, expression: str):
    """Evaluate an expression in the worker and return the printed repr's literal value."""
    report = run(worker, f"print(repr({expression}))")
    assert report.status == "ok", report
    return eval(report.output)


def processes_of(uid: int) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["uids"]):
        uids = proc.info["uids"]
        if uids is not None and uid in (uids.real, uids.effective):
            found.append(proc)
    return found


# ---------------------------------------------------------------- honest cells


def test_output_and_error_are_reported(worker):
    """Does a cell's printed output come back, and is its exception one readable line?"""
    report = run(worker, "print('hello')\n1/0")
    assert report.status == "error"
    assert report.output.startswith("hello\n")
    assert report.error == "ZeroDivisionError: division by zero"
    assert "Traceback" in report.output


def test_namespace_persists_and_last_expression_shows(worker):
    """Do names defined in one cell exist in the next, with the last expression displayed as in Jupyter?"""
    assert (
        run(worker, "import torch\nx = torch.tensor([1.0, 2.0], requires_grad=True)").status == "ok"
    )
    report = worker.run_cell(1, "y = (x ** 3).sum()\ny.backward()\nx.grad.tolist()")
    assert report.status == "ok"
    assert report.output.strip() == "[3.0, 12.0]"


@pytest.mark.parametrize(
    "source",
    ["import sys\nsys.exit()", "raise KeyboardInterrupt", "raise SystemExit(3)"],
    ids=["sys.exit", "KeyboardInterrupt", "SystemExit(3)"],
)
def test_stray_exit_keeps_the_worker(worker, source):
    """Does an honest stray sys.exit() (or interrupt) leave the worker running for the next cell?"""
    report = run(worker, "kept = 1\n" + source)
    assert report.status == "error"
    assert worker.alive
    assert value_of(worker, "kept") == 1


def test_magics_and_shell_lines_do_nothing(worker):
    """Are %magics and !commands neutral, while %%time still runs its body?"""
    report = run(
        worker, "%matplotlib inline\n!touch made_by_shell\nfiles = __import__('os').listdir('.')"
    )
    assert report.status == "ok", report
    assert value_of(worker, "files") == []
    assert run(worker, "%%time\ntimed = 42").status == "ok"
    assert value_of(worker, "timed") == 42


def test_a_helper_module_the_notebook_writes_imports_as_in_jupyter(worker):
    """Does %%writefile write its cell (-a appends, a quoted name is unquoted, a line says what
    happened, as IPython's does), and does a module the notebook wrote, with %%writefile or
    open(), import from the working folder, while a file named like an installed module does
    not stand in for it?"""
    report = run(worker, "%%writefile helper_a.py\ndef twice(x):\n    return 2 * x\n")
    assert report.status == "ok" and report.output.strip() == "Writing helper_a.py", report
    report = run(worker, "%%writefile -a 'helper_a.py'\nTHREE = 3\n")
    assert report.status == "ok" and report.output.strip() == "Appending to helper_a.py", report
    assert run(worker, "%%writefile helper_b.py\nSTALE = 1\n").status == "ok"
    report = run(worker, "%%writefile helper_b.py\nFOUR = 4\n")
    assert report.output.strip() == "Overwriting helper_b.py", report
    assert run(worker, "with open('helper_c.py', 'w') as f:\n    f.write('FIVE = 5\\n')").status == "ok"
    assert run(worker, "with open('json.py', 'w') as f:\n    f.write('SHADOW = True\\n')").status == "ok"
    report = run(worker, "import helper_a, helper_b, helper_c, json\n"
                         "found = [helper_a.twice(2), helper_a.THREE, helper_b.FOUR, helper_c.FIVE,\n"
                         "         hasattr(helper_b, 'STALE'), hasattr(json, 'SHADOW')]")
    assert report.status == "ok", report
    assert value_of(worker, "found") == [4, 3, 4, 5, False, False]


def test_a_script_the_notebook_wrote_runs_with_percent_run_as_in_jupyter(worker):
    """Does %run name.py run a Python file the notebook wrote in a namespace of its own, as
    __main__ with its arguments in sys.argv, whose names then join the notebook's, and does
    %run -i run it in the notebook's own namespace (seeing the notebook's names)?"""
    script = ("%%writefile make_leaf.py\nimport sys\n\nimport torch\n\n\ndef make_leaf(value):\n"
              "    return torch.tensor(float(value), requires_grad=True)\n\n\n"
              "ARGS = sys.argv[1:]\nAS_MAIN = __name__ == '__main__'\n")
    assert run(worker, script).status == "ok"
    report = run(worker, "base = 7\n%run make_leaf.py one two\nleaf = make_leaf(2)")
    assert report.status == "ok", report
    assert value_of(worker, "ARGS") == ["one", "two"] and value_of(worker, "AS_MAIN") is True
    assert value_of(worker, "leaf.requires_grad") is True
    assert run(worker, "%%writefile uses_base.py\nDOUBLED = 2 * base\n").status == "ok"
    assert run(worker, "%run uses_base.py").status == "error"  # a namespace of its own: no `base`
    assert run(worker, "%run -i uses_base.py").status == "ok"
    assert value_of(worker, "DOUBLED") == 14


def test_python_from_the_judge_is_run_as_it_is(worker):
    """Does a cell the judge already transformed run untouched, so IPython syntax is not transformed twice?"""
    transformed = "get_ipython().run_line_magic('matplotlib', 'inline')\nmarker = 'ran'"
    assert worker.run_cell(0, transformed, is_python=True).status == "ok"
    assert value_of(worker, "marker") == "ran"
    report = worker.run_cell(1, "%matplotlib inline", is_python=True)
    assert report.status == "error" and "SyntaxError" in report.error


def test_warnings_are_not_errors(worker):
    """Is a warning only output, never an error status?"""
    report = run(worker, "import warnings\nwarnings.warn('careful')\nok = True")
    assert report.status == "ok"
    assert "careful" in report.output


# ---------------------------------------------------------------- resource exhaustion


def test_os_exit_is_reported_as_died(worker):
    """Does os._exit(0) at top level show as 'died' with its cause, rather than hang the judge?"""
    report = run(worker, "import os\nos._exit(0)")
    assert report.status == "died"
    assert report.error == "exited with status 0"
    assert not worker.alive


def test_infinite_loop_times_out_and_leaves_nothing(worker):
    """Does `while True: pass` time out, and is every process of the worker gone after close()?"""
    report = run(worker, "while True: pass", timeout=1.0)
    assert report.status == "timeout"
    worker.close()
    assert processes_of(worker.uid) == []


def test_cpu_limit_kills_the_worker(tight_parent):
    """Does a worker past its CPU seconds die with the cause named?

    As pid 1 of its namespace the worker cannot be stopped by SIGXCPU's default action, so
    the kernel's SIGKILL at the hard limit (two seconds later) ends it."""
    with_limit = tight_parent.start_worker()
    try:
        # the CPU limit ends it, not the wall clock: room for cores shared with other processes
        report = run(with_limit, "while True: pass", timeout=180.0)
    finally:
        with_limit.close()
    assert report.status == "died"
    assert report.error in ("killed by SIGXCPU (CPU time limit)", "killed by SIGKILL (CPU time limit)")
    assert "hit the CPU time limit" in report.events


def test_fork_bomb_is_bounded(worker):
    """Does RLIMIT_NPROC stop a fork loop long before it hurts the machine?"""
    source = (
        "import os, time\nmade, failure = 0, None\n"
        "for _ in range(500):\n"
        "    try:\n        pid = os.fork()\n"
        "    except OSError as exc:\n        failure = type(exc).__name__\n        break\n"
        "    if pid == 0:\n        time.sleep(100)\n        os._exit(0)\n"
        "    made += 1\n"
        "print(made, failure)"
    )
    report = run(worker, source)
    made, failure = report.output.split()
    assert int(made) < Limits().processes and failure == "BlockingIOError"
    assert "started a process" in report.events
    worker.close()
    assert processes_of(worker.uid) == []


def test_recursive_fork_bomb_is_contained(worker):
    """Does a real fork bomb only time out its own worker, with nothing left afterwards?"""
    report = run(
        worker,
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
        timeout=2.0,
    )
    assert report.status == "timeout"
    worker.close()
    assert processes_of(worker.uid) == []


TREE_BOMB = """
import os
size = int(1.2 * 1024**3)
children = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        block = bytearray(size)
        block[::4096] = b"\\x01" * len(range(0, size, 4096))  # every page really used
        os._exit(0)
    children.append(pid)
held = sum(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0 for pid in children)
print("children that held 1.2 GiB:", held)
"""


def test_a_workers_children_share_one_memory_limit(parent):
    """Can three forked children of one worker hold 1.2 GiB each (3.6 GiB, each under its own
    3 GiB address space)? With a memory cgroup per worker, at most two can."""
    if parent.mode != "root" or not parent.plan["memory"].startswith("a memory cgroup"):
        pytest.skip(f"no memory cgroup per worker here: {parent.plan['memory']}")
    worker = parent.start_worker()
    try:
        report = run(worker, TREE_BOMB, timeout=300.0)
    finally:
        worker.close()
    assert report.status == "died" or report.output.strip() in (
        "children that held 1.2 GiB: 0", "children that held 1.2 GiB: 1", "children that held 1.2 GiB: 2"), report
    fresh = parent.start_worker()
    assert run(fresh, "print(sum(range(4)))").output == "6\n"


def test_memory_bomb_hits_the_address_space_limit(tight_parent):
    """Does unbounded allocation end in MemoryError (or a dead worker), with the judge unaffected?"""
    bomb = tight_parent.start_worker()
    try:
        huge = run(bomb, "blob = bytearray(8 * 1024 ** 3)")
        growing = run(
            bomb,
            "chunks = []\nwhile True:\n    chunks.append(b'x' * (64 * 1024 ** 2))",
            timeout=180.0,  # the address space limit ends it, not the wall clock
        )
    finally:
        bomb.close()
    assert huge.status == "error" and huge.error.startswith("MemoryError")
    assert growing.status in ("error", "died")
    assert psutil.Process().memory_info().rss < 1024**3
    fresh = tight_parent.start_worker()
    assert run(fresh, "import torch\nprint(torch.ones(3).sum().item())").output == "3.0\n"
    fresh.close()


def test_huge_single_line_print_is_capped(worker):
    """Is one 30 MB line of print cut to the cap, with a note saying so?"""
    report = run(worker, "print('x' * 30_000_000)")
    assert report.status == "ok"
    assert len(report.output) < Limits().output_cap + 200
    assert "output truncated" in report.output


def test_raw_fd_writes_go_nowhere(worker):
    """Do os.write floods to fds 1 and 2 stay out of the report (they point at /dev/null)?"""
    report = run(
        worker,
        "import os\nfor fd in (1, 2):\n    os.write(fd, b'LEAK' * 1_000_000)\n"
        "print(os.readlink('/proc/self/fd/1'), os.readlink('/proc/self/fd/2'))",
    )
    assert report.status == "ok"
    assert report.output == "/dev/null /dev/null\n"


# ---------------------------------------------------------------- escape and snooping


@pytest.fixture
def listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    yield server.getsockname()[1]
    server.close()


def test_no_network(worker, listener):
    """Can a cell reach neither a listener on the judge's loopback nor DNS?"""
    report = run(
        worker, f"import socket\nsocket.create_connection(('127.0.0.1', {listener}), timeout=2)"
    )
    assert report.status == "error" and "OSError" in report.error
    assert "opened a network connection" in report.events
    dns = run(worker, "import socket\nsocket.getaddrinfo('example.com', 80)")
    assert dns.status == "error" and "gaierror" in dns.error


def test_course_root_home_and_judge_tmp_are_invisible(worker):
    """Are the course directory, /root and the judge's temp files absent from the worker's view?"""
    with tempfile.NamedTemporaryFile(prefix="judge-secret-") as secret:
        paths = [
            str(COURSE_ROOT / "pyproject.toml"),
            str(COURSE_ROOT / "grader" / "questions.py"),
            "/root/.bashrc",
            secret.name,
        ]
        assert (
            value_of(worker, f"[__import__('os').path.exists(p) for p in {paths!r}]") == [False] * 4
        )
    assert value_of(worker, f"sorted(__import__('os').listdir({str(COURSE_ROOT)!r}))") == [".venv"]
    assert value_of(worker, "__import__('os').listdir('/root')") == [".pyenv"]
    assert value_of(worker, f"__import__('os').listdir({str(HIDDEN_INSIDE_PREFIX)!r})") == []
    assert value_of(worker, "__import__('os').path.exists('/etc/shadow')") is False
    assert run(worker, "import grader.checks").status == "error"


def test_site_packages_are_read_only(worker):
    """Does a .pth drop into site-packages fail, so nothing can persist into later jobs?"""
    report = run(
        worker,
        "import site, pathlib\npathlib.Path(site.getsitepackages()[0], 'evil.pth').write_text('import os')",
    )
    assert report.status == "error" and (
        "Read-only" in report.error or "Permission" in report.error
    )


def test_nothing_persists_into_the_next_worker(parent):
    """Is a file left in /tmp or the working directory gone for the next worker?"""
    first = parent.start_worker()
    run(first, "open('/tmp/left-behind', 'w').write('x')\nopen('here', 'w').write('x')")
    first.close()
    second = parent.start_worker()
    try:
        assert value_of(second, "__import__('os').path.exists('/tmp/left-behind')") is False
        assert value_of(second, "__import__('os').listdir('.')") == []
    finally:
        second.close()


@pytest.mark.parametrize(
    "source",
    [
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    while True:\n        time.sleep(1)",
        "import subprocess\nsubprocess.Popen(['sleep', '100'], start_new_session=True)",
    ],
    ids=["fork-setsid", "popen-new-session"],
)
def test_detached_children_die_with_the_worker(worker, source):
    """Is a detached child that would outlive grading killed by close()?"""
    assert run(worker, source).status == "ok"
    assert len(processes_of(worker.uid)) >= 2
    worker.close()
    assert processes_of(worker.uid) == []


def test_environment_is_scrubbed(worker):
    """Does the worker's environment lack the judge's grader variables and secrets?"""
    environ = value_of(worker, "dict(__import__('os').environ)")
    assert not set(SECRETS) & set(environ)
    assert environ["MPLBACKEND"] == "Agg" and environ["OMP_NUM_THREADS"] == "1"


def test_cwd_is_empty_and_last_on_sys_path(worker):
    """Does a cell start in an empty directory, importable from only after every installed module
    (as a kernel's folder is, for a helper the notebook writes), with nothing of the kit's tree?"""
    cwd = value_of(worker, "__import__('os').getcwd()")
    assert value_of(worker, "__import__('os').listdir('.')") == []
    path = value_of(worker, "__import__('sys').path")
    assert path[-1] == "" and "" not in path[:-1] and cwd not in path
    assert not any(p.startswith(str(COURSE_ROOT / "grader")) for p in path), path


def test_no_cached_finder_lists_the_course_tree(worker):
    """Are the warm parent's cached directory listings of the kit and course gone from the worker?"""
    cached = value_of(worker, "list(__import__('sys').path_importer_cache)")
    assert cached, "the library directories' finders should be kept"
    libraries = (sys.prefix + "/", sys.base_prefix + "/")
    assert not [entry for entry in cached if not (entry + "/").startswith(libraries)]
    assert not [entry for entry in cached if entry.startswith(str(COURSE_ROOT / "grader"))]


def test_worker_runs_unprivileged(worker):
    """Does student code run as the unprivileged worker uid with no capabilities?"""
    status = value_of(worker, "open('/proc/self/status').read()")
    assert "CapEff:\t0000000000000000" in status and "NoNewPrivs:\t1" in status
    if os.geteuid() == 0:
        assert value_of(worker, "__import__('os').getuid()") == worker.uid


def test_new_namespaces_and_mounts_are_refused(worker):
    """Can student code neither create namespaces nor mount (seccomp), even through a helper binary?"""
    report = run(
        worker,
        "import ctypes, subprocess\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.unshare(0x10000000), ctypes.get_errno())\n"
        "print(subprocess.run(['unshare', '-U', 'true']).returncode != 0)",
    )
    assert report.output == "-1 1\nTrue\n"
    assert "loaded a native library through ctypes" in report.events


@pytest.mark.parametrize(
    "forged",
    [
        "(1 << 30).to_bytes(4, 'big')",
        "(10).to_bytes(4, 'big') + b'not json!!'",
    ],
    ids=["oversized-frame", "garbage-frame"],
)
def test_forged_frames_are_rejected(worker, forged):
    """Does a worker writing its own frame to the channel get stopped, with the judge unharmed?"""
    run(worker, f"import os\ndef f(x):\n    os.write(3, {forged})\n    return 1")
    request = {"op": "call", "name": "f", "args": [{"kind": "number", "value": 1.0}], "kwargs": {}}
    with pytest.raises(ProbeFailed) as failure:
        worker.probe(request)
    assert failure.value.status == "error"
    assert not worker.alive


@pytest.mark.parametrize("mode", ["userns", "none"])
def test_weaker_modes_still_work_and_say_so(mode):
    """Without root (user namespace) or without any namespaces, do cells run and close() still kill the tree?"""
    with WarmParent(mode=mode) as warm:
        weaker = warm.start_worker()
        report = run(
            weaker,
            "import subprocess\nsubprocess.Popen(['sleep', '100'], start_new_session=True)\nx = 1",
        )
        assert report.status == "ok"
        weaker.close()
        if mode == "none":
            assert warm.containment["network"].startswith("not available")
        else:
            assert warm.containment["network"].startswith("new network namespace")
        assert processes_of(weaker.uid) == [] or os.geteuid() != 0


# ---------------------------------------------------------------- tamper evidence


def test_input_transformer_is_recorded_and_harmless(worker):
    """Is appending an IPython input transformer recorded, and do later cells still run as written?"""
    report = run(
        worker, "get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])"
    )
    assert report.status == "ok"
    assert "used get_ipython().input_transformers_cleanup" in report.events
    assert run(worker, "print('still here')").output == "still here\n"


def test_patched_allclose_is_recorded(worker):
    """Is `torch.allclose = lambda *a, **k: True` reported as tampering?"""
    report = run(worker, "import torch\ntorch.allclose = lambda *a, **k: True")
    assert "patched torch.allclose" in report.events
    report = run(worker, "import torch\ntorch.Tensor.__bool__ = lambda self: True")
    assert "patched torch.Tensor.__bool__" in report.events


def test_rebinding_builtins_cannot_break_the_worker(worker):
    """Does `builtins.isinstance = lambda *a: True` get recorded while the worker keeps answering probes?"""
    report = run(worker, "import builtins\nbuiltins.isinstance = lambda *a: True\nanswer = 7")
    assert report.status == "ok"
    assert "patched builtins.isinstance" in report.events
    assert run(worker, "print(isinstance(1, str))").output == "True\n"
    assert worker.probe({"op": "get", "name": "answer"}) == {
        "result": {"kind": "number", "value": 7}
    }


def test_rebound_json_and_socket_methods_do_not_reach_the_replies(worker):
    """Do replies still arrive whole and true after a cell rebinds every library function a frame
    could pass through (json's encoder and decoder, the socket classes' send and receive)?"""
    report = run(worker, """
import _socket, json, socket
json.dumps = json.loads = lambda *a, **k: "{}"
json.encoder.JSONEncoder.encode = lambda self, o: "{}"
json.decoder.JSONDecoder.decode = lambda self, s, *a: {}
for cls in (socket.socket, _socket.socket):
    try:  # _socket.socket is an immutable type in some builds
        cls.sendall = lambda self, data, *a: None
        cls.recvmsg = cls.recv = lambda self, *a: (b"", [], 0, None)
    except TypeError:
        pass
answer = 7
""")
    assert report.status == "ok", report.error
    assert worker.probe({"op": "get", "name": "answer"}) == {"result": {"kind": "number", "value": 7}}
    assert run(worker, "print('still here')").output == "still here\n"


def test_a_probe_reports_what_student_code_did_while_it_ran(worker):
    """Is a profile function installed inside a probe's call reported with that probe, and is a
    trace function a cell left removed before the next probe starts?"""
    run(worker, """
import sys
import torch
def f(x):
    getattr(sys, "setpro" + "file")(lambda *a: None)
    return x
sys.settrace(lambda *a: None)
""")
    worker.probe(make_request("call", "f", args=(1,)))
    assert "installed a profile function" in worker.probe_events
    assert run(worker, "import sys\nprint(sys.gettrace(), sys.getprofile())").output == "None None\n"


# ---------------------------------------------------------------- probes


def test_probe_reads_the_namespace(worker):
    """Does a probe see what the cells defined?"""
    run(worker, "answer = 42")
    assert worker.probe({"op": "get", "name": "answer"}) == {
        "result": {"kind": "number", "value": 42}
    }


def test_a_kept_answer_is_read_again_as_it_is_now(worker):
    """Does a call asked to keep its result let a later probe read that very object again, as it
    is after the calls since (a shared .grad zeroed and refilled), and is an unknown number an error?"""
    run(worker, "import torch\nshared = torch.zeros(())\ndef g(v):\n    shared.fill_(v)\n    return shared\n")
    first = decode_reply(make_request("call", "g", args=(1.0,), keep=True),
                         worker.probe(make_request("call", "g", args=(1.0,), keep=True)))
    worker.probe(make_request("call", "g", args=(5.0,)))
    again = worker.probe(make_request("kept", "kept", number=first.kept))
    assert decode(again["result"]).tensor.item() == 5.0
    assert "error" in worker.probe(make_request("kept", "kept", number=first.kept + 100))


def test_hung_probe_raises_timeout(worker):
    """Does a probe into a function that never returns fail with status 'timeout'?"""
    run(worker, "def f(x):\n    while True:\n        pass")
    request = {"op": "call", "name": "f", "args": [{"kind": "number", "value": 1.0}], "kwargs": {}}
    with pytest.raises(ProbeFailed) as failure:
        worker.probe(request, timeout=1.0)
    assert failure.value.status == "timeout"
    assert not worker.alive


def test_probe_that_kills_the_worker_raises_error(worker):
    """Does a probe whose call ends the process fail with status 'error', naming the exit?"""
    run(worker, "import os\ndef f(x):\n    os._exit(3)")
    request = {"op": "call", "name": "f", "args": [{"kind": "number", "value": 1.0}], "kwargs": {}}
    with pytest.raises(ProbeFailed) as failure:
        worker.probe(request)
    assert failure.value.status == "error" and "exited with status 3" in failure.value.message


def test_containment_is_described(parent):
    """Does the parent say which isolation is in force?"""
    containment = parent.containment
    assert set(containment) >= {"user", "network", "filesystem", "pid_namespace", "limits"}
    if os.geteuid() == 0:
        assert containment["user"].startswith("uid 61")


def test_warm_image_huge_pages_are_reported(parent):
    """Does the containment report say whether the warm image sits in huge pages (it is best effort)?"""
    huge_pages = parent.containment["huge_pages"]
    assert huge_pages.endswith("in huge pages") or huge_pages.startswith("not available")


def test_only_private_anonymous_memory_is_collapsed(tmp_path):
    """Are file-backed, shared and read-only mappings left alone, and ranges cut to whole 2 MiB pages?"""
    maps = tmp_path / "maps"
    maps.write_text(
        "00200000-00a00000 rw-p 00000000 00:00 0                          [heap]\n"
        "7f0000100000-7f0000700000 rw-p 00000000 00:00 0 \n"
        "7f0000800000-7f0000c00000 rw-s 00000000 00:01 12                 /dev/zero (deleted)\n"
        "7f0001000000-7f0001400000 rw-p 00000000 08:01 99                 /usr/lib/libtorch.so\n"
        "7f0002000000-7f0002400000 r--p 00000000 00:00 0 \n"
        "7f0003000000-7f0003100000 rw-p 00000000 00:00 0 \n"
    )
    assert hugepages._anonymous_ranges(str(maps)) == [(0x200000, 0xA00000), (0x7F0000200000, 0x7F0000600000)]


# ---------------------------------------------------------------- speed


def test_start_worker_is_fast(parent):
    """How long do start_worker() + a trivial cell + close() take (median of 20)?"""
    times = []
    for _ in range(20):
        start = time.perf_counter()
        fresh = parent.start_worker()
        assert fresh.run_cell(0, "x = 1").status == "ok"
        fresh.close()
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(
        f"\nstart_worker + trivial cell + close: median {median * 1000:.1f} ms, max {max(times) * 1000:.1f} ms"
    )
    assert median < 2.0


def test_a_frame_that_arrives_in_pieces_is_read_whole_and_never_waited_for():
    """Does the judge's link keep a half-arrived frame, give it whole once complete, and never block?"""
    judge, parent = socket.socketpair()
    with judge, parent:
        frames = FrameBuffer(judge)
        data = encode_frame({"op": "exited", "id": 7}) + encode_frame({"op": "exited", "id": 8})
        parent.sendall(data[:5])
        assert frames.read_nowait() is None
        with pytest.raises(FrameTimeout):
            frames.read(time.monotonic())
        parent.sendall(data[5:])
        assert frames.read_nowait() == {"op": "exited", "id": 7}
        assert frames.read(time.monotonic() + 1) == {"op": "exited", "id": 8}
        parent.close()
        with pytest.raises(ChannelClosed):
            frames.read_nowait()


def test_the_warm_parent_command_line_names_no_course_path(parent):
    """Does `ps` on the grading machine show nothing of the course, whose paths the warm parent hides?"""
    interpreter, *arguments = Path(f"/proc/{parent._process.pid}/cmdline").read_bytes().decode().split("\0")
    shown = " ".join(arguments)
    assert "grader.worker.warm_parent" in shown
    assert str(COURSE_ROOT) not in shown and str(HIDDEN_INSIDE_PREFIX) not in shown, shown


def test_workers_run_torch_on_one_thread(worker):
    """Are torch's intra-op and inter-op threads pinned, so parallel workers do not oversubscribe cores?"""
    assert value_of(worker, "__import__('torch').get_num_threads()") == 1
    assert value_of(worker, "__import__('torch').get_num_interop_threads()") == 1


@pytest.mark.parametrize("many", [True, False], ids=["many_workers", "one_worker"])
def test_a_workers_collector_runs_and_skips_the_warm_image(many):
    """Is the garbage collector on in a worker (the warm parent imports with it off), so a
    student's reference cycles are freed, with the warm image frozen out of its reach?"""
    with WarmParent(many_workers=many) as warm:
        started = warm.start_worker()
        try:
            assert value_of(started, "__import__('gc').isenabled()") is True
            assert value_of(started, "__import__('gc').get_freeze_count() > 100_000") is True
            report = run(started, "import gc\ngc.collect()\ndef cycle():\n    c = []\n    c.append(c)\n"
                                  "cycle()\nprint(gc.collect())")
            assert report.status == "ok" and int(report.output) >= 1, report
        finally:
            started.close()
