"""linux.resources.unified: cgroup v2 files written as given ({"memory.high": "64M"}). Each key
names its controller; a key whose controller is not on cgroup v2 here is refused by name."""
from pyrunc.cgroups import values
from pyrunc.errors import ConfigError

F = "linux.resources.unified"


def keys(resources):
    """[(key, value, field, controller)] after checking each key's shape."""
    out = []
    for key, value in values.section(resources, "unified").items():
        field = f"{F}.{key}"
        if not isinstance(value, str):
            raise ConfigError(field, "must be a string")
        controller, dot, rest = key.partition(".")
        if not dot or not rest or "/" in key or not controller:
            raise ConfigError(field, "is not a cgroup v2 file name (controller.file)")
        out.append((key, value, field, controller))
    return out


# cgroup.* files that are pyrunc's to manage, never a config's.
_STRUCTURAL = ("cgroup.procs", "cgroup.threads", "cgroup.subtree_control", "cgroup.type",
               "cgroup.freeze", "cgroup.kill")


def writes(resources, available, has_v2):
    """The writes into the container's v2 directory. available: the v2 controllers enabled
    for it; has_v2: whether the host has a cgroup v2 hierarchy at all."""
    out = []
    for key, value, field, controller in keys(resources):
        if not has_v2:
            raise ConfigError(field, "needs cgroup v2; this host has only cgroup v1")
        if controller == "cgroup":
            if key in _STRUCTURAL:
                raise ConfigError(field, "is managed by pyrunc itself")
        elif controller not in available:
            raise ConfigError(field, f"the {controller} controller is not available on cgroup "
                              "v2 here (on this host it is a cgroup v1 controller or disabled)")
        out.append((key, value, field))
    return out
