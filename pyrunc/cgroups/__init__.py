"""cgroups: one driver interface (ContainerCgroup, in manager.py) over v1, v2 and hybrid hosts.

layout.py finds the hierarchies and the container's directories; files.py reads and writes one
directory; one module per controller (memory, cpu, cpuset, pids, blkio, hugetlb, network, rdma,
devices through device_rules/device_filter, unified) turns linux.resources into that controller's
v1 or v2 writes; freezer.py pauses and resumes.
"""
from pyrunc.cgroups.files import CgroupError
from pyrunc.cgroups.layout import hierarchies
from pyrunc.cgroups.manager import ContainerCgroup, destroy

__all__ = ["CgroupError", "ContainerCgroup", "destroy", "hierarchies"]
