"""Mounts made from open fds with the new mount API (open_tree, fsmount, move_mount): the
source and the target are files the runtime opened and checked, and no path is looked up again
between the check and the mount, not even /proc/self/fd/N (which goes through whatever /proc the
process sees). Used where a swapped path is the attack: masked paths (CVE-2025-31133) and
/dev/console (CVE-2025-52565); and for what only this API can do: attaching the id-mapped mounts
the parent made detached (idmap.py), and the recursive mount options (mount_setattr)."""
import os

from pyrunc import native, safepath

_EMPTY = native.MOVE_MOUNT_F_EMPTY_PATH | native.MOVE_MOUNT_T_EMPTY_PATH


def bind_fd(source_fd, target_fd):
    """Bind the file or directory open as source_fd (O_PATH is enough) onto target_fd."""
    tree = native.open_tree(source_fd, "", native.OPEN_TREE_CLONE | native.AT_EMPTY_PATH)
    try:
        attach(tree, target_fd)
    finally:
        os.close(tree)


def attach(tree_fd, target_fd):
    """Mount the detached tree tree_fd (open_tree's or fsmount's) on target_fd."""
    native.move_mount(tree_fd, "", target_fd, "", _EMPTY)


def set_recursive(root_fd, path, attr_set, attr_clr):
    """mount_setattr(AT_RECURSIVE) on the mount at path (inside root_fd) and every mount under
    it: the recursive options (mountopts.RECURSIVE)."""
    fd = safepath.open_in_root(root_fd, path, safepath.O_PATH)
    try:
        native.mount_setattr(fd, "", attr_set, attr_clr, recursive=True,
                             flags=native.AT_EMPTY_PATH)
    finally:
        os.close(fd)


def readonly_tmpfs_on(target_fd):
    """An empty read-only tmpfs over the directory target_fd, as mount(2) would make it
    (source "tmpfs", a read-only superblock): what the container sees is runc's."""
    fs_fd = native.fsopen("tmpfs")
    try:
        native.fsconfig(fs_fd, native.FSCONFIG_SET_STRING, "source", "tmpfs")
        native.fsconfig(fs_fd, native.FSCONFIG_SET_FLAG, "ro")
        native.fsconfig(fs_fd, native.FSCONFIG_CMD_CREATE)
        mnt = native.fsmount(fs_fd, native.MOUNT_ATTR_RDONLY)
    finally:
        os.close(fs_fd)
    try:
        attach(mnt, target_fd)
    finally:
        os.close(mnt)


def same_file(fd_a, fd_b):
    """Both fds name one inode: a mount's result checked against what was meant."""
    a, b = os.fstat(fd_a), os.fstat(fd_b)
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
