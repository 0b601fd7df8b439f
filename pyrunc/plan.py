"""The init path's plan: what stage1, the init and an exec'd process need, built once by the
parent from the validated config.json (and the command's flags) before it forks, so the
children read typed fields and never config.json itself.

Plans are frozen: a field is set when the plan is made (an unknown or misspelt one is a
TypeError then), and `replace` makes a changed copy. A plain class with __slots__ rather than
dataclasses, whose import (inspect, ast...) would cost every container start several ms.
"""
from pyrunc.names import NAMESPACES


class Frozen:
    """Fields are the class's __slots__, defaults in its DEFAULTS (a field without one is
    required)."""

    __slots__ = ()
    DEFAULTS = {}

    def __init__(self, **fields):
        for name in self.__slots__:
            if name in fields:
                value = fields.pop(name)
            elif name in self.DEFAULTS:
                value = self.DEFAULTS[name]
                if isinstance(value, (list, dict)):
                    value = type(value)(value)  # each plan its own
            else:
                raise TypeError(f"{type(self).__name__}: {name} is required")
            object.__setattr__(self, name, value)
        if fields:
            raise TypeError(f"{type(self).__name__}: no field {', '.join(sorted(fields))}")

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is frozen: use replace({name}=...)")

    def replace(self, **changes):
        """A copy with changes."""
        fields = {name: getattr(self, name) for name in self.__slots__}
        fields.update(changes)
        return type(self)(**fields)

    def __repr__(self):
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"


class RootfsPlan(Frozen):
    """config.json's part of the rootfs setup (rootfs.py): the mounts are the config's mount
    objects (validated by config.py), in order."""

    __slots__ = ("mounts", "devices", "propagation", "cwd", "readonly", "readonly_paths",
                 "masked_paths", "mount_label")
    DEFAULTS = {"mounts": (), "devices": (), "propagation": None, "cwd": "/",
                "readonly": False, "readonly_paths": (), "masked_paths": (), "mount_label": ""}

    @classmethod
    def from_config(cls, config):
        linux = config.get("linux") or {}
        return cls(mounts=tuple(config.get("mounts") or ()),
                   devices=tuple(linux.get("devices") or ()),
                   propagation=linux.get("rootfsPropagation") or None,
                   cwd=(config.get("process") or {}).get("cwd") or "/",
                   readonly=bool((config.get("root") or {}).get("readonly")),
                   readonly_paths=tuple(linux.get("readonlyPaths") or ()),
                   masked_paths=tuple(linux.get("maskedPaths") or ()),
                   mount_label=linux.get("mountLabel") or "")


class InitPlan(Frozen):
    """Everything the children need. `process` is the config's process object (or exec's),
    validated; the rest is typed here."""

    __slots__ = (
        "container_id", "bundle", "rootfs", "process", "is_exec",
        # namespaces: CLONE_NEW* to create; [(kind, fd)] to setns() into, user first
        "new_flags", "join", "time_offsets",
        # fds: the exec fifo's O_PATH fd (create); the container's root (exec without a mount
        # namespace); the preserved range 3 .. 3+N-1 (fds.py) and the caller's among them
        "fifo_fd", "root_fd", "preserve_fds", "passed_fds",
        "extra_env", "cgroup_paths", "no_pivot", "no_new_keyring",
        "frozen_ok",            # exec --ignore-paused: a frozen cgroup is waited for
        "rootfs_plan", "hostname", "domainname", "sysctl", "hooks", "annotations",
        "seccomp", "personality", "memory_policy",
        "listener",             # the seccomp agent's socket (SCMP_ACT_NOTIFY), set by stage1
        "mount_fds",            # {mount index: fd}: id-mapped trees for the init (idmap.py)
    )
    DEFAULTS = {
        "bundle": "", "rootfs": "", "is_exec": False, "new_flags": 0, "join": [],
        "time_offsets": None, "fifo_fd": -1, "root_fd": -1, "preserve_fds": 0,
        "passed_fds": [], "extra_env": [], "cgroup_paths": {}, "no_pivot": False,
        "no_new_keyring": False, "frozen_ok": False, "rootfs_plan": None, "hostname": "",
        "domainname": "", "sysctl": {}, "hooks": {}, "annotations": {}, "seccomp": None,
        "personality": None, "memory_policy": None, "listener": None, "mount_fds": {},
    }

    @classmethod
    def from_config(cls, config, process, **fields):
        """The plan for config (create) or for a process run in its container (exec: the
        rootfs part is not made)."""
        linux = config.get("linux") or {}
        if not fields.get("is_exec"):
            fields.update(rootfs_plan=RootfsPlan.from_config(config),
                          hostname=config.get("hostname") or "",
                          domainname=config.get("domainname") or "",
                          sysctl=dict(linux.get("sysctl") or {}),
                          time_offsets=linux.get("timeOffsets") or None)
        return cls(process=process, hooks=config.get("hooks") or {},
                   annotations=config.get("annotations") or {},
                   seccomp=linux.get("seccomp") or None,
                   personality=linux.get("personality") or None,
                   memory_policy=linux.get("memoryPolicy") or None, **fields)

    @property
    def terminal(self):
        return bool(self.process.get("terminal"))

    def joins(self, kind):
        """Whether the plan joins an existing namespace of that kind."""
        return any(k == kind for k, _fd in self.join)


def namespace_flags(namespaces):
    """CLONE_NEW* flags of the namespaces to create (those without a path)."""
    flags = 0
    for kind, path in namespaces.items():
        if not path:
            flags |= NAMESPACES[kind][0]
    return flags
