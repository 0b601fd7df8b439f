"""`pyrunc network ls|inspect`: the configured networks with their leases under a state root,
as plain data (the CLI prints it)."""
from pyrunc.errors import PyruncError
from pyrunc.network import ipam, links, settings


def _networks():
    return settings.load(host_routes=links.host_routes())


def describe(network, root):
    data = network.describe()
    data["leases"] = [{"container": l.container_id, "ifname": l.ifname, "address": str(l.address)}
                      for l in ipam.read(root, network.name).leases]
    return data


def describe_all(root):
    return [describe(n, root) for _, n in sorted(_networks().items())]


def describe_one(name, root):
    networks = _networks()
    if name not in networks:
        raise PyruncError(f"unknown network {name!r}")
    return describe(networks[name], root)
