"""A seccomp filter for the sandbox: syscalls the compiler never needs fail with EPERM.

Classic BPF, built here without libseccomp, for x86_64 only (the toolchains we install
are linux/amd64 binaries); on another architecture the sandbox runs without it. The
filter denies kernel-facing features that are a common way out of a sandbox (ptrace,
mounts, namespaces, kernel keyrings, BPF, perf events, userfaultfd, io_uring, module
loading, …) and the x32 ABI; everything else is allowed. A process of another
architecture (32-bit syscalls through int 0x80) is killed.
"""

from __future__ import annotations

import os
import platform
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
EPERM = 1

# x86_64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl)
DENIED_X86_64: dict[str, int] = {
    "ptrace": 101,
    "syslog": 103,
    "vhangup": 153,
    "pivot_root": 155,
    "adjtimex": 159,
    "acct": 163,
    "settimeofday": 164,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "sethostname": 170,
    "setdomainname": 171,
    "iopl": 172,
    "ioperm": 173,
    "init_module": 175,
    "delete_module": 176,
    "quotactl": 179,
    "lookup_dcookie": 212,
    "clock_settime": 227,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "unshare": 272,
    "perf_event_open": 298,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "clock_adjtime": 305,
    "setns": 308,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "kcmp": 312,
    "finit_module": 313,
    "bpf": 321,
    "userfaultfd": 323,
    "kexec_file_load": 320,
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

# BPF opcodes
LD_W_ABS = 0x20
JEQ_K = 0x15
JGE_K = 0x35
RET_K = 0x06


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def x86_64_filter() -> bytes:
    """The compiled filter (an array of struct sock_filter) for bwrap --seccomp."""
    denied = sorted(set(DENIED_X86_64.values()))
    deny_index = 5 + len(denied) + 1  # the RET ERRNO instruction, after the ALLOW
    program = [
        _insn(LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        _insn(JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        _insn(RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
        _insn(LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
        _insn(JGE_K, deny_index - 5, 0, X32_SYSCALL_BIT),
    ]
    for i, nr in enumerate(denied):
        here = 5 + i
        program.append(_insn(JEQ_K, deny_index - here - 1, 0, nr))
    program.append(_insn(RET_K, 0, 0, SECCOMP_RET_ALLOW))
    program.append(_insn(RET_K, 0, 0, SECCOMP_RET_ERRNO | EPERM))
    assert len(program) == deny_index + 1
    return b"".join(program)


def filter_fd() -> int | None:
    """A readable fd holding the filter (caller closes it), or None where we have none."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return None
    fd = os.memfd_create("ee-seccomp", 0)  # no CLOEXEC: bwrap inherits it via pass_fds
    os.write(fd, x86_64_filter())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
