"""What the lifecycle calls: put a container on its networks, and take it off again.

A bundle asks with the annotation `pyrunc.network: <name>[,<name>...]`; the container gets
eth0 on the first network, eth1 on the second... (`pyrunc.network.hosts: "true"` adds
/etc/hosts and /etc/hostname). create does it in two steps: reserve() leases the addresses
before anything is forked (a full subnet fails there, with nothing made), connect() wires the
links once the init's network namespace exists. detach() undoes both from the record kept in
the container's state, or from the container id alone after a crash. Leases go through an
ipam.Book: the host-wide one of the container's state root, or pyrunc-cni's dataDir.

The record (plain data, in state.json): {"interfaces": [{"network", "ifname", "host_ifname",
"bridge", "persistent", "addresses": ["10.213.0.2/24", ...], "gateways": [...]}]}.
"""
import os

from pyrunc.errors import ConfigError, NetworkError, PyruncError
from pyrunc.network import ipam, links, settings

ANNOTATION = "pyrunc.network"
HOSTS_ANNOTATION = "pyrunc.network.hosts"
MAX_INTERFACES = 8


def requested_names(annotations):
    """The network names an annotation value lists ([] when there is no annotation)."""
    value = (annotations or {}).get(ANNOTATION)
    if value is None:
        return []
    names = [n.strip() for n in value.split(",")]
    if not all(names):
        raise ConfigError(f"annotations.{ANNOTATION}", f"{value!r}: expected "
                          "<name>[,<name>...]")
    if len(names) > MAX_INTERFACES:
        raise ConfigError(f"annotations.{ANNOTATION}", f"at most {MAX_INTERFACES} networks")
    return names


def wants_hosts(annotations):
    value = (annotations or {}).get(HOSTS_ANNOTATION, "false")
    if value not in ("true", "false"):
        raise ConfigError(f"annotations.{HOSTS_ANNOTATION}", f"{value!r}: must be true or false")
    return value == "true"


def load_networks(names):
    """The Network objects for names, from the settings checked against the host's routes."""
    networks = settings.load(host_routes=links.host_routes())
    return settings.select(networks, names)


def host_ifname(container_id, ifname, root=None):
    """The host end's name, derived from what names the attachment, so that it is found again
    after a crash: the container's id and interface, and for pyrunc's own networks its state
    root too (one id may live in two roots; pyrunc-cni's ids are its runtime's)."""
    return links.host_veth_name(f"{container_id}/{ifname}" if root is None
                                else f"{root}/{container_id}/{ifname}")


def reserve(container_id, networks, book, ifnames=None):
    """Lease the addresses of every interface (all or none) in book; return the record. The
    interfaces are eth0, eth1... unless ifnames are given."""
    ifnames = ifnames or [f"eth{i}" for i in range(len(networks))]
    requests = list(zip(networks, ifnames))
    with book.locked():
        allocated = book.allocate(container_id, requests)
    return {"interfaces": [
        {"network": network.name, "ifname": ifname,
         "host_ifname": host_ifname(container_id, ifname, book.root),
         "bridge": network.bridge, "persistent": network.persistent,
         "addresses": [str(a) for a in allocated[ifname]],
         "gateways": [str(s.gateway) for s in network.subnets]}
        for network, ifname in requests]}


def connect(record, networks, netns_path, book, loopback=True, default_route=True, routes=()):
    """Bridges (made if missing), veth pairs, addresses and default routes (through the first
    interface) for the record's interfaces inside the namespace at netns_path; routes: more
    (destination, gateway or None) for the first interface. Records each interface's MAC.
    Under the book's lock (host-wide for pyrunc's own networks): a detach meanwhile must not
    delete a bridge this is about to use."""
    import ipaddress
    with book.locked():
        ipr = links.iproute()
        inner = None
        try:
            for iface, network in zip(record["interfaces"], networks):
                bridge = links.ensure_bridge(ipr, network)
                links.add_veth(ipr, iface["host_ifname"], bridge, netns_path, iface["ifname"],
                               network.mtu)
                iface["host_mac"] = links.link_mac(ipr, iface["host_ifname"])
                iface["bridge_mac"] = links.link_mac(ipr, network.bridge)
            inner = links.iproute_in(netns_path)
            if loopback:
                links.loopback_up(inner)
            for i, (iface, network) in enumerate(zip(record["interfaces"], networks)):
                iface["mac"] = links.configure_inside(
                    inner, iface["ifname"],
                    [ipaddress.ip_interface(a) for a in iface["addresses"]], network.subnets,
                    network.mtu, default_route=default_route and i == 0,
                    routes=routes if i == 0 else ())
        except links.netlink_errors() as e:
            raise NetworkError(f"network set-up failed: {e}") from None
        finally:
            ipr.close()
            if inner is not None:
                inner.close()
    return record


def attach(container_id, netns_path, names, root):
    """reserve() + connect() for API users who made the namespace themselves (root: their
    state root, whose containers the leases are); on failure nothing is left. Returns the
    record to give to detach(container_id, record, ipam.Book.host(root))."""
    networks = load_networks(names)
    book = ipam.Book.host(root)
    record = reserve(container_id, networks, book)
    try:
        return connect(record, networks, netns_path, book)
    except BaseException:
        detach(container_id, record, book)
        raise


def detach(container_id, record, book, ifname=None):
    """Remove the container's host veths (the container's ends go with them), release its
    leases in book and delete bridges left without ports unless persistent. record may be
    None (a crash before it was written): the leases are then found by container id, the
    veths by the names derived from it. ifname: only that interface (CNI's DEL)."""
    interfaces = list((record or {}).get("interfaces", []))
    with book.locked():
        released = book.release(container_id, ifname)
        known = {i["ifname"] for i in interfaces}
        bridges = {i["bridge"]: i["persistent"] for i in interfaces}
        orphans = sorted({(bridge, lease.ifname) for bridge, lease in released
                          if lease.ifname not in known})
        if orphans:
            bridges.update(_persistence_of([bridge for bridge, _ in orphans]))
        veths = {i.get("host_ifname") or host_ifname(container_id, i["ifname"], book.root)
                 for i in interfaces}
        veths |= {host_ifname(container_id, orphan, book.root) for _, orphan in orphans}
        ipr = links.iproute()
        try:
            for veth in sorted(veths):
                links.delete_link(ipr, veth)
            for bridge, persistent in sorted(bridges.items()):
                if not persistent:
                    links.remove_bridge_if_unused(ipr, bridge)
        except links.netlink_errors() as e:
            raise NetworkError(f"network tear-down failed: {e}") from None
        finally:
            ipr.close()


def _persistence_of(bridges):
    """{bridge: persistent} of bridges known only from leases (a crash left no record), from
    the networks of the settings; a bridge no network names, or settings that no longer load,
    leave the bridge alone."""
    try:
        networks = settings.load()
    except PyruncError:
        return {}
    return {n.bridge: n.persistent for n in networks.values() if n.bridge in bridges}


# -- create's side -------------------------------------------------------------------------------

class Plan:
    """The networking of one container being created: reserve() done, connect(pid) to come."""

    def __init__(self, container_id, book, networks, record):
        self.container_id = container_id
        self.book = book
        self.networks = networks
        self.record = record

    def connect(self, pid):
        return connect(self.record, self.networks, f"/proc/{pid}/ns/net", self.book)


def plan_for_create(container_id, config, root, state_dir, rootless, on_record):
    """For create: None if the bundle asks for no network (or joins another's namespace: a pod
    shares the first container's interfaces). Otherwise leases the addresses, writes /etc/hosts
    and /etc/hostname into the state dir if asked (bind-mounted through config's mounts) and
    returns a Plan. on_record(record) is called as soon as leases exist, to save them."""
    annotations = config.get("annotations") or {}
    names = requested_names(annotations)
    hosts = wants_hosts(annotations)
    if not names:
        if hosts:
            raise ConfigError(f"annotations.{HOSTS_ANNOTATION}", f"needs {ANNOTATION}")
        return None
    netns = {ns["type"]: ns.get("path") for ns in config.get("linux", {}).get("namespaces", [])}
    if "network" not in netns:
        raise ConfigError(f"annotations.{ANNOTATION}", "needs a new network namespace "
                          "(linux.namespaces has no network entry)")
    if netns["network"]:
        return None
    if rootless:
        raise ConfigError(f"annotations.{ANNOTATION}", "networks need root (rootless "
                          "containers cannot create bridges and veths)")
    networks = load_networks(names)
    book = ipam.Book.host(root)
    record = reserve(container_id, networks, book)
    on_record(record)
    if hosts:
        _add_hosts_files(config, record, state_dir, container_id)
    return Plan(container_id, book, networks, record)


def _add_hosts_files(config, record, state_dir, container_id):
    hostname = config.get("hostname") or container_id
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    for iface in record["interfaces"]:
        lines += [f"{a.split('/')[0]}\t{hostname}" for a in iface["addresses"]]
    files = {"hosts": "".join(l + "\n" for l in lines), "hostname": hostname + "\n"}
    mounts = config.setdefault("mounts", [])
    for name, text in files.items():
        path = os.path.join(state_dir, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)
        mounts.append({"destination": f"/etc/{name}", "type": "bind", "source": path,
                       "options": ["bind"]})
