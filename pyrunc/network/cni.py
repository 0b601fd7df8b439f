"""`pyrunc-cni`: a CNI plugin (SPEC 1.0.0; 0.4.0 and 1.1.0 results too) doing what pyrunc's own
networks do, with the same code: a bridge with the gateway addresses, a veth pair whose peer is
made inside CNI_NETNS as CNI_IFNAME, addresses leased from lease files (pyrunc.network.ipam),
routes. No NAT, ever.

The network configuration (stdin) takes the bridge plugin's fields where they mean the same:
`bridge` (default pyrcni0), `mtu`, `isGateway` (the gateway is always on the bridge: false is
refused), `isDefaultGateway`, `ipMasq` (true is refused), `ipam` with `ranges` (one subnet a
range set; `gateway` optional), or `subnet`/`gateway`, `routes` and `dataDir` (where the lease
files go, default /var/lib/cni/pyrunc); `ipam.type` may be host-local or pyrunc, both served
here. pyrunc's own fields: `isolation` (default true: nothing entering the bridge is routed
further) and `persistent` (default true, as the bridge plugin keeps its bridge).

ADD prints the result; DEL releases and removes (and succeeds when there is nothing to remove);
CHECK compares the kernel with the leases; VERSION, STATUS and GC (1.1.0) as the spec says.
Errors are CNI's error object on stdout and exit status 1.
"""
import ipaddress
import json
import os
import sys

SUPPORTED_VERSIONS = ["0.4.0", "1.0.0", "1.1.0"]
DEFAULT_DATA_DIR = "/var/lib/cni/pyrunc"
DEFAULT_BRIDGE = "pyrcni0"
# Error codes: CNI's well-known ones, and ours from 100.
INCOMPATIBLE_VERSION, UNSUPPORTED_FIELD, UNKNOWN_CONTAINER, INVALID_ENV = 1, 2, 3, 4
IO_FAILURE, DECODING_FAILURE, INVALID_CONFIG, TRY_AGAIN_LATER = 5, 6, 7, 11
SETUP_FAILURE, IPAM_FAILURE, CHECK_FAILURE = 100, 101, 102
_ID_EXTRA = "_.-"


class CniError(Exception):
    def __init__(self, code, msg, details=""):
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.details = details


class Request:
    """One invocation: the command, its CNI_* variables and the parsed configuration."""

    def __init__(self, environ, stdin_text):
        self.command = environ.get("CNI_COMMAND", "")
        self.container_id = environ.get("CNI_CONTAINERID", "")
        self.netns = environ.get("CNI_NETNS", "")
        self.ifname = environ.get("CNI_IFNAME", "")
        self.version = "1.0.0"
        try:
            self.config = json.loads(stdin_text) if stdin_text.strip() else {}
        except ValueError as e:
            raise CniError(DECODING_FAILURE, "network configuration is not valid JSON",
                           str(e)) from None
        if not isinstance(self.config, dict):
            raise CniError(DECODING_FAILURE, "network configuration must be a JSON object")
        self.version = str(self.config.get("cniVersion", "1.0.0"))
        self.environ = environ

    def require(self, *names):
        for name in names:
            if not self.environ.get(name):
                raise CniError(INVALID_ENV, f"{name} is required for {self.command}")
        if self.container_id and not all(c.isascii() and (c.isalnum() or c in _ID_EXTRA)
                                         for c in self.container_id):
            raise CniError(INVALID_ENV, "CNI_CONTAINERID: letters, digits, _ . - only")
        if self.ifname:
            from pyrunc.errors import SettingsError
            from pyrunc.network import settings
            try:
                settings.check_ifname("environment", "CNI_IFNAME", self.ifname)
            except SettingsError as e:
                raise CniError(INVALID_ENV, str(e)) from None


def main():
    environ = dict(os.environ)
    request = None
    try:
        request = Request(environ, sys.stdin.read())
        result = dispatch(request)
    except CniError as e:
        version = request.version if request is not None and \
            request.version in SUPPORTED_VERSIONS else "1.0.0"
        error = {"cniVersion": version, "code": e.code, "msg": e.msg}
        if e.details:
            error["details"] = e.details
        sys.stdout.write(json.dumps(error) + "\n")
        return 1
    if result is not None:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return 0


def dispatch(request):
    if request.command == "VERSION":
        return {"cniVersion": request.version if request.version in SUPPORTED_VERSIONS
                else "1.0.0", "supportedVersions": SUPPORTED_VERSIONS}
    commands = {"ADD": cmd_add, "DEL": cmd_del, "CHECK": cmd_check, "STATUS": cmd_status,
                "GC": cmd_gc}
    if request.command not in commands:
        raise CniError(INVALID_ENV, f"CNI_COMMAND: unknown command {request.command!r}")
    if request.version not in SUPPORTED_VERSIONS:
        raise CniError(INCOMPATIBLE_VERSION, f"cniVersion {request.version} is not supported",
                       f"supported: {', '.join(SUPPORTED_VERSIONS)}")
    from pyrunc.errors import PyruncError
    try:
        return commands[request.command](request)
    except OSError as e:
        raise CniError(IO_FAILURE, e.strerror or str(e), str(e)) from None
    except PyruncError as e:
        raise CniError(SETUP_FAILURE, str(e)) from None
    except CniError:
        raise
    except Exception as e:  # noqa: BLE001 - the runtime must get an error object, whatever failed
        raise CniError(SETUP_FAILURE, f"{type(e).__name__}: {e}") from None


# -- the network configuration ------------------------------------------------------------------

def parse_network(config, check_routes=True):
    """(Network, lease book of the data dir, routes) from the CNI configuration, through
    pyrunc's own settings checks (the host's routes included)."""
    from pyrunc.errors import SettingsError
    from pyrunc.network import links, settings
    if config.get("ipMasq"):
        raise CniError(UNSUPPORTED_FIELD, "ipMasq: pyrunc-cni never sets up NAT")
    if config.get("isGateway") is False:
        raise CniError(UNSUPPORTED_FIELD, "isGateway: pyrunc-cni always puts the gateway "
                       "addresses on the bridge")
    ipam = config.get("ipam") or {}
    if not isinstance(ipam, dict):
        raise CniError(INVALID_CONFIG, "ipam: must be an object")
    if ipam.get("type", "host-local") not in ("host-local", "pyrunc"):
        raise CniError(UNSUPPORTED_FIELD, f"ipam.type: {ipam.get('type')!r} (pyrunc-cni does "
                       "its own IPAM: host-local or pyrunc)")
    spec = {"bridge": config.get("bridge", DEFAULT_BRIDGE),
            "isolation": config.get("isolation", True),
            "persistent": config.get("persistent", True)}
    if "mtu" in config:
        spec["mtu"] = config["mtu"]
    for subnet in _ranges(ipam):
        version = ipaddress.ip_network(subnet["subnet"], strict=False).version \
            if _is_network(subnet.get("subnet")) else 4
        key = f"ipv{version}"
        if key in spec:
            raise CniError(UNSUPPORTED_FIELD, f"ipam.ranges: one IPv{version} range only")
        spec[key] = {k: subnet[k] for k in ("subnet", "gateway") if subnet.get(k)}
    name = config.get("name")
    if not isinstance(name, str):
        raise CniError(INVALID_CONFIG, "name: required")
    try:
        network = settings.parse_network("network configuration", name, spec)
        if check_routes:
            settings.check_together("network configuration", {name: network},
                                    links.host_routes())
    except SettingsError as e:
        raise CniError(INVALID_CONFIG, str(e)) from None
    routes = []
    for i, route in enumerate(ipam.get("routes") or []):
        try:
            routes.append((ipaddress.ip_network(route["dst"]),
                           ipaddress.ip_address(route["gw"]) if route.get("gw") else None))
        except (KeyError, TypeError, ValueError) as e:
            raise CniError(INVALID_CONFIG, f"ipam.routes[{i}]: {e}") from None
    return network, _book(ipam), routes


def _book(ipam):
    """The leases in ipam.dataDir: CNI's container ids are its runtime's, no state root's."""
    from pyrunc.network import ipam as leases
    return leases.Book(ipam.get("dataDir") or DEFAULT_DATA_DIR)


def _is_network(text):
    try:
        ipaddress.ip_network(str(text), strict=False)
        return True
    except ValueError:
        return False


def _ranges(ipam):
    if ipam.get("ranges"):
        result = []
        for i, range_set in enumerate(ipam["ranges"]):
            if not isinstance(range_set, list) or len(range_set) != 1 \
                    or not isinstance(range_set[0], dict):
                raise CniError(UNSUPPORTED_FIELD, f"ipam.ranges[{i}]: one range a set")
            extra = set(range_set[0]) - {"subnet", "gateway"}
            if extra:
                raise CniError(UNSUPPORTED_FIELD, f"ipam.ranges[{i}][0].{sorted(extra)[0]}: "
                               "not supported")
            result.append(range_set[0])
        return result
    if ipam.get("subnet"):
        return [{"subnet": ipam["subnet"], "gateway": ipam.get("gateway")}]
    raise CniError(INVALID_CONFIG, "ipam: needs ranges (or subnet)")


# -- commands ------------------------------------------------------------------------------------

def cmd_add(request):
    from pyrunc.errors import NetworkError
    from pyrunc.network import attach
    request.require("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH")
    if not os.path.exists(request.netns):
        raise CniError(INVALID_ENV, f"CNI_NETNS: {request.netns}: no such namespace")
    network, book, routes = parse_network(request.config)
    try:
        record = attach.reserve(request.container_id, [network], book, [request.ifname])
    except NetworkError as e:
        raise CniError(IPAM_FAILURE, str(e)) from None
    try:
        attach.connect(record, [network], request.netns, book, loopback=False,
                       default_route=bool(request.config.get("isDefaultGateway")), routes=routes)
    except BaseException:
        attach.detach(request.container_id, record, book, request.ifname)
        raise
    return result_of(request, network, record["interfaces"][0], routes)


def result_of(request, network, iface, routes):
    interfaces = [{"name": network.bridge, "mac": iface["bridge_mac"]},
                  {"name": iface["host_ifname"], "mac": iface["host_mac"]},
                  {"name": iface["ifname"], "mac": iface["mac"], "sandbox": request.netns}]
    ips = []
    gateways = {s.version: str(s.gateway) for s in network.subnets}
    for address in iface["addresses"]:
        version = ipaddress.ip_interface(address).version
        entry = {"interface": 2, "address": address, "gateway": gateways[version]}
        if request.version.startswith("0."):
            entry["version"] = str(version)
        ips.append(entry)
    result_routes = []
    if request.config.get("isDefaultGateway"):
        result_routes += [{"dst": "0.0.0.0/0" if s.version == 4 else "::/0", "gw": str(s.gateway)}
                          for s in network.subnets]
    for dst, gw in routes:
        result_routes.append({"dst": str(dst), **({"gw": str(gw)} if gw else {})})
    return {"cniVersion": request.version, "interfaces": interfaces, "ips": ips,
            "routes": result_routes, "dns": request.config.get("dns") or {}}


def cmd_del(request):
    """Idempotent: a missing lease, veth or namespace is not an error."""
    from pyrunc.network import attach
    request.require("CNI_CONTAINERID", "CNI_IFNAME")
    try:
        network, book, _ = parse_network(request.config, check_routes=False)
        record = {"interfaces": [{"ifname": request.ifname, "bridge": network.bridge,
                                  "persistent": network.persistent,
                                  "host_ifname": attach.host_ifname(request.container_id,
                                                                    request.ifname)}]}
    except CniError:
        # A configuration that no longer parses still lets the leases and the veth go.
        book = _book(request.config.get("ipam") or {})
        record = None
    attach.detach(request.container_id, record, book, request.ifname)
    return None


def cmd_check(request):
    from pyrunc.network import links
    request.require("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH")
    if "prevResult" not in request.config:
        raise CniError(INVALID_CONFIG, "prevResult: required by CHECK")
    network, book, _ = parse_network(request.config, check_routes=False)
    leased = {str(l.address) for l in book.read(network.bridge).leases
              if book.holds(l, request.container_id, request.ifname)}
    if not leased:
        raise CniError(UNKNOWN_CONTAINER, f"no lease for {request.container_id} "
                       f"{request.ifname} on {network.name}")
    if not os.path.exists(request.netns):
        raise CniError(UNKNOWN_CONTAINER, f"CNI_NETNS: {request.netns}: no such namespace")
    expected = {ip["address"].split("/")[0] for ip in request.config["prevResult"].get("ips", [])}
    if expected and expected != leased:
        raise CniError(CHECK_FAILURE, f"prevResult addresses {sorted(expected)} are not the "
                       f"leased ones {sorted(leased)}")
    ipr = links.iproute()
    try:
        bridge = links.link_index(ipr, network.bridge)
        host = links.link_index(ipr, links.host_veth_name(
            f"{request.container_id}/{request.ifname}"))
        if bridge is None or host is None or \
                ipr.get_links(host)[0].get_attr("IFLA_MASTER") != bridge:
            raise CniError(CHECK_FAILURE, f"the host end is not a port of {network.bridge}")
    finally:
        ipr.close()
    inner = links.iproute_in(request.netns)
    try:
        index = links.link_index(inner, request.ifname)
        if index is None:
            raise CniError(CHECK_FAILURE, f"no {request.ifname} in {request.netns}")
        have = {a.get_attr("IFA_ADDRESS") for a in inner.get_addr(index=index)}
        if not leased <= have:
            raise CniError(CHECK_FAILURE, f"{request.ifname} lacks {sorted(leased - have)}")
    finally:
        inner.close()
    return None


def cmd_status(request):
    """1.1.0: ready when the lease directory can be written."""
    _, book, _ = parse_network(request.config, check_routes=False)
    os.makedirs(book.directory, mode=0o711, exist_ok=True)
    if not os.access(book.directory, os.W_OK):
        raise CniError(TRY_AGAIN_LATER, f"{book.directory}: not writable")
    return None


def cmd_gc(request):
    """1.1.0: release the leases (and host veths) of attachments the runtime no longer knows."""
    from pyrunc.network import attach
    network, book, _ = parse_network(request.config, check_routes=False)
    valid = {(a.get("containerID"), a.get("ifname"))
             for a in request.config.get("cni.dev/valid-attachments") or []}
    with book.locked():
        stale = sorted({(l.container_id, l.ifname) for l in book.read(network.bridge).leases
                        if (l.container_id, l.ifname) not in valid})
    for container_id, ifname in stale:
        record = {"interfaces": [{"ifname": ifname, "bridge": network.bridge,
                                  "persistent": network.persistent,
                                  "host_ifname": attach.host_ifname(container_id, ifname)}]}
        attach.detach(container_id, record, book, ifname)
    return None


if __name__ == "__main__":
    sys.exit(main())
