"""Bridge networks for containers (the `pyrunc.network` annotation) and the `pyrunc-cni` plugin.

settings.py: the named networks; ipam.py: address leases; links.py: netlink through pyroute2;
attach.py: what create/delete call; cni.py: the CNI 1.0 plugin; show.py: `pyrunc network`.
Nothing here is imported unless a container asks for a network (yaml and pyroute2 are slow to
import), so this file stays empty.
"""
