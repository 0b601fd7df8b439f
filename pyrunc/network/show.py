"""`pyrunc network ls|inspect`: the configured networks with their leases (host-wide: every
state root's containers on the network's bridge), as plain data (the CLI prints it)."""
from pyrunc.errors import PyruncError
from pyrunc.network import ipam, links, settings


def _networks():
    return settings.load(host_routes=links.host_routes())


def describe(network):
    data = network.describe()
    data["leases"] = [{"container": l.container_id, "root": l.root, "ifname": l.ifname,
                       "address": str(l.address)}
                      for l in ipam.Book(ipam.HOST_DIR).read(network.bridge).leases]
    return data


def describe_all():
    return [describe(n) for _, n in sorted(_networks().items())]


def describe_one(name):
    networks = _networks()
    if name not in networks:
        raise PyruncError(f"unknown network {name!r}")
    return describe(networks[name])
