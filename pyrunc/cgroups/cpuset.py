"""The cpuset controller: linux.resources.cpu.cpus and .mems (the same files on v1 and v2)."""
from pyrunc.cgroups import values

NAME = "cpuset"
F = "linux.resources.cpu"


def writes(resources, d, updating=False):
    c = values.section(resources, "cpu")
    out = []
    for key in ("cpus", "mems"):
        value = values.string(c, key, f"{F}.{key}")
        if value:
            out.append((f"cpuset.{key}", value, f"{F}.{key}"))
    return out


def inherit(d, parent):
    """A new v1 cpuset cgroup takes no task until it has cpus and mems: copy the parent's.
    (v2 cpusets inherit by themselves.)"""
    if d.version != 1:
        return
    for name in ("cpuset.cpus", "cpuset.mems"):
        if d.exists(name) and not (d.read(name) or "").strip():
            d.write(name, parent.read(name) or "", "")


def stats(d):
    return {"cpus": d.read("cpuset.cpus.effective" if d.version == 2 else "cpuset.effective_cpus")
            or "", "mems": d.read("cpuset.mems.effective" if d.version == 2
                                  else "cpuset.effective_mems") or ""}
