"""Where the host's cgroup hierarchies are and where a container's cgroup goes in each.

A container's cgroup is kept as {key: directory}: key is a v1 hierarchy's controllers joined by
',' ('memory', 'cpu,cpuacct', 'name=systemd') and '' for the unified (v2) hierarchy. The layout
is read from mountinfo at run time: "v1" (controllers on v1 hierarchies, maybe with an empty
cgroup2 mount beside them), "v2" (one unified hierarchy) or "hybrid" (v1 controllers plus a
cgroup2 mount, as systemd's hybrid mode sets up).
"""
import os

from pyrunc.errors import ConfigError

UNIFIED = ""


class Hierarchy:
    __slots__ = ("mountpoint", "fstype", "key", "controllers")

    def __init__(self, mountpoint, fstype, key, controllers):
        self.mountpoint = mountpoint
        self.fstype = fstype
        self.key = key
        self.controllers = controllers  # v1: the subsystems it carries; v2: empty (see below)


_V1_NON_CONTROLLER_OPTIONS = ("rw", "ro", "xattr", "clone_children", "noprefix",
                              "cpuset_v2_mode", "favordynmods")


def hierarchies(mountinfo="/proc/self/mountinfo"):
    """The cgroup hierarchies mounted here, one entry each (a hierarchy mounted twice counts
    once: the first mount wins)."""
    found = {}
    with open(mountinfo) as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fstype, _source, super_opts = right.split()[:3]
            if fstype not in ("cgroup", "cgroup2"):
                continue
            mountpoint = left.split()[4].replace("\\040", " ")
            if fstype == "cgroup2":
                key, controllers = UNIFIED, ()
            else:
                controllers = tuple(o for o in super_opts.split(",")
                                    if o not in _V1_NON_CONTROLLER_OPTIONS
                                    and not o.startswith("release_agent="))
                key = ",".join(controllers)
            found.setdefault(key, Hierarchy(mountpoint, fstype, key, controllers))
    return list(found.values())


def kind(found):
    """'v2', 'hybrid' or 'v1' for a list of hierarchies."""
    has_unified = any(h.key == UNIFIED for h in found)
    has_v1 = any(h.key != UNIFIED and not h.key.startswith("name=") for h in found)
    if has_unified and not has_v1:
        return "v2"
    return "hybrid" if has_unified else "v1"


def own_cgroup(key, proc_cgroup="/proc/self/cgroup"):
    """Our own cgroup in the hierarchy `key` ('/' when we are not listed in it)."""
    with open(proc_cgroup) as f:
        for line in f:
            _num, controllers, path = line.rstrip("\n").split(":", 2)
            if controllers == key:
                return path
    return "/"


def check_path(path):
    """cgroupsPath before it meets a hierarchy: '..' may not climb out, '/' alone is refused."""
    if ".." in path.split("/"):
        raise ConfigError("linux.cgroupsPath", f"{path!r} escapes the cgroup hierarchy")
    if not path.strip("/"):
        raise ConfigError("linux.cgroupsPath", "the root of a cgroup hierarchy cannot be a "
                          "container's cgroup")
    return path


def container_paths(cgroups_path, container_id, found=None):
    """{key: absolute directory} of the container's cgroup in every hierarchy: an absolute
    cgroupsPath is taken from each hierarchy's root, a relative one from our own cgroup there,
    and an absent one is /<id> (the state root's containers side by side at the top, as
    engines expect to find them)."""
    path = check_path(cgroups_path or "/" + container_id)
    paths = {}
    for h in found if found is not None else hierarchies():
        inner = path if path.startswith("/") else os.path.join(own_cgroup(h.key), path)
        paths[h.key] = h.mountpoint + os.path.normpath("/" + inner.strip("/"))
    return paths


def exec_paths(paths, requests):
    """The directories an `exec --cgroup` process joins: {key: directory} under the container's
    own (paths). requests are the flag's values, as runc 1.2 takes them: 'SUB' (a sub-cgroup of
    the container's cgroup in every hierarchy) or, on v1 hierarchies only, 'CTRL[,CTRL]:SUB'
    (that sub-cgroup for the hierarchies carrying those controllers, repeatable). A hierarchy
    no request names stays at the container's own cgroup. Raises ValueError with the reason."""
    everywhere = None
    per_controller = {}
    for request in requests:
        controllers, colon, sub = request.rpartition(":")
        sub = _sub_path(sub, request)
        if not colon:
            if everywhere is not None:
                raise ValueError(f"{request!r}: a path for every controller is given twice")
            everywhere = sub
            continue
        for name in controllers.split(","):
            if not name:
                raise ValueError(f"{request!r}: an empty controller name")
            if name in per_controller:
                raise ValueError(f"{request!r}: controller {name} is given twice")
            per_controller[name] = sub
    result = {}
    for key, path in paths.items():
        subs = {per_controller[c] for c in key.split(",") if c in per_controller} if key else set()
        if len(subs) > 1:
            raise ValueError(f"controllers {key} share one hierarchy: give them one path")
        sub = subs.pop() if subs else everywhere
        result[key] = os.path.normpath(os.path.join(path, sub)) if sub else path
    known = {c for key in paths if key for c in key.split(",")}
    unknown = sorted(set(per_controller) - known)
    if unknown:
        if UNIFIED in paths and not known:
            raise ValueError(f"{unknown[0]}: a controller can only be named on cgroup v1 "
                             "(on v2 give the sub-cgroup alone)")
        raise ValueError(f"{unknown[0]}: no cgroup v1 hierarchy of the container has this "
                         "controller")
    return result


def _sub_path(sub, request):
    """A sub-cgroup below the container's: relative, never climbing out ('/' or '': the
    container's own)."""
    if ".." in sub.split("/"):
        raise ValueError(f"{request!r}: the path may not climb out of the container's cgroup")
    return sub.strip("/")
