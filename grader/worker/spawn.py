"""Forking one contained worker: the init that reaps it inside its pid namespace, and its own setup."""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from grader.worker import isolation, seccomp
from grader.worker.channel import encode_frame
from grader.worker.isolation import (
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    CLONE_NEWUTS,
)

__all__ = ["Job", "describe_limits", "describe_memory", "outcome", "spawn"]

_OTHER_NAMESPACES = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS


@dataclass
class Job:
    """Everything a forked worker needs, decided by the warm parent before fork."""

    id: int
    uid: int
    gid: int
    channel_fd: int
    status_fd: int
    mode: str  # "root", "userns" or "none"
    limits: dict
    hidden: list[str]
    run_probe: Callable | None = None
    containment: dict = field(default_factory=dict)
    counter_fd: int | None = None  # the judge's line to a pid counter placed in the worker's pid namespace
    counter: int | None = None  # that counter's pid, once placed


def describe_limits(limits: dict) -> str:
    """One line naming the rlimits in force."""
    gib, mib = 1024**3, 1024**2
    return (
        f"address space {limits['address_space'] / gib:g} GiB per process, CPU {limits['cpu_seconds']} s, "
        f"processes {limits['processes']}, file size {limits['file_size'] / mib:g} MiB, "
        f"open files {limits['open_files']}, core {limits['core']}, /tmp {limits['tmp_size'] / mib:g} MiB"
    )


def describe_memory(limits: dict) -> str:
    """How a worker's memory is bounded: by a memory cgroup for its whole tree where the warm
    parent could make one (`tree_memory` says so), else only per process (RLIMIT_AS), so a tree
    of forked children together may hold up to the process limit times that."""
    gib = 1024**3
    per_process = f"address space {limits['address_space'] / gib:g} GiB each, up to {limits['processes']} processes"
    if limits.get("tree_memory"):
        return f"{limits['tree_memory']}; {per_process}"
    return f"per process only: {per_process}; no per-worker memory cgroup"


def _in_child(body: Callable[[], None], job: Job) -> None:
    """Run body in a forked child; whatever happens, the child never returns into the parent's code."""
    try:
        body()
        os._exit(0)
    except BaseException as exc:  # noqa: B036
        _fail(job, f"{type(exc).__name__}: {exc}")
    finally:
        os._exit(71)


def _fail(job: Job, message: str) -> None:
    # The judge is waiting for a hello on the channel; tell it why there will be none.
    try:
        traceback.print_exc()
        os.write(job.channel_fd, encode_frame({"op": "hello", "error": message[:1000]}))
    except BaseException:  # noqa: B036 -- nothing more can be reported; the caller exits
        pass


def spawn(job: Job, own_pidns_fd: int | None, forget: Callable[[], None]) -> tuple[int, int]:
    """Fork the worker's supervising process; returns (pid, signal that kills the whole worker)."""
    if job.mode == "root":
        return _spawn_root(job, own_pidns_fd, forget), signal.SIGKILL
    if job.mode == "userns":
        return _spawn_userns(job, forget), signal.SIGTERM
    pid = os.fork()
    if pid == 0:
        _in_child(lambda: _init_main(job, forget), job)
    return pid, signal.SIGTERM


def _spawn_root(job: Job, own_pidns_fd: int, forget: Callable[[], None]) -> int:
    # The child becomes pid 1 of a new namespace; the parent steps back so the next fork can too.
    isolation.unshare(CLONE_NEWPID)
    try:
        pid = os.fork()
    except BaseException:
        isolation.setns(own_pidns_fd, CLONE_NEWPID)
        raise
    if pid == 0:
        _in_child(lambda: _root_worker_main(job, forget), job)
    try:
        job.counter = _place_counter(job.counter_fd)
    finally:
        isolation.setns(own_pidns_fd, CLONE_NEWPID)
    return pid


# Reads the last pid the namespace it runs in gave out (the last field of /proc/loadavg, which the
# kernel gives for the reader's own pid namespace) each time the judge writes a line, and
# starts no process of its own to do it: a shell's builtins only.
_COUNTER = ("grader-pid-count", "-c", 'while read -r _; do read -r _ _ _ _ n < /proc/loadavg && echo "$n"; done')


def _place_counter(fd: int | None) -> int | None:
    """The pid counter, spawned into the namespace the next child enters: the worker's. It runs
    as the warm parent's user, in the warm parent's filesystem, out of the worker's reach."""
    if fd is None:
        return None
    try:
        return os.posix_spawn("/bin/sh", list(_COUNTER), {},
                              file_actions=[(os.POSIX_SPAWN_DUP2, fd, 0), (os.POSIX_SPAWN_DUP2, fd, 1)])
    except OSError:
        return None


def _root_worker_main(job: Job, forget: Callable[[], None]) -> None:
    """As root the worker itself is pid 1 of its namespace: no init to fork, and killing it
    makes the kernel kill every process it started. Its exit status reaches the warm parent
    through waitpid, so nothing is written on the status pipe."""
    forget()
    isolation.close_other_fds({0, 1, 2, job.channel_fd})
    isolation.reset_signals()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _new_session()
    isolation.set_parent_death_signal()
    isolation.set_dumpable(False)
    os.umask(0o022)
    workdir = _contain(job)
    job.containment["pid_namespace"] = (
        "new pid namespace: the worker is its pid 1; killing it kills every process it started"
    )
    _worker_main(job, workdir)


def _spawn_userns(job: Job, forget: Callable[[], None]) -> int:
    pid = os.fork()
    if pid == 0:
        _in_child(lambda: _userns_reaper(job, forget), job)
    return pid


def _userns_reaper(job: Job, forget: Callable[[], None]) -> None:
    """Outside the pid namespace: create the user namespace, fork its init, kill it on SIGTERM."""
    forget()
    isolation.close_other_fds({0, 1, 2, job.channel_fd, job.status_fd})
    isolation.reset_signals()
    os.setsid()
    isolation.set_parent_death_signal()
    outside_uid, outside_gid = os.getuid(), os.getgid()
    isolation.unshare(CLONE_NEWUSER | CLONE_NEWPID | _OTHER_NAMESPACES)
    isolation.write_id_maps(job.uid, job.gid, outside_uid, outside_gid)
    init = os.fork()
    if init == 0:
        _in_child(lambda: _init_main(job, lambda: None), job)
    os.close(job.channel_fd)
    os.close(job.status_fd)
    signal.signal(signal.SIGTERM, lambda *_: _signal_quietly(init, signal.SIGKILL))  # init may be gone already
    while True:
        pid, _ = os.waitpid(init, 0)
        if pid == init:
            os._exit(0)


def _init_main(job: Job, forget: Callable[[], None]) -> None:
    """The worker's init: contain the filesystem and network, fork the worker, reap, report its exit."""
    forget()
    isolation.close_other_fds({0, 1, 2, job.channel_fd, job.status_fd})
    isolation.reset_signals()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _new_session()
    isolation.set_parent_death_signal()
    isolation.set_dumpable(False)
    isolation.set_child_subreaper()
    os.umask(0o022)
    workdir = _contain(job)
    worker = os.fork()
    if worker == 0:
        _in_child(lambda: _worker_main(job, workdir), job)
    os.close(job.channel_fd)
    signal.signal(signal.SIGTERM, lambda *_: _signal_quietly(worker, signal.SIGKILL))
    _reap_until(job, worker, workdir)


def _new_session() -> None:
    try:
        os.setsid()
    except PermissionError:  # already a session leader
        pass


def _contain(job: Job) -> str:
    if job.mode == "none":
        job.containment.update(_uncontained(job.limits))
        if os.geteuid() == 0:
            job.containment["user"] = f"uid {job.uid} (no namespaces)"
        workdir = tempfile.mkdtemp(prefix="grader-worker-")
        if os.geteuid() == 0:
            os.chown(workdir, job.uid, job.gid)
        return workdir
    if job.mode == "root":
        isolation.unshare(_OTHER_NAMESPACES)
    workdir, has_proc = isolation.build_root(job.uid, job.gid, job.limits["tmp_size"], job.hidden)
    job.containment.update(_contained(job))
    if not has_proc:
        job.containment["filesystem"] += (
            " (no /proc: the kernel refused one in this user namespace)"
        )
    return workdir


def _contained(job: Job) -> dict:
    mode = "an unprivileged uid" if job.mode == "root" else "a user namespace (one mapped uid)"
    return {
        "user": f"uid {job.uid} via {mode}, no capabilities, no_new_privs",
        "network": "new network namespace (loopback only, down)",
        "filesystem": "private read-only root (pivot_root): /usr, /lib*, /bin, the Python prefixes, "
        "a synthetic /etc, minimal /dev, own /proc, fresh tmpfs /tmp with an empty working directory",
        "pid_namespace": "new pid namespace: the worker is pid 2 under its own init; killing the init kills the tree",
        "limits": describe_limits(job.limits),
        "memory": describe_memory(job.limits),
    }


def _uncontained(limits: dict) -> dict:
    why = "not available: not root and user namespaces are not allowed"
    return {
        "user": why,
        "network": why,
        "filesystem": why + " (working directory is a fresh temporary directory)",
        "pid_namespace": why
        + " (descendants are tracked as a subreaper and killed; a double-forked daemon is found too)",
        "limits": describe_limits(limits),
        "memory": describe_memory(limits),
    }


def _reap_until(job: Job, worker: int, workdir: str) -> None:
    """Reap every orphan in the namespace; when the worker itself ends, report how, and exit."""
    while True:
        try:
            pid, status, usage = os.wait4(-1, 0)
        except ChildProcessError:
            os._exit(0)
        if pid == worker:
            cpu = usage.ru_utime + usage.ru_stime
            os.write(
                job.status_fd, json.dumps(outcome(status, cpu, job.limits["cpu_seconds"])).encode()
            )
            if job.mode == "none":
                _kill_leftovers()
                shutil.rmtree(workdir, ignore_errors=True)
            os._exit(0)


def outcome(status: int, cpu: float, cpu_limit: int) -> dict:
    if os.WIFSIGNALED(status):
        return {
            "kind": "signaled",
            "value": os.WTERMSIG(status),
            "cpu_limit_hit": cpu >= cpu_limit - 0.5,
        }
    return {"kind": "exited", "value": os.WEXITSTATUS(status)}


def _children() -> list[int]:
    try:
        return [
            int(pid) for pid in Path(f"/proc/self/task/{os.getpid()}/children").read_text().split()
        ]
    except OSError:
        return []


def _kill_leftovers() -> None:
    """Without a pid namespace: kill every descendant; as a subreaper, orphans come back to us."""
    for _ in range(1000):  # each round kills one generation; a racing fork loop is bounded by NPROC
        children = _children()
        if not children:
            return
        for pid in children:
            _signal_quietly(pid, signal.SIGKILL)
        for pid in children:
            _reap_quietly(pid)


def _signal_quietly(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def _reap_quietly(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _worker_main(job: Job, workdir: str) -> None:
    """The worker process: shed every privilege and resource, then serve the judge."""
    from grader.worker.worker import serve

    _new_session()
    isolation.reset_signals()
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails with EFBIG instead
    _shed_privileges(job)
    isolation.apply_rlimits(job.limits)
    fd = job.channel_fd = isolation.close_fds_except(job.channel_fd)
    isolation.redirect_stdio()
    isolation.enter_root(workdir)
    os.umask(0o022)
    isolation.scrub_environment(workdir)
    _clean_interpreter(job.hidden)
    job.containment["syscalls"] = _filter_syscalls(fd)
    hello = {"containment": job.containment, "pid": os.getpid(),
             "channel_guarded": job.containment["syscalls"].startswith("seccomp")}
    serve(fd, workdir, hello, job.limits["output_cap"], job.limits["max_frame"], job.run_probe)


def _shed_privileges(job: Job) -> None:
    isolation.drop_capabilities_bounding()
    if os.geteuid() == 0:  # root mode, or a root judge without namespaces
        isolation.drop_privileges(job.uid, job.gid)
    isolation.drop_capabilities()
    isolation.set_no_new_privs()
    isolation.set_parent_death_signal()  # a uid change cleared it
    isolation.set_dumpable(True)  # keep /proc/self readable by the worker itself


def _filter_syscalls(channel: int) -> str:
    if not seccomp.supported():
        return f"not available: no syscall table for {platform.machine()}"
    try:
        seccomp.install_filter(channel)
    except OSError as exc:
        return f"not available: {exc}"
    return ("seccomp deny-list: no namespaces, mounts, ptrace, keyrings, bpf, perf, io_uring, module loading;"
            " sockets of AF_UNIX, AF_INET, AF_INET6 only; the channel to the judge cannot be closed or replaced")


def _clean_interpreter(hidden: list[str]) -> None:
    """sys.path holds the read-only Python prefixes, then the worker's own working directory,
    as a notebook's kernel has its folder (a helper module the notebook wrote imports); nothing
    of the warm parent's working directory or the course tree. Being last, a file the notebook
    writes never stands in for an installed module.

    Cached path finders outside the prefixes (the current directory, the course tree) or
    under a path hidden inside them are dropped, with the directory listings they hold; those
    of the library directories are kept, since they list the same read-only trees the worker
    now sees. Clearing them all freed thousands of cached file names and copied about 1,900
    shared pages per worker (5 ms).
    """
    prefixes = tuple(p.rstrip("/") + "/" for p in {sys.prefix, sys.base_prefix})
    hidden_dirs = tuple(h.rstrip("/") + "/" for h in hidden if (h.rstrip("/") + "/").startswith(prefixes))
    sys.path[:] = [p for p in sys.path if p and (p + "/").startswith(prefixes)] + [""]
    for entry in list(sys.path_importer_cache):
        if not (entry + "/").startswith(prefixes) or (entry + "/").startswith(hidden_dirs):
            del sys.path_importer_cache[entry]
    sys.dont_write_bytecode = True
    sys.argv = [""]
    tempfile.tempdir = None
