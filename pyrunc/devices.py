"""/dev inside the container: the default device nodes runc makes, linux.devices, and the
standard symlinks. In a user namespace mknod is not allowed, so host nodes are bind-mounted."""
import os
import stat

from pyrunc import native, safepath
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


def create_devices(root_fd, devices, in_user_ns):
    """devices: [{'path','type','major','minor','fileMode','uid','gid'}]."""
    for dev in devices:
        try:
            _create_device(root_fd, dev, in_user_ns)
        except OSError as e:
            # The image's entry in the way (a directory, a non-directory parent) is named.
            raise OSError(e.errno, f"device {dev['path']}: {e.strerror}") from None


def _create_device(root_fd, dev, in_user_ns):
    path = dev["path"]
    parent, _, name = path.rpartition("/")
    safepath.mkdir_in_root(root_fd, parent, 0o755)
    parent_fd = safepath.open_in_root(root_fd, parent, safepath.O_PATH | os.O_DIRECTORY)
    try:
        try:
            os.unlink(name, dir_fd=parent_fd)
        except FileNotFoundError:
            pass
        if in_user_ns:
            _bind_host_node(root_fd, parent_fd, name, path)
            return
        mode = dev.get("fileMode", 0o666) & 0o7777
        os.mknod(name, _TYPE_BITS[dev["type"]] | mode,
                 os.makedev(dev.get("major", 0), dev.get("minor", 0)), dir_fd=parent_fd)
        os.chmod(name, mode, dir_fd=parent_fd, follow_symlinks=False)
        os.chown(name, dev.get("uid", 0), dev.get("gid", 0), dir_fd=parent_fd,
                 follow_symlinks=False)
    finally:
        os.close(parent_fd)


def _bind_host_node(root_fd, parent_fd, name, path):
    fd = os.open(name, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644,
                 dir_fd=parent_fd)
    os.close(fd)
    target = safepath.open_in_root(root_fd, path)
    try:
        native.mount(path, safepath.fd_path(target), None, MS_BIND)
    finally:
        os.close(target)


def default_devices():
    return [{"path": p, "type": t, "major": ma, "minor": mi, "fileMode": 0o666}
            for p, t, ma, mi in DEFAULT_DEVICES]


def create_symlinks(root_fd):
    dev_fd = safepath.open_in_root(root_fd, "/dev", safepath.O_PATH | os.O_DIRECTORY)
    try:
        links = list(SYMLINKS)
        if os.path.exists("/proc/kcore"):
            links.append(("/proc/kcore", "/dev/core"))
        # /dev/ptmx must be the container's own devpts instance, not a host node.
        try:
            os.unlink("ptmx", dir_fd=dev_fd)
        except FileNotFoundError:
            pass
        links.append(("pts/ptmx", "/dev/ptmx"))
        for target, link in links:
            try:
                os.symlink(target, os.path.basename(link), dir_fd=dev_fd)
            except FileExistsError:
                pass
    finally:
        os.close(dev_fd)
