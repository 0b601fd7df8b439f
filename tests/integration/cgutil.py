"""Reading a running container's cgroup files from outside, on any layout: where a process's
cgroup is in each hierarchy (from /proc/<pid>/cgroup and mountinfo), and which file a setting
lives in on v1 and on v2."""
import os

from pyrunc.cgroups.layout import UNIFIED, hierarchies

# v1 subsystems whose v2 controller has another name.
V2_NAMES = {"blkio": "io"}
# What every v2 cgroup has without a controller (cgroup.procs, cgroup.freeze...).
V2_CORE = {"cgroup", "freezer"}


def cgroup_of(pid, controller):
    """(directory, version) holding `controller` (its v1 name) for pid: its v1 hierarchy, or
    the unified one when the controller is enabled there."""
    mounts = {h.key: h.mountpoint for h in hierarchies()}
    unified = None
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _num, controllers, path = line.rstrip("\n").split(":", 2)
            if controllers and controller in controllers.split(","):
                return mounts[controllers] + path, 1
            if controllers == "" and UNIFIED in mounts:
                unified = mounts[UNIFIED] + path.rstrip("/")
    if unified is not None:
        with open(os.path.join(unified, "cgroup.controllers")) as f:
            if V2_NAMES.get(controller, controller) in f.read().split() or controller in V2_CORE:
                return unified, 2
    raise AssertionError(f"no {controller} cgroup for pid {pid}")


def is_v2(controller="memory"):
    """Whether this host keeps the controller on cgroup v2."""
    return not any(controller in h.controllers for h in hierarchies())


def read(pid, controller, v1_file, v2_file):
    directory, version = cgroup_of(pid, controller)
    with open(os.path.join(directory, v1_file if version == 1 else v2_file)) as f:
        return f.read().strip()


def all_cgroup_dirs(pid):
    """Every directory pid's cgroups are in (one per hierarchy)."""
    mounts = {h.key: h.mountpoint for h in hierarchies()}
    found = []
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _num, controllers, path = line.rstrip("\n").split(":", 2)
            if controllers in mounts:
                found.append(mounts[controllers] + path.rstrip("/"))
    return found


def whole_disk():
    """"major:minor" of a real whole disk, for blkio throttles (the kernel refuses them on
    partitions and on devices without a request queue): the root file system's disk, else the
    first disk that is not virtual (the v2 guest's root is 9p; scripts/vm-v2 gives it a scratch
    disk)."""
    dev = os.stat("/").st_dev
    if os.major(dev) != 0:
        sysfs = os.path.realpath(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}")
        if os.path.exists(os.path.join(sysfs, "partition")):
            sysfs = os.path.dirname(sysfs)
        with open(os.path.join(sysfs, "dev")) as f:
            return f.read().strip()
    for name in sorted(os.listdir("/sys/block")):
        sysfs = os.path.realpath(f"/sys/block/{name}")
        if "/virtual/" not in sysfs:
            with open(os.path.join(sysfs, "dev")) as f:
                return f.read().strip()
    raise AssertionError("no real block device on this machine for the blkio tests")
