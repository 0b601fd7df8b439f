"""cgroups, foundation placeholder: find the host's hierarchies, make the container's cgroup in
each, put the init in it, list and remove it. linux.resources is not applied yet (the cgroups
issue brings the per-controller drivers); the caller logs that.

A container's cgroup paths are kept as {key: directory}, key being the hierarchy's controllers
joined by ',' on v1 ('memory', 'name=systemd') and '' for the unified (v2) hierarchy.
"""
import errno
import os
import time

from pyrunc.errors import PyruncError


class Hierarchy:
    __slots__ = ("mountpoint", "fstype", "key", "options")

    def __init__(self, mountpoint, fstype, key, options):
        self.mountpoint = mountpoint
        self.fstype = fstype
        self.key = key
        self.options = options


def hierarchies(mountinfo="/proc/self/mountinfo"):
    """The cgroup hierarchies mounted on this host, one entry per hierarchy."""
    found = {}
    with open(mountinfo) as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fstype, _source, super_opts = right.split()[:3]
            if fstype not in ("cgroup", "cgroup2"):
                continue
            mountpoint = left.split()[4].replace("\\040", " ")
            if fstype == "cgroup2":
                key = ""
                options = []
            else:
                options = [o for o in super_opts.split(",") if o not in ("rw", "ro")]
                key = ",".join(o for o in options if o not in ("xattr", "clone_children")
                               and not o.startswith("release_agent"))
            found.setdefault(key, Hierarchy(mountpoint, fstype, key, options))
    return list(found.values())


def own_cgroup(key, proc_cgroup="/proc/self/cgroup"):
    with open(proc_cgroup) as f:
        for line in f:
            _num, controllers, path = line.rstrip("\n").split(":", 2)
            if controllers == key:
                return path
    return "/"


def container_paths(cgroups_path, container_id):
    """{key: absolute directory} for the container's cgroup in every hierarchy, as runc reads
    cgroupsPath: absolute from each hierarchy's root, relative from our own cgroup, /<id>
    when absent."""
    path = cgroups_path or "/" + container_id
    paths = {}
    for h in hierarchies():
        inner = path if path.startswith("/") else os.path.join(own_cgroup(h.key), path)
        inner = os.path.normpath("/" + inner.strip("/"))
        if inner == "/":
            raise PyruncError("linux.cgroupsPath: refuses to use the root of a cgroup hierarchy")
        paths[h.key] = h.mountpoint + inner
    return paths


def create(paths):
    """Make the directories; return the ones created (only those are ever removed)."""
    created = []
    try:
        for directory in paths.values():
            missing = []
            d = directory
            while not os.path.isdir(d):
                missing.append(d)
                d = os.path.dirname(d)
            for d in reversed(missing):
                try:
                    os.mkdir(d, 0o755)
                    created.append(d)
                except FileExistsError:
                    pass
                _inherit_cpuset(d)
    except OSError as e:
        destroy(created, paths.values())
        raise PyruncError(f"cgroup: cannot create {e.filename}: {e.strerror}") from None
    return created


def _inherit_cpuset(directory):
    """A v1 cpuset cgroup refuses tasks until cpus and mems are set: copy the parent's."""
    for name in ("cpuset.cpus", "cpuset.mems"):
        path = os.path.join(directory, name)
        if not os.path.exists(path):
            return
        with open(path) as f:
            if f.read().strip():
                continue
        with open(os.path.join(os.path.dirname(directory), name)) as f:
            value = f.read().strip()
        with open(path, "w") as f:
            f.write(value)


def join(paths, pid):
    for directory in paths.values():
        try:
            with open(os.path.join(directory, "cgroup.procs"), "w") as f:
                f.write(str(pid))
        except OSError as e:
            raise PyruncError(f"cgroup: cannot join {directory}: {e.strerror}") from None


def pids(paths):
    """Every pid in the container's cgroups (the union over hierarchies)."""
    found = set()
    for directory in paths.values():
        try:
            with open(os.path.join(directory, "cgroup.procs")) as f:
                found.update(int(line) for line in f if line.strip())
        except OSError:
            continue
    return sorted(found)


def destroy(created, leaves=(), timeout=5.0):
    """Remove the directories we created, deepest first. Only the container's own cgroups
    (leaves) are waited for until their last process leaves; a parent still used by another
    container stays."""
    deadline = time.monotonic() + timeout
    for d in sorted(created, key=lambda p: p.count("/"), reverse=True):
        while True:
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError as e:
                if e.errno != errno.EBUSY or d not in leaves or time.monotonic() > deadline:
                    break
                time.sleep(0.01)
