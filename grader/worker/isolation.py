"""Containment steps for a worker, each a small function over Linux syscalls via ctypes."""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import signal
import sys
from pathlib import Path

__all__ = [
    "CLONE_NEWIPC",
    "CLONE_NEWNET",
    "CLONE_NEWNS",
    "CLONE_NEWPID",
    "CLONE_NEWUSER",
    "CLONE_NEWUTS",
    "IsolationError",
    "apply_rlimits",
    "build_root",
    "close_fds_except",
    "close_other_fds",
    "drop_capabilities",
    "drop_capabilities_bounding",
    "drop_privileges",
    "enter_root",
    "mount_proc",
    "python_paths",
    "redirect_stdio",
    "reset_signals",
    "scrub_environment",
    "set_child_subreaper",
    "set_dumpable",
    "set_no_new_privs",
    "set_parent_death_signal",
    "setns",
    "unshare",
    "user_namespaces_work",
    "write_id_maps",
]

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
# statvfs flags that a read-only remount must keep (locked flags in a user namespace).
_KEPT_MOUNT_FLAGS = MS_NOSUID | MS_NODEV | MS_NOEXEC | 1024 | 2048 | 4096

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

_libc = ctypes.CDLL(None, use_errno=True)

# What a worker needs under /dev; each is bound from the host node.
DEV_NODES = ("null", "zero", "urandom", "random")


class IsolationError(OSError):
    """A containment step failed; the message says which."""


def _check(result: int, what: str) -> int:
    if result == -1:
        err = ctypes.get_errno()
        raise IsolationError(err, f"{what}: {os.strerror(err)}")
    return result


def unshare(flags: int) -> None:
    """Move the calling process into new namespaces (CLONE_NEW* flags)."""
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(fd: int, nstype: int) -> None:
    """Join the namespace open at fd (used to step back out of a pid namespace)."""
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def _mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None
) -> None:
    def enc(text: str | None) -> bytes | None:
        return None if text is None else os.fsencode(text)

    result = _libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data))
    _check(result, f"mount {source or fstype} on {target}")


def _umount(target: str) -> None:
    _check(_libc.umount2(os.fsencode(target), ctypes.c_int(MNT_DETACH)), f"umount {target}")


def _pivot_root(new_root: str, put_old: str) -> None:
    _check(_libc.pivot_root(os.fsencode(new_root), os.fsencode(put_old)), "pivot_root")


def _prctl(option: int, arg: int = 0) -> None:
    zero = ctypes.c_ulong(0)
    _check(
        _libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg), zero, zero, zero), f"prctl {option}"
    )


def set_parent_death_signal(sig: int = signal.SIGKILL) -> None:
    """Die with the parent: a worker must not outlive the process that supervises it."""
    _prctl(PR_SET_PDEATHSIG, sig)


def set_child_subreaper() -> None:
    """Orphaned descendants are re-parented to us (so even a setsid daemon can be found and killed)."""
    _prctl(PR_SET_CHILD_SUBREAPER, 1)


def set_dumpable(flag: bool) -> None:
    """Non-dumpable processes cannot be ptraced or have /proc/pid read by same-uid peers."""
    _prctl(PR_SET_DUMPABLE, int(flag))


def set_no_new_privs() -> None:
    """No exec (setuid binary, file capabilities) may ever grant privileges again."""
    _prctl(PR_SET_NO_NEW_PRIVS, 1)


def user_namespaces_work() -> bool:
    """Whether this (non-root) process may create a user namespace, tried in a throwaway child."""
    pid = os.fork()
    if pid == 0:
        try:
            unshare(CLONE_NEWUSER)
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def write_id_maps(inside_uid: int, inside_gid: int, outside_uid: int, outside_gid: int) -> None:
    """Map one uid and gid into a fresh user namespace (all an unprivileged creator may map)."""
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{inside_uid} {outside_uid} 1")
    Path("/proc/self/gid_map").write_text(f"{inside_gid} {outside_gid} 1")


def python_paths() -> list[str]:
    """Directories Python and the venv need, each bound read-only at its own absolute path."""
    wanted = ["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", sys.base_prefix, sys.prefix]
    chosen: list[str] = []
    for path in (os.path.abspath(w) for w in wanted):
        if not any(path == c or path.startswith(c + "/") for c in chosen):
            chosen.append(path)
    return chosen


def _make_mounts_private() -> None:
    # Without this our mounts would propagate back into the judge's namespace.
    _mount(None, "/", None, MS_REC | MS_PRIVATE)


def _stage_base() -> None:
    """Pivot into a scratch tmpfs on /tmp so the host tree stays reachable under /oldroot."""
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
    os.chdir("/tmp")
    os.mkdir("newroot", 0o755)
    os.mkdir("oldroot", 0o755)
    _pivot_root(".", "oldroot")
    os.chdir("/")


def _bind_read_only(host_path: str, new_root: str) -> None:
    source = "/oldroot" + host_path
    target = new_root + host_path
    if os.path.islink(source):
        os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
        if not os.path.lexists(target):
            os.symlink(os.readlink(source), target)
        return
    if not os.path.isdir(source):
        return
    os.makedirs(target, 0o755, exist_ok=True)
    _mount(source, target, None, MS_BIND)
    kept = os.statvfs(source).f_flag & _KEPT_MOUNT_FLAGS
    _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | kept)


def _hide(host_path: str, new_root: str) -> None:
    """Cover a path that lies inside a bound directory (a course root under /usr, say)."""
    target = new_root + host_path
    if os.path.isdir(target) and not os.path.islink(target):
        _mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=0555")
    elif os.path.lexists(target):
        _mount("/oldroot/dev/null", target, None, MS_BIND)


def _build_dev(new_root: str) -> None:
    dev = new_root + "/dev"
    os.makedirs(dev, 0o755, exist_ok=True)
    _mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k")
    for name in DEV_NODES:
        Path(dev, name).touch(0o666)
        _mount(f"/oldroot/dev/{name}", f"{dev}/{name}", None, MS_BIND)
    os.symlink("/proc/self/fd", dev + "/fd")


def _filtered_etc(new_root: str, uid: int, gid: int) -> None:
    """A synthetic /etc: only what name lookups and the dynamic linker read."""
    etc = Path(new_root + "/etc")
    etc.mkdir(0o755, exist_ok=True)
    for name in (
        "ld.so.cache",
        "ld.so.conf",
        "nsswitch.conf",
        "host.conf",
        "localtime",
        "mime.types",
    ):
        source = Path("/oldroot/etc", name)
        if source.is_file():
            (etc / name).write_bytes(source.read_bytes())
    (etc / "passwd").write_text(
        f"root:x:0:0::/:/bin/false\nstudent:x:{uid}:{gid}::/tmp/work:/bin/false\n"
    )
    (etc / "group").write_text(f"root:x:0:\nstudent:x:{gid}:\n")
    (etc / "hosts").write_text("127.0.0.1 localhost\n")


def _build_tmp(new_root: str, uid: int, gid: int, tmp_bytes: int) -> str:
    tmp = new_root + "/tmp"
    os.makedirs(tmp, 0o755, exist_ok=True)
    _mount("tmpfs", tmp, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={tmp_bytes}")
    work = tmp + "/work"
    os.mkdir(work, 0o700)
    os.chown(work, uid, gid)
    return "/tmp/work"


def mount_proc(target: str) -> None:
    """A /proc that shows only the worker's own pid namespace."""
    os.makedirs(target, 0o555, exist_ok=True)
    _mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def _finish_root(new_root: str) -> None:
    """Make new_root the root and detach the host tree entirely."""
    _umount("/oldroot")
    os.chdir(new_root)
    _pivot_root(".", ".")
    _umount(".")
    os.chdir("/")
    _mount(None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def build_root(uid: int, gid: int, tmp_bytes: int, hidden: list[str]) -> tuple[str, bool]:
    """Replace the filesystem view with a minimal read-only tree; returns (working directory, has /proc)."""
    new_root = "/newroot"
    _make_mounts_private()
    _stage_base()
    _mount("tmpfs", new_root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=2m")
    # /tmp first: a venv that lives under /tmp (a CI checkout, say) is then bound on top of it
    work = _build_tmp(new_root, uid, gid, tmp_bytes)
    bound = python_paths()
    for path in bound:
        _bind_read_only(path, new_root)
    for path in hidden:
        # An ancestor of a bound path is only a skeleton of empty directories already.
        if any(path.startswith(b + "/") for b in bound):
            _hide(path, new_root)
    _build_dev(new_root)
    _filtered_etc(new_root, uid, gid)
    has_proc = _try_mount_proc(new_root + "/proc")
    _finish_root(new_root)
    return work, has_proc


def _try_mount_proc(target: str) -> bool:
    # In a user namespace the kernel refuses a new proc when the host's /proc has masked entries.
    try:
        mount_proc(target)
        return True
    except IsolationError as exc:
        if exc.errno != errno.EPERM:
            raise
        return False


def enter_root(work: str) -> None:
    """Start in the empty working directory."""
    os.chdir(work)


def drop_capabilities_bounding() -> None:
    """Empty the bounding and ambient sets (needs CAP_SETPCAP, so before the uid change)."""
    try:
        _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    except OSError:
        pass
    for cap in range(64):
        try:
            _prctl(PR_CAPBSET_DROP, cap)
        except OSError as exc:
            if exc.errno in (
                errno.EINVAL,
                errno.EPERM,
            ):  # past the last capability, or not ours to drop
                break
            raise


def drop_capabilities() -> None:
    """Clear the effective, permitted and inheritable capability sets."""
    header = (ctypes.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    _check(_libc.capset(header, data), "capset")


def drop_privileges(uid: int, gid: int) -> None:
    """Become an unprivileged uid/gid with no supplementary groups."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def apply_rlimits(limits: dict[str, int]) -> None:
    """Set soft and hard limits; CPU gets a hard limit a little above the soft one (SIGXCPU first)."""
    table = {
        "address_space": resource.RLIMIT_AS,
        "processes": resource.RLIMIT_NPROC,
        "file_size": resource.RLIMIT_FSIZE,
        "open_files": resource.RLIMIT_NOFILE,
        "core": resource.RLIMIT_CORE,
    }
    for key, which in table.items():
        resource.setrlimit(which, (limits[key], limits[key]))
    cpu = limits["cpu_seconds"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 2))


def close_fds_except(keep: int, target: int = 3) -> int:
    """Move keep to fd target, close every other fd above 2; returns the new fd."""
    if keep != target:
        os.dup2(keep, target, inheritable=False)
        keep = target
    os.closerange(target + 1, 1 << 20)
    return keep


def close_other_fds(keep: set[int]) -> None:
    """Close every fd not in keep (inherited epoll, pipes and sockets of the warm parent)."""
    low = 0
    for fd in sorted(keep):
        if fd > low:  # os.closerange(0, 0) closes every fd in Python 3.11 (close_range(0, ~0))
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)


def redirect_stdio() -> None:
    """stdin from /dev/null, raw fds 1 and 2 into /dev/null (output is captured in-process)."""
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


def scrub_environment(home: str) -> None:
    """Replace the environment with a minimal one: no secrets, no grader variables."""
    os.environ.clear()
    os.environ.update(
        HOME=home,
        PATH="/usr/local/bin:/usr/bin:/bin",
        LANG="C.UTF-8",
        USER="student",
        TMPDIR="/tmp",
        MPLBACKEND="Agg",
        MPLCONFIGDIR="/tmp/.matplotlib",
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
    )


def reset_signals() -> None:
    """Undo the warm parent's signal setup in a child."""
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGUSR1):
        signal.signal(sig, signal.SIG_DFL)


def errno_name(err: int) -> str:
    """EPERM-style name for an errno, for containment messages."""
    return errno.errorcode.get(err, str(err))
