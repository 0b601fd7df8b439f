"""Address leases: one text file per network under a state root, changed only under a lock.

<root>/network@<name>.leases holds one lease a line, `<container id> <ifname> <address>`, and
a `last<4|6> <address>` line per family: the address given last. The next lease is searched
from there, round robin, so a released address is not given again until the range has wrapped.
Leases are keyed by container id and interface, so `delete --force` of a container whose state
was never written (a crash) still releases its addresses by id.

The file is a file, not a directory, so `pyrunc list` never takes it for a container; '@' is
not allowed in container ids, so no container's directory can take its name. The lock is a
flock on the root directory itself: container locks are flocks on their own directories, so
the two never meet. A lease file with no leases left is removed only by remove_empty(), for
the tests: in use, it keeps its `last` lines, and with them the round robin.
"""
import fcntl
import ipaddress
import os

from pyrunc.errors import NetworkError

SUFFIX = ".leases"
PREFIX = "network@"


class Lease:
    def __init__(self, container_id, ifname, address):
        self.container_id = container_id
        self.ifname = ifname
        self.address = address  # an ipaddress object

    def __eq__(self, other):
        return (self.container_id, self.ifname, self.address) == (
            other.container_id, other.ifname, other.address)

    def __repr__(self):
        return f"Lease({self.container_id} {self.ifname} {self.address})"


class LeaseFile:
    """The parsed content of one network's lease file."""

    def __init__(self, leases=(), last=None):
        self.leases = list(leases)
        self.last = dict(last or {})  # version -> address

    @classmethod
    def parse(cls, text):
        result = cls()
        for number, line in enumerate(text.splitlines(), 1):
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            try:
                if len(fields) == 2 and fields[0] in ("last4", "last6"):
                    result.last[int(fields[0][-1])] = ipaddress.ip_address(fields[1])
                elif len(fields) == 3:
                    result.leases.append(Lease(fields[0], fields[1],
                                               ipaddress.ip_address(fields[2])))
                else:
                    raise ValueError("expected `<id> <ifname> <address>`")
            except ValueError as e:
                raise NetworkError(f"lease file line {number}: {e}") from None
        return result

    def render(self):
        lines = [f"last{v} {a}" for v, a in sorted(self.last.items())]
        lines += [f"{l.container_id} {l.ifname} {l.address}" for l in self.leases]
        return "".join(line + "\n" for line in lines)

    def taken(self):
        return {l.address for l in self.leases}


def lease_path(root, network_name):
    return os.path.join(root, f"{PREFIX}{network_name}{SUFFIX}")


def network_names(root):
    """Every network with a lease file under root."""
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    return sorted(n[len(PREFIX):-len(SUFFIX)] for n in names
                  if n.startswith(PREFIX) and n.endswith(SUFFIX))


class Locked:
    """`with Locked(root):` holds the root's network lock (blocking)."""

    def __init__(self, root):
        self.root = root
        self.fd = None

    def __enter__(self):
        os.makedirs(self.root, mode=0o711, exist_ok=True)
        self.fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)  # releases the flock
        self.fd = None


def read(root, network_name):
    try:
        with open(lease_path(root, network_name)) as f:
            return LeaseFile.parse(f.read())
    except FileNotFoundError:
        return LeaseFile()


def write(root, network_name, leases):
    path = lease_path(root, network_name)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(leases.render())
    os.rename(tmp, path)  # readers (network inspect) never see half a file


def next_free(subnet, leases):
    """The first free address after the last one given (round robin), skipping the gateway and
    the leased ones; NetworkError when the subnet is full."""
    taken = leases.taken() | {subnet.gateway}
    first, last = int(subnet.first_host), int(subnet.last_host)
    size = last - first + 1
    previous = leases.last.get(subnet.version)
    start = int(previous) + 1 if previous is not None and previous in subnet.network else first
    # At most len(taken) candidates can be refused: one more look is enough, even in a /64.
    for step in range(min(size, len(taken) + 1)):
        candidate = first + (start - first + step) % size
        address = ipaddress.ip_address(candidate)
        if address not in taken:
            return address
    raise NetworkError(f"subnet {subnet.network} is full: no free address")


def allocate(root, container_id, requests):
    """Lease addresses for every (network, ifname) in requests, all or none; the caller holds
    Locked(root). Returns {ifname: [ip_interface, ...]}."""
    changed = {}
    result = {}
    for network, ifname in requests:
        leases = changed.get(network.name) or read(root, network.name)
        if any(l.container_id == container_id and l.ifname == ifname for l in leases.leases):
            raise NetworkError(f"container {container_id} already holds a lease on "
                               f"{network.name} for {ifname}")
        addresses = []
        for subnet in network.subnets:
            address = next_free(subnet, leases)  # raises before anything is written
            leases.leases.append(Lease(container_id, ifname, address))
            leases.last[subnet.version] = address
            addresses.append(ipaddress.ip_interface(f"{address}/{subnet.network.prefixlen}"))
        changed[network.name] = leases
        result[ifname] = addresses
    for name, leases in changed.items():
        write(root, name, leases)
    return result


def release(root, container_id, ifname=None):
    """Drop every lease of container_id (only those of ifname, if given) in every network;
    the caller holds Locked(root). Returns [(network name, Lease)] released."""
    def matches(lease):
        return lease.container_id == container_id and ifname in (None, lease.ifname)
    released = []
    for name in network_names(root):
        leases = read(root, name)
        mine = [l for l in leases.leases if matches(l)]
        if not mine:
            continue
        leases.leases = [l for l in leases.leases if not matches(l)]
        write(root, name, leases)
        released.extend((name, l) for l in mine)
    return released


def remove_empty(root):
    """Remove the lease files that hold no lease (they keep only the round-robin position);
    the caller holds Locked(root). For tests and tidy roots."""
    for name in network_names(root):
        if not read(root, name).leases:
            os.unlink(lease_path(root, name))
