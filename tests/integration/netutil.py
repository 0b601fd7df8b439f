"""Helpers of the network tests: a settings file of their own (bridges named pyr*), the kernel's
network state read with pyroute2 from outside (links, addresses, routes, bridge ports, rules),
and a check that a test left no veth, lease, bridge, rule or netns behind."""
import contextlib
import hashlib
import json
import os
import socket
import subprocess
import uuid

from pyroute2 import IPRoute

ISOLATION_PRIORITY = 30000


def host_veth(container_id, ifname="eth0", root=None):
    """The name pyrunc gives the host end (pyrunc.network.attach.host_ifname), computed here
    from its definition so a test notices if it changes: pyrunc's own networks key it by the
    container's state root too, pyrunc-cni (root None) by id and interface alone."""
    key = f"{container_id}/{ifname}" if root is None else \
        f"{os.path.realpath(root)}/{container_id}/{ifname}"
    return "pyr" + hashlib.sha256(key.encode()).hexdigest()[:11]


def link_names():
    with IPRoute() as ipr:
        return {l.get_attr("IFLA_IFNAME") for l in ipr.get_links()}


def bridge_ports(bridge):
    with IPRoute() as ipr:
        index = ipr.link_lookup(ifname=bridge)
        if not index:
            return None
        return sorted(l.get_attr("IFLA_IFNAME") for l in ipr.get_links()
                      if l.get_attr("IFLA_MASTER") == index[0])


def addresses_of(ipr, ifname):
    index = ipr.link_lookup(ifname=ifname)
    if not index:
        return []
    return sorted(f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}"
                  for a in ipr.get_addr(index=index[0]) if a["scope"] == 0)


def netns_view(pid):
    """What the container's network namespace holds, read from outside through netlink."""
    with IPRoute(netns=f"/proc/{pid}/ns/net", flags=0) as ipr:
        links = {l.get_attr("IFLA_IFNAME"): l for l in ipr.get_links()}
        view = {"links": sorted(links),
                "up": sorted(n for n, l in links.items() if l["flags"] & 1),
                "mtu": {n: l.get_attr("IFLA_MTU") for n, l in links.items()},
                "addresses": {n: addresses_of(ipr, n) for n in links},
                "default_routes": {}}
        for family, version in ((socket.AF_INET, 4), (socket.AF_INET6, 6)):
            view["default_routes"][version] = sorted(
                r.get_attr("RTA_GATEWAY") for r in ipr.get_routes(family=family, table=254)
                if r["dst_len"] == 0 and r.get_attr("RTA_GATEWAY"))
        return view


def isolation_rules(bridge):
    with IPRoute() as ipr:
        return sorted(r["family"] for family in (socket.AF_INET, socket.AF_INET6)
                      for r in ipr.get_rules(family=family)
                      if r.get_attr("FRA_IIFNAME") == bridge)


def delete_link(name):
    with IPRoute() as ipr:
        for index in ipr.link_lookup(ifname=name):
            ipr.link("del", index=index)


def remove_rules(bridge):
    with IPRoute() as ipr:
        for family in (socket.AF_INET, socket.AF_INET6):
            for r in ipr.get_rules(family=family):
                if r.get_attr("FRA_IIFNAME") == bridge:
                    ipr.rule("del", iifname=bridge, action="prohibit",
                             priority=r.get_attr("FRA_PRIORITY"), family=family)


def leases(root):
    """Every lease of one pyrunc state root's containers, as (bridge, [id, ifname, address]),
    from the host-wide lease files (pyrunc.network.ipam)."""
    from pyrunc.network import ipam
    book = ipam.Book.host(root)
    return [(bridge, [l.container_id, l.ifname, str(l.address)])
            for bridge in book.bridges() for l in book.read(bridge).leases if l.root == book.root]


def network_lock():
    """pyrunc's host-wide network lock (what its create and delete hold while they make or
    remove a bridge): a test that removes a shared bridge must hold it too."""
    from pyrunc.network import ipam
    return ipam.Book(ipam.HOST_DIR).locked()


def unique_bridge(tag):
    return f"pyr{tag}{uuid.uuid4().hex[:5]}"[:15]


def write_settings(path, networks):
    """networks: {name: spec} as pyrunc.yaml wants it (JSON is YAML)."""
    with open(path, "w") as f:
        json.dump({"networks": networks}, f)
    return str(path)


def net_bundle_edit(networks, args=None, hosts=False, extra_annotations=None):
    """An edit for make_bundle: the annotation, and CAP_NET_RAW for busybox's ping."""
    def edit(config):
        config.setdefault("annotations", {})["pyrunc.network"] = networks
        if hosts:
            config["annotations"]["pyrunc.network.hosts"] = "true"
        config["annotations"].update(extra_annotations or {})
        caps = config["process"]["capabilities"]
        for kind in ("bounding", "effective", "permitted"):
            caps.setdefault(kind, []).append("CAP_NET_RAW")
        if args:
            config["process"]["args"] = list(args)
    return edit


def run_in(pid, *argv, timeout=30):
    """A command in the network namespace of pid (the test's own tools, for the CNI tests)."""
    return subprocess.run(["nsenter", "-t", str(pid), "-n", *argv], capture_output=True,
                          text=True, timeout=timeout)


# IP forwarding, as a plugin turns it on: the globals (net.ipv4.ip_forward is also
# conf/all/forwarding), which the kernel copies into `default` and every interface's own value,
# and IPv4's all/accept_redirects, which ip_forward flips too.
FORWARDING = ("/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding")
_REDIRECTS = "/proc/sys/net/ipv4/conf/all/accept_redirects"


def _forwarding_files():
    files = list(FORWARDING)
    for family in ("ipv4", "ipv6"):
        base = f"/proc/sys/net/{family}/conf"
        files += [f"{base}/{name}/forwarding" for name in sorted(os.listdir(base)) if name != "all"]
    return files + [_REDIRECTS]


def read_sysctl(path):
    with open(path) as f:
        return f.read().strip()


@contextlib.contextmanager
def forwarding_kept():
    """Around a use of a plugin that turns IP forwarding on and never back off (Debian's CNI
    bridge plugin with isGateway: true sets net.ipv4.ip_forward and net.ipv6.conf.all.forwarding
    in the network namespace it runs in): this namespace's values before, written back after,
    the globals first (writing one sets every interface's value), then the rest. Yields the
    saved values."""
    saved = {path: read_sysctl(path) for path in _forwarding_files()}
    try:
        yield saved
    finally:
        later = [p for p in saved if p not in FORWARDING and p != _REDIRECTS]
        for path in [*FORWARDING, *later, _REDIRECTS]:
            try:
                if read_sysctl(path) != saved[path]:
                    with open(path, "w") as f:
                        f.write(saved[path])
            except FileNotFoundError:
                continue  # an interface that went meanwhile
