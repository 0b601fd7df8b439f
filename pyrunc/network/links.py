"""Kernel network state through pyroute2 (netlink; never an `ip` subprocess): bridges, veth
pairs, addresses, routes and the isolation rules, on the host and inside a network namespace.

pyroute2's package __init__ imports every one of its modules (~150 ms); only the RTNL API is
needed here, so iproute() imports that submodule without running the package __init__.
"""
import hashlib
import os
import socket

from pyrunc.errors import NetworkError

CLONE_NEWNET = 0x40000000
IFA_F_NODAD = 0x02  # the address is usable at once: no duplicate address detection
# Where the isolation rules go: after the `local` table's rule (0), so the host's own addresses
# stay reachable, before `main` (32766), so nothing entering the bridge is routed further.
ISOLATION_PRIORITY = 30000
VETH_PREFIX = "pyr"


def _iproute_class():
    import sys
    if "pyroute2.iproute.linux" not in sys.modules and "pyroute2" not in sys.modules:
        import importlib.util
        import types
        spec = importlib.util.find_spec("pyroute2")
        if spec is None:
            raise NetworkError("pyroute2 is not installed")
        package = types.ModuleType("pyroute2")
        package.__path__ = list(spec.submodule_search_locations)
        package.__spec__ = spec
        package.__file__ = spec.origin
        sys.modules["pyroute2"] = package
    from pyroute2.iproute.linux import IPRoute
    return IPRoute


def iproute():
    """An RTNL socket in our own network namespace."""
    return _iproute_class()()


def iproute_in(netns_path):
    """An RTNL socket inside the network namespace at netns_path: a netlink socket belongs to
    the namespace it was opened in, so we step in, open it and step back (pyroute2's own netns
    support forks a helper process for this)."""
    from pyrunc import native
    cls = _iproute_class()
    own = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        os.close(own)
        raise NetworkError(f"network namespace {netns_path}: {e.strerror}") from None
    try:
        native.setns(target, CLONE_NEWNET)
        try:
            return cls()
        finally:
            native.setns(own, CLONE_NEWNET)
    finally:
        os.close(target)
        os.close(own)


def netlink_errors():
    from pyroute2.netlink.exceptions import NetlinkError
    return NetlinkError


def host_veth_name(key):
    """The host end of a veth pair, derived from what names the attachment (container id and
    interface): found again after a crash, and within IFNAMSIZ whatever the id's length."""
    return VETH_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:11]


def link_index(ipr, name):
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def ensure_bridge(ipr, network):
    """Create the network's bridge (with its gateway addresses and isolation rules) if missing;
    return its index. The caller holds the network lock."""
    index = link_index(ipr, network.bridge)
    if index is None:
        ipr.link("add", ifname=network.bridge, kind="bridge")
        index = link_index(ipr, network.bridge)
    ipr.link("set", index=index, mtu=network.mtu, state="up")
    have = {(a.get("address"), a["prefixlen"]) for a in ipr.get_addr(index=index)}
    for subnet in network.subnets:
        if (str(subnet.gateway), subnet.network.prefixlen) not in have:
            extra = ({"broadcast": str(subnet.network.broadcast_address)}
                     if subnet.version == 4 else {})
            ipr.addr("add", index=index, address=str(subnet.gateway),
                     prefixlen=subnet.network.prefixlen, flags=IFA_F_NODAD, **extra)
    if network.isolation:
        ensure_isolation(ipr, network.bridge)
    return index


def _family(version):
    return socket.AF_INET if version == 4 else socket.AF_INET6


def _isolation_rules(ipr, bridge):
    found = []
    for family in (socket.AF_INET, socket.AF_INET6):
        for rule in ipr.get_rules(family=family):
            if rule.get_attr("FRA_IIFNAME") == bridge and \
                    rule.get_attr("FRA_PRIORITY") == ISOLATION_PRIORITY:
                found.append(family)
    return found


def ensure_isolation(ipr, bridge):
    """What enters the bridge may reach the host's own addresses (the `local` table comes
    first) and the other ports of the bridge (switched, not routed), nothing else: with
    forwarding on, a container could otherwise be routed into another network or outside."""
    have = _isolation_rules(ipr, bridge)
    for family in (socket.AF_INET, socket.AF_INET6):
        if family not in have:
            ipr.rule("add", iifname=bridge, action="prohibit", priority=ISOLATION_PRIORITY,
                     family=family)


def remove_bridge_if_unused(ipr, bridge):
    """Delete a bridge that has no port left, and its isolation rules. True if deleted."""
    index = link_index(ipr, bridge)
    if index is not None:
        if any(l.get_attr("IFLA_MASTER") == index for l in ipr.get_links()):
            return False
        ipr.link("del", index=index)
    for family in _isolation_rules(ipr, bridge):
        ipr.rule("del", iifname=bridge, action="prohibit", priority=ISOLATION_PRIORITY,
                 family=family)
    return index is not None


def add_veth(ipr, host_name, bridge_index, netns_path, ifname, mtu):
    """A veth pair whose peer is made directly inside the namespace as `ifname` (never a stray
    end on the host), the host end a port of the bridge, both up."""
    if link_index(ipr, host_name) is not None:
        ipr.link("del", index=link_index(ipr, host_name))  # a leftover of a crash: ours by name
    ns_fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        ipr.link("add", ifname=host_name, kind="veth", mtu=mtu,
                 peer={"ifname": ifname, "net_ns_fd": ns_fd, "mtu": mtu})
    finally:
        os.close(ns_fd)
    index = link_index(ipr, host_name)
    ipr.link("set", index=index, master=bridge_index, state="up")
    return index


def loopback_up(inner):
    lo = link_index(inner, "lo")
    if lo is not None:
        inner.link("set", index=lo, state="up")


def configure_inside(inner, ifname, addresses, subnets, mtu, default_route=True, routes=()):
    """In the container's namespace: ifname up with its addresses (no DAD; IPv4 with its
    broadcast address), the default routes via the gateways, and routes, (destination,
    gateway or None) pairs. Returns the interface's MAC address."""
    index = link_index(inner, ifname)
    if index is None:
        raise NetworkError(f"{ifname} did not appear in the container's namespace")
    inner.link("set", index=index, mtu=mtu, state="up")
    for address in addresses:
        extra = ({"broadcast": str(address.network.broadcast_address)}
                 if address.version == 4 else {})
        inner.addr("add", index=index, address=str(address.ip),
                   prefixlen=address.network.prefixlen, flags=IFA_F_NODAD, **extra)
    gateways = {s.version: s.gateway for s in subnets}
    if default_route:
        for subnet in subnets:
            if not _has_default_route(inner, subnet.version):
                inner.route("add", dst="default", gateway=str(subnet.gateway), oif=index,
                            family=_family(subnet.version))
    for dst, gateway in routes:
        gateway = gateway or gateways.get(dst.version)
        inner.route("add", dst=str(dst), oif=index, family=_family(dst.version),
                    **({"gateway": str(gateway)} if gateway is not None else {}))
    return inner.get_links(index)[0].get_attr("IFLA_ADDRESS")


def _has_default_route(ipr, version):
    return any(r["dst_len"] == 0 and r.get_attr("RTA_GATEWAY")
               for r in ipr.get_routes(family=_family(version), table=254))


def delete_link(ipr, name):
    """Delete a link by name if it exists (its veth peer goes with it). True if it existed."""
    index = link_index(ipr, name)
    if index is None:
        return False
    try:
        ipr.link("del", index=index)
    except netlink_errors() as e:
        if e.code != 19:  # ENODEV: gone meanwhile (its namespace died)
            raise
    return True


def link_mac(ipr, name):
    index = link_index(ipr, name)
    return ipr.get_links(index)[0].get_attr("IFLA_ADDRESS") if index is not None else None


def host_routes(ipr=None):
    """The host's main-table routes as (network, device name) pairs, for settings checks."""
    import ipaddress
    own = ipr is None
    ipr = ipr or iproute()
    try:
        names = {l["index"]: l.get_attr("IFLA_IFNAME") for l in ipr.get_links()}
        result = []
        for family in (socket.AF_INET, socket.AF_INET6):
            for r in ipr.get_routes(family=family, table=254):
                dst = r.get_attr("RTA_DST")
                prefix = dst or ("0.0.0.0" if family == socket.AF_INET else "::")
                result.append((ipaddress.ip_network(f"{prefix}/{r['dst_len']}", strict=False),
                               names.get(r.get_attr("RTA_OIF"))))
        return result
    finally:
        if own:
            ipr.close()
