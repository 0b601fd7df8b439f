"""Id-mapped mounts (runtime-spec 1.2+, runc 1.2): made detached by the parent, on the host,
before the container's namespaces exist; attached by the init where the config puts them.

Why the parent: the kernel id-maps a mount only for a caller with CAP_SYS_ADMIN over the
filesystem's owner (the host's user namespace, for a host directory or a tmpfs made here) and
over the user namespace that carries the mapping, and only while the mount is detached. The
container's init, in a user namespace of its own, has neither. So the parent clones the bind
source (open_tree(OPEN_TREE_CLONE)) or makes the tmpfs (fsopen, fsmount), gives it the mapping
(mount_setattr(MOUNT_ATTR_IDMAP) with the fd of a user namespace made for it by a short-lived
child, then closed: nothing of it outlives the call) and hands the detached tree to the init,
which moves it into place in config order (fdmount.attach), before pivot_root.

Where the mapping comes from (config.md): the mount's uidMappings and gidMappings when given
(containerID: the id in the source filesystem, hostID: the id the mount shows), else the
container's user namespace's (its linux mappings, or the namespace it joins by path). idmap
maps the mount alone, ridmap every mount under an rbind too."""
import os
import select
import stat

from pyrunc import fdmount, native, procfs, safepath
from pyrunc.errors import ConfigError, MountError
from pyrunc.mountopts import MS_RDONLY, MS_REC, SUPERBLOCK, parse_options

AT_FDCWD = -100
HELPER_TIMEOUT = 10.0  # seconds for the mapping helper to unshare its user namespace


class IdmapMount:
    """One id-mapped mount of the config, planned (pure data: tests/unit/test_idmap.py)."""

    __slots__ = ("index", "kind", "recursive", "uid_maps", "gid_maps", "userns_path",
                 "option")

    def __init__(self, index, kind, recursive, uid_maps, gid_maps, userns_path, option):
        self.index = index
        self.kind = kind                # "bind" or "tmpfs"
        self.recursive = recursive      # ridmap: the submounts of an rbind too
        self.uid_maps = uid_maps        # the mapping to give a new user namespace, or
        self.gid_maps = gid_maps
        self.userns_path = userns_path  # the container's own, joined by path
        self.option = option            # what asked for it: "idmap", "ridmap", "uidMappings"

    def key(self):
        """Mounts with the same mapping share one user namespace."""
        if self.userns_path:
            return ("path", self.userns_path)
        return tuple(tuple((m["containerID"], m["hostID"], m["size"]) for m in maps)
                     for maps in (self.uid_maps, self.gid_maps))


def plan(config):
    """The id-mapped mounts of a validated config, in order."""
    linux = config.get("linux") or {}
    userns_path = next((ns.get("path") or "" for ns in linux.get("namespaces") or []
                        if ns.get("type") == "user"), "")
    planned = []
    for i, m in enumerate(config.get("mounts") or []):
        opts = parse_options(m.get("options") or [])
        own = bool(m.get("uidMappings"))
        if not own and opts.idmap is None:
            continue
        kind = "bind" if opts.is_bind or m.get("type") == "bind" else m.get("type")
        recursive = opts.idmap == "ridmap"
        option = opts.idmap or "uidMappings"
        if own:
            planned.append(IdmapMount(i, kind, recursive, m["uidMappings"], m["gidMappings"],
                                      "", option))
        elif userns_path:
            planned.append(IdmapMount(i, kind, recursive, None, None, userns_path, option))
        else:
            planned.append(IdmapMount(i, kind, recursive, linux.get("uidMappings") or [],
                                      linux.get("gidMappings") or [], "", option))
    return planned


def detached_mounts(config, bundle):
    """{mount index: fd of its detached, id-mapped tree} for the init (close-on-exec fds,
    the caller closes them once the init has its copies). On failure nothing is left."""
    planned = plan(config)
    if not planned:
        return {}
    if os.geteuid() != 0:
        first = planned[0]
        raise ConfigError(f"mounts[{first.index}].options" if first.option != "uidMappings"
                          else f"mounts[{first.index}].uidMappings",
                          "an id-mapped mount needs root on the host (the kernel wants "
                          "CAP_SYS_ADMIN over the source's filesystem): not for rootless "
                          "containers")
    trees = {}
    namespaces = {}
    try:
        for item in planned:
            m = config["mounts"][item.index]
            field = f"mounts[{item.index}]"
            if item.key() not in namespaces:
                namespaces[item.key()] = _userns_fd(item, field)
            trees[item.index] = _mapped_tree(item, m, bundle, namespaces[item.key()], field,
                                             (config.get("linux") or {}).get("mountLabel"))
    except BaseException:
        for fd in trees.values():
            os.close(fd)  # a detached tree goes with its last fd
        raise
    finally:
        for fd in namespaces.values():
            os.close(fd)
    return trees


def _userns_fd(item, field):
    if item.userns_path:
        try:
            return os.open(item.userns_path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            raise MountError(f"{field}.options", f'"{item.option}": cannot open the '
                             f"container's user namespace {item.userns_path}: {e.strerror}") \
                from None
    return mapping_namespace(item.uid_maps, item.gid_maps, field)


def mapping_namespace(uid_maps, gid_maps, field):
    """An fd of a new user namespace with these mappings: a child unshares it and waits while
    we write its maps and open it, then exits (reaped here) once we let it go."""
    ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
    hold_r, hold_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:  # the helper: nothing but the namespace, then wait to be let go
        status = 1
        try:
            os.close(ready_r)
            os.close(hold_w)
            native.new_user_namespace()
            os.write(ready_w, b"1")
            os.read(hold_r, 1)  # end of file: the parent is done with us (or gone)
            status = 0
        finally:
            os._exit(status)
    os.close(ready_w)
    os.close(hold_r)
    try:
        readable, _, _ = select.select([ready_r], [], [], HELPER_TIMEOUT)
        if not readable or os.read(ready_r, 1) != b"1":
            raise MountError(field, "the helper that carries the id-mapping could not make "
                             "its user namespace")
        for name, key, maps in (("uid_map", "uidMappings", uid_maps),
                                ("gid_map", "gidMappings", gid_maps)):
            text = "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in maps)
            try:
                procfs.write(f"{pid}/{name}", text)  # through a verified procfs
            except OSError as e:
                raise MountError(f"{field}.{key}", f"the kernel refused the mapping as a "
                                 f"{name}: {e.strerror}") from None
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(hold_w)
        os.close(ready_r)
        os.waitpid(pid, 0)  # it exits as soon as hold_w is closed


def _mapped_tree(item, m, bundle, userns_fd, field, label):
    """The detached tree of the mount, id-mapped."""
    opts = parse_options(m.get("options") or [])
    source = m.get("source") or "tmpfs"
    try:
        if item.kind == "bind":
            source = os.path.join(bundle, source)  # an absolute source stays as it is
            tree = native.open_tree(AT_FDCWD, source, native.OPEN_TREE_CLONE
                                    | (native.AT_RECURSIVE if opts.flags & MS_REC else 0))
        else:
            tree = _tmpfs(source, m.get("options") or [], opts, label)
    except OSError as e:
        raise MountError(field, f"cannot make the {item.kind} of {source} to id-map: "
                         f"{e.strerror}") from None
    try:
        native.mount_setattr(tree, "", native.MOUNT_ATTR_IDMAP, recursive=item.recursive,
                             flags=native.AT_EMPTY_PATH, userns_fd=userns_fd)
    except OSError as e:
        os.close(tree)
        why = {22: " (does its filesystem support id-mapped mounts?)",
               1: " (a mount under it that cannot be id-mapped?)"}.get(e.errno, "")
        raise MountError(f"{field}.options" if item.option != "uidMappings"
                         else f"{field}.uidMappings",
                         f'"{item.option}": the kernel refused to id-map {source}: '
                         f"{e.strerror}{why}") from None
    return tree


def _tmpfs(source, options, opts, label):
    """A new tmpfs with the mount's filesystem options (mode=, size=, sync...) and the SELinux
    mount label; its mount flags (nosuid, ro...) are applied by the init once it is attached,
    as a bind's are. uid= and gid= are the host's ids here: the mapping then applies."""
    fs = native.fsopen("tmpfs")
    try:
        native.fsconfig(fs, native.FSCONFIG_SET_STRING, "source", source)
        words = [o for o in options if o in SUPERBLOCK] + [w for w in opts.data.split(",") if w]
        if opts.flags & MS_RDONLY:
            words.append("ro")  # the superblock too, as pyrunc's other tmpfs mounts
        if label:
            native.fsconfig(fs, native.FSCONFIG_SET_STRING, "context", label)
        for word in words:
            key, eq, value = word.partition("=")
            if eq:
                native.fsconfig(fs, native.FSCONFIG_SET_STRING, key, value)
            else:
                native.fsconfig(fs, native.FSCONFIG_SET_FLAG, key)
        native.fsconfig(fs, native.FSCONFIG_CMD_CREATE)
        return native.fsmount(fs)
    finally:
        os.close(fs)


def attach(root_fd, m, tree_fd):
    """In the init: put the detached tree (closed here) at the mount's destination."""
    try:
        # The tree says what it is: the init may not even reach the source's path.
        target = safepath.make_target(root_fd, m["destination"],
                                      stat.S_ISDIR(os.fstat(tree_fd).st_mode))
        try:
            fdmount.attach(tree_fd, target)
        finally:
            os.close(target)
    finally:
        os.close(tree_fd)
