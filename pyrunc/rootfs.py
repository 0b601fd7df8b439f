"""The container's root filesystem, set up by the init inside its new mount namespace:
propagation, config mounts (resolved inside the rootfs), /dev, pivot_root (or move + chroot),
masked and read-only paths, a read-only root.

The defences against a hostile rootfs that are more than "resolve inside the root" are functions
of their own, which the tests' double of pyrunc (tests/pyrunc_faulty.py) replaces to show the
attack each stops: ordinary_directory and verify_fs_type (proc and sysfs, CVE-2019-19921),
verified_null (the masks' /dev/null, CVE-2025-31133), console_target and verify_console
(CVE-2025-52565). The writes to /proc go through procfs.py (CVE-2025-52881).

Every system call goes through the kernel the caller passes (kernel.py): the context's for
prepare(), an argument for the steps after pivot_root."""
import errno
import os
import stat

from pyrunc import devices, lsm, native, safepath
from pyrunc.kernel import REAL
from pyrunc.mountopts import (MNT_DETACH, MS_BIND, MS_MOVE, MS_NODEV, MS_NOEXEC, MS_NOSUID,
                              MS_RDONLY, MS_REC, MS_REMOUNT, MS_SLAVE, PROPAGATION,
                              REMOUNT_FLAGS, parse_options)

# statvfs bits of flags a user namespace locks on a mount: a remount must keep them.
_LOCKED = ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
           (os.ST_RDONLY, MS_RDONLY))


class RootfsContext:
    """What the rootfs setup needs to know besides config.json's part (plan.RootfsPlan)."""

    def __init__(self, bundle, rootfs, in_user_ns, cgroup_paths, own_mount_ns=True,
                 kernel=REAL, mount_label="", detached=None):
        self.kernel = kernel
        self.mount_label = mount_label
        # {mount index: fd}: the id-mapped mounts the parent made, detached (idmap.py).
        self.detached = detached or {}
        # False: no mount namespace in the config, the mounts land in the runtime's own
        # mount table (under the rootfs only), and the root is changed with chroot.
        self.own_mount_ns = own_mount_ns
        self.bundle = bundle
        self.rootfs = rootfs
        self.in_user_ns = in_user_ns
        self.cgroup_paths = cgroup_paths


def prepare(rplan, ctx):
    """Everything before pivot_root (rplan: a plan.RootfsPlan). Returns an O_PATH fd of the
    rootfs."""
    k = ctx.kernel
    propagation = rplan.propagation
    # Keep the host's mounts from seeing ours, unless the config asks for shared (mounts that
    # propagate both ways); private and unbindable are applied once the rootfs is in place
    # (an unbindable / could not even be bound onto the rootfs), in finish().
    shared = propagation in ("shared", "rshared")
    if ctx.own_mount_ns:
        k.mount(None, "/", None, PROPAGATION[propagation] if shared else MS_SLAVE | MS_REC)
        _make_parent_private(k, ctx.rootfs)
    # pivot_root needs the new root to be a mount point.
    k.mount(ctx.rootfs, ctx.rootfs, None, MS_BIND | MS_REC)
    root_fd = k.open(ctx.rootfs, safepath.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    # The default nodes and symlinks go into /dev unless /dev is bound from elsewhere (then it
    # is the binder's): also into the rootfs's own /dev when the config mounts nothing there,
    # as runc does; without them /dev/null is missing and the masks have nothing to bind.
    dev_is_bound = False
    for i, m in enumerate(rplan.mounts):
        try:
            mount_one(root_fd, m, ctx, ctx.detached.get(i))
        except UnsafeRootfsError:
            raise  # names the destination already
        except OSError as e:
            # Name the mount: the kernel's error is about /proc/self/fd/N, or a bare name.
            detail = e.strerror or str(e)
            if e.filename and str(e.filename) not in detail and "/proc/self/fd/" not in \
                    str(e.filename):
                detail += f": {e.filename}"
            raise OSError(e.errno, f"mounts[{i}] (destination {m['destination']!r}): "
                          f"{detail}") from None
        if m["destination"].rstrip("/") == "/dev" and (parse_options(
                m.get("options", [])).is_bind or m.get("type") == "bind"):
            dev_is_bound = True
    if not dev_is_bound:
        devices.create_devices(k, root_fd, devices.default_devices(), ctx.in_user_ns)
    devices.create_devices(k, root_fd, rplan.devices, ctx.in_user_ns)
    if not dev_is_bound:
        devices.create_symlinks(k, root_fd)
    cwd = rplan.cwd
    try:
        k.mkdir_in_root(root_fd, cwd, 0o755)
    except OSError as e:
        if e.errno != errno.ELOOP:
            raise OSError(e.errno, f"process.cwd {cwd!r}: {e.strerror}") from None
        refuse_magic_link_cwd(cwd)  # raises: without it, chdir() would follow the link
    return root_fd


def refuse_magic_link_cwd(cwd):
    """process.cwd leads through a magic link such as /proc/self/fd/N, which can point at a
    directory of the host (CVE-2024-21626): refuse it. The tests' double of pyrunc
    (tests/pyrunc_faulty.py) replaces this to show the attack."""
    raise OSError(errno.EPERM, f"process.cwd {cwd!r} leads outside the container's root "
                  "through a magic link") from None


def _make_parent_private(k, path):
    """pivot_root refuses a new root whose parent mount is shared: make it private."""
    lines = (k.read_file("/proc/self/mountinfo") or "").splitlines()
    best = ""
    for line in lines:
        mountpoint = line.split()[4]
        if (path == mountpoint or path.startswith(mountpoint.rstrip("/") + "/")) \
                and len(mountpoint) > len(best):
            best = mountpoint
    if best and "shared:" in _optional_fields(lines, best):
        k.mount(None, best, None, PROPAGATION["private"])


def _optional_fields(lines, mountpoint):
    """The optional fields (shared:N, master:N...) of the first mount at mountpoint."""
    for line in lines:
        fields = line.split(" - ")[0].split()
        if fields[4] == mountpoint:
            return " ".join(fields[6:])
    return ""


def mount_one(root_fd, m, ctx, detached=None):
    """Mount one entry of config.mounts inside the rootfs; detached: the fd of the id-mapped
    tree the parent made for it (idmap.py), attached here and then given the flags a bind
    gets."""
    k = ctx.kernel
    opts = parse_options(m.get("options", []))
    kind = m.get("type") or ""
    destination = m["destination"]
    if kind == "cgroup":
        _mount_cgroup(root_fd, destination, opts, ctx)
    elif detached is not None:
        k.attach_idmapped(root_fd, m, detached)
        if opts.flags & REMOUNT_FLAGS:
            _remount(k, root_fd, destination, opts.flags & REMOUNT_FLAGS)
    elif opts.is_bind or kind == "bind":
        source = m["source"]
        if not source.startswith("/"):
            source = os.path.join(ctx.bundle, source)
        is_dir = k.isdir(source)  # raises nothing: a missing source fails in mount
        if not k.exists(source):
            raise FileNotFoundError(2, f"bind source {source} does not exist", source)
        target = k.make_target(root_fd, destination, is_dir)
        try:
            k.mount(source, k.fd_path(target), None, MS_BIND | (opts.flags & MS_REC))
        finally:
            k.close(target)
        if opts.flags & REMOUNT_FLAGS:
            _remount(k, root_fd, destination, opts.flags & REMOUNT_FLAGS)
    else:
        if kind in _FS_MAGIC:
            target = ordinary_directory(k, root_fd, destination, kind)
        else:
            target = k.make_target(root_fd, destination, True)
        underneath = None
        try:
            if "tmpcopyup" in opts.extras:
                # What the image has at the mount point, reached after the tmpfs covers it.
                underneath = k.open(k.fd_path(target), os.O_RDONLY | os.O_DIRECTORY
                                    | os.O_CLOEXEC)
            data = lsm.mount_data(opts.data, ctx.mount_label, kind)
            k.mount(m.get("source") or kind, k.fd_path(target), kind, opts.flags & ~MS_REC,
                    data or None)
            if kind in _FS_MAGIC:
                verify_fs_type(k, root_fd, destination, kind)
            if underneath is not None:
                with k.in_root(root_fd, destination, os.O_RDONLY | os.O_DIRECTORY) as top:
                    k.copy_tree(underneath, top)
        finally:
            k.close(target)
            if underneath is not None:
                k.close(underneath)
    if kind != "cgroup":
        _set_propagation(k, root_fd, destination, opts.propagation)
    if opts.recursive:  # rro, rnosuid...: last, over the mount and every mount under it
        k.set_recursive(root_fd, destination, opts.attr_set, opts.attr_clr)


# The filesystems the runtime later reads or writes through (statfs f_type).
_FS_MAGIC = {"proc": native.PROC_SUPER_MAGIC, "sysfs": native.SYSFS_MAGIC}


class UnsafeRootfsError(OSError):
    """The rootfs has something where the runtime cannot safely mount or bind."""

    def __init__(self, message):
        super().__init__(errno.EPERM, message)


def ordinary_directory(k, root_fd, destination, kind):
    """CVE-2019-19921: a proc or sysfs mount goes onto an ordinary directory of the rootfs,
    reached without any symlink (an image's /proc -> /bad-proc would put the procfs elsewhere,
    and every later /proc path the runtime uses would miss it). Missing parts are made; an O_PATH
    fd of the directory is returned."""
    try:
        return k.open_no_symlinks(root_fd, destination, safepath.O_PATH | os.O_DIRECTORY)
    except OSError as e:
        if e.errno != errno.ENOENT:
            raise _not_ordinary(destination, kind, e) from None
    k.mkdir_in_root(root_fd, destination, 0o755)
    try:
        return k.open_no_symlinks(root_fd, destination, safepath.O_PATH | os.O_DIRECTORY)
    except OSError as e:  # a symlinked parent, followed by the mkdir above
        raise _not_ordinary(destination, kind, e) from None


def _not_ordinary(destination, kind, err):
    what = {errno.ELOOP: "a symlink is on the way", errno.ENOTDIR: "it is not a directory",
            errno.EXDEV: "it leads out of the rootfs"}.get(err.errno, err.strerror)
    return UnsafeRootfsError(f"mount destination {destination!r}: {kind} must be mounted on "
                             f"an ordinary directory ({what})")


def verify_fs_type(k, root_fd, destination, kind):
    """After the mount: the destination, looked up again without symlinks, is that filesystem's
    root (a racing swap of the directory would leave something else there)."""
    fd = k.open_no_symlinks(root_fd, destination, safepath.O_PATH | os.O_DIRECTORY)
    try:
        if k.fstatfs_type(fd) != _FS_MAGIC[kind]:
            raise UnsafeRootfsError(f"mount destination {destination!r}: no {kind} there after "
                                    "mounting it (was the directory swapped?)")
    finally:
        k.close(fd)


def _remount(k, root_fd, path, flags):
    """Apply flags to the mount now at path (a fresh lookup sees the new mount, not the one
    underneath), keeping what the kernel locks in a user namespace."""
    with k.in_root(root_fd, path) as where:
        current = k.statvfs_flags(where)
        for st_bit, ms_bit in _LOCKED:
            if current & st_bit and ms_bit != MS_RDONLY:
                flags |= ms_bit
        k.mount(None, where, None, MS_BIND | MS_REMOUNT | flags)


def _set_propagation(k, root_fd, path, propagation):
    for flag in propagation:
        with k.in_root(root_fd, path) as where:
            k.mount(None, where, None, flag)


def _mount_cgroup(root_fd, destination, opts, ctx):
    """/sys/fs/cgroup: a tmpfs with one mount per host hierarchy, each a bind mount of the
    container's own cgroup directory, so it needs neither the cgroup namespace nor the
    membership, which come later (see protocol.py). Read-only unless the mount's options say
    "rw" (runc's default spec says "ro"; an engine's may say neither)."""
    k = ctx.kernel
    readonly = 0 if opts.cleared & MS_RDONLY else MS_RDONLY
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    hierarchies = k.cgroup_hierarchies()
    if len(hierarchies) == 1 and hierarchies[0].fstype == "cgroup2":
        _mount_hierarchy(root_fd, destination, hierarchies[0], flags | readonly, ctx, True)
        return
    _mount_tmpfs(k, root_fd, destination, flags)
    for h in hierarchies:
        name = os.path.basename(h.mountpoint)
        _mount_hierarchy(root_fd, f"{destination}/{name}", h, flags | readonly, ctx, False)
        if "," in name:  # co-mounted controllers: cpu -> cpu,cpuacct, as on the host
            for part in name.split(","):
                with k.in_root(root_fd, destination) as parent:
                    try:
                        k.symlink(name, os.path.join(parent, part))
                    except FileExistsError:
                        pass
    if readonly:
        _remount(k, root_fd, destination, MS_RDONLY | flags)


def _mount_tmpfs(k, root_fd, path, flags):
    target = k.make_target(root_fd, path, True)
    try:
        k.mount("tmpfs", k.fd_path(target), "tmpfs", flags, "mode=755")
    finally:
        k.close(target)


def _mount_hierarchy(root_fd, path, h, flags, ctx, alone):
    """Bind the container's own cgroup of hierarchy h at path. Where the container has none (a
    rootless container gets no cgroups), nothing of the host's: the hierarchy's root would show
    the host's whole tree. Its directory stays empty instead (alone: the only hierarchy, at
    the mount's destination: an empty tmpfs)."""
    k = ctx.kernel
    own = ctx.cgroup_paths.get(h.key)
    if own is None:
        if alone:
            _mount_tmpfs(k, root_fd, path, flags)
        else:
            k.close(k.make_target(root_fd, path, True))
        return
    target = k.make_target(root_fd, path, True)
    try:
        k.mount(own, k.fd_path(target), None, MS_BIND)
    finally:
        k.close(target)
    _remount(k, root_fd, path, flags)


def pivot(k, root_fd, no_pivot, own_mount_ns=True):
    """Make the rootfs the container's /. pivot_root detaches the host's tree entirely;
    --no-pivot only moves the rootfs over / and chroots (the host tree stays underneath).
    Without a mount namespace of its own, only chroot: pivot_root or a move over / would
    change the root of the host's mount namespace."""
    if not own_mount_ns:
        k.fchdir(root_fd)
        k.chroot(".")
        k.chdir("/")
        return
    if no_pivot:
        k.fchdir(root_fd)
        k.mount(".", "/", None, MS_MOVE)
        k.chroot(".")
        k.chdir("/")
        return
    old_root = k.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        k.fchdir(root_fd)
        # pivot_root(".", "."): the old root ends up stacked on the new one at "/", where
        # it can be detached without needing a put_old directory inside the image.
        k.pivot_root(".", ".")
        k.fchdir(old_root)
        k.mount(None, ".", None, MS_SLAVE | MS_REC)  # unmounting must not reach the host
        k.umount2(".", MNT_DETACH)
    finally:
        k.close(old_root)
    k.chdir("/")


def finish(k, rplan):
    """After pivot_root: masked paths, read-only paths, the read-only root, propagation."""
    root_fd = k.open("/", safepath.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    null_fd = -1
    try:
        # runc's order: the read-only root, then the read-only paths, then the masks. A path in
        # both lists ends up masked (the mask is the top mount), and a bind made from the
        # read-only root is read-only too (a mask of the rootfs's own /dev/null).
        if rplan.readonly:
            _remount(k, root_fd, "/", MS_RDONLY)
        for path in rplan.readonly_paths:
            _make_readonly(k, root_fd, path)
        for path in rplan.masked_paths:
            null_fd = _mask(k, root_fd, path, null_fd)
        if rplan.propagation:
            k.mount(None, "/", None, PROPAGATION[rplan.propagation])
    finally:
        k.close(root_fd)
        if null_fd >= 0:
            k.close(null_fd)


def _mask(k, root_fd, path, null_fd):
    """A directory gets an empty read-only tmpfs, a file the null device; absent paths are
    fine. Both are mounted by fd (fdmount): the /dev/null bound is one the runtime opened and
    checked (verified_null, opened at the first file to mask: returned for the next)."""
    try:
        target = k.open_in_root(root_fd, path)
    except FileNotFoundError:
        return null_fd
    try:
        if stat.S_ISDIR(k.fstat(target).st_mode):
            k.readonly_tmpfs_on(target)
            return null_fd
        if null_fd < 0:
            null_fd = verified_null(k, root_fd)
        k.bind_fd(null_fd, target)
    finally:
        k.close(target)
    check = k.open_in_root(root_fd, path)  # what the path leads to now
    try:
        if not k.same_file(check, null_fd):
            raise UnsafeRootfsError(f"linux.maskedPaths: {path!r} is not masked after binding "
                                    "/dev/null over it (was it swapped?)")
    finally:
        k.close(check)
    return null_fd


def verified_null(k, root_fd):
    """CVE-2025-31133: the container's /dev/null, opened without following any symlink and
    checked to be the null device (character device 1:3); an O_PATH fd. A /dev/null swapped
    for a symlink or another file (by the image, a bound /dev, or a racing container sharing
    it) would otherwise put that file, writable, over every masked path."""
    try:
        fd = k.open_no_symlinks(root_fd, "/dev/null")
    except OSError as e:
        raise UnsafeRootfsError(f"linux.maskedPaths: cannot open the container's /dev/null "
                                f"without following symlinks: {e.strerror}") from None
    st = k.fstat(fd)
    if not stat.S_ISCHR(st.st_mode) or st.st_rdev != os.makedev(1, 3):
        k.close(fd)
        raise UnsafeRootfsError("linux.maskedPaths: the container's /dev/null is not the null "
                                "device (character device 1:3): refusing to mask with it")
    return fd


def _make_readonly(k, root_fd, path):
    try:
        with k.in_root(root_fd, path) as where:
            k.mount(where, where, None, MS_BIND | MS_REC)
    except FileNotFoundError:
        return
    _remount(k, root_fd, path, MS_RDONLY)


def bind_console(k, slave_path):
    """Bind the terminal's slave over /dev/console, as runc does, by fd: the slave opened and
    checked to be our terminal (fd 0 by now), the target made and opened by console_target."""
    root_fd = k.open("/", safepath.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        source = k.open_no_symlinks(root_fd, slave_path)
        try:
            if not _is_our_terminal(k, source):
                raise UnsafeRootfsError(f"/dev/console: {slave_path} is not the container's "
                                        "terminal")
            target = console_target(k, root_fd)
            try:
                k.bind_fd(source, target)
            finally:
                k.close(target)
            verify_console(k, root_fd, source)
        finally:
            k.close(source)
    finally:
        k.close(root_fd)


def verify_console(k, root_fd, source):
    """/dev/console, looked up again without symlinks, is the terminal now."""
    check = k.open_no_symlinks(root_fd, "/dev/console")
    try:
        if not k.same_file(check, source):
            raise UnsafeRootfsError("/dev/console is not the terminal after binding it (was it "
                                    "swapped?)")
    finally:
        k.close(check)


def _is_our_terminal(k, fd):
    st = k.fstat(fd)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == k.fstat(0).st_rdev


def console_target(k, root_fd):
    """CVE-2025-52565: /dev/console as an O_PATH fd of a regular file (made if missing) or
    device node in the container's /dev, reached without following any symlink. A symlink
    there (planted, or swapped in by a racing process) would make the bind land wherever it
    points: a procfs file, say, that the container could then write through the terminal.
    What is there and is neither is removed first, as the default devices are."""
    try:
        dev_fd = k.open_no_symlinks(root_fd, "/dev", safepath.O_PATH | os.O_DIRECTORY)
    except OSError as e:
        raise UnsafeRootfsError(f"/dev/console: the container's /dev is not a directory "
                                f"reached without symlinks: {e.strerror}") from None
    try:
        for _attempt in range(5):  # a racer may keep putting things back
            try:
                fd = k.openat2(dev_fd, "console", safepath.O_PATH, 0,
                               native.RESOLVE_BENEATH | native.RESOLVE_NO_SYMLINKS
                               | native.RESOLVE_NO_MAGICLINKS | native.RESOLVE_NO_XDEV)
            except OSError as e:
                if e.errno not in (errno.ENOENT, errno.ELOOP):
                    raise
            else:
                mode = k.fstat(fd).st_mode
                if stat.S_ISREG(mode) or stat.S_ISCHR(mode):
                    return fd
                k.close(fd)
            _replace_with_file(k, dev_fd, "console")
        raise UnsafeRootfsError("/dev/console: kept changing while it was made (a racing "
                                "process?)")
    finally:
        k.close(dev_fd)


def _replace_with_file(k, dir_fd, name):
    try:
        k.unlink(name, dir_fd)
    except FileNotFoundError:
        pass
    except IsADirectoryError:
        k.rmdir(name, dir_fd)
    try:
        k.close(k.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW
                       | os.O_CLOEXEC, 0o644, dir_fd=dir_fd))
    except FileExistsError:
        pass
