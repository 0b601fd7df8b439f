"""`pyrunc checkpoint` and `pyrunc restore`: a running container saved to disk by CRIU and
brought back as a normal pyrunc container (state.json, exec, kill, delete).

checkpoint: the container is locked and checked (running or paused, its own mount namespace,
nothing CRIU cannot carry over); the facts CRIU needs are read from /proc (its init, the real
mount points of its bind mounts, its stdio, a joined network namespace) and handed to
criu_plan; `criu dump` (or pre-dump) runs. A dump CRIU refuses leaves the container running
(CRIU resumes what it had stopped); a full dump without --leave-running ends the container,
which is deleted as runc does, so that the same id can be restored.

restore: made like `create` (state dir, cgroups with the bundle's resources) up to the init,
which CRIU makes instead: `criu restore` runs in a private mount namespace where the bundle's
rootfs is bound onto itself (CRIU's --root must be a mount point), inside the container's
cgroup, with the caller's stdio (or a new pty) in place of the dumped init's. A failed restore
removes everything it made.
"""
import os
import stat

from pyrunc import criu, criu_plan, jsonio, state as state_mod
from pyrunc.errors import ConfigError, PyruncError, StateError, UsageError
from pyrunc.state import PAUSED, RUNNING

# Unix98 pty slaves (/dev/pts/N): majors 136 to 143.
_PTS_MAJORS = range(136, 144)
CLONE_NEWNS = 0x00020000
CONSOLE = "/dev/console"


def _paths(o):
    """The image and work directories, absolute (runc's default image path: ./checkpoint)."""
    image = os.path.abspath(o.get("image_path") or "checkpoint")
    work = os.path.abspath(o.get("work_path") or image)
    return dict(o, image_path=image, work_path=work)


# -- checkpoint -----------------------------------------------------------------------------------

def checkpoint(container_id, root, o):
    """Checkpoint the container with runc's options o (a dict, as the CLI parsed them)."""
    criu_plan.check_options(o, "checkpoint")  # a bad flag is said before CRIU is asked
    o = _paths(o)
    from pyrunc.container import Container
    container = Container.load(container_id, root)
    st = container.state
    st.lock()
    try:
        st.load()
        status = st.status()
        if status not in (RUNNING, PAUSED):
            raise StateError(f"cannot checkpoint a container that is {status}")
        config = st.data.get("config", {})
        _check_can_checkpoint(st, config)
        criu.require()
        pid = st.pid
        facts = {"pid": pid, "mount_keys": _mount_keys(pid, config) + _console_key(pid, config),
                 "descriptors": _descriptors(pid), "net_inode": _joined_net_inode(pid, config),
                 "freeze_cgroup": _freezer_dir(st)}
        args = criu_plan.dump_args(o, facts)
        for d in (o["image_path"], o["work_path"]):
            os.makedirs(d, 0o700, exist_ok=True)
        state_mod.write_atomic(os.path.join(o["image_path"], criu_plan.DESCRIPTORS),
                               jsonio.dumps(facts["descriptors"]).encode(), 0o600)
        criu.run(args, o["work_path"])
        if o.get("pre_dump") or o.get("leave_running"):
            return
        # CRIU has killed the container's processes: the container is gone, as from runc.
        container._destroy(poststop=True)
    finally:
        st.unlock()


def _check_can_checkpoint(st, config):
    """Refuse, naming the field, what CRIU cannot carry over from a pyrunc container."""
    from pyrunc.config import namespaces_of
    from pyrunc.container import NETWORK_ANNOTATION, _asks_for_network
    if not st.data.get("cgroup_paths"):
        raise StateError("cannot checkpoint a rootless container (CRIU needs root)")
    if _asks_for_network(st.data.get("annotations") or {}):
        raise ConfigError(f"annotations.{NETWORK_ANNOTATION}", "a container on pyrunc's "
                          "networks cannot be checkpointed (its veth and lease are not carried "
                          "over)")
    if st.data.get("net_devices"):
        raise ConfigError("linux.netDevices", "a container holding host network devices cannot "
                          "be checkpointed (CRIU would dump them as the container's own)")
    namespaces = namespaces_of(config)
    if "mount" not in namespaces:
        raise ConfigError("linux.namespaces", "a container without its own mount namespace "
                          "cannot be checkpointed")
    for kind, path in namespaces.items():
        if path and kind != "network":
            raise ConfigError(f"linux.namespaces.{kind}.path", f"a joined {kind} namespace "
                              "cannot be checkpointed (only a joined network namespace can)")


def _mount_ids(pid):
    """{mount id: mount point} of the mounts in pid's mount namespace."""
    out = {}
    with open(f"/proc/{pid}/mountinfo") as f:
        for line in f:
            fields = line.split()
            out[int(fields[0])] = _unescape(fields[4])
    return out


def _unescape(field):
    return (field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n")
            .replace("\\134", "\\"))


def _bind_mounts(config):
    from pyrunc.mountopts import parse_options
    return [m for m in config.get("mounts") or []
            if m.get("type") == "bind" or parse_options(m.get("options", [])).is_bind]


def _resolved_destinations(root_path, mounts):
    """Each mount's destination as the kernel resolved it at mount time under root_path (the
    container's /proc/PID/root): symlinks in the rootfs followed."""
    from pyrunc import safepath
    root_fd = os.open(root_path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return [safepath.resolve_in_root(root_fd, m["destination"]) for m in mounts]
    finally:
        os.close(root_fd)


def _mount_keys(pid, config):
    """The real mount points of the config's bind mounts in the running container."""
    mounted = set(_mount_ids(pid).values())
    keys = []
    for key in _resolved_destinations(f"/proc/{pid}/root", _bind_mounts(config)):
        if key in mounted and key not in keys:
            keys.append(key)
    return keys


def _console_key(pid, config):
    """/dev/console of a terminal container is a bind mount of its pty's slave, whose master
    CRIU cannot find in the container: it is external, and restore binds the new pty there."""
    if config.get("process", {}).get("terminal") and CONSOLE in _mount_ids(pid).values():
        return [CONSOLE]
    return []


def _descriptors(pid):
    """What restore must know of the init's stdio (criu_plan.descriptor), fds 0 to 2."""
    in_container = _mount_ids(pid)
    out = []
    for fd in (0, 1, 2):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
            st = os.stat(f"/proc/{pid}/fd/{fd}")
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                info = dict(line.split(":", 1) for line in f if ":" in line)
        except (FileNotFoundError, ProcessLookupError):
            continue  # a closed fd
        mnt_id = int(info.get("mnt_id", "-1"))
        is_tty = stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) in _PTS_MAJORS
        out.append(criu_plan.descriptor(fd, link, mnt_id, st.st_ino, st.st_rdev, st.st_dev,
                                        st.st_mode, int(info.get("flags", "0"), 8), is_tty,
                                        mnt_id in in_container))
    return out


def _joined_net_inode(pid, config):
    from pyrunc.config import namespaces_of
    if not namespaces_of(config).get("network"):
        return None
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def _freezer_dir(st):
    """The cgroup CRIU freezes the container with (v2's own, or v1's freezer)."""
    paths = st.data.get("cgroup_paths") or {}
    if "" in paths:
        return paths[""]
    return next((p for k, p in paths.items() if "freezer" in k.split(",")), None)


# -- restore --------------------------------------------------------------------------------------

def restore(container_id, root, o):
    """Restore the checkpoint in o["image_path"] as container container_id of the bundle
    o["bundle"]. Returns the exit status in the foreground, 0 with --detach."""
    criu_plan.check_options(o, "restore")
    o = _paths(o)
    if not os.path.isdir(o["image_path"]):
        raise UsageError(f"--image-path {o['image_path']}: no such directory")
    criu.require()
    from pyrunc.container import Container
    c = Container(container_id, root)
    if o.get("detach") or o.get("no_subreaper"):
        return _restore(c, o, None)
    from pyrunc import foreground
    with foreground.Subreaper() as reaper:  # CRIU leaves the restored init to us
        return _restore(c, o, reaper)


def _restore(c, o, reaper):
    from pyrunc import cgroups, config as config_mod
    bundle = os.path.abspath(o.get("bundle") or ".")
    config = config_mod.load_bundle_config(bundle)
    config_mod.validate(config, bundle)
    process = config["process"]
    detach = o.get("detach", False)
    console_socket = o.get("console_socket")
    if process.get("terminal") and detach and not console_socket:
        raise ConfigError("process.terminal", "a terminal needs --console-socket (or restore "
                          "in the foreground)")
    if state_mod.is_rootless(None):
        raise StateError("restore needs root (CRIU does)")
    linux = config.get("linux", {})
    resources = linux.get("resources") or {}
    devices = linux.get("devices") or []
    st = c.state
    if os.path.isdir(st.dir):
        from pyrunc.errors import ContainerExistsError
        raise ContainerExistsError(c.id)
    cgroup = cgroups.ContainerCgroup.plan(linux.get("cgroupsPath", ""), c.id)
    cgroup.check(resources, devices)
    descriptors = _read_descriptors(o["image_path"])
    console = None
    if console_socket:
        from pyrunc import terminal
        console = terminal.connect_console_socket(console_socket)
    rootfs = os.path.realpath(os.path.join(bundle, config["root"]["path"]))
    st.make()
    made = []
    opened = []
    pid = None
    master = None
    try:
        st.data = {"id": c.id, "bundle": bundle, "status_hint": state_mod.CREATING,
                   "rootfs": os.path.join(bundle, config["root"]["path"]),
                   "created": state_mod.utc_now(), "owner": _owner(),
                   "annotations": config.get("annotations") or {},
                   "cgroup_paths": cgroup.paths, "cgroups_created": cgroup.missing(),
                   "config": config, "restored_from": o["image_path"]}
        st.save()
        made.extend(cgroup.create())
        st.data["cgroups_created"] = made
        st.save()
        cgroup.apply(resources, devices)
        tty_fd = None
        if any(d.get("tty") for d in descriptors):
            master, tty_fd = os.openpty()
            opened.append(tty_fd)
            if process.get("consoleSize"):
                from pyrunc import terminal
                terminal.set_size(master, process["consoleSize"].get("height", 0),
                                  process["consoleSize"].get("width", 0))
        inherit = criu_plan.inherit_list(descriptors,
                                         _replacements(descriptors, tty_fd, opened))
        net_path = config_mod.namespaces_of(config).get("network")
        if net_path:
            net_fd = os.open(net_path, os.O_RDONLY | os.O_CLOEXEC)
            opened.append(net_fd)
            inherit.append((net_fd, criu_plan.NET_KEY))
        pidfile = os.path.join(st.dir, "criu.pid")
        mounts = _restore_mounts(bundle, rootfs, config)
        if tty_fd is not None and process.get("terminal"):
            mounts.append((CONSOLE, os.ttyname(tty_fd)))
        facts = {"rootfs": rootfs, "pidfile": pidfile, "inherit": inherit, "mounts": mounts,
                 "cgroup_roots": criu_plan.cgroup_roots(cgroup.paths, _mountpoints())}
        args = criu_plan.restore_args(o, facts)
        os.makedirs(o["work_path"], 0o700, exist_ok=True)
        readonly = bool(config["root"].get("readonly"))
        try:
            criu.run(args, o["work_path"], keep_fds=[fd for fd, _ in inherit],
                     before_exec=lambda: _restore_child(rootfs, readonly, cgroup))
        finally:
            pid = _read_pid(pidfile)
        if pid is None or state_mod.proc_start_time(pid) is None:
            raise criu.CriuError(f"criu restore wrote no live pid to {pidfile} (log: "
                                 f"{os.path.join(o['work_path'], criu_plan.LOG_NAMES['restore'])})")
        st.data["pid"] = pid
        st.data["pid_start"] = state_mod.proc_start_time(pid)[1]
        st.data["status_hint"] = RUNNING
        st.save()
        if master is not None and console is not None:
            from pyrunc import terminal
            terminal.send_master(console, master)
            os.close(master)
            master = None
        if o.get("pid_file"):
            from pyrunc.container import _write_pid_file
            _write_pid_file(o["pid_file"], pid)
    except BaseException:
        _kill(pid)
        c._destroy(made)
        if master is not None:
            os.close(master)
        raise
    finally:
        for fd in opened:
            os.close(fd)
        if console is not None:
            console.close()
        st.unlock()
    if detach:
        return 0
    return _wait_foreground(c, pid, master, reaper)


def _wait_foreground(c, pid, master, reaper):
    """Like `run`: wait for the restored init (relaying its pty, which wait_foreground closes),
    then delete the container."""
    try:
        if reaper is None:  # --no-subreaper: not our child, its status is not ours to read
            if master is not None:
                os.close(master)
            c.wait()
            return 0
        from pyrunc import foreground
        return foreground.wait_foreground(pid, master, reaper)
    finally:
        c._delete_after_run()


def _replacements(descriptors, tty_fd, opened):
    """{dumped fd: our fd to take its place}: the new pty for a terminal; our own stdio for a
    pipe (when it is one) or a file of the same kind and mode (CRIU checks the mode of what it
    inherits); else the dumped file itself, opened again; else CRIU restores a pipe from its
    images, and a file is an error. Fds opened here are added to opened."""
    out = {}
    for d in descriptors:
        fd = d["fd"]
        if not d.get("key") or fd in out:
            continue
        if d.get("tty"):
            out[fd] = tty_fd
            continue
        try:
            ours = os.fstat(fd).st_mode
        except OSError:
            ours = None
        if d["key"].startswith("pipe:"):
            out[fd] = fd if ours is not None and stat.S_ISFIFO(ours) else None
        elif ours == d.get("mode"):
            out[fd] = fd
        else:
            out[fd] = _reopen(d)
            opened.append(out[fd])
    return out


def _reopen(d):
    """The dumped init's file at fd d["fd"], opened again from its path."""
    flags = d.get("flags", 0) & (os.O_ACCMODE | os.O_APPEND)
    path = d["link"]
    if not path.endswith(" (deleted)"):
        try:
            fd = os.open(path, flags | os.O_CLOEXEC | os.O_NOCTTY)
            if os.fstat(fd).st_mode == d.get("mode"):
                return fd
            os.close(fd)
        except OSError:
            pass
    raise PyruncError(f"restore: the checkpointed process had {path} as fd {d['fd']}: "
                      f"give it a file of the same mode as fd {d['fd']}, or keep that file")


def _restore_child(rootfs, readonly, cgroup):
    """In the forked CRIU, before it execs: a private mount namespace where the rootfs is a
    mount point (read-only if the config says so: CRIU keeps the root mount as it finds it),
    and the container's cgroup, so that the restored tree starts there (and stays there with
    --manage-cgroups-mode ignore)."""
    from pyrunc import native
    from pyrunc.mountopts import MS_BIND, MS_PRIVATE, MS_RDONLY, MS_REC, MS_REMOUNT
    native.unshare(CLONE_NEWNS)
    native.mount(None, "/", None, MS_REC | MS_PRIVATE)
    native.mount(rootfs, rootfs, None, MS_BIND | MS_REC)
    if readonly:
        native.mount(None, rootfs, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
    cgroup.join(os.getpid())


def _restore_mounts(bundle, rootfs, config):
    """[(key, host source)] of the restore bundle's bind mounts (keys as checkpoint made
    them: the destinations resolved in the rootfs). Their mount points are made in the rootfs
    as create makes them: CRIU mounts onto what is there, and a fresh rootfs (an engine's new
    snapshot of the image) lacks the ones the first create made."""
    from pyrunc import safepath
    mounts = _bind_mounts(config)
    out = []
    root_fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for m in mounts:
            source = m["source"] if m["source"].startswith("/") else os.path.join(
                bundle, m["source"])
            try:
                os.close(safepath.make_target(root_fd, m["destination"], os.path.isdir(source)))
            except OSError as e:
                raise ConfigError("mounts", f"{m['destination']}: cannot make the mount point: "
                                  f"{e.strerror}") from None
            out.append((safepath.resolve_in_root(root_fd, m["destination"]), source))
    finally:
        os.close(root_fd)
    return out


def _mountpoints():
    from pyrunc.cgroups import layout
    return {h.key: h.mountpoint for h in layout.hierarchies()}


def _read_descriptors(image):
    path = os.path.join(image, criu_plan.DESCRIPTORS)
    try:
        with open(path, "rb") as f:
            return jsonio.loads(f.read())
    except FileNotFoundError:
        return []  # not a pyrunc checkpoint: CRIU restores the stdio it can
    except ValueError as e:
        raise PyruncError(f"{path}: {e}") from None


def _read_pid(pidfile):
    try:
        with open(pidfile) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _kill(pid):
    if pid:
        import signal
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _owner():
    from pyrunc.container import _owner as owner
    return owner()


def features():
    """What `pyrunc features` says of checkpoint/restore on this host."""
    reason = criu.unusable_reason()
    if reason:
        return f"unavailable: {reason}"
    return f"available (criu {criu.version() or 'unknown version'})"

