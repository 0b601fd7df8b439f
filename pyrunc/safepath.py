"""Paths inside the container's root, resolved by the kernel so a symlink cannot lead out.

Every lookup goes through openat2(RESOLVE_IN_ROOT): '..' and absolute symlinks are clamped to
the rootfs, so a hostile image that makes /proc a link to /etc/ on the host still mounts inside
its own tree. Mounts then target /proc/self/fd/N of the opened O_PATH fd, so the path cannot be
swapped between the check and the mount.
"""
import errno
import os

from pyrunc import native

O_PATH = getattr(os, "O_PATH", 0o10000000)
_RESOLVE = native.RESOLVE_IN_ROOT | native.RESOLVE_NO_MAGICLINKS


def open_in_root(root_fd, path, flags=O_PATH):
    """Open path (absolute or relative) inside the tree of root_fd; return an fd."""
    return native.openat2(root_fd, path.lstrip("/") or ".", flags, 0, _RESOLVE)


def open_no_symlinks(root_fd, path, flags=O_PATH):
    """Open path inside the root following no symlink at all (ELOOP if one is on the way):
    for the files whose swap for a link is the attack (/proc, /dev/null, /dev/console)."""
    return native.openat2(root_fd, path.lstrip("/") or ".", flags, 0,
                          _RESOLVE | native.RESOLVE_NO_SYMLINKS)


MAX_SYMLINKS = 40


def resolve_in_root(root_fd, path):
    """The symlink-free path that path names inside the root, following symlinks as if the
    root were / (an absolute link restarts at the root, '..' stops there), even through
    components that do not exist yet, so they can be created where the link points."""
    todo = [p for p in path.split("/") if p and p != "."]
    done = []
    links = 0
    while todo:
        part = todo.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        target = _readlink_in_root(root_fd, done, part)
        if target is None:
            done.append(part)
            continue
        links += 1
        if links > MAX_SYMLINKS:
            raise OSError(errno.ELOOP, "too many symlinks", path)
        if target.startswith("/"):
            done = []
        todo = [p for p in target.split("/") if p and p != "."] + todo
    return "/" + "/".join(done)


def _readlink_in_root(root_fd, parent_parts, name):
    """The target of parent/name if it is a symlink; None if it is anything else or absent."""
    try:
        parent_fd = open_in_root(root_fd, "/".join(parent_parts), O_PATH | os.O_DIRECTORY)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise
    try:
        return os.readlink(name, dir_fd=parent_fd)
    except OSError as e:
        if e.errno in (errno.EINVAL, errno.ENOENT, errno.ENOTDIR):
            return None
        raise
    finally:
        os.close(parent_fd)


def make_target(root_fd, path, is_dir, mode=0o755):
    """Create the mount point path inside root_fd (a directory, or an empty file); return an
    O_PATH fd of it, resolved inside the root. A symlink on the way is followed inside the
    root and the missing part created where it points, as runc does."""
    try:
        return open_in_root(root_fd, path)
    except OSError as e:
        if e.errno != errno.ENOENT:
            raise
    path = resolve_in_root(root_fd, path)
    parent, _, name = path.rpartition("/")
    mkdir_in_root(root_fd, parent, mode)
    parent_fd = open_in_root(root_fd, parent or "/", O_PATH | os.O_DIRECTORY)
    try:
        if is_dir:
            try:
                os.mkdir(name, mode, dir_fd=parent_fd)
            except FileExistsError:
                pass
        else:
            try:
                fd = os.open(name, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW,
                             0o644, dir_fd=parent_fd)
                os.close(fd)
            except FileExistsError:
                pass
    finally:
        os.close(parent_fd)
    return open_in_root(root_fd, path)


def mkdir_in_root(root_fd, path, mode):
    """mkdir -p inside the root; each prefix is re-resolved inside the root (symlinks clamped)."""
    prefix = ""
    for part in [p for p in path.split("/") if p]:
        prefix += "/" + part
        try:
            fd = open_in_root(root_fd, prefix, O_PATH | os.O_DIRECTORY)
            os.close(fd)
            continue
        except OSError as e:
            if e.errno != errno.ENOENT:
                raise
        parent, _, name = prefix.rpartition("/")
        parent_fd = open_in_root(root_fd, parent or "/", O_PATH | os.O_DIRECTORY)
        try:
            os.mkdir(name, mode, dir_fd=parent_fd)
        except FileExistsError:
            pass
        finally:
            os.close(parent_fd)


class InRoot:
    """`with InRoot(root_fd, path) as where:` opens path inside the root and gives the
    /proc/self/fd/N name to mount on or from; the fd is closed after the block."""

    __slots__ = ("root_fd", "path", "flags", "fd")

    def __init__(self, root_fd, path, flags=O_PATH):
        self.root_fd = root_fd
        self.path = path
        self.flags = flags
        self.fd = -1

    def __enter__(self):
        self.fd = open_in_root(self.root_fd, self.path, self.flags)
        return fd_path(self.fd)

    def __exit__(self, *exc):
        os.close(self.fd)


def fd_path(fd):
    """The magic link naming an open fd, usable as a mount source or target."""
    return f"/proc/self/fd/{fd}"


def copy_tree(src_fd, dst_dir):
    """tmpcopyup: copy the directory open as src_fd into dst_dir (a fresh tmpfs), keeping
    modes, owners and symlinks; nothing is followed out of the tree."""
    for entry in os.scandir(src_fd):
        st = entry.stat(follow_symlinks=False)
        dst = os.path.join(dst_dir, entry.name)
        if entry.is_symlink():
            os.symlink(os.readlink(entry.name, dir_fd=src_fd), dst)
        elif entry.is_dir(follow_symlinks=False):
            os.mkdir(dst, st.st_mode & 0o7777)
            sub_fd = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                             | os.O_CLOEXEC, dir_fd=src_fd)
            try:
                copy_tree(sub_fd, dst)
            finally:
                os.close(sub_fd)
        elif entry.is_file(follow_symlinks=False):
            src = os.open(entry.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_fd)
            try:
                out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                              st.st_mode & 0o7777)
                try:
                    while os.sendfile(out, src, None, 1 << 20):
                        pass
                finally:
                    os.close(out)
            finally:
                os.close(src)
        else:
            continue  # device nodes, fifos and sockets are not copied up
        os.chown(dst, st.st_uid, st.st_gid, follow_symlinks=False)
        if not entry.is_symlink():
            os.chmod(dst, st.st_mode & 0o7777)
