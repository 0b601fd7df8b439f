"""Facade over the cffi extension pyrunc._native: each call returns a Python value or raises
OSError with the kernel's errno, so callers never look at -1 and errno themselves."""
import errno
import os

# The compiled module by its own name: `from pyrunc import _native` would go through the
# package and read to tools as a cycle between pyrunc and pyrunc.native.
from pyrunc._native import ffi as _ffi, lib as _lib

# openat2 resolve flags (linux/openat2.h)
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10

# mount_setattr attributes (linux/mount.h)
MOUNT_ATTR_RDONLY = 0x00000001
MOUNT_ATTR_NOSUID = 0x00000002
MOUNT_ATTR_NODEV = 0x00000004
MOUNT_ATTR_NOEXEC = 0x00000008
MOUNT_ATTR_IDMAP = 0x00100000  # the rest of the attributes are mountopts.py's (pure logic)

CLOSE_RANGE_CLOEXEC = 1 << 2

# The new mount API (linux/mount.h, linux/fcntl.h)
AT_SYMLINK_NOFOLLOW = 0x100
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
OPEN_TREE_CLONE = 1
MOVE_MOUNT_F_EMPTY_PATH = 0x04
MOVE_MOUNT_T_EMPTY_PATH = 0x40
FSOPEN_CLOEXEC = 1
FSCONFIG_SET_FLAG = 0
FSCONFIG_SET_STRING = 1
FSCONFIG_CMD_CREATE = 6
FSMOUNT_CLOEXEC = 1

# statfs f_type values (linux/magic.h)
PROC_SUPER_MAGIC = 0x9FA0
SYSFS_MAGIC = 0x62656572


def _check(ret, what, path=None):
    if ret < 0:
        err = _ffi.errno
        raise OSError(err, f"{what}: {os.strerror(err)}", path)
    return ret


def _b(value):
    if value is None:
        return _ffi.NULL
    return value.encode() if isinstance(value, str) else value


def unshare(flags):
    _check(_lib.unshare(flags), "unshare")


def setns(fd, nstype=0):
    _check(_lib.setns(fd, nstype), "setns")


def mount(source, target, fstype, flags=0, data=None):
    _check(_lib.mount(_b(source), _b(target), _b(fstype), flags, _b(data)), "mount", target)


def umount2(target, flags=0):
    _check(_lib.umount2(_b(target), flags), "umount", target)


def pivot_root(new_root, put_old):
    _check(_lib.pr_pivot_root(_b(new_root), _b(put_old)), "pivot_root", new_root)


def openat2(dirfd, path, flags, mode=0, resolve=0):
    return _check(_lib.pr_openat2(dirfd, _b(path), flags | os.O_CLOEXEC, mode, resolve), "openat2", path)


def close_range(first, last=0xFFFFFFFF, flags=0):
    _check(_lib.pr_close_range(first, last, flags), "close_range")


def fstatfs_type(fd):
    """The filesystem type (statfs f_type) of the open fd."""
    return _check(_lib.pr_fstatfs_type(fd), "fstatfs")


def open_tree(dirfd, path, flags):
    """open_tree(2); the fd comes back close-on-exec."""
    return _check(_lib.pr_open_tree(dirfd, _b(path), flags | os.O_CLOEXEC), "open_tree", path)


def move_mount(from_fd, from_path, to_fd, to_path, flags):
    _check(_lib.pr_move_mount(from_fd, _b(from_path), to_fd, _b(to_path), flags), "move_mount",
           to_path)


def fsopen(fsname):
    return _check(_lib.pr_fsopen(_b(fsname), FSOPEN_CLOEXEC), "fsopen", fsname)


def fsconfig(fd, cmd, key=None, value=None):
    _check(_lib.pr_fsconfig(fd, cmd, _b(key), _b(value), 0), "fsconfig", key)


def fsmount(fd, attr_flags=0):
    return _check(_lib.pr_fsmount(fd, FSMOUNT_CLOEXEC, attr_flags), "fsmount")


def mount_setattr(dirfd, path, attr_set=0, attr_clr=0, propagation=0, recursive=False, flags=0,
                  userns_fd=-1):
    """mount_setattr(2); userns_fd: the user namespace whose mappings MOUNT_ATTR_IDMAP gives
    the mount."""
    _check(_lib.pr_mount_setattr(dirfd, _b(path), flags, attr_set, attr_clr, propagation,
                                 1 if recursive else 0, userns_fd), "mount_setattr", path)


def new_user_namespace():
    """unshare(CLONE_NEWUSER) for the parent's helper that carries an id-mapped mount's
    mappings (idmap.py): a call of its own, so that the trace, which wraps unshare for the
    init path's steps, does not take the helper's for stage1's."""
    _check(_lib.unshare(0x10000000), "unshare(CLONE_NEWUSER)")


def sethostname(name):
    raw = name.encode()
    _check(_lib.sethostname(raw, len(raw)), "sethostname")


def setdomainname(name):
    raw = name.encode()
    _check(_lib.setdomainname(raw, len(raw)), "setdomainname")


def capget():
    """Return (effective, permitted, inheritable) as 64-bit masks."""
    sets = [_ffi.new("unsigned int[2]") for _ in range(3)]
    _check(_lib.pr_capget(*sets), "capget")
    return tuple(s[0] | (s[1] << 32) for s in sets)


def capset(effective, permitted, inheritable):
    sets = [_ffi.new("unsigned int[2]", [m & 0xFFFFFFFF, m >> 32])
            for m in (effective, permitted, inheritable)]
    _check(_lib.pr_capset(*sets), "capset")


def prctl(option, arg2=0, arg3=0, arg4=0, arg5=0):
    return _check(_lib.prctl(option, arg2, arg3, arg4, arg5), "prctl")


def join_session_keyring(name):
    _check(_lib.pr_keyctl_join_session(_b(name)), "keyctl join session keyring")


def ioprio_set(ioprio):
    _check(_lib.pr_ioprio_set(ioprio), "ioprio_set")


def sched_setattr(policy, flags=0, nice=0, priority=0, runtime=0, deadline=0, period=0):
    _check(_lib.pr_sched_setattr(policy, flags, nice, priority, runtime, deadline, period),
           "sched_setattr")


def personality(persona):
    return _check(_lib.pr_personality(persona), "personality")


def set_mempolicy(mode, node_words):
    """mode (MPOL_* | MPOL_F_* flags) over the nodes whose bits are set in node_words (a list
    of 64-bit words, node 0 the lowest bit of the first)."""
    mask = _ffi.new("unsigned long[]", list(node_words) or [0])
    # The kernel reads maxnode - 1 bits (an old off-by-one kept for compatibility): one more.
    maxnode = 64 * len(node_words) + 1 if node_words else 0
    _check(_lib.pr_set_mempolicy(mode, mask if node_words else _ffi.NULL, maxnode),
           "set_mempolicy")


def get_child_subreaper():
    value = _ffi.new("int *")
    _check(_lib.prctl(37, int(_ffi.cast("uintptr_t", value)), 0, 0, 0), "prctl")  # PR_GET_...
    return value[0]


class SeccompFilter:
    """A libseccomp filter context: add rules, then load() it into the calling process."""

    def __init__(self, default_action):
        self._ctx = _lib.pr_seccomp_init(default_action)
        if self._ctx == _ffi.NULL:
            raise OSError(22, "seccomp_init failed (bad default action?)")

    def add_arch(self, name):
        _check(_lib.pr_seccomp_arch_add(self._ctx, _b(name)), f"seccomp arch {name}")

    def set_attr(self, attr, value):
        _check(_lib.pr_seccomp_set_flag(self._ctx, attr, value), "seccomp attribute")

    def add_rule(self, action, syscall, args=()):
        """args: sequence of (index, op, value, value_two) tuples."""
        n = len(args)
        index = _ffi.new("unsigned int[]", [a[0] for a in args] or [0])
        ops = _ffi.new("int[]", [a[1] for a in args] or [0])
        values = _ffi.new("unsigned long long[]", [a[2] for a in args] or [0])
        values_two = _ffi.new("unsigned long long[]", [a[3] for a in args] or [0])
        _check(_lib.pr_seccomp_rule_add(self._ctx, action, _b(syscall), n, index, ops, values,
                                        values_two), f"seccomp rule for {syscall}")

    def load(self):
        _check(_lib.pr_seccomp_load(self._ctx), "seccomp_load")

    def notify_fd(self):
        return _check(_lib.pr_seccomp_notify_fd(self._ctx), "seccomp notify fd")

    def release(self):
        if self._ctx is not None:
            _lib.pr_seccomp_release(self._ctx)
            self._ctx = None


def seccomp_syscall_known(name):
    return bool(_lib.pr_seccomp_syscall_known(_b(name)))


def seccomp_arch_known(name):
    return bool(_lib.pr_seccomp_arch_known(_b(name)))


def seccomp_action_errno(err):
    return _lib.pr_seccomp_action_errno(err)


def seccomp_action_trace(msg):
    return _lib.pr_seccomp_action_trace(msg)


# bpf(2) (linux/bpf.h): only what a cgroup device filter needs.
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 1 << 1
_BPF_LOG_SIZE = 1 << 16


class BpfVerifierError(OSError):
    """The kernel refused a program; .log is what its verifier said (may be empty). The
    message keeps the log's last lines, where the verifier says why, on one line."""

    def __init__(self, err, log):
        self.log = log
        tail = [line.strip() for line in log.splitlines() if line.strip()][-4:]
        detail = f" (verifier: {' | '.join(tail)})" if tail else ""
        super().__init__(err, f"bpf program load: {os.strerror(err)}{detail}")


def bpf_prog_load(prog_type, insns, license, name=None):
    """Load raw instructions (bytes, 8 per instruction); return the program's fd (O_CLOEXEC).

    The first try has no verifier log (a log too small for a valid program would make the load
    fail); only a refused program is loaded again with one, to say why."""
    if len(insns) % 8:
        raise ValueError("bpf instructions must be a multiple of 8 bytes")
    count = len(insns) // 8
    fd = _lib.pr_bpf_prog_load(prog_type, insns, count, _b(license), _b(name), 0, _ffi.NULL, 0)
    if fd >= 0:
        return fd
    err = _ffi.errno
    if err not in (errno.EINVAL, errno.EACCES):  # the verifier's answers
        raise OSError(err, f"bpf program load: {os.strerror(err)}")
    log = _ffi.new("char[]", _BPF_LOG_SIZE)
    fd = _lib.pr_bpf_prog_load(prog_type, insns, count, _b(license), _b(name), 1, log,
                               _BPF_LOG_SIZE)
    if fd >= 0:  # accepted the second time: keep it rather than fail on a fluke
        return fd
    raise BpfVerifierError(_ffi.errno, _ffi.string(log).decode(errors="replace"))


def bpf_prog_attach(target_fd, prog_fd, attach_type, flags=0):
    _check(_lib.pr_bpf_prog_attach(target_fd, prog_fd, attach_type, flags), "bpf program attach")


def bpf_prog_detach(target_fd, prog_fd, attach_type):
    _check(_lib.pr_bpf_prog_detach(target_fd, prog_fd, attach_type), "bpf program detach")


def bpf_prog_query(target_fd, attach_type):
    """The ids of the programs attached to target_fd (a cgroup directory's fd) in their run
    order, and the attach flags."""
    room = 16
    while True:
        ids = _ffi.new("unsigned int[]", room)
        count = _ffi.new("unsigned int *", room)
        flags = _ffi.new("unsigned int *")
        if _lib.pr_bpf_prog_query(target_fd, attach_type, ids, count, flags) >= 0:
            return [ids[i] for i in range(count[0])], flags[0]
        err = _ffi.errno
        if err != errno.ENOSPC or count[0] <= room:  # more programs than room: count says how many
            raise OSError(err, f"bpf program query: {os.strerror(err)}")
        room = count[0]


def bpf_prog_get_fd_by_id(prog_id):
    return _check(_lib.pr_bpf_prog_get_fd_by_id(prog_id), f"bpf program {prog_id}")
