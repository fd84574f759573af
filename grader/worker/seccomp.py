"""A seccomp deny-list for workers: no new namespaces, mounts, tracing, or rarely-needed kernel surface."""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

__all__ = ["ALLOWED_SOCKET_FAMILIES", "DENIED_X86_64", "install_filter", "supported"]

_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_RET_KILL_PROCESS = 0x80000000
_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_SYSCALL_BIT = 0x40000000
_LD_ABS_W, _JEQ, _JGT, _JGE, _JSET, _RET = 0x20, 0x15, 0x25, 0x35, 0x45, 0x06
_NR_OFFSET, _ARCH_OFFSET, _ARG0_OFFSET = 0, 4, 16
_CLONE_X86_64, _CLONE3_X86_64 = 56, 435
_SOCKET_X86_64, _SOCKETPAIR_X86_64 = 41, 53
_CLOSE_X86_64, _DUP2_X86_64, _DUP3_X86_64, _CLOSE_RANGE_X86_64 = 3, 33, 292, 436
# The families the worker's network namespace confines (and that Python, torch and matplotlib
# use): AF_UNIX, AF_INET, AF_INET6. Others (AF_VSOCK to the host, AF_NETLINK, AF_PACKET,
# AF_BLUETOOTH, ...) reach kernel surface or peers a network namespace does not cut off.
ALLOWED_SOCKET_FAMILIES = (1, 2, 10)
# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET (NEWTIME is clone3/unshare only)
_NAMESPACE_FLAGS = (
    0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
)

# Syscalls a notebook never needs, each a known route to more privilege or more kernel.
DENIED_X86_64 = {
    "ptrace": 101,
    "syslog": 103,
    "personality": 135,
    "uselib": 134,
    "modify_ldt": 154,
    "pivot_root": 155,
    "chroot": 161,
    "acct": 163,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "iopl": 172,
    "ioperm": 173,
    "init_module": 175,
    "delete_module": 176,
    "quotactl": 179,
    "lookup_dcookie": 212,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "unshare": 272,
    "perf_event_open": 298,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "setns": 308,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "finit_module": 313,
    "kexec_file_load": 320,
    "bpf": 321,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
}


def supported() -> bool:
    """Whether this module knows the syscall table of this machine."""
    return platform.machine() == "x86_64"


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def _program(channel: int | None = None) -> bytes:
    deny = _RET_ERRNO | errno.EPERM
    ops = [
        _op(_LD_ABS_W, _ARCH_OFFSET),
        _op(_JEQ, _AUDIT_ARCH_X86_64, 1, 0),
        _op(_RET, _RET_KILL_PROCESS),  # a foreign ABI would dodge every syscall number below
        _op(_LD_ABS_W, _NR_OFFSET),
        _op(_JGE, _X32_SYSCALL_BIT, 0, 1),
        _op(_RET, deny),
    ]
    for number in sorted(DENIED_X86_64.values()):
        ops += [_op(_JEQ, number, 0, 1), _op(_RET, deny)]
    ops += _socket_family_check()
    if channel is not None:
        ops += _channel_guard(channel)
    # clone3 passes flags in memory the filter cannot read; ENOSYS makes libc fall back to clone.
    ops += [_op(_JEQ, _CLONE3_X86_64, 0, 1), _op(_RET, _RET_ERRNO | errno.ENOSYS)]
    ops += [
        _op(_JEQ, _CLONE_X86_64, 0, 3),
        _op(_LD_ABS_W, _ARG0_OFFSET),  # low 32 bits of the flags (little-endian)
        _op(_JSET, _NAMESPACE_FLAGS, 0, 1),
        _op(_RET, deny),
        _op(_RET, _RET_ALLOW),
    ]
    return b"".join(ops)


def _socket_family_check() -> list[bytes]:
    """socket() and socketpair() with a family outside ALLOWED_SOCKET_FAMILIES fail with
    EAFNOSUPPORT, as on a kernel built without it. Expects the syscall number loaded; leaves it."""
    families = ALLOWED_SOCKET_FAMILIES
    block = [_op(_LD_ABS_W, _ARG0_OFFSET)]  # the family, an int in the low 32 bits
    for i, family in enumerate(families):
        block.append(_op(_JEQ, family, len(families) - i, 0))  # to the allow below
    block += [_op(_RET, _RET_ERRNO | errno.EAFNOSUPPORT), _op(_RET, _RET_ALLOW)]
    return [_op(_JEQ, _SOCKET_X86_64, 1, 0), _op(_JEQ, _SOCKETPAIR_X86_64, 0, len(block)), *block]


def _channel_guard(fd: int) -> list[bytes]:
    """The worker's channel to the judge stays the socket it is: close(fd), dup2(_, fd),
    dup3(_, fd, _) and a close_range over fd fail with EPERM, so no other file can take its
    number (and the loop's own replies go nowhere else). Expects the syscall number loaded;
    every block that matches its syscall returns."""
    deny, allow = _RET_ERRNO | errno.EPERM, _RET_ALLOW

    def names_fd(number: int, argument: int) -> list[bytes]:
        return [_op(_JEQ, number, 0, 4), _op(_LD_ABS_W, _ARG0_OFFSET + 8 * argument),
                _op(_JEQ, fd, 0, 1), _op(_RET, deny), _op(_RET, allow)]

    covers_fd = [_op(_JEQ, _CLOSE_RANGE_X86_64, 0, 6), _op(_LD_ABS_W, _ARG0_OFFSET),
                 _op(_JGT, fd, 3, 0),  # first > fd: allowed
                 _op(_LD_ABS_W, _ARG0_OFFSET + 8), _op(_JGE, fd, 0, 1),  # last >= fd: denied
                 _op(_RET, deny), _op(_RET, allow)]
    return [*names_fd(_CLOSE_X86_64, 0), *names_fd(_DUP2_X86_64, 1), *names_fd(_DUP3_X86_64, 1), *covers_fd]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_filter(channel: int | None = None) -> None:
    """Install the filter on the calling thread's process (needs no_new_privs first); with
    `channel`, that fd can be neither closed nor replaced."""
    code = _program(channel)
    buffer = ctypes.create_string_buffer(code, len(code))
    prog = _SockFprog(len(code) // 8, ctypes.addressof(buffer))
    libc = ctypes.CDLL(None, use_errno=True)
    zero = ctypes.c_ulong(0)
    result = libc.prctl(
        _PR_SET_SECCOMP, ctypes.c_ulong(_SECCOMP_MODE_FILTER), ctypes.byref(prog), zero, zero
    )
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp: {errno.errorcode.get(err, err)}")
