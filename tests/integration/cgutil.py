"""Reading a running container's cgroup files from outside, on any layout: where a process's
cgroup is in each hierarchy (from /proc/<pid>/cgroup and mountinfo), and which file a setting
lives in on v1 and on v2."""
import os

from pyrunc.cgroups.layout import UNIFIED, hierarchies


def cgroup_of(pid, controller):
    """(directory, version) holding `controller` for pid: its v1 hierarchy, or the unified one
    when the controller is enabled there."""
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
            if controller in f.read().split() or controller == "cgroup":
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
