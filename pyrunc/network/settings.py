"""The host's named networks: read from pyrunc's settings file (YAML), plus the built-in
`default` network, and checked as a whole (fields, overlapping subnets, shared bridges, clashes
with the host's routes).

The file is /etc/pyrunc/pyrunc.yaml, or the path in $PYRUNC_SETTINGS. Its shape:

    networks:
      NAME:
        bridge: pyrbr1                       # required but for `default` (pyrunc0)
        ipv4: {subnet: 10.1.0.0/24, gateway: 10.1.0.1}   # gateway: the first host if absent
        ipv6: {subnet: "fd01::/64"}          # at least one of ipv4, ipv6
        mtu: 1500                            # bridge, both veth ends
        isolation: true                      # nothing entering the bridge is routed further
        persistent: false                    # keep the bridge when its last container goes

This module does no netlink: the host's routes are given to load() by the caller (links.py reads
them), so it is tested without root.
"""
import ipaddress
import os

from pyrunc.errors import SettingsError

DEFAULT_PATH = "/etc/pyrunc/pyrunc.yaml"
DEFAULT_NETWORK = "default"
DEFAULT_BRIDGE = "pyrunc0"
# The built-in network takes the first of these that clashes with neither the host's routes nor
# another network: private ranges that home and cloud networks seldom use. The IPv6 one is a ULA
# whose global id spells "pyrun".
DEFAULT_IPV4_CANDIDATES = ("10.213.0.0/24", "10.214.0.0/24", "10.215.0.0/24", "172.29.213.0/24")
DEFAULT_IPV6_CANDIDATES = ("fd70:7972:756e::/64", "fd70:7972:756e:1::/64")
DEFAULT_MTU = 1500
IFNAMSIZ = 16  # with the trailing NUL: names up to 15 bytes
_NETWORK_KEYS = {"bridge", "ipv4", "ipv6", "mtu", "isolation", "persistent"}
_NAME_EXTRA = "_-."


class Subnet:
    """One address family of a network: the subnet, the gateway (the bridge's address) and the
    range leases come from."""

    def __init__(self, network, gateway):
        self.network = network
        self.gateway = gateway
        self.version = network.version

    @property
    def first_host(self):
        return self.network.network_address + 1

    @property
    def last_host(self):
        last = self.network.broadcast_address
        return last - 1 if self.version == 4 else last

    def __repr__(self):
        return f"Subnet({self.network}, gw {self.gateway})"


class Network:
    def __init__(self, name, bridge, subnets, mtu=DEFAULT_MTU, isolation=True, persistent=False):
        self.name = name
        self.bridge = bridge
        self.subnets = subnets  # IPv4 first when both
        self.mtu = mtu
        self.isolation = isolation
        self.persistent = persistent

    def describe(self):
        """Plain data for `pyrunc network inspect`."""
        return {"name": self.name, "bridge": self.bridge, "mtu": self.mtu,
                "isolation": self.isolation, "persistent": self.persistent,
                "subnets": [{"subnet": str(s.network), "gateway": str(s.gateway)}
                            for s in self.subnets]}


def settings_path():
    return os.environ.get("PYRUNC_SETTINGS") or DEFAULT_PATH


def read_file(path):
    """The parsed YAML document, or {} when the default file does not exist (a path named by
    $PYRUNC_SETTINGS must exist)."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        if os.environ.get("PYRUNC_SETTINGS"):
            raise SettingsError(path, "file", "no such file (named by PYRUNC_SETTINGS)") from None
        return {}
    except OSError as e:
        raise SettingsError(path, "file", e.strerror) from None
    import yaml
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "file"
        raise SettingsError(path, where, f"not valid YAML: {getattr(e, 'problem', e)}") from None
    return {} if document is None else document


def load(host_routes=(), path=None, document=None):
    """{name: Network} from the settings file (or the given document). host_routes: (network,
    device name) pairs of the host's main table; a subnet may not overlap one, but for the routes
    on its own bridge (which pyrunc made)."""
    path = path or settings_path()
    if document is None:
        document = read_file(path)
    if not isinstance(document, dict):
        raise SettingsError(path, "(top)", "must be a mapping")
    unknown = set(document) - {"networks"}
    if unknown:
        raise SettingsError(path, sorted(unknown)[0], "unknown setting")
    raw = document.get("networks")
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise SettingsError(path, "networks", "must be a mapping of names to networks")
    networks = {}
    for name, spec in raw.items():
        networks[str(name)] = parse_network(path, str(name), spec)
    if DEFAULT_NETWORK not in networks:
        networks[DEFAULT_NETWORK] = _builtin_default(path, networks.values(), host_routes)
    check_together(path, networks, host_routes)
    return networks


def parse_network(path, name, spec):
    field = f"networks.{name}"
    if not name or len(name) > 64 or not all(c.isascii() and (c.isalnum() or c in _NAME_EXTRA)
                                             for c in name) or name in (".", ".."):
        raise SettingsError(path, field, "a network name is 1 to 64 letters, digits, _ - .")
    if not isinstance(spec, dict):
        raise SettingsError(path, field, "must be a mapping")
    unknown = set(spec) - _NETWORK_KEYS
    if unknown:
        raise SettingsError(path, f"{field}.{sorted(unknown)[0]}", "unknown setting")
    bridge = spec.get("bridge", DEFAULT_BRIDGE if name == DEFAULT_NETWORK else None)
    if bridge is None:
        raise SettingsError(path, f"{field}.bridge", "required")
    check_ifname(path, f"{field}.bridge", bridge)
    subnets = []
    for version, key in ((4, "ipv4"), (6, "ipv6")):
        if spec.get(key) is not None:
            subnets.append(parse_subnet(path, f"{field}.{key}", spec[key], version))
    if not subnets:
        raise SettingsError(path, field, "needs an ipv4 or an ipv6 subnet (or both)")
    mtu = spec.get("mtu", DEFAULT_MTU)
    low = 1280 if any(s.version == 6 for s in subnets) else 68
    if not isinstance(mtu, int) or isinstance(mtu, bool) or not low <= mtu <= 65535:
        raise SettingsError(path, f"{field}.mtu", f"must be an integer from {low} to 65535")
    flags = {}
    for key, default in (("isolation", True), ("persistent", False)):
        flags[key] = spec.get(key, default)
        if not isinstance(flags[key], bool):
            raise SettingsError(path, f"{field}.{key}", "must be true or false")
    return Network(name, bridge, subnets, mtu, **flags)


def check_ifname(path, field, value):
    if (not isinstance(value, str) or not value or len(value.encode()) >= IFNAMSIZ
            or value in (".", "..") or any(c in value for c in "/:") or any(c.isspace() for c in value)):
        raise SettingsError(path, field, "an interface name: 1 to 15 characters, no '/', ':' "
                            "or spaces")


def parse_subnet(path, field, spec, version):
    if isinstance(spec, str):
        spec = {"subnet": spec}
    if not isinstance(spec, dict):
        raise SettingsError(path, field, "must be a mapping with subnet (and gateway)")
    unknown = set(spec) - {"subnet", "gateway"}
    if unknown:
        raise SettingsError(path, f"{field}.{sorted(unknown)[0]}", "unknown setting")
    try:
        network = ipaddress.ip_network(str(spec.get("subnet")), strict=True)
    except ValueError as e:
        raise SettingsError(path, f"{field}.subnet", str(e)) from None
    if network.version != version:
        raise SettingsError(path, f"{field}.subnet", f"{network} is not an IPv{version} subnet")
    # IPv4 needs a network and a broadcast address besides the gateway and one container.
    longest = 30 if version == 4 else 126
    if network.prefixlen > longest:
        raise SettingsError(path, f"{field}.subnet", f"/{network.prefixlen} is too small "
                            f"(at most /{longest})")
    if network.prefixlen < (8 if version == 4 else 48):
        raise SettingsError(path, f"{field}.subnet", f"/{network.prefixlen} is too large")
    subnet = Subnet(network, None)
    if spec.get("gateway") is None:
        subnet.gateway = subnet.first_host
        return subnet
    try:
        gateway = ipaddress.ip_address(str(spec["gateway"]))
    except ValueError as e:
        raise SettingsError(path, f"{field}.gateway", str(e)) from None
    if gateway not in network or not subnet.first_host <= gateway <= subnet.last_host:
        raise SettingsError(path, f"{field}.gateway", f"{gateway} is not a host of {network}")
    subnet.gateway = gateway
    return subnet


def _builtin_default(path, others, host_routes):
    """The `default` network when the file does not define one: the first candidate subnets that
    clash with nothing."""
    taken = [s.network for n in others for s in n.subnets]
    taken += [net for net, dev in host_routes if dev != DEFAULT_BRIDGE and _is_checked_route(net)]
    subnets = []
    for candidates in (DEFAULT_IPV4_CANDIDATES, DEFAULT_IPV6_CANDIDATES):
        for text in candidates:
            net = ipaddress.ip_network(text)
            if not any(net.overlaps(t) for t in taken if t.version == net.version):
                subnets.append(Subnet(net, net.network_address + 1))
                break
    if not subnets:
        raise SettingsError(path, f"networks.{DEFAULT_NETWORK}", "every built-in subnet clashes "
                            "with the host's routes: define the default network in the file")
    return Network(DEFAULT_NETWORK, DEFAULT_BRIDGE, subnets)


def _is_checked_route(net):
    """Routes a subnet must not overlap: not the default route, not link-local or multicast
    (every interface has those)."""
    return net.prefixlen > 0 and not net.is_link_local and not net.is_multicast


def check_together(path, networks, host_routes):
    seen_bridges = {}
    seen_subnets = []
    for network in networks.values():
        field = f"networks.{network.name}"
        if network.bridge in seen_bridges:
            raise SettingsError(path, f"{field}.bridge", f"{network.bridge} is also the bridge of "
                                f"network {seen_bridges[network.bridge]}")
        seen_bridges[network.bridge] = network.name
        for subnet in network.subnets:
            key = f"{field}.ipv{subnet.version}.subnet"
            for other_name, other in seen_subnets:
                if subnet.network.overlaps(other):
                    raise SettingsError(path, key, f"{subnet.network} overlaps {other} of "
                                        f"network {other_name}")
            seen_subnets.append((network.name, subnet.network))
            for route, device in host_routes:
                if (device != network.bridge and _is_checked_route(route)
                        and route.version == subnet.version and subnet.network.overlaps(route)):
                    raise SettingsError(path, key, f"{subnet.network} clashes with the host's "
                                        f"route to {route} on {device}")


def select(networks, names, path=None):
    """The networks an annotation names, in order; an unknown or repeated name is an error."""
    chosen = []
    for name in names:
        if name not in networks:
            from pyrunc.errors import ConfigError
            raise ConfigError("annotations.pyrunc.network",
                              f"unknown network {name!r} (known: {', '.join(sorted(networks))})")
        if networks[name] in chosen:
            from pyrunc.errors import ConfigError
            raise ConfigError("annotations.pyrunc.network", f"network {name!r} named twice")
        chosen.append(networks[name])
    return chosen
