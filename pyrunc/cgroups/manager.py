"""One container's cgroups, whatever the host's layout: the single interface the lifecycle code
calls (plan, check, create, apply/update, join, freeze/thaw, stats, pids, destroy).

Each controller module knows its own v1 and v2 files and returns the writes a config asks for;
this module finds where each controller lives on this host (a v1 hierarchy, or the unified one
when it is enabled there), does the writes, and owns the directories' life.
"""
import errno
import os
import time
from _signal import SIGKILL

from pyrunc import log
from pyrunc.cgroups import layout
from pyrunc.cgroups.files import CgroupDir, CgroupError, PlannedDir

# How often create() walks a path again after a parent vanished under it (see _make).
CREATE_ATTEMPTS = 5
# Where the parent cgroups pyrunc made are marked (parents.py); read here so that a delete with
# nothing marked does not import that module.
PARENT_MARKS = "/run/pyrunc-cgroups"
# planned_writes' name for the v2 device filter, which is a program rather than a file.
DEVICE_PROGRAM = "(eBPF device program)"
# v1 hierarchies whose controllers limit nothing a process does (accounting, tagging) and
# named ones ("name=systemd"): a process of ours may sit in the container's cgroup there for a
# moment without any effect on it. Not the freezer: `exec --ignore-paused` runs in a frozen one.
NEUTRAL_V1 = {"cpuacct", "perf_event", "net_cls", "net_prio"}


# (module, v1 subsystem, v2 controller, the member of linux.resources it reads) in the order
# their files are written: cpuset first (a v1 cpuset takes no task without cpus and mems),
# memory before the rest.
_CONTROLLERS = (("cpuset", "cpuset", "cpuset", "cpu"), ("memory", "memory", "memory", "memory"),
                ("cpu", "cpu", "cpu", "cpu"), ("pids", "pids", "pids", "pids"),
                ("blkio", "blkio", "io", "blockIO"),
                ("hugetlb", "hugetlb", "hugetlb", "hugepageLimits"),
                ("network.NetCls", "net_cls", None, "network"),
                ("network.NetPrio", "net_prio", None, "network"), ("rdma", "rdma", "rdma", "rdma"))


def _controllers(resources):
    """(module, v1 subsystem, v2 controller) of the controllers resources has a member for:
    one without would write nothing (values.section reads a missing member as empty), and is
    not even imported (most configs set two or three; create checks and applies them)."""
    out = []
    for name, v1_name, v2_name, member in _CONTROLLERS:
        if resources.get(member) is not None:
            module_name, _, attribute = name.partition(".")
            module = __import__("pyrunc.cgroups." + module_name, fromlist=["writes"])
            out.append((getattr(module, attribute) if attribute else module, v1_name, v2_name))
    return out


class ContainerCgroup:
    """The container's cgroup directories, {hierarchy key: path} (see layout.py)."""

    def __init__(self, paths):
        self.paths = dict(paths)

    @classmethod
    def plan(cls, cgroups_path, container_id):
        return cls(layout.container_paths(cgroups_path, container_id))

    # -- where things are ------------------------------------------------------------------------

    @property
    def unified(self):
        return self.paths.get(layout.UNIFIED)

    @property
    def pure_v2(self):
        return list(self.paths) == [layout.UNIFIED]

    def _v1(self, subsystem):
        for key, path in self.paths.items():
            if key and subsystem in key.split(","):
                return path
        return None

    def v2_available(self):
        """The v2 controllers the container's cgroup has or will have. We enable controllers
        only in parents we made, or on a pure v2 host (as runc does); on a hybrid host the
        unified hierarchy's existing parents are not ours to change."""
        if self.unified is None:
            return set()
        d = self.unified
        if os.path.isdir(d):
            return set(CgroupDir(d, 2).read("cgroup.controllers").split())
        while not os.path.isdir(d):
            d = os.path.dirname(d)
        name = "cgroup.controllers" if self.pure_v2 else "cgroup.subtree_control"
        return set((CgroupDir(d, 2).read(name) or "").split())

    def locate(self, v1_name, v2_name, available=None):
        """The directory that carries a controller here, or None."""
        path = self._v1(v1_name)
        if path:
            return CgroupDir(path, 1)
        if v2_name and v2_name in (available if available is not None else self.v2_available()):
            return CgroupDir(self.unified, 2)
        return None

    # -- resources -------------------------------------------------------------------------------

    def _writes(self, resources, planned, updating=False):
        """[(dir, file, value, field)] for every field of resources; checks every value."""
        available = self.v2_available()
        out = []
        for module, v1_name, v2_name in _controllers(resources):
            d = self.locate(v1_name, v2_name, available)
            if d is None:
                probe = PlannedDir(2 if self.pure_v2 else 1)
                wanted = [w for w in module.writes(resources, probe) if w[1] not in ("max", "-1")]
                if wanted:
                    raise CgroupError(wanted[0][2], f"the {v1_name} controller is not available "
                                      "on this host")
                continue
            if planned:
                d = PlannedDir(d.version, d.path)
            out += [(d, name, value, field)
                    for name, value, field in module.writes(resources, d, updating)]
        if resources.get("unified") is not None:
            from pyrunc.cgroups import unified
            v2_dir = PlannedDir(2, self.unified) if planned else CgroupDir(self.unified, 2)
            out += [(v2_dir, name, value, field)
                    for name, value, field in unified.writes(resources, available,
                                                             self.unified is not None)]
        return out

    def check(self, resources, linux_devices=()):
        """Check a config's resources before anything is made."""
        self._writes(resources, planned=True)
        self._device_rules(resources, linux_devices)
        frozen = self.frozen_existing()
        if frozen:
            # runc refuses it too: the init would be stopped by the freezer the moment it
            # joined, and create would wait for it.
            raise CgroupError("linux.cgroupsPath", f"cgroup {frozen} is frozen: the container's "
                              "init cannot run in it (thaw it, or name another cgroup)")

    def frozen_existing(self):
        """The first of the container's cgroups, or the nearest existing parent of one not made
        yet (a child is born frozen under a frozen parent), that is frozen or freezing; None."""
        for key, path in self.paths.items():
            v1 = key != layout.UNIFIED
            if v1 and "freezer" not in key.split(","):
                continue
            d = path
            while not os.path.isdir(d):
                d = os.path.dirname(d)
            cg = CgroupDir(d, 1 if v1 else 2)
            if v1:
                # The v1 state includes the parents' (FROZEN when an ancestor is); the root
                # has no freezer.state.
                if cg.read("freezer.state") in ("FROZEN", "FREEZING"):
                    return d
            elif cg.read("cgroup.freeze") == "1" or cg.read_keyed("cgroup.events").get("frozen"):
                return d
        return None

    def apply(self, resources, linux_devices=(), updating=False, previous=None):
        """Write every field of resources; devices always (the default allow-list applies to
        every container), unless updating without device rules. previous: the resources in
        force, so that an update changes only the device rules that differ."""
        for d, name, value, field in self._writes(resources, planned=False, updating=updating):
            d.write(name, value, field)
        if not updating or "devices" in resources:
            current = (self._device_rules(previous, linux_devices)
                       if updating and previous is not None else None)
            self._apply_devices(self._device_rules(resources, linux_devices), current)

    def _device_rules(self, resources, linux_devices):
        from pyrunc.cgroups import device_rules
        return device_rules.effective_rules(resources.get("devices"), linux_devices)

    def _apply_devices(self, rules, current=None):
        path = self._v1("devices")
        if path:
            from pyrunc.cgroups import device_rules
            d = CgroupDir(path, 1)
            for name, line in device_rules.v1_writes(rules, current):
                d.write(name, line, "linux.resources.devices")
        elif self.unified is not None and self.pure_v2:
            from pyrunc.cgroups import device_filter
            device_filter.install(self.unified, rules)
        else:
            log.debug("no devices controller on this host: device rules not applied")

    def planned_writes(self, resources, linux_devices=()):
        """What create's apply() will write, computed from the same lists without touching
        anything: [(directory, file, value, field)] in order. On a pure v2 host the device
        rules become one eBPF program, listed as one entry. For `pyrunc explain`."""
        out = [(d.path, name, value, field)
               for d, name, value, field in self._writes(resources, planned=True)]
        rules = self._device_rules(resources, linux_devices)
        field = "linux.resources.devices"
        if self._v1("devices"):
            from pyrunc.cgroups import device_rules
            out += [(self._v1("devices"), name, line, field)
                    for name, line in device_rules.v1_writes(rules)]
        elif self.unified is not None and self.pure_v2:
            out.append((self.unified, DEVICE_PROGRAM, len(rules), field))
        return out

    # -- directories and membership --------------------------------------------------------------

    def missing(self):
        """The container's own directories that do not exist yet: what create() will make
        (recorded before it runs, so that a pyrunc killed while making them is cleaned up)."""
        return [d for d in self.paths.values() if not os.path.isdir(d)]

    def create(self):
        """Make the directories (and missing parents); return the ones made, which are the
        only ones destroy() ever removes (with the parents other containers made, parents.py)."""
        created = []
        try:
            for key, directory in self.paths.items():
                self._make(key, directory, created)
        except OSError as e:
            destroy(created)
            raise CgroupError("linux.cgroupsPath", f"cannot create {e.filename}: {e.strerror}") \
                from None
        except BaseException:
            destroy(created)
            raise
        return created

    def _make(self, key, directory, created):
        """Make one hierarchy's directory and its missing parents, adding what was made to
        created. A parent that another container made is removed by that container's delete
        once it is empty, which may happen between our look and our mkdir below it (ENOENT):
        then the walk starts again from what is left."""
        for attempt in range(CREATE_ATTEMPTS):
            missing = []
            d = directory
            while not os.path.isdir(d):
                missing.append(d)
                d = os.path.dirname(d)
            try:
                for d in reversed(missing):
                    try:
                        if d == directory:
                            os.mkdir(d, 0o755)
                        else:  # a parent: shared with later containers (parents.py)
                            from pyrunc.cgroups import parents
                            parents.make(d)
                        created.append(d)
                    except FileExistsError:
                        pass
                    parent = os.path.dirname(d)
                    if key == layout.UNIFIED and (self.pure_v2 or parent in created):
                        _enable_controllers(parent)
                    elif "cpuset" in key.split(","):
                        _inherit_cpuset(d, parent)
                return
            except FileNotFoundError:
                if attempt == CREATE_ATTEMPTS - 1:
                    raise

    def start_first_migration(self):
        """Fork a process that moves itself into one of the container's cgroups where that
        changes nothing (NEUTRAL_V1) and exits; returns its pid (for spawn.reap) or None.

        Why: the kernel's first migration of a burst waits out an RCU grace period (5 to 20 ms
        here; the cgroups share one lock, whose writers switch it to its slow mode), and the
        ones that follow within about a grace period take 0.1 ms. Paid by this helper, the
        wait overlaps the rest of the setup instead of holding up the one migration that
        matters, join() of the container's process. Not on a pure v2 host: there the only
        cgroup is the container's limited one."""
        neutral = [d for key, d in self.paths.items()
                   if key and all(c in NEUTRAL_V1 or c.startswith("name=")
                                  for c in key.split(","))]
        if not neutral or not os.path.isdir(neutral[0]):
            return None
        procs = os.path.join(neutral[0], "cgroup.procs")
        pid = os.fork()
        if pid == 0:
            try:
                fd = os.open(procs, os.O_WRONLY | os.O_CLOEXEC)
                os.write(fd, b"0")  # "0": the writer itself
            finally:
                os._exit(0)
        return pid

    def join(self, pid):
        for directory in self.paths.values():
            try:
                with open(os.path.join(directory, "cgroup.procs"), "w") as f:
                    f.write(str(pid))
            except OSError as e:
                raise CgroupError("", f"cannot move {pid} into {directory}: {e.strerror}") \
                    from None

    def pids(self):
        """Every pid in the container's cgroups and in the cgroups made below them (the union
        over hierarchies), as runc counts them for ps and kill --all."""
        found = set()
        for directory in self.paths.values():
            for path in _subtree(directory):
                try:
                    with open(os.path.join(path, "cgroup.procs")) as f:
                        found.update(int(line) for line in f if line.strip())
                except OSError:
                    continue
        return sorted(found)

    # -- freezer ---------------------------------------------------------------------------------

    def _freezer(self):
        from pyrunc.cgroups import freezer
        return freezer.freezer_of(self.paths)

    def set_frozen(self, frozen, timeout=10.0):
        """Freeze or thaw, waiting at most timeout seconds for the kernel to finish."""
        from pyrunc.cgroups import freezer
        d = self._freezer()
        if d is None:
            raise CgroupError("", "no freezer on this host (neither the v1 freezer controller "
                              "nor cgroup v2)")
        freezer.set_frozen(d, frozen, timeout)

    def frozen(self):
        from pyrunc.cgroups import freezer
        d = self._freezer()
        return d is not None and freezer.is_frozen(d)

    # -- statistics ------------------------------------------------------------------------------

    def stats(self):
        """The container's statistics in runc's `events --stats` shape."""
        from pyrunc.cgroups import blkio, cpu, cpuset, hugetlb, memory, pids
        available = self.v2_available()
        out = {}
        d = self.locate("cpu", "cpu", available) or self.locate("cpuacct", None, available)
        if d is not None:
            acct = self._v1("cpuacct")
            out["cpu"] = cpu.stats(d, CgroupDir(acct, 1) if acct else None)
        for key, module, v1_name, v2_name in (("cpuset", cpuset, "cpuset", "cpuset"),
                                              ("memory", memory, "memory", "memory"),
                                              ("pids", pids, "pids", "pids"),
                                              ("blkio", blkio, "blkio", "io"),
                                              ("hugetlb", hugetlb, "hugetlb", "hugetlb")):
            d = self.locate(v1_name, v2_name, available)
            if d is not None:
                out[key] = module.stats(d)
        from pyrunc.cgroups import psi
        for key, v1_name, v2_name, name in psi.FILES:
            d = self.locate(v1_name, v2_name, available)
            pressure = psi.read(d, name) if d is not None else None
            if pressure:
                out.setdefault(key, {})["psi"] = pressure
        return out

    def kill_all(self, sig):
        """SIGKILL every process of the container at once through cgroup.kill (Linux 5.14),
        frozen or not, none forking past it: on a pure v2 layout, as runc does. False when
        the caller must signal each pid instead (v1 and hybrid layouts, another signal, an
        older kernel)."""
        if sig != SIGKILL or not self.pure_v2 or not os.path.exists(
                os.path.join(self.unified, "cgroup.kill")):
            return False
        CgroupDir(self.unified, 2).write("cgroup.kill", "1", "")
        return True

    def oom_kills(self):
        from pyrunc.cgroups import memory
        d = self.locate("memory", "memory")
        return memory.oom_kills(d) if d is not None else 0


def _inherit_cpuset(directory, parent):
    """Copy a v1 cpuset's cpus and mems from its parent. A parent that another container made
    a moment ago may not have its own yet (it copies them right after its mkdir): such a
    pyrunc-made parent is filled here first, with the same values; one pyrunc did not make is
    left as it is."""
    from pyrunc.cgroups import cpuset
    p = CgroupDir(parent, 1)
    if p.exists("cpuset.cpus") and not all((p.read(n) or "").strip()
                                          for n in ("cpuset.cpus", "cpuset.mems")):
        from pyrunc.cgroups import parents
        if parents.is_marked(parent):
            _inherit_cpuset(parent, os.path.dirname(parent))
    cpuset.inherit(CgroupDir(directory, 1), p)


def _enable_controllers(parent):
    """Offer the parent's controllers to its children (cgroup.subtree_control), each one on
    its own so that one the kernel refuses (a threaded or busy parent) does not stop the rest."""
    d = CgroupDir(parent, 2)
    enabled = set((d.read("cgroup.subtree_control") or "").split())
    for controller in (d.read("cgroup.controllers") or "").split():
        if controller not in enabled:
            try:
                d.write("cgroup.subtree_control", "+" + controller, "")
            except CgroupError as e:
                log.debug(f"cgroup: {parent}: cannot enable {controller}: {e}")


class CgroupsLeftError(CgroupError):
    """Some of the container's own cgroups could not be removed (a process still in them)."""

    def __init__(self, left, timeout):
        self.left = list(left)
        super().__init__("", f"cgroup {', '.join(self.left)}: still in use after {timeout:g} s, "
                         "left in place")


def destroy(created, leaves=(), timeout=5.0):
    """Remove the directories we made, deepest first. The container's own cgroups (leaves)
    lose the child cgroups made inside them first (a container with a writable cgroup mount may
    make some), and are waited for until their last process has left; a parent another
    container still uses stays. Returns the CgroupsLeftError for the leaves (or their children)
    that could not be removed, None when all went; the caller reports it."""
    deadline = time.monotonic() + timeout
    left = []
    for d in sorted(created, key=lambda p: p.count("/"), reverse=True):
        if d not in leaves:
            continue  # a parent: below, once the leaves are gone
        for directory in _children_first(d):
            if not _rmdir(directory, deadline):
                left.append(directory)
                break
    # The parents this container made, and those other containers made above its cgroups:
    # whichever container leaves one empty removes it (parents.py).
    candidates = [d for d in created if d not in leaves]
    if candidates or _any_parent_marked():
        from pyrunc.cgroups import parents
        for leaf in leaves:
            candidates += parents.marked_ancestors(leaf)
        parents.release(candidates)
    return CgroupsLeftError(left, timeout) if left else None


def _any_parent_marked():
    try:
        return bool(os.listdir(PARENT_MARKS))
    except OSError:
        return False


def _children_first(directory):
    """directory's descendants, deepest first, then directory itself."""
    return _subtree(directory, topdown=False) or [directory]


def _subtree(directory, topdown=True):
    """directory and the cgroups below it ([] if it does not exist). cgroupfs (kernfs) keeps
    a directory's link count at 2 + its subdirectories: a cgroup without children, the usual
    case, takes one stat instead of a listing of its ~20 files (delete and ps walk each
    hierarchy of the container, kill --all twice)."""
    try:
        if os.stat(directory).st_nlink == 2:
            return [directory]
    except OSError:
        return []
    return [path for path, _dirs, _files in os.walk(directory, topdown=topdown)]


def _rmdir(directory, deadline):
    """rmdir; a busy cgroup is retried until deadline (None: not at all). True if it is gone."""
    while True:
        try:
            os.rmdir(directory)
            return True
        except FileNotFoundError:
            return True
        except OSError as e:
            if e.errno != errno.EBUSY or deadline is None or time.monotonic() > deadline:
                return False
            time.sleep(0.01)
