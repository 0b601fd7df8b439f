"""Address leases: one text file per bridge in a lease directory, changed only under a lock.

A bridge is one broadcast domain, whichever state root (--root) its containers come from, so
pyrunc's own networks keep their leases host-wide: /run/pyrunc-networks/<bridge>.leases
(Book.host). Container ids are unique only within one state root, so each lease names its root
too: `<container id> <ifname> <address> <root>` (the root %-quoted). pyrunc-cni keeps its leases
in its configuration's dataDir, as CNI's host-local does, without a root (Book(dataDir)).

A `last<4|6> <address>` line per family holds the address given last: the next lease is searched
from there, round robin, so a released address is not given again until the range has wrapped,
while the bridge has leases at all; the file goes with its last lease. Leases are keyed by
container id and interface, so `delete --force` of a container whose state was never written (a
crash) still releases its addresses by id.

The lock is a flock on the lease directory itself, which is never removed (every process then
locks the same inode); container locks are flocks on their own state directories, elsewhere.
"""
import ipaddress
import os

from pyrunc.errors import NetworkError

HOST_DIR = "/run/pyrunc-networks"
SUFFIX = ".leases"


class Lease:
    def __init__(self, container_id, ifname, address, root=None):
        self.container_id = container_id
        self.ifname = ifname
        self.address = address  # an ipaddress object
        self.root = root  # the state root of a pyrunc container; None for pyrunc-cni

    def __eq__(self, other):
        return (self.container_id, self.ifname, self.address, self.root) == (
            other.container_id, other.ifname, other.address, other.root)

    def __repr__(self):
        return f"Lease({self.container_id} {self.ifname} {self.address} {self.root})"


def _quote(path):
    from urllib.parse import quote
    return quote(path, safe="/")


def _unquote(text):
    from urllib.parse import unquote
    return unquote(text)


class LeaseFile:
    """The parsed content of one bridge's lease file."""

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
                elif len(fields) in (3, 4):
                    root = _unquote(fields[3]) if len(fields) == 4 else None
                    result.leases.append(Lease(fields[0], fields[1],
                                               ipaddress.ip_address(fields[2]), root))
                else:
                    raise ValueError("expected `<id> <ifname> <address> [<root>]`")
            except ValueError as e:
                raise NetworkError(f"lease file line {number}: {e}") from None
        return result

    def render(self):
        lines = [f"last{v} {a}" for v, a in sorted(self.last.items())]
        lines += [f"{l.container_id} {l.ifname} {l.address}"
                  + (f" {_quote(l.root)}" if l.root is not None else "") for l in self.leases]
        return "".join(line + "\n" for line in lines)

    def taken(self):
        return {l.address for l in self.leases}


# The longest a command waits for the host-wide network lock (another command changing leases
# holds it for milliseconds; its waiters poll, so under a burst of parallel pods one may wait
# a while) before it fails naming the holder.
LOCK_TIMEOUT = 30.0


class Locked:
    """`with Locked(directory):` holds the lease directory's lock, waiting LOCK_TIMEOUT at most."""

    def __init__(self, directory):
        self.directory = directory
        self.fd = None

    def __enter__(self):
        # 0755: anyone may read the leases (`pyrunc network ls` as a user); only root writes.
        os.makedirs(self.directory, mode=0o755, exist_ok=True)
        self.fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        from pyrunc.state import flock_within
        if not flock_within(self.fd, LOCK_TIMEOUT):
            os.close(self.fd)
            self.fd = None
            from pyrunc.locks import LockBusyError
            raise LockBusyError("the network lease book", self.directory, LOCK_TIMEOUT)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)  # releases the flock
        self.fd = None


class Book:
    """The leases kept in one directory, a file per bridge, and whose they are: root is the
    state root of the containers leasing through this book (None for pyrunc-cni). Every change
    happens under locked()."""

    def __init__(self, directory, root=None):
        self.directory = directory
        self.root = root

    @classmethod
    def host(cls, root):
        """The book of pyrunc's own networks for the containers of one state root."""
        return cls(HOST_DIR, os.path.realpath(root))

    def locked(self):
        return Locked(self.directory)

    def path(self, bridge):
        return os.path.join(self.directory, bridge + SUFFIX)

    def bridges(self):
        """Every bridge with a lease file here."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        return sorted(n[:-len(SUFFIX)] for n in names if n.endswith(SUFFIX))

    def read(self, bridge):
        try:
            with open(self.path(bridge)) as f:
                return LeaseFile.parse(f.read())
        except FileNotFoundError:
            return LeaseFile()

    def write(self, bridge, leases):
        """Replace the bridge's file (readers such as `network inspect` never see half of
        one); a file left without leases is removed."""
        path = self.path(bridge)
        if not leases.leases:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            return
        tmp = f"{path}.tmp"
        with open(tmp, "w") as f:
            f.write(leases.render())
        os.rename(tmp, path)

    def holds(self, lease, container_id, ifname=None):
        """Whether lease is container_id's (on ifname, if given) in this book's root."""
        return (lease.container_id == container_id and lease.root == self.root
                and ifname in (None, lease.ifname))

    def allocate(self, container_id, requests):
        """Lease addresses for every (network, ifname) in requests, all or none; the caller
        holds locked(). Returns {ifname: [ip_interface, ...]}."""
        changed = {}
        result = {}
        for network, ifname in requests:
            leases = changed.get(network.bridge) or self.read(network.bridge)
            if any(self.holds(l, container_id, ifname) for l in leases.leases):
                raise NetworkError(f"container {container_id} already holds a lease on "
                                   f"{network.name} for {ifname}")
            addresses = []
            for subnet in network.subnets:
                address = next_free(subnet, leases)  # raises before anything is written
                leases.leases.append(Lease(container_id, ifname, address, self.root))
                leases.last[subnet.version] = address
                addresses.append(ipaddress.ip_interface(f"{address}/{subnet.network.prefixlen}"))
            changed[network.bridge] = leases
            result[ifname] = addresses
        for bridge, leases in changed.items():
            self.write(bridge, leases)
        return result

    def release(self, container_id, ifname=None):
        """Drop every lease of container_id (only those of ifname, if given) on every bridge;
        the caller holds locked(). Returns [(bridge, Lease)] released."""
        released = []
        for bridge in self.bridges():
            leases = self.read(bridge)
            mine = [l for l in leases.leases if self.holds(l, container_id, ifname)]
            if not mine:
                continue
            leases.leases = [l for l in leases.leases if not self.holds(l, container_id, ifname)]
            self.write(bridge, leases)
            released.extend((bridge, l) for l in mine)
        return released


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
