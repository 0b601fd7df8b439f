"""The kernel as the init path sees it: every system call, /proc and /sys write and file
operation that stage1, the init and an exec'd process make while they set up the container
(init.py, rootfs.py, devices.py, process_setup.py, capabilities.py).

`Kernel` is the real one: each method is the call it names, over native/, os, safepath (paths
resolved inside the rootfs), fdmount (mounts by fd) and procfs (the verified /proc). Those
functions are looked up when called, not bound here, so what replaces them at run time still
applies: the tests' double of pyrunc (tests/pyrunc_faulty.py, its switched-off defences) and
trace.py (which wraps native and os functions to record a create).

The init path takes a kernel instead of calling these modules itself, so its decisions (which
mounts, in which order, with which flags; what is masked; which capabilities are set; which
step failed) are unit-tested without root against a recording double
(tests/unit/kernel_double.py). The seam costs one method call per system call.
"""
import os
import resource

from pyrunc import fdmount, native, procfs, safepath


class Kernel:
    """The real kernel."""

    __slots__ = ()

    # --- namespaces, identity, process attributes ---------------------------------------
    def unshare(self, flags):
        native.unshare(flags)

    def setns(self, fd, nstype):
        native.setns(fd, nstype)

    def sethostname(self, name):
        native.sethostname(name)

    def setdomainname(self, name):
        native.setdomainname(name)

    def join_session_keyring(self, name):
        native.join_session_keyring(name)

    def prctl(self, option, arg2=0, arg3=0, arg4=0, arg5=0):
        return native.prctl(option, arg2, arg3, arg4, arg5)

    def capget(self):
        return native.capget()

    def capset(self, effective, permitted, inheritable):
        native.capset(effective, permitted, inheritable)

    def setrlimit(self, kind, limits):
        resource.setrlimit(kind, limits)

    def umask(self, mask):
        os.umask(mask)

    def setgroups(self, groups):
        os.setgroups(groups)

    def setresgid(self, gid):
        os.setresgid(gid, gid, gid)

    def setresuid(self, uid):
        os.setresuid(uid, uid, uid)

    def setsid(self):
        os.setsid()

    def close_range(self, first, last=0xFFFFFFFF, flags=0):
        native.close_range(first, last, flags)

    def load_seccomp(self, seccomp, listener):
        from pyrunc import seccomp as seccomp_mod  # imported before pivot_root if configured
        seccomp_mod.load(seccomp, listener)

    def execve(self, path, args, env):
        os.execve(path, args, env)

    # --- /proc ---------------------------------------------------------------------------
    def write_proc(self, path, text):
        """Write to /proc/<path> through the verified procfs (procfs.py)."""
        procfs.write(path, text)

    def read_file(self, path):
        """A small file of /proc or /sys, as text; None if it cannot be read."""
        try:
            with open(path) as f:
                return f.read()
        except OSError:
            return None

    def cgroup_hierarchies(self):
        from pyrunc import cgroups
        return cgroups.hierarchies()

    # --- mounts ---------------------------------------------------------------------------
    def mount(self, source, target, fstype, flags=0, data=None):
        native.mount(source, target, fstype, flags, data)

    def umount2(self, target, flags=0):
        native.umount2(target, flags)

    def pivot_root(self, new_root, put_old):
        native.pivot_root(new_root, put_old)

    def bind_fd(self, source_fd, target_fd):
        fdmount.bind_fd(source_fd, target_fd)

    def readonly_tmpfs_on(self, target_fd):
        fdmount.readonly_tmpfs_on(target_fd)

    def attach_idmapped(self, root_fd, mount, tree_fd):
        """Attach the id-mapped tree the parent made for mount (idmap.py) at its destination."""
        from pyrunc import idmap
        idmap.attach(root_fd, mount, tree_fd)

    def set_recursive(self, root_fd, path, attr_set, attr_clr):
        """mount_setattr(AT_RECURSIVE) on the mount at path and every mount under it."""
        fdmount.set_recursive(root_fd, path, attr_set, attr_clr)

    def fstatfs_type(self, fd):
        return native.fstatfs_type(fd)

    def statvfs_flags(self, path):
        return os.statvfs(path).f_flag

    # --- paths inside the rootfs (safepath.py) -------------------------------------------
    def open_in_root(self, root_fd, path, flags=safepath.O_PATH):
        return safepath.open_in_root(root_fd, path, flags)

    def open_no_symlinks(self, root_fd, path, flags=safepath.O_PATH):
        return safepath.open_no_symlinks(root_fd, path, flags)

    def make_target(self, root_fd, path, is_dir, mode=0o755):
        return safepath.make_target(root_fd, path, is_dir, mode)

    def mkdir_in_root(self, root_fd, path, mode):
        safepath.mkdir_in_root(root_fd, path, mode)

    def in_root(self, root_fd, path, flags=safepath.O_PATH):
        """`with kernel.in_root(root_fd, path) as where:` (safepath.InRoot)."""
        return safepath.InRoot(root_fd, path, flags)

    def fd_path(self, fd):
        return safepath.fd_path(fd)

    def copy_tree(self, src_fd, dst_dir):
        safepath.copy_tree(src_fd, dst_dir)

    def openat2(self, dir_fd, path, flags, mode=0, resolve=0):
        return native.openat2(dir_fd, path, flags, mode, resolve)

    # --- files ----------------------------------------------------------------------------
    def open(self, path, flags, mode=0o777, dir_fd=None):
        return os.open(path, flags, mode, dir_fd=dir_fd)

    def close(self, fd):
        os.close(fd)

    def write(self, fd, data):
        return os.write(fd, data)

    def fstat(self, fd):
        return os.fstat(fd)

    def stat(self, path):
        return os.stat(path)

    def access(self, path, mode):
        return os.access(path, mode)

    def same_file(self, fd_a, fd_b):
        return fdmount.same_file(fd_a, fd_b)

    def exists(self, path):
        return os.path.exists(path)

    def isdir(self, path):
        return os.path.isdir(path)

    def mknod(self, name, mode, device, dir_fd):
        os.mknod(name, mode, device, dir_fd=dir_fd)

    def chmod(self, name, mode, dir_fd):
        os.chmod(name, mode, dir_fd=dir_fd, follow_symlinks=False)

    def chown(self, name, uid, gid, dir_fd):
        os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)

    def symlink(self, target, name, dir_fd=None):
        os.symlink(target, name, dir_fd=dir_fd)

    def unlink(self, name, dir_fd):
        os.unlink(name, dir_fd=dir_fd)

    def rmdir(self, name, dir_fd):
        os.rmdir(name, dir_fd=dir_fd)

    def read_regular_file(self, path, limit=-1):
        """The bytes of path (up to limit) if it is a regular file, else None: a fifo there
        would block the open forever, a device such as /dev/zero would never end (a hostile
        rootfs). O_NONBLOCK only matters for the fifo, which is then refused."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            if not _is_regular(os.fstat(fd).st_mode):
                return None
            os.set_blocking(fd, True)
            chunks = []
            left = limit
            while left:
                chunk = os.read(fd, 65536 if left < 0 else min(left, 65536))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk) if left > 0 else 0
            return b"".join(chunks)
        except OSError:
            return None
        finally:
            os.close(fd)

    # --- where the process is --------------------------------------------------------------
    def chdir(self, path):
        os.chdir(path)

    def fchdir(self, fd):
        os.fchdir(fd)

    def chroot(self, path):
        os.chroot(path)

    def getcwd(self):
        return os.getcwd()


def _is_regular(mode):
    return mode & 0o170000 == 0o100000


#: The one real kernel: the init path's default.
REAL = Kernel()
