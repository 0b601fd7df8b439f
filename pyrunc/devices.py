"""/dev inside the container: the default device nodes runc makes, linux.devices, and the
standard symlinks. In a user namespace mknod is not allowed, so host nodes are bind-mounted.
The calls go through the init path's kernel (kernel.py)."""
import os
import stat

from pyrunc import safepath
from pyrunc.mountopts import MS_BIND

# (path, type, major, minor): the nodes every container gets, mode 0666, owned by root.
DEFAULT_DEVICES = (
    ("/dev/null", "c", 1, 3), ("/dev/zero", "c", 1, 5), ("/dev/full", "c", 1, 7),
    ("/dev/random", "c", 1, 8), ("/dev/urandom", "c", 1, 9), ("/dev/tty", "c", 5, 0),
)
SYMLINKS = (
    ("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr"),
)
_TYPE_BITS = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


def create_devices(k, root_fd, devices, in_user_ns):
    """devices: [{'path','type','major','minor','fileMode','uid','gid'}]."""
    for dev in devices:
        try:
            _create_device(k, root_fd, dev, in_user_ns)
        except OSError as e:
            # The image's entry in the way (a directory, a non-directory parent) is named.
            raise OSError(e.errno, f"device {dev['path']}: {e.strerror}") from None


def _create_device(k, root_fd, dev, in_user_ns):
    path = dev["path"]
    parent, _, name = path.rpartition("/")
    k.mkdir_in_root(root_fd, parent, 0o755)
    parent_fd = k.open_in_root(root_fd, parent, safepath.O_PATH | os.O_DIRECTORY)
    try:
        try:
            k.unlink(name, parent_fd)
        except FileNotFoundError:
            pass
        if in_user_ns:
            _bind_host_node(k, root_fd, parent_fd, name, path)
            return
        mode = dev.get("fileMode", 0o666) & 0o7777
        k.mknod(name, _TYPE_BITS[dev["type"]] | mode,
                os.makedev(dev.get("major", 0), dev.get("minor", 0)), parent_fd)
        k.chmod(name, mode, parent_fd)
        k.chown(name, dev.get("uid", 0), dev.get("gid", 0), parent_fd)
    finally:
        k.close(parent_fd)


def _bind_host_node(k, root_fd, parent_fd, name, path):
    fd = k.open(name, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644,
                dir_fd=parent_fd)
    k.close(fd)
    target = k.open_in_root(root_fd, path)
    try:
        k.mount(path, k.fd_path(target), None, MS_BIND)
    finally:
        k.close(target)


def default_devices():
    return [{"path": p, "type": t, "major": ma, "minor": mi, "fileMode": 0o666}
            for p, t, ma, mi in DEFAULT_DEVICES]


def create_symlinks(k, root_fd):
    dev_fd = k.open_in_root(root_fd, "/dev", safepath.O_PATH | os.O_DIRECTORY)
    try:
        links = list(SYMLINKS)
        if k.exists("/proc/kcore"):
            links.append(("/proc/kcore", "/dev/core"))
        # /dev/ptmx must be the container's own devpts instance, not a host node.
        try:
            k.unlink("ptmx", dev_fd)
        except FileNotFoundError:
            pass
        links.append(("pts/ptmx", "/dev/ptmx"))
        for target, link in links:
            try:
                k.symlink(target, os.path.basename(link), dir_fd=dev_fd)
            except FileExistsError:
                pass
    finally:
        k.close(dev_fd)
