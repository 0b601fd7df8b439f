"""A recording double of pyrunc.kernel.Kernel: the init path runs against it without root and
without touching the machine, and the test reads what it would have asked of the kernel.

It keeps a small model of the container's tree (path -> kind) so that the init path's own
decisions can be taken: a masked directory gets a tmpfs and a masked file /dev/null, a
missing path is skipped, a proc mount is checked to be procfs afterwards. Paths in the record
are the container's (fd_path of a fd opened in the rootfs gives its path inside, not
/proc/self/fd/N), so a test reads `("mount", "proc", "/proc", "proc", 0, None)`.

`fail` makes one call raise: {"op": errno} for every call of that op, or
{("op", first argument): errno} for one (a mount's target, a hostname...).
"""
import errno as errno_mod
import os
import stat
from collections import namedtuple

Hierarchy = namedtuple("Hierarchy", "key mountpoint fstype")
Stat = namedtuple("Stat", "st_mode st_rdev st_dev st_ino st_uid st_gid")

PROC_SUPER_MAGIC = 0x9FA0
SYSFS_MAGIC = 0x62656572
_MAGIC = {"proc": PROC_SUPER_MAGIC, "sysfs": SYSFS_MAGIC}

# What every test rootfs has: a busybox-like image.
BASE_TREE = {
    "/": "dir", "/proc": "dir", "/sys": "dir", "/dev": "dir", "/etc": "dir", "/bin": "dir",
    "/tmp": "dir", "/etc/passwd": "file", "/bin/sh": "exe", "/bin/true": "exe",
}
PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"


class RecordingKernel:
    """Records every call that changes something, in order, as tuples in `calls`."""

    def __init__(self, rootfs="/bundle/rootfs", tree=None, fail=None, hierarchies=None,
                 host_paths=()):
        self.rootfs = rootfs
        self.tree = dict(BASE_TREE if tree is None else tree)
        self.fail = dict(fail or {})
        self.calls = []
        self.fds = {0: "<tty>", 1: "<stdout>", 2: "<stderr>"}
        self.next_fd = 100
        self.bound = {}       # container path -> the path whose file is bound over it
        self.fstype = {}      # container path -> fstype mounted there
        self.host_paths = set(host_paths)
        self.cwd = "/"
        self.hierarchies = hierarchies if hierarchies is not None else [
            Hierarchy("", "/sys/fs/cgroup", "cgroup2")]

    # --- the record ---------------------------------------------------------------------
    def _do(self, op, *args):
        for key in ((op, args[0] if args else None), op):
            if key in self.fail:
                err = self.fail[key]
                raise OSError(err, f"{os.strerror(err)} (injected at {op})")
        self.calls.append((op, *args))

    def ops(self, *names):
        """The recorded calls of those ops, in order."""
        return [c for c in self.calls if c[0] in names]

    def _fd(self, path):
        fd = self.next_fd
        self.next_fd += 1
        self.fds[fd] = path
        return fd

    @staticmethod
    def _norm(path):
        parts = [p for p in str(path).split("/") if p and p != "."]
        return "/" + "/".join(parts)

    def _inside(self, root_fd, path):
        base = self.fds[root_fd]
        base = "/" if base == self.rootfs else base
        return self._norm(os.path.join(base, str(path).lstrip("/")))

    def _lookup(self, path):
        if path not in self.tree:
            raise FileNotFoundError(errno_mod.ENOENT, "No such file or directory", path)
        return path

    def _parents(self, path):
        parts = path.strip("/").split("/")
        for i in range(1, len(parts)):
            self.tree.setdefault("/" + "/".join(parts[:i]), "dir")

    def _path_of(self, target):
        """A mount or file argument: /proc/self/fd/N -> the fd's path; others as they are."""
        text = str(target)
        if text.startswith("/proc/self/fd/"):
            return self.fds[int(text.rsplit("/", 1)[1])]
        return text

    # --- namespaces, identity, process attributes ---------------------------------------
    def unshare(self, flags):
        self._do("unshare", flags)

    def setns(self, fd, nstype):
        self._do("setns", nstype)

    def sethostname(self, name):
        self._do("sethostname", name)

    def setdomainname(self, name):
        self._do("setdomainname", name)

    def join_session_keyring(self, name):
        self._do("join_session_keyring", name)

    def prctl(self, option, arg2=0, arg3=0, arg4=0, arg5=0):
        self._do("prctl", option, arg2, arg3)
        return 0

    def capget(self):
        return (1 << 41) - 1, (1 << 41) - 1, 0

    def capset(self, effective, permitted, inheritable):
        self._do("capset", effective, permitted, inheritable)

    def setrlimit(self, kind, limits):
        self._do("setrlimit", kind, tuple(limits))

    def umask(self, mask):
        self._do("umask", mask)

    def setgroups(self, groups):
        self._do("setgroups", tuple(groups))

    def setresgid(self, gid):
        self._do("setresgid", gid)

    def setresuid(self, uid):
        self._do("setresuid", uid)

    def setsid(self):
        self._do("setsid")

    def close_range(self, first, last=0xFFFFFFFF, flags=0):
        self._do("close_range", first, last, flags)

    def load_seccomp(self, seccomp, listener):
        self._do("load_seccomp", seccomp.get("defaultAction"))

    def execve(self, path, args, env):
        self._do("execve", path, tuple(args), tuple(sorted(env.items())))

    # --- /proc -----------------------------------------------------------------------------
    def write_proc(self, path, text):
        self._do("write_proc", path, text)

    def read_file(self, path):
        return None  # no mountinfo (nothing shared to make private), setgroups allowed

    def cgroup_hierarchies(self):
        return self.hierarchies

    # --- mounts ------------------------------------------------------------------------------
    def mount(self, source, target, fstype, flags=0, data=None):
        where = self._path_of(target)
        self._do("mount", self._path_of(source) if source else source, where, fstype, flags,
                 data)
        if fstype:
            self.fstype[where] = fstype

    def umount2(self, target, flags=0):
        self._do("umount2", self._path_of(target), flags)

    def pivot_root(self, new_root, put_old):
        self._do("pivot_root", self._path_of(new_root), put_old)

    def bind_fd(self, source_fd, target_fd):
        source, target = self.fds[source_fd], self.fds[target_fd]
        self._do("bind", source, target)
        self.bound[target] = self.bound.get(source, source)

    def readonly_tmpfs_on(self, target_fd):
        self._do("readonly_tmpfs", self.fds[target_fd])

    def attach_idmapped(self, root_fd, mount, tree_fd):
        where = self._inside(root_fd, mount["destination"])
        self._parents(where)
        self.tree.setdefault(where, "dir")
        self._do("attach_idmapped", where, tree_fd)

    def set_recursive(self, root_fd, path, attr_set, attr_clr):
        self._do("set_recursive", self._inside(root_fd, path), attr_set, attr_clr)

    def fstatfs_type(self, fd):
        return _MAGIC.get(self.fstype.get(self.fds[fd]), 0)

    def statvfs_flags(self, path):
        return 0

    # --- paths inside the rootfs -------------------------------------------------------
    def open_in_root(self, root_fd, path, flags=0):
        return self._fd(self._lookup(self._inside(root_fd, path)))

    def open_no_symlinks(self, root_fd, path, flags=0):
        return self.open_in_root(root_fd, path, flags)

    def make_target(self, root_fd, path, is_dir, mode=0o755):
        where = self._inside(root_fd, path)
        if where not in self.tree:
            self._parents(where)
            self.tree[where] = "dir" if is_dir else "file"
        return self._fd(where)

    def mkdir_in_root(self, root_fd, path, mode):
        where = self._inside(root_fd, path)
        self._parents(where + "/x")

    def in_root(self, root_fd, path, flags=0):
        kernel = self

        class _InRoot:
            def __enter__(self):
                return kernel._lookup(kernel._inside(root_fd, path))

            def __exit__(self, *exc):
                return False
        return _InRoot()

    def fd_path(self, fd):
        return self.fds[fd]

    def copy_tree(self, src_fd, dst_dir):
        self._do("copy_tree", self.fds[src_fd], dst_dir)

    def openat2(self, dir_fd, path, flags, mode=0, resolve=0):
        base = self.fds.get(dir_fd, self.cwd) if dir_fd >= 0 else self.cwd
        return self._fd(self._lookup(self._norm(os.path.join(base, path))))

    # --- files ----------------------------------------------------------------------------------
    def open(self, path, flags, mode=0o777, dir_fd=None):
        if dir_fd is not None:
            path = os.path.join(self.fds[dir_fd], path)
        path = self._path_of(path)
        if path == self.rootfs:
            return self._fd(path)
        if flags & os.O_CREAT:
            self.tree.setdefault(self._norm(path), "file")
        return self._fd(path)

    def close(self, fd):
        self.fds.pop(fd, None)

    def write(self, fd, data):
        self._do("write", self.fds[fd], data.decode(errors="replace"))
        return len(data)

    def _stat(self, path):
        if path == "/proc/self/exe":
            return Stat(stat.S_IFREG | 0o755, 0, 1, 1, 0, 0)  # the runtime: on device 1
        if path.startswith("/proc/self/fd/"):
            return Stat(stat.S_IFIFO | 0o600, 0, 2, 2, 0, 0)
        path = self.bound.get(path, path)
        kind = self._lookup(path) and self.tree[path]
        mode = {"dir": stat.S_IFDIR | 0o755, "file": stat.S_IFREG | 0o644,
                "exe": stat.S_IFREG | 0o755}.get(kind, stat.S_IFCHR | 0o666)
        rdev = os.makedev(*kind[1:]) if isinstance(kind, tuple) else 0
        return Stat(mode, rdev, 3, hash(path) & 0xFFFFFFFF, 0, 0)

    def fstat(self, fd):
        if fd == 0:
            return Stat(stat.S_IFCHR | 0o620, os.makedev(136, 0), 4, 4, 0, 0)
        return self._stat(self.fds[fd])

    def stat(self, path):
        return self._stat(self._norm(os.path.join(self.cwd, path)) if not
                          path.startswith("/proc/self/") else path)

    def access(self, path, mode):
        return self.tree.get(self._norm(path)) == "exe"

    def same_file(self, fd_a, fd_b):
        a, b = self.fds[fd_a], self.fds[fd_b]
        return self.bound.get(a, a) == self.bound.get(b, b)

    def exists(self, path):
        return path in self.host_paths or self._norm(path) in self.tree

    def isdir(self, path):
        return path in self.host_paths

    def mknod(self, name, mode, device, dir_fd):
        where = self._norm(os.path.join(self.fds[dir_fd], name))
        self._do("mknod", where, stat.S_IFMT(mode), os.major(device), os.minor(device))
        self.tree[where] = ("chr", os.major(device), os.minor(device))

    def chmod(self, name, mode, dir_fd):
        pass

    def chown(self, name, uid, gid, dir_fd):
        pass

    def symlink(self, target, name, dir_fd=None):
        where = self._norm(os.path.join(self.fds[dir_fd], name) if dir_fd else name)
        self._do("symlink", target, where)
        self.tree.setdefault(where, "link")

    def unlink(self, name, dir_fd):
        where = self._norm(os.path.join(self.fds[dir_fd], name))
        if where not in self.tree:
            raise FileNotFoundError(errno_mod.ENOENT, "No such file or directory", where)
        del self.tree[where]

    def rmdir(self, name, dir_fd):
        self.unlink(name, dir_fd)

    def read_regular_file(self, path, limit=-1):
        if self._norm(path) == "/etc/passwd":
            return PASSWD if limit < 0 else PASSWD[:limit]
        return b"\x7fELF" if self.tree.get(self._norm(path)) == "exe" else None

    # --- where the process is ---------------------------------------------------------------
    def chdir(self, path):
        self._do("chdir", path)
        self.cwd = self._norm(os.path.join(self.cwd, path))

    def fchdir(self, fd):
        self._do("fchdir", self.fds[fd])
        self.cwd = "/" if self.fds[fd] == self.rootfs else self.fds[fd]

    def chroot(self, path):
        self._do("chroot", path)

    def getcwd(self):
        return self.cwd
