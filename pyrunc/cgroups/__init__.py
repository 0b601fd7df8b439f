"""cgroups: one driver interface (ContainerCgroup, in manager.py) over v1, v2 and hybrid hosts.

layout.py finds the hierarchies and the container's directories; files.py reads and writes one
directory; one module per controller (memory, cpu, cpuset, pids, blkio, hugetlb, network, rdma,
devices through device_rules/device_filter, unified) turns linux.resources into that controller's
v1 or v2 writes; freezer.py pauses and resumes.
"""

__all__ = ["CgroupError", "ContainerCgroup", "destroy", "hierarchies"]


def __getattr__(name):
    # Loaded on first use: every command's status check imports the freezer module alone, and
    # a package __init__ that imported the rest would cost it ~0.3 ms.
    if name == "CgroupError":
        from pyrunc.cgroups.files import CgroupError
        return CgroupError
    if name == "hierarchies":
        from pyrunc.cgroups.layout import hierarchies
        return hierarchies
    if name in ("ContainerCgroup", "destroy"):
        from pyrunc.cgroups import manager
        return getattr(manager, name)
    raise AttributeError(f"module 'pyrunc.cgroups' has no attribute {name!r}")
