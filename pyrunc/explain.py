"""`pyrunc explain`: what create and start will do with a bundle's config, step by step in the
order the init path does it (see protocol.py), without making anything; and for an existing
container, or a failed create's post-mortem, what was done and why it ended.

The plan is a list of steps, each a dict: {"who": parent|stage1|init|start|delete, "op": the
primitive (mount, unshare, setns, cgroup-write...), "text": one line for people, "field": the
config field it comes from, plus the primitive's own arguments (target, fstype, flags...)}. The
trace (trace.py) writes the same "op" names with the same arguments, so that a test can hold
the two side by side. What is computed here comes from the modules that do it (mount options
from mountopts, cgroup writes from the cgroup drivers' own lists, device rules from
device_rules), never from a second copy of their rules.
"""
import os

from pyrunc import configlint, names
from pyrunc.mountopts import (FLAGS, MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC,
                              MS_SLAVE, PROPAGATION, REMOUNT_FLAGS, parse_options)

WHO_TITLES = {
    "parent": "pyrunc create (the parent)",
    "stage1": "stage1 (first child: namespaces)",
    "init": "the container's init (pid 1, until it execs)",
    "start": "pyrunc start, then the init",
    "delete": "pyrunc delete",
}


def flag_names(flags):
    """mount(2) flags as the option words that set them: 'bind,rec,nosuid'."""
    words = []
    for option, (clear, flag) in FLAGS.items():
        if not clear and flag and flag & (flag - 1) == 0 and flags & flag \
                and option != "defaults":
            words.append(option)
            flags &= ~flag
    for option, flag in PROPAGATION.items():
        if flags & flag and flag & (flag - 1) == 0:
            words.append(option)
            flags &= ~flag
    if flags & MS_REC:
        words.append("rec")
        flags &= ~MS_REC
    if flags:
        words.append(hex(flags))
    return ",".join(words)


class Planner:
    """Builds the steps for one config; add() keeps them in order."""

    def __init__(self, config, bundle, container_id, host=None, rootless=None,
                 cgroups_made=None):
        self.config = config
        self.bundle = bundle
        self.container_id = container_id
        self.linux = config.get("linux") or {}
        self.process = config.get("process") or {}
        self.rootfs = os.path.realpath(os.path.join(bundle, (config.get("root") or {})
                                                    .get("path", "rootfs")))
        self.namespaces = {ns["type"]: ns.get("path") or ""
                           for ns in self.linux.get("namespaces") or []}
        self.host = host  # hierarchies (cgroups.hierarchies()), or None to read the host's
        self.rootless = os.geteuid() != 0 if rootless is None else rootless
        # An existing container's own cgroups (state.json): planned as made, not as found.
        self.cgroups_made = set(cgroups_made or ())
        self.steps = []
        self.idmapped = {}  # {mount index: idmap.IdmapMount}, filled in by build()

    def add(self, who, op, text, field="", **args):
        step = {"who": who, "op": op, "text": text, "field": field}
        step.update(args)
        self.steps.append(step)
        return step

    # -- the sequence (protocol.py) --------------------------------------------------------------

    def build(self):
        self.add("parent", "validate", "read and check config.json, field by field")
        self.add("parent", "state-dir", "make the state directory and exec.fifo (0600)")
        self._idmapped_mounts()
        cgroup = self._cgroup()
        self._namespaces()
        self._network()
        if cgroup is not None:
            self.add("parent", "cgroup-join", "move the init into the container's cgroups",
                     "linux.cgroupsPath")
        self.add("parent", "cpu-affinity", "give the init every CPU its cpuset allows, not "
                 "the caller's affinity (process.execCPUAffinity is for exec'd processes)")
        self._rootfs()
        self._hooks("parent", "prestart", "in pyrunc's namespaces, after the mounts")
        self._hooks("parent", "createRuntime", "in pyrunc's namespaces, after the mounts")
        self._hooks("init", "createContainer", "in the container's mount namespace, before "
                    "pivot_root")
        self._pivot()
        self._uts_and_sysctl()
        if self.process.get("terminal"):
            self.add("init", "mount", "bind the terminal's pty slave over /dev/console",
                     "process.terminal", target="/dev/console", flags=MS_BIND)
        self._finish_rootfs()
        if "cgroup" in self.namespaces and not self.namespaces["cgroup"]:
            self.add("init", "unshare", "unshare(CLONE_NEWCGROUP): after joining, so that the "
                     "container's cgroup is its root", "linux.namespaces", flags="cgroup")
        self._process()
        self.add("init", "wait", "report ready; block on exec.fifo until `pyrunc start`")
        self._hooks("start", "startContainer", "in the container, right before the program")
        self._exec()
        self._hooks("start", "poststart", "by `pyrunc start` once the program runs; a failure "
                    "is a warning")
        self._hooks("delete", "poststop", "by `pyrunc delete`; a failure is a warning")
        return self.steps

    # -- cgroups ---------------------------------------------------------------------------------

    def _cgroup(self):
        if self.rootless:
            self.add("parent", "cgroup", "no cgroups: rootless (linux.resources is ignored)",
                     "linux.resources")
            return None
        from pyrunc.cgroups import ContainerCgroup, hierarchies, layout
        found = self.host if self.host is not None else hierarchies()
        tops = {h.key: h.mountpoint for h in found}
        cgroup = ContainerCgroup(layout.container_paths(self.linux.get("cgroupsPath", ""),
                                                        self.container_id, found))
        where = "linux.cgroupsPath" if self.linux.get("cgroupsPath") else "(default /<id>)"
        for key, path in cgroup.paths.items():
            for directory in self._cgroup_dirs_to_make(path, tops.get(key, "/")):
                parent = " (a parent: marked in /run/pyrunc-cgroups, removed by whichever " \
                    "container leaves it empty)" if directory != path else ""
                self.add("parent", "cgroup-mkdir", f"mkdir {directory}{parent}", where,
                         path=directory, hierarchy=key or "unified")
                if "cpuset" in key.split(","):
                    self._cpuset_inherit(directory)
                if key == layout.UNIFIED and (cgroup.pure_v2 or directory != path):
                    self.add("parent", "note", f"offer {os.path.dirname(directory)}'s "
                             "controllers to its children (+controller to "
                             "cgroup.subtree_control, each on its own)", where)
            if path not in self.cgroups_made and os.path.isdir(path):
                self.add("parent", "cgroup-use", f"use {path}, which exists (never removed)",
                         where, path=path)
        resources = self.linux.get("resources") or {}
        from pyrunc.cgroups.manager import DEVICE_PROGRAM
        for directory, name, value, field in cgroup.planned_writes(
                resources, self.linux.get("devices") or []):
            if name == DEVICE_PROGRAM:
                self.add("parent", "cgroup-device-program", f"attach an eBPF device program "
                         f"({value} rules) to {directory}", field, path=directory, rules=value)
                continue
            self.add("parent", "cgroup-write", f"write {value!r} to {directory}/{name}", field,
                     path=f"{directory}/{name}", value=value)
        return cgroup

    def _cgroup_dirs_to_make(self, path, top):
        """path and its missing parents below the hierarchy's root top, top first: what
        create() will mkdir (an existing container's own, from state.json, count as made by
        it)."""
        if path in self.cgroups_made:
            return [d for d in sorted(self.cgroups_made, key=len)
                    if path == d or path.startswith(d + "/")]
        missing = []
        while path != top and len(path) > len(top) and not os.path.isdir(path):
            missing.append(path)
            path = os.path.dirname(path)
        return missing[::-1]

    def _cpuset_inherit(self, directory):
        """A new v1 cpuset takes no task until it has cpus and mems: create() copies them from
        the parent (cpuset.inherit), whose values are the nearest existing cgroup's."""
        source = os.path.dirname(directory)
        while not os.path.isdir(source) and source != "/":
            source = os.path.dirname(source)
        for name in ("cpuset.cpus", "cpuset.mems"):
            value = _read(os.path.join(source, name))
            self.add("parent", "cgroup-write", f"write {value!r} to {directory}/{name} (the "
                     "parent's: a new cpuset has none)", "", path=f"{directory}/{name}",
                     value=value)

    # -- namespaces ------------------------------------------------------------------------------

    def _namespaces(self):
        joined = sorted((k for k, p in self.namespaces.items() if p), key=lambda k: k != "user")
        for kind in joined:
            self.add("stage1", "setns", f"setns() into the {kind} namespace of "
                     f"{self.namespaces[kind]}", f"linux.namespaces.{kind}.path",
                     kind=kind, path=self.namespaces[kind])
        new = [k for k, p in self.namespaces.items() if not p]
        if "user" in new:
            self.add("stage1", "unshare", "unshare(CLONE_NEWUSER)", "linux.namespaces",
                     flags="user")
            for key in ("uidMappings", "gidMappings"):
                maps = " ".join(f"{m.get('containerID')}:{m.get('hostID')}:{m.get('size')}"
                                for m in self.linux.get(key) or [])
                self.add("parent", "id-map", f"write /proc/<stage1>/{key[:3]}_map: {maps} "
                         "(container:host:size)", f"linux.{key}", file=f"{key[:3]}_map")
        rest = [k for k in new if k not in ("user", "cgroup")]
        if rest:
            self.add("stage1", "unshare", f"unshare({' | '.join(_clone_name(k) for k in rest)})",
                     "linux.namespaces", flags=",".join(sorted(rest)))
        missing = [k for k in ("mount", "pid", "network", "ipc", "uts")
                   if k not in self.namespaces]
        if missing:
            self.add("stage1", "note", f"shares the runtime's {', '.join(missing)} "
                     "namespace(s) (not in linux.namespaces)", "linux.namespaces")
        for clock, offset in (self.linux.get("timeOffsets") or {}).items():
            self.add("stage1", "time-offset", f"timens_offsets: {clock} "
                     f"{offset.get('secs', 0)}s {offset.get('nanosecs', 0)}ns",
                     f"linux.timeOffsets.{clock}")
        self.add("stage1", "fork", "fork the init (pid 1 of a new pid namespace)"
                 if "pid" in self.namespaces and not self.namespaces["pid"]
                 else "fork the init")

    def _network(self):
        annotations = self.config.get("annotations") or {}
        requested = annotations.get("pyrunc.network")
        if requested:
            self.add("parent", "network", f"veth pairs on the networks {requested} (eth0...), "
                     "addresses leased before the fork, links made once the init's network "
                     "namespace exists", "annotations.pyrunc.network")
        elif self.namespaces.get("network"):
            self.add("parent", "network", "none of pyrunc's: joins the network namespace "
                     f"{self.namespaces['network']}", "linux.namespaces.network.path")
        elif "network" in self.namespaces:
            self.add("parent", "network", "a new network namespace with only lo (down): "
                     "the engine or a prestart hook wires it", "linux.namespaces")
        else:
            self.add("parent", "network", "the host's network namespace", "linux.namespaces")
        devices = self.linux.get("netDevices") or {}
        if devices:
            moved = ", ".join(f"{host} as {(entry or {}).get('name') or host}"
                              for host, entry in devices.items())
            self.add("parent", "net-devices", f"hold the init's network namespace (a bind mount "
                     f"at <state dir>/netns) and move {moved} into it with their permanent "
                     "global addresses, up; delete moves them back", "linux.netDevices")

    # -- the rootfs ------------------------------------------------------------------------------

    def _mount(self, who, text, field, source, target, fstype, flags, data=""):
        return self.add(who, "mount", text, field, source=source, target=target,
                        fstype=fstype or "", flags=flags, data=data or "")

    def _rootfs(self):
        own_ns = "mount" in self.namespaces
        propagation = self.linux.get("rootfsPropagation")
        shared = propagation in ("shared", "rshared")
        if own_ns:
            flags = PROPAGATION[propagation] if shared else MS_SLAVE | MS_REC
            self._mount("init", f"make / {flag_names(flags)} (the host does not see our "
                        "mounts)", "linux.rootfsPropagation" if shared else "", None, "/",
                        None, flags)
        # The container's / to be: the trace names it so too (trace._where).
        self._mount("init", f"bind the rootfs {self.rootfs} onto itself (pivot_root needs a "
                    "mount point)", "root.path", "/", "/", None, MS_BIND | MS_REC)
        dev_is_bound = False
        for i, m in enumerate(self.config.get("mounts") or []):
            self._config_mount(i, m)
            opts = parse_options(m.get("options") or [])
            if (m.get("destination") or "").rstrip("/") == "/dev" and (
                    opts.is_bind or m.get("type") == "bind"):
                dev_is_bound = True
        from pyrunc import devices
        listed = [("linux.devices", d) for d in self.linux.get("devices") or []]
        defaults = [] if dev_is_bound else [("(default devices)", d)
                                            for d in devices.default_devices()]
        in_user_ns = "user" in self.namespaces
        for field, dev in defaults + listed:
            if in_user_ns:
                self._mount("init", f"bind the host's {dev['path']} (no mknod in a user "
                            "namespace)", field, dev["path"], dev["path"], None, MS_BIND)
            else:
                mode = dev.get("fileMode", 0o666) & 0o7777
                self.add("init", "mknod", f"mknod {dev['path']} {dev['type']} "
                         f"{dev.get('major', 0)}:{dev.get('minor', 0)} mode {mode:04o} "
                         f"uid {dev.get('uid', 0)} gid {dev.get('gid', 0)}", field,
                         path=dev["path"])
        if not dev_is_bound:
            links = ", ".join(f"{link} -> {target}" for target, link in devices.SYMLINKS)
            self.add("init", "symlink", f"symlinks in /dev: {links}, /dev/ptmx -> pts/ptmx",
                     "(defaults)")

    def _idmapped_mounts(self):
        """idmap.py: the parent makes each id-mapped mount, detached, before any namespace."""
        from pyrunc import idmap
        for item in idmap.plan(self.config):
            m = self.config["mounts"][item.index]
            self.idmapped[item.index] = item
            if item.userns_path:
                mapping = f"the user namespace {item.userns_path} (the container's)"
            else:
                mapping = "a user namespace made for it (a helper, reaped at once) with " + \
                    "uid map " + ", ".join(f"{x['containerID']}-{x['hostID']}-{x['size']}"
                                           for x in item.uid_maps)
            made = f"clone {m.get('source')} (open_tree)" if item.kind == "bind" else \
                "make a tmpfs (fsopen, fsmount)"
            self.add("parent", "idmap", f"{made} for {m.get('destination')} and id-map it "
                     f"({item.option}{', recursively' if item.recursive else ''}) through "
                     f"{mapping}", f"mounts[{item.index}]")

    def _config_mount(self, i, m):
        field = f"mounts[{i}]"
        opts = parse_options(m.get("options") or [])
        kind = m.get("type") or ""
        destination = m.get("destination", "")
        source = m.get("source")
        if kind == "cgroup":
            self._cgroup_mount(field, destination, opts)
            self._recursive(field, destination, m)
            return
        if i in self.idmapped:
            self.add("init", "attach", f"attach the id-mapped {self.idmapped[i].kind} the "
                     f"parent made at {destination} (move_mount)", field)
            if opts.flags & REMOUNT_FLAGS:
                self._remount(field, destination, opts.flags & REMOUNT_FLAGS)
        elif opts.is_bind or kind == "bind":
            if source and not source.startswith("/"):
                source = os.path.join(self.bundle, source)
            flags = MS_BIND | (opts.flags & MS_REC)
            self._mount("init", f"bind {source} on {destination} ({flag_names(flags)})", field,
                        source, destination, None, flags)
            if opts.flags & REMOUNT_FLAGS:
                self._remount(field, destination, opts.flags & REMOUNT_FLAGS)
        else:
            flags = opts.flags & ~MS_REC
            data = f", data {opts.data!r}" if opts.data else ""
            self._mount("init", f"mount {source or kind} on {destination} type {kind} "
                        f"({flag_names(flags) or 'no flags'}{data})"
                        + (", tmpcopyup" if "tmpcopyup" in opts.extras else ""), field,
                        source or kind, destination, kind, flags, opts.data)
        for flag in opts.propagation:
            self._mount("init", f"make {destination} {flag_names(flag)}", field, None,
                        destination, None, flag)
        self._recursive(field, destination, m)

    def _recursive(self, field, destination, m):
        from pyrunc.mountopts import RECURSIVE
        words = [o for o in m.get("options") or [] if o in RECURSIVE]
        if words:
            self.add("init", "mount_setattr", f"{', '.join(words)}: on {destination} and every "
                     "mount under it (mount_setattr, AT_RECURSIVE)", field)

    def _remount(self, field, target, flags):
        from pyrunc.mountopts import MS_REMOUNT
        self._mount("init", f"remount {target} ({flag_names(flags)}; the flags a user "
                    "namespace locks are kept)", field, None, target, None,
                    MS_BIND | MS_REMOUNT | flags)

    def _cgroup_mount(self, field, destination, opts):
        from pyrunc import cgroups
        hierarchies = self.host if self.host is not None else cgroups.hierarchies()
        readonly = 0 if opts.cleared & MS_RDONLY else MS_RDONLY
        flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | readonly
        if len(hierarchies) == 1 and hierarchies[0].fstype == "cgroup2":
            self._mount("init", f"bind the container's own cgroup on {destination}", field,
                        "(its cgroup)", destination, None, MS_BIND)
            self._remount(field, destination, flags)
            return
        self._mount("init", f"mount tmpfs on {destination} (a view of the container's own "
                    "cgroups)", field, "tmpfs", destination, "tmpfs",
                    MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755")
        for h in hierarchies:
            target = f"{destination}/{os.path.basename(h.mountpoint)}"
            self._mount("init", f"bind the container's {h.key or 'unified'} cgroup on {target}",
                        field, "(its cgroup)", target, None, MS_BIND)
            self._remount(field, target, flags)
        if readonly:
            self._remount(field, destination, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)

    def _pivot(self):
        if "mount" not in self.namespaces:
            self.add("init", "chroot", f"chroot into {self.rootfs} (no mount namespace of its "
                     "own: pivot_root would change the host's)", "linux.namespaces")
        else:
            self.add("init", "pivot_root", f"pivot_root into {self.rootfs}, then detach the "
                     "old root", "root.path")
            self._mount("init", "make the old root slave,rec (its detach must not reach the "
                        "host)", "", None, ".", None, MS_SLAVE | MS_REC)

    def _uts_and_sysctl(self):
        for key in ("hostname", "domainname"):
            if self.config.get(key):
                self.add("init", f"set{key}", f"set{key}({self.config[key]!r})", key)
        for key, value in (self.linux.get("sysctl") or {}).items():
            self.add("init", "sysctl", f"write {value!r} to /proc/sys/{key.replace('.', '/')}",
                     f"linux.sysctl.{key}")

    def _finish_rootfs(self):
        if (self.config.get("root") or {}).get("readonly"):
            self._remount("root.readonly", "/", MS_RDONLY)
        for i, path in enumerate(self.linux.get("readonlyPaths") or []):
            if not os.path.lexists(self._host_view(path)):
                self.add("init", "note", f"read-only {path}: absent here, nothing to do",
                         f"linux.readonlyPaths[{i}]")
                continue
            self._mount("init", f"read-only: bind {path} on itself", f"linux.readonlyPaths[{i}]",
                        path, path, None, MS_BIND | MS_REC)
            self._remount(f"linux.readonlyPaths[{i}]", path, MS_RDONLY)
        for i, path in enumerate(self.linux.get("maskedPaths") or []):
            if not os.path.lexists(self._host_view(path)):
                self.add("init", "note", f"mask {path}: absent here, nothing to mask",
                         f"linux.maskedPaths[{i}]")
            elif os.path.isdir(self._host_view(path)):
                self._mount("init", f"mask {path}: an empty read-only tmpfs",
                            f"linux.maskedPaths[{i}]", "tmpfs", path, "tmpfs", MS_RDONLY)
            else:
                self._mount("init", f"mask {path}: bind /dev/null over it",
                            f"linux.maskedPaths[{i}]", "/dev/null", path, None, MS_BIND)
        propagation = self.linux.get("rootfsPropagation")
        if propagation:
            self._mount("init", f"make / {propagation}", "linux.rootfsPropagation", None, "/",
                        None, PROPAGATION[propagation])

    def _host_view(self, path):
        """Where a path of the container can be looked at from here: /proc and /sys are the
        kernel's (the host's answer is the container's), the rest is the rootfs's."""
        if path.startswith(("/proc/", "/sys/")):
            return path
        return self.rootfs + path

    # -- the process -----------------------------------------------------------------------------

    def _process(self):
        p = self.process
        for i, rl in enumerate(p.get("rlimits") or []):
            self.add("init", "setrlimit", f"setrlimit({rl.get('type')}, soft {rl.get('soft')}, "
                     f"hard {rl.get('hard')})", f"process.rlimits[{i}]", kind=rl.get("type"))
        if p.get("oomScoreAdj") is not None:
            self.add("init", "oom_score_adj", f"write {p['oomScoreAdj']} to "
                     "/proc/self/oom_score_adj", "process.oomScoreAdj")
        for key in ("ioPriority", "scheduler"):
            if p.get(key):
                self.add("init", key, f"{key}: {p[key]}", f"process.{key}")
        if self.linux.get("personality"):
            self.add("init", "personality", f"personality({self.linux['personality']})",
                     "linux.personality")
        user = p.get("user") or {}
        self.add("init", "umask", f"umask {user.get('umask', 0o022):04o}", "process.user.umask")
        self.add("init", "chdir", f"chdir {p.get('cwd', '/')}", "process.cwd")
        caps = p.get("capabilities") or {}
        bounding = caps.get("bounding") or []
        self.add("init", "bounding", "drop from the bounding set every capability but: "
                 + (", ".join(bounding) or "(none)"), "process.capabilities.bounding")
        groups = list(dict.fromkeys(user.get("additionalGids") or []))
        self.add("init", "user", f"setgroups({groups}), setresgid({user.get('gid', 0)}), "
                 f"setresuid({user.get('uid', 0)}) with keep-caps", "process.user",
                 uid=user.get("uid", 0), gid=user.get("gid", 0))
        nnp = bool(p.get("noNewPrivileges"))
        if nnp:
            self.add("init", "no_new_privs", "prctl(PR_SET_NO_NEW_PRIVS, 1)",
                     "process.noNewPrivileges")
        args = p.get("args") or ["?"]
        self.add("init", "executable", f"find {args[0]!r} on the container's PATH, as the "
                 "user; refuse the runtime's own binary and /proc magic links", "process.args")
        seccomp = self.linux.get("seccomp")
        if seccomp and not nnp:
            self.add("init", "seccomp", "load the seccomp filter now (no no_new_privs: needs "
                     "CAP_SYS_ADMIN, raised for this one call)", "linux.seccomp")
        self.add("init", "capset", "capset: " + "; ".join(
            f"{key} {', '.join(caps.get(key) or []) or '(none)'}"
            for key in ("effective", "permitted", "inheritable")), "process.capabilities")
        if caps.get("ambient"):
            self.add("init", "ambient", "raise ambient: " + ", ".join(caps["ambient"]),
                     "process.capabilities.ambient")

    def _exec(self):
        p = self.process
        nnp = bool(p.get("noNewPrivileges"))
        if self.linux.get("seccomp") and nnp:
            self.add("start", "seccomp", "load the seccomp filter, the last thing before execve",
                     "linux.seccomp")
        args = p.get("args") or []
        self.add("start", "execve", f"execve {args!r}", "process.args", args=args)

    def _hooks(self, who, kind, where):
        for i, hook in enumerate((self.config.get("hooks") or {}).get(kind) or []):
            from pyrunc.hooks import timeout_of
            self.add(who, "hook", f"{kind} hook {hook.get('path')} {hook.get('args') or []} "
                     f"({where}; timeout {timeout_of(hook)} s)", f"hooks.{kind}[{i}]",
                     kind=kind, path=hook.get("path"))


def _read(path):
    try:
        with open(path) as f:
            return f.read().rstrip("\n")
    except OSError:
        return ""


def _clone_name(kind):
    return {"mount": "CLONE_NEWNS", "network": "CLONE_NEWNET"}.get(kind, f"CLONE_NEW{kind.upper()}")


# -- summaries beside the steps ------------------------------------------------------------------

def summary(config):
    """The settings a person checks at a glance: capabilities, rlimits, user, seccomp, hooks."""
    process = config.get("process") or {}
    caps = process.get("capabilities") or {}
    linux = config.get("linux") or {}
    out = {
        "capabilities": {key: list(caps.get(key) or []) for key in names.CAP_SETS},
        "rlimits": [f"{r.get('type')} soft {r.get('soft')} hard {r.get('hard')}"
                    for r in process.get("rlimits") or []],
        "user": {k: (process.get("user") or {}).get(k) for k in ("uid", "gid", "additionalGids",
                                                                 "umask")},
        "noNewPrivileges": bool(process.get("noNewPrivileges")),
        "hooks": {kind: [h.get("path") for h in hooks]
                  for kind, hooks in (config.get("hooks") or {}).items() if hooks},
    }
    seccomp = linux.get("seccomp")
    if seccomp:
        counts = {}
        for rule in seccomp.get("syscalls") or []:
            action = rule.get("action", "?")
            counts[action] = counts.get(action, 0) + len(rule.get("names") or [])
        out["seccomp"] = {
            "defaultAction": seccomp.get("defaultAction"),
            "syscalls by action": counts,
            "architectures": seccomp.get("architectures") or [],
            "flags": seccomp.get("flags") or [],
            "denied at libc start-up": [f"{n} ({a})" for n, a in
                                        configlint.seccomp_denied_at_startup(seccomp)],
        }
        denied = configlint.seccomp_denied_vs_default(seccomp)
        if denied is not None:
            out["seccomp"][f"denied that {configlint.DEFAULT_PROFILE} allows"] = denied
    return out


def explain_config(config, bundle, container_id="<id>", host=None, rootless=None,
                   cgroups_made=None):
    """The whole answer for a config: steps, summary, warnings (a plain dict). host: the
    cgroup hierarchies to plan for (default: this host's); rootless: default, when not root."""
    return {
        "bundle": bundle,
        "id": container_id,
        "warnings": configlint.warnings(config),
        "summary": summary(config),
        "steps": Planner(config, bundle, container_id, host, rootless, cgroups_made).build(),
    }


def explain_bundle(bundle, container_id="<id>"):
    """Load and validate the bundle's config as create does (a config create would refuse is
    refused here with the same error), then explain it. The warnings are about the config as
    written (validation drops null members), once it is known to be well-formed."""
    import copy

    from pyrunc import config as config_mod
    bundle = os.path.abspath(bundle)
    config = config_mod.load_bundle_config(bundle)
    as_written = copy.deepcopy(config)
    config_mod.validate(config, bundle)
    result = explain_config(config, bundle, container_id)
    result["warnings"] = configlint.warnings(as_written)
    return result


# -- the plan beside the trace ------------------------------------------------------------------

# plan op -> trace op, for the primitives both name with the same arguments.
MATCHED_OPS = {"mount": "mount", "unshare": "unshare", "setns": "setns", "mknod": "mknod",
               "cgroup-write": "cgroup-write", "cgroup-device-program": "cgroup-device-program",
               "cgroup-mkdir": "mkdir", "cgroup-join":
               "cgroup-join", "pivot_root": "pivot_root", "chroot": "chroot",
               "sethostname": "sethostname", "setdomainname": "setdomainname",
               "setrlimit": "setrlimit", "seccomp": "seccomp", "execve": "execve"}


def _key(op, d):
    if op == "mount":
        return (d.get("target"), d.get("fstype") or "")
    if op in ("mknod", "mkdir", "cgroup-mkdir", "cgroup-device-program"):
        return d.get("path")
    if op == "cgroup-write":
        return (d.get("path"), d.get("value"))
    if op in ("unshare",):
        return d.get("flags")
    if op in ("setns", "setrlimit"):
        return d.get("kind")
    if op == "execve":
        return tuple(d.get("args") or ())
    return None


def match(steps, events):
    """Hold the plan beside the trace: each step of MATCHED_OPS gets the traced events that
    did it (step["traced"]), taken in order (for a mount, the traced flags must hold the
    planned ones: a remount adds the flags the kernel locks). Returns the traced events of
    those ops that no step planned."""
    used = set()
    for step in steps:
        op = MATCHED_OPS.get(step["op"])
        if op is None:
            continue
        key = _key(step["op"], step)
        for i, event in enumerate(events):
            if i in used or event.get("op") != op or _key(op, event) != key:
                continue
            if op == "mount" and step.get("flags", 0) & ~event.get("flags", 0):
                continue
            used.add(i)
            step["traced"] = [event]
            break
    # mkdir also makes mount points and the state dir, and which controllers a v2 parent
    # still has to offer its children depends on what others enabled: details, not the plan's.
    wanted = set(MATCHED_OPS.values()) - {"mkdir"}
    return [e for i, e in enumerate(events) if i not in used and e.get("op") in wanted
            and not str(e.get("path", "")).endswith("/cgroup.subtree_control")]


def describe_event(event):
    args = {k: v for k, v in event.items() if k not in ("op", "pid", "who", "result", "us")}
    if event.get("op") == "mount":
        args["flags"] = flag_names(args.get("flags") or 0)
    return f"{event.get('who')} {event.get('pid')}: {event.get('op')} {args} -> " \
           f"{event.get('result')} ({event.get('us', 0)} us)"


def explain_container(root, container_id):
    """An existing container (its plan, state and, once its init is gone, how it ended) and
    the post-mortems of failed verbs on that id; an id with only post-mortems (a create that
    failed, so no container) shows those."""
    from pyrunc import exitrecord, postmortem, state as state_mod
    from pyrunc.errors import PyruncError
    st = state_mod.ContainerState(root, container_id)
    postmortems = postmortem.for_id(root, container_id)
    if not os.path.isdir(st.dir):
        if not postmortems:
            raise PyruncError(f"no container {container_id!r} under {root}, and no "
                              "post-mortem of one")
        return {"id": container_id, "postmortems": postmortems}
    st.load()
    oci = st.oci_state()
    result = explain_config(st.data.get("config") or {}, st.data.get("bundle", ""), container_id,
                            rootless=not st.data.get("cgroup_paths"),
                            cgroups_made=st.data.get("cgroups_created"))
    result["container"] = oci
    if oci["status"] == state_mod.STOPPED:
        result["exit"] = exitrecord.load(st.dir) or {}
    result["postmortems"] = postmortems
    if st.data.get("trace"):
        from pyrunc import trace
        events = trace.read(st.data["trace"])
        result["trace_file"] = st.data["trace"]
        result["trace_unmatched"] = [describe_event(e) for e in match(result["steps"], events)]
    return result


# -- rendering -----------------------------------------------------------------------------------

def render(result):
    """Text for people: warnings, the steps grouped by process, the summary; then whatever the
    result also holds (state, exit record, post-mortems, trace)."""
    lines = []
    if result.get("container"):
        c = result["container"]
        lines.append(f"container {c.get('id')}: {c.get('status')} (pid {c.get('pid')}), bundle "
                     f"{c.get('bundle')}")
    if result.get("exit"):
        lines.append("exit: " + describe_exit(result["exit"]))
    for pm in result.get("postmortems") or []:
        lines.append(f"post-mortem {pm.get('time')}: `{pm.get('verb')}` failed"
                     + (f" at {pm['step']}" if pm.get("step") else "")
                     + (f" (errno {pm['errno']})" if pm.get("errno") else "")
                     + (f", field {pm['field']}" if pm.get("field") else ""))
        lines.append(f"  {pm.get('message')}")
        for t in pm.get("trace") or []:
            lines.append(f"  trace: {t}")
        if pm.get("checkpoints"):
            lines.append(f"  the parent had reached: {', '.join(pm['checkpoints'])}")
    if result.get("warnings"):
        lines.append("warnings:")
        lines += [f"  {w['field']}: {w['message']}" for w in result["warnings"]]
    steps = result.get("steps") or []
    if steps:
        lines.append("plan (in the order it happens):")
    who = None
    for step in steps:
        if step["who"] != who:
            who = step["who"]
            lines.append(f"  {WHO_TITLES.get(who, who)}:")
        field = f"   [{step['field']}]" if step.get("field") else ""
        lines.append(f"    {step['text']}{field}")
        for event in step.get("traced") or []:
            lines.append(f"      did: {describe_event(event)}")
    s = result.get("summary")
    if s:
        lines.append("process:")
        for key in names.CAP_SETS:
            lines.append(f"  {key}: {', '.join(s['capabilities'][key]) or '(none)'}")
        lines.append(f"  user: {s['user']}, noNewPrivileges: {s['noNewPrivileges']}")
        lines.append(f"  rlimits: {'; '.join(s['rlimits']) or '(none)'}")
        if s.get("hooks"):
            lines.append(f"  hooks: {s['hooks']}")
        if s.get("seccomp"):
            for key, value in s["seccomp"].items():
                lines.append(f"  seccomp {key}: {value}")
    if result.get("trace_unmatched"):
        lines.append("traced, not in the plan:")
        lines += [f"  {t}" for t in result["trace_unmatched"]]
    return "\n".join(lines) + "\n"


def describe_exit(record):
    """One line from an exit record (exitrecord.py)."""
    parts = []
    if record.get("signal"):
        parts.append(f"killed by {record.get('signalName') or record['signal']}")
    elif record.get("exitStatus") is not None:
        parts.append(f"exited with status {record['exitStatus']}")
    else:
        parts.append("exited (status not seen: its reaper collected it first)")
    if record.get("oomKilled"):
        parts.append("by the OOM killer (memory limit)")
    return " ".join(parts)
