"""Every write the runtime makes to /proc, through one verified procfs (CVE-2025-52881 class).

A write to /proc/self/oom_score_adj, /proc/sys/..., /proc/<pid>/uid_map or /proc/self/attr/...
by path goes wherever that path leads at that moment: into a /proc that is not a procfs at all,
or through a bind mount that a racing container or a hostile config put over the file, to some
other procfs file (core_pattern, sysrq-trigger) or to a file of the host. So no write goes by
path. Each process opens, once, a procfs root it has verified:

- a fresh, private instance (fsopen("proc") + fsmount: a detached mount nobody else can see or
  mount over, of this process's pid namespace), or where the kernel refuses one (rootless,
  a "too revealing" mount in a user namespace), the /proc it sees, opened without following
  symlinks;
- either way checked with fstatfs (PROC_SUPER_MAGIC), as the root inode of its instance, and as
  the procfs of this process's pid namespace (its "self" names our pid).

Files are then opened relative to that root with openat2 RESOLVE_BENEATH | RESOLVE_NO_XDEV |
RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS ("self" is spelt as our pid: it is a symlink), and
the opened fd is checked once more (a regular file of that very procfs instance) before the
write. The tests' double of pyrunc (tests/pyrunc_faulty.py) replaces `write` with a plain
open() by path to show the attack.
"""
import errno
import os
import stat

from pyrunc import native

PROC_ROOT_INO = 1  # the root directory of every procfs instance
_RESOLVE = (native.RESOLVE_BENEATH | native.RESOLVE_NO_XDEV | native.RESOLVE_NO_SYMLINKS
            | native.RESOLVE_NO_MAGICLINKS)
_O_PATH = getattr(os, "O_PATH", 0o10000000)


class ProcfsError(OSError):
    """The procfs or a file in it is not what it must be; the message says which."""


class Procfs:
    """A verified procfs root (an O_PATH fd), for one process (see current())."""

    __slots__ = ("fd", "dev", "fresh", "pid")

    def __init__(self, fd, fresh):
        self.fd = fd
        self.fresh = fresh
        self.pid = os.getpid()
        st = os.fstat(fd)
        if native.fstatfs_type(fd) != native.PROC_SUPER_MAGIC or st.st_ino != PROC_ROOT_INO:
            os.close(fd)
            raise ProcfsError(errno.EXDEV, "/proc is not a procfs (fstatfs): refusing to write "
                              "through it")
        self.dev = st.st_dev
        try:
            own = os.readlink("self", dir_fd=fd) == str(self.pid)
        except OSError:
            own = False
        if not own:
            os.close(fd)
            raise ProcfsError(errno.EXDEV, "/proc is not the procfs of this pid namespace "
                              "(its self is not us): refusing to write through it")

    @classmethod
    def open(cls):
        """A fresh private instance where the kernel allows one, else the visible /proc."""
        try:
            return cls(_fresh_instance(), True)
        except OSError:
            pass
        fd = native.openat2(-100, "/proc", _O_PATH | os.O_DIRECTORY, 0,
                            native.RESOLVE_NO_SYMLINKS | native.RESOLVE_NO_MAGICLINKS)
        return cls(fd, False)

    def relative(self, path):
        """path under /proc ("self/oom_score_adj", "sys/net/...", "1234/uid_map"), with "self"
        spelt as our pid: openat2 follows no symlink, and "self" is one."""
        parts = path.strip("/").split("/")
        if parts[0] == "proc":
            parts = parts[1:]
        if parts and parts[0] == "self":
            parts[0] = str(self.pid)
        return "/".join(parts)

    def open_file(self, path, flags):
        """Open a file of this procfs (flags as os.open's); raises ProcfsError when what was
        opened is not a regular file of this very instance."""
        try:
            fd = native.openat2(self.fd, self.relative(path), flags | os.O_NOFOLLOW, 0,
                                _RESOLVE)
        except OSError as e:  # named as the caller knows it: /proc/self/..., not 1/...
            raise OSError(e.errno, os.strerror(e.errno), "/proc/" + path.strip("/")) from None
        try:
            st = os.fstat(fd)
            if (native.fstatfs_type(fd) != native.PROC_SUPER_MAGIC or st.st_dev != self.dev
                    or not stat.S_ISREG(st.st_mode)):
                raise ProcfsError(errno.EXDEV, f"/proc/{path.strip('/')} is not a file of the "
                                  "verified procfs: refusing to write to it")
        except BaseException:
            os.close(fd)
            raise
        return fd

    def exists(self, path):
        try:
            fd = self.open_file(path, _O_PATH)
        except OSError:
            return False
        os.close(fd)
        return True

    def write(self, path, text):
        fd = self.open_file(path, os.O_WRONLY)
        try:
            data = text.encode() if isinstance(text, str) else text
            # One write: procfs files take their whole value in one call (a uid_map in two
            # writes is refused).
            written = os.write(fd, data)
            if written != len(data):
                raise ProcfsError(errno.EIO, f"/proc/{path.strip('/')}: short write")
        finally:
            os.close(fd)

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _fresh_instance():
    """A new procfs superblock as a detached mount (since Linux 5.8 every procfs mount is an
    instance of its own): nothing the container or anyone else mounted applies to it."""
    fs_fd = native.fsopen("proc")
    try:
        native.fsconfig(fs_fd, native.FSCONFIG_CMD_CREATE)
        return native.fsmount(fs_fd, native.MOUNT_ATTR_NOSUID | native.MOUNT_ATTR_NODEV
                              | native.MOUNT_ATTR_NOEXEC)
    finally:
        os.close(fs_fd)


_current = None


def current():
    """This process's verified procfs, opened at first use. A forked child never uses its
    parent's: it may sit in another pid namespace, where "self" is another number."""
    global _current
    if _current is None or _current.pid != os.getpid():
        if _current is not None:
            _current.close()
        _current = Procfs.open()
    return _current


def write(path, text):
    """Write text to /proc/<path> of the verified procfs (see the module docstring)."""
    current().write(path, text)


def exists(path):
    return current().exists(path)
