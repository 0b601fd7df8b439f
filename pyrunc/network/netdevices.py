"""linux.netDevices (runtime-spec 1.3): host network interfaces moved into the container's new
network namespace, renamed there when the entry has a `name`, and moved back to the host under
their own names when the container is deleted.

validate() is pure and runs with the rest of the config's checks. The netlink side goes through
links.py (pyroute2) and is imported only for configs that have netDevices.

Moving a device out of a namespace makes the kernel flush its addresses, and a namespace that
dies destroys the virtual devices in it (dummy, veth, macvlan...) and hands physical ones to
the initial namespace under whatever name they bear there. So create records each device's
permanent, global addresses before the move and puts them back on the other side, and it holds
the namespace with a bind mount of it in the state dir: a container whose init has exited
still has its devices for delete to take back. The record, in state.json:

    {"netns": "<state dir>/netns",
     "devices": [{"host": "dummy0", "name": "eth1", "addresses": [["10.1.2.3", 24], ...]}]}
"""
import os

from pyrunc.errors import ConfigError, NetworkError

FIELD = "linux.netDevices"
IFNAMSIZ = 16  # the kernel's limit, the terminating NUL included
IFA_F_PERMANENT = 0x80
IFA_F_NODAD = 0x02
RT_SCOPE_UNIVERSE = 0
IFF_UP = 0x1
NETNS_FILE = "netns"


# -- validation (pure) ---------------------------------------------------------------------------

def name_problem(name):
    """Why the kernel would refuse name for an interface (dev_valid_name), or None."""
    if not name:
        return "an interface name must not be empty"
    if len(name.encode()) >= IFNAMSIZ:
        return f"{name!r} is longer than {IFNAMSIZ - 1} bytes"
    if name in (".", ".."):
        return f"{name!r} is not a valid interface name"
    bad = sorted({c for c in name if c in "/:" or c.isspace()})
    if bad:
        return f"{name!r} holds {', '.join(repr(c) for c in bad)}, which interface names cannot"
    return None


def validate(devices, namespaces):
    """Check linux.netDevices (a dict, already null-free) against linux.namespaces ({type:
    path}); return the plan, [{"host", "name"}] in the config's order. ConfigError names the
    entry at fault."""
    if not isinstance(devices, dict):
        raise ConfigError(FIELD, "must be an object (host interface name: {\"name\": ...})")
    if not devices:
        return []
    if "network" not in namespaces:
        raise ConfigError(FIELD, "needs a new network namespace (linux.namespaces has no "
                          "network entry: the devices would stay on the host)")
    if namespaces["network"]:
        raise ConfigError(FIELD, "needs a new network namespace of the container's own "
                          "(linux.namespaces joins one by path, which outlives the container)")
    plan = []
    inside = {}
    for host, entry in devices.items():
        where = f"{FIELD}.{host}"
        problem = name_problem(host)
        if problem:
            raise ConfigError(where, problem)
        if host == "lo":
            raise ConfigError(where, "the loopback device cannot leave its namespace")
        if not isinstance(entry, dict):
            raise ConfigError(where, "must be an object")
        name = entry.get("name", "")
        if not isinstance(name, str):
            raise ConfigError(f"{where}.name", "must be a string")
        name = name or host  # the spec: without a name, the host's is used
        problem = name_problem(name)
        if problem:
            raise ConfigError(f"{where}.name", problem)
        if name == "lo":
            raise ConfigError(f"{where}.name", "'lo' already exists in every network namespace")
        if name in inside:
            raise ConfigError(f"{where}.name", f"{name!r} is also the name of "
                              f"{FIELD}.{inside[name]} in the container")
        inside[name] = host
        plan.append({"host": host, "name": name})
    return plan


# -- the host's side -----------------------------------------------------------------------------

def check_host(plan):
    """Before anything is made: every device exists in our (the runtime's) namespace."""
    from pyrunc.network import links
    ipr = links.iproute()
    try:
        for device in plan:
            if links.link_index(ipr, device["host"]) is None:
                raise ConfigError(f"{FIELD}.{device['host']}",
                                  "no such network device in the runtime's network namespace")
    finally:
        ipr.close()


def hold_namespace(pid, state_dir):
    """Bind the init's network namespace to <state_dir>/netns, so that it outlives the init
    until delete; returns that path."""
    from pyrunc import native
    from pyrunc.mountopts import MS_BIND
    path = os.path.join(state_dir, NETNS_FILE)
    with open(path, "x"):
        pass
    try:
        native.mount(f"/proc/{pid}/ns/net", path, None, MS_BIND)
    except OSError as e:
        raise NetworkError(f"{FIELD}: cannot hold the container's network namespace at "
                           f"{path}: {e.strerror}") from None
    return path


def release_namespace(path):
    """Undo hold_namespace (also half done: a file with nothing mounted on it)."""
    from pyrunc import native
    from pyrunc.mountopts import MNT_DETACH
    try:
        native.umount2(path, MNT_DETACH)
    except OSError:
        pass  # nothing mounted there (a create that stopped before the mount)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def record_addresses(plan):
    """Add to each planned device the addresses to carry over: the permanent ones of global
    scope (the others are the kernel's or a DHCP client's, tied to the namespace they are in)."""
    from pyrunc.network import links
    ipr = links.iproute()
    try:
        for device in plan:
            index = links.link_index(ipr, device["host"])
            device["addresses"] = _addresses(ipr, index) if index is not None else []
    finally:
        ipr.close()
    return plan


def _addresses(ipr, index):
    found = []
    for a in ipr.get_addr(index=index):
        flags = a.get_attr("IFA_FLAGS") or a["flags"]
        if flags & IFA_F_PERMANENT and a["scope"] == RT_SCOPE_UNIVERSE:
            found.append([a.get_attr("IFA_LOCAL") or a.get_attr("IFA_ADDRESS"), a["prefixlen"]])
    return found


def move_in(plan, netns_path):
    """Move (and rename) every device into the namespace at netns_path, its addresses added
    again there, and set it up (the spec: up, so the container can use it)."""
    from pyrunc.network import links
    ipr = links.iproute()
    inner = None
    current = None
    try:
        inner = links.iproute_in(netns_path)
        ns_fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            for device in plan:
                current = device
                index = links.link_index(ipr, device["host"])
                if index is None:
                    raise NetworkError(f"{FIELD}.{device['host']}: the device is gone from "
                                       "the host")
                ipr.link("set", index=index, state="down")
                ipr.link("set", index=index, net_ns_fd=ns_fd, ifname=device["name"])
                _settle(inner, device["name"], device.get("addresses", []), up=True)
        finally:
            os.close(ns_fd)
    except links.netlink_errors() as e:
        raise NetworkError(f"{FIELD}.{current['host']}: cannot move it into the container's "
                           f"network namespace: {e.args[-1] if e.args else e}") from None
    finally:
        ipr.close()
        if inner is not None:
            inner.close()


def move_out(record):
    """Take every device of the record back from the container's namespace: down first (the
    spec: so that it disturbs nothing on its way), under its host name, with its addresses.
    A device already on the host (create failed before moving it) is left alone. Returns the
    problems as one message, or None."""
    from pyrunc.network import links
    netns_path = record.get("netns")
    problems = []
    inner = None
    ipr = None
    try:
        if netns_path and _is_namespace(netns_path):
            inner = links.iproute_in(netns_path)
        ipr = links.iproute()
        own = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            for device in record.get("devices", []):
                problem = _move_back(ipr, inner, own, device)
                if problem:
                    problems.append(problem)
        finally:
            os.close(own)
    finally:
        if inner is not None:
            inner.close()
        if ipr is not None:
            ipr.close()
        if netns_path:
            release_namespace(netns_path)
    return "; ".join(problems) or None


def _move_back(ipr, inner, own_fd, device):
    from pyrunc.network import links
    where = f"{FIELD}.{device['host']}"
    index = links.link_index(inner, device["name"]) if inner is not None else None
    if index is None:
        if links.link_index(ipr, device["host"]) is not None:
            return None  # never moved (or already back)
        return f"{where}: not found in the container's network namespace nor on the host"
    try:
        inner.link("set", index=index, state="down")
        inner.link("set", index=index, net_ns_fd=own_fd, ifname=device["host"])
        _settle(ipr, device["host"], device.get("addresses", []), up=False)
    except links.netlink_errors() as e:
        return f"{where}: cannot move it back to the host: {e.args[-1] if e.args else e}"
    return None


def _settle(ipr, name, addresses, up):
    """After a move: the addresses again (no duplicate detection: they were in use already),
    and the state."""
    from pyrunc.network import links
    index = links.link_index(ipr, name)
    if index is None:
        raise NetworkError(f"{name} did not appear where it was moved")
    for address, prefixlen in addresses:
        extra = {} if ":" not in address else {"flags": IFA_F_NODAD}
        try:
            ipr.addr("add", index=index, address=address, prefixlen=prefixlen, **extra)
        except links.netlink_errors() as e:
            if e.code != 17:  # EEXIST: there already
                raise
    if up:
        ipr.link("set", index=index, state="up")


def _is_namespace(path):
    """path has a network namespace mounted on it (not just the empty file under the mount)."""
    NSFS_MAGIC = 0x6E736673
    from pyrunc import native
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return native.fstatfs_type(fd) == NSFS_MAGIC
    finally:
        os.close(fd)
