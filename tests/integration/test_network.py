"""Bridge networks (issue 7): containers asking for networks with the pyrunc.network
annotation get eth0 (eth1...) on a bridge, reach each other and the bridge's address, not other
networks; delete (also after a crash) leaves no veth, lease or bridge. The kernel state is read
from outside with pyroute2 and from inside with busybox's ip and ping."""
import concurrent.futures
import errno
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid

import pytest

from conftest import PYRUNC, Runtime, wait_until
from netutil import (bridge_ports, delete_link, host_veth, isolation_rules, leases, link_names,
                     net_bundle_edit, netns_view, network_lock, remove_rules, unique_bridge,
                     write_settings)
from pyrunc_faulty import NETWORK_STEPS

pytestmark = pytest.mark.root

SLEEP = ("sleep", "600")


SHARED = "pyrunc0"  # the default network's bridge: other state roots' containers may use it


class NetEnv:
    """A settings file of the test's own, the containers it starts, and the final check."""

    def __init__(self, runtime, make_bundle, tmp_path):
        self.runtime = runtime
        self.make_bundle = make_bundle
        self.settings = str(tmp_path / "pyrunc.yaml")
        self.bridges = set()  # the test's own bridges (unique names)
        # A port-less pyrunc0 that was there before is someone's persistent bridge: not ours.
        self.shared_was_idle = bridge_ports(SHARED) == []
        self.tag = uuid.uuid4().hex[:6]
        self.define({})

    def define(self, networks):
        for spec in networks.values():
            if spec["bridge"] != SHARED:
                self.bridges.add(spec["bridge"])
        write_settings(self.settings, networks)

    def bundle(self, networks, args=SLEEP, **kw):
        return self.make_bundle(args, net_bundle_edit(networks, **kw),
                                name=f"bundle-{uuid.uuid4().hex[:6]}")

    def create(self, container_id, networks="default", args=SLEEP, check=True, **kw):
        result = self.runtime("create", "--bundle", self.bundle(networks, args, **kw),
                              container_id, check=check)
        return result if not check else self.runtime.state(container_id)["pid"]

    def start(self, container_id, networks="default", **kw):
        pid = self.create(container_id, networks, **kw)
        self.runtime("start", container_id, check=True)
        return pid

    def exec(self, container_id, *argv):
        return self.runtime("exec", container_id, *argv, timeout=30)

    def record(self, container_id):
        with open(os.path.join(self.runtime.root, container_id, "state.json")) as f:
            return json.load(f)["network"]

    def veth(self, container_id, ifname="eth0"):
        """The host end of one of this test's containers (in its state root)."""
        return host_veth(container_id, ifname, self.runtime.root)

    def our_veths(self):
        return {self.veth(i, ifname) for i in self.runtime.used_ids for ifname in ("eth0", "eth1")}

    def our_ports(self, bridge=SHARED):
        """The bridge's ports that are this test's containers' (others may share pyrunc0)."""
        return sorted(set(bridge_ports(bridge) or []) & self.our_veths())

    def shared_released(self):
        """pyrunc0 went with this test's last container, or only others' containers use it."""
        ports = bridge_ports(SHARED)
        return ports is None or ((bool(ports) or self.shared_was_idle) and not self.our_ports())

    def check_clean(self, ids):
        problems = []
        names = link_names()
        for container_id in ids:
            for ifname in ("eth0", "eth1"):
                if self.veth(container_id, ifname) in names:
                    problems.append(f"veth of {container_id} {ifname}")
                    delete_link(self.veth(container_id, ifname))
        if leases(self.runtime.root):
            problems.append(f"leases: {leases(self.runtime.root)}")
        for bridge in self.bridges:
            if bridge in names:
                problems.append(f"bridge {bridge}")
                delete_link(bridge)
            if isolation_rules(bridge):
                problems.append(f"rules of {bridge}")
                remove_rules(bridge)
        # pyrunc0 goes only if it has no port (under pyrunc's lock: another root's create may be
        # about to add one) and was not someone's idle bridge before the test.
        with network_lock():
            if bridge_ports(SHARED) == [] and not self.shared_was_idle:
                problems.append(f"bridge {SHARED} left without ports")
                delete_link(SHARED)
                remove_rules(SHARED)
        return problems


@pytest.fixture
def netenv(runtime, make_bundle, tmp_path, monkeypatch):
    env = NetEnv(runtime, make_bundle, tmp_path)
    monkeypatch.setenv("PYRUNC_SETTINGS", env.settings)
    yield env
    for container_id in runtime.ids():
        runtime("delete", "--force", container_id)
    problems = env.check_clean(runtime.used_ids)
    assert not problems, problems


def ping(env, container_id, address):
    flag = "-6" if ":" in address else "-4"
    return env.exec(container_id, "ping", flag, "-c", "1", "-W", "2", address)


def host_route_prefixes():
    from pyroute2 import IPRoute
    with IPRoute() as ipr:
        return {f"{r.get_attr('RTA_DST')}/{r['dst_len']}" for r in ipr.get_routes(table=254)
                if r.get_attr("RTA_DST")}


def address_of(env, container_id, ifname="eth0", version=4):
    for iface in env.record(container_id)["interfaces"]:
        if iface["ifname"] == ifname:
            for a in iface["addresses"]:
                if ipaddress.ip_interface(a).version == version:
                    return a.split("/")[0]
    raise AssertionError(f"no IPv{version} address on {container_id} {ifname}")


# -- tests ----------------------------------------------------------------------------------------

def test_two_containers_on_default_reach_each_other_and_the_bridge(netenv):
    a, b = f"net-a-{netenv.tag}", f"net-b-{netenv.tag}"
    pid_a = netenv.start(a)
    netenv.start(b)

    # From outside: the namespace holds lo and eth0, up, with the leased addresses and the
    # default routes via the bridge's addresses; the bridge's ports are the two host ends.
    view = netns_view(pid_a)
    assert view["links"] == ["eth0", "lo"] and view["up"] == ["eth0", "lo"]
    assert view["addresses"]["eth0"] == sorted(netenv.record(a)["interfaces"][0]["addresses"])
    assert view["default_routes"] == {4: ["10.213.0.1"], 6: ["fd70:7972:756e::1"]}
    assert view["mtu"]["eth0"] == 1500
    assert netenv.our_ports() == sorted([netenv.veth(a), netenv.veth(b)])
    assert isolation_rules("pyrunc0") == [2, 10]  # AF_INET, AF_INET6

    # From inside: busybox's ip shows the same.
    inside = netenv.exec(a, "ip", "addr", "show", "eth0")
    assert address_of(netenv, a) in inside.stdout and address_of(netenv, a, version=6) \
        in inside.stdout, inside.stdout
    routes = netenv.exec(a, "ip", "route")
    assert "default via 10.213.0.1 dev eth0" in routes.stdout, routes.stdout
    routes6 = netenv.exec(a, "ip", "-6", "route")
    assert "default via fd70:7972:756e::1 dev eth0" in routes6.stdout, routes6.stdout

    for target in (address_of(netenv, b), "10.213.0.1", address_of(netenv, b, version=6),
                   "fd70:7972:756e::1"):
        result = ping(netenv, a, target)
        assert result.returncode == 0, (target, result.stdout, result.stderr)
    assert ping(netenv, b, address_of(netenv, a)).returncode == 0

    netenv.runtime("delete", "--force", a, check=True)
    assert netenv.veth(a) not in link_names()
    assert netenv.our_ports() == [netenv.veth(b)]
    assert [l[1][0] for l in leases(netenv.runtime.root)] == [b, b]
    netenv.runtime("delete", "--force", b, check=True)
    # Not persistent: the bridge and its rules go with its last port.
    assert netenv.shared_released()
    if "pyrunc0" not in link_names():
        assert isolation_rules("pyrunc0") == []
    assert leases(netenv.runtime.root) == []


def test_two_state_roots_on_default_share_the_bridge_not_the_addresses(netenv):
    """`default` is host-wide (one bridge, one subnet), so are its leases: a container of
    another state root, under the same id even, gets another address and another host veth,
    and the two reach each other. (The same id needs its own cgroupsPath: both would default
    to /<id>.)"""
    other = Runtime(f"/run/pyrunc-test-{uuid.uuid4().hex[:8]}")
    name = f"net-roots-{netenv.tag}"
    netenv.start(name)

    def edit(config):
        net_bundle_edit("default")(config)
        config["linux"]["cgroupsPath"] = f"/pyrunc-other-root-{netenv.tag}"
    try:
        other("create", "--bundle", netenv.make_bundle(SLEEP, edit, name="other-root"), name,
              check=True)
        other("start", name, check=True)
        with open(os.path.join(other.root, name, "state.json")) as f:
            theirs = json.load(f)["network"]["interfaces"][0]["addresses"]
        ours = netenv.record(name)["interfaces"][0]["addresses"]
        assert not set(ours) & set(theirs), (ours, theirs)
        their_veth = host_veth(name, "eth0", other.root)
        assert their_veth != netenv.veth(name)
        assert set(bridge_ports(SHARED)) >= {netenv.veth(name), their_veth}
        assert sorted(l[1][2] for l in leases(other.root)) == sorted(
            a.split("/")[0] for a in theirs)
        for address in theirs:
            result = ping(netenv, name, address.split("/")[0])
            assert result.returncode == 0, (address, result.stdout, result.stderr)
        back = other("exec", name, "ping", "-c", "1", "-W", "2", ours[0].split("/")[0])
        assert back.returncode == 0, back.stdout
        other("delete", "--force", name, check=True)
        # Theirs went, ours stays: same id, other root.
        assert their_veth not in link_names() and netenv.veth(name) in bridge_ports(SHARED)
        assert leases(other.root) == [] and len(leases(netenv.runtime.root)) == 2
        assert ping(netenv, name, "10.213.0.1").returncode == 0
    finally:
        other("delete", "--force", name)
        shutil.rmtree(other.root, ignore_errors=True)


def test_nothing_is_routed_off_the_machine(netenv):
    """No traffic leaves, shown from kernel state without sending any: the kernel's route
    lookup for a packet entering the bridge from the container's address refuses every outside
    destination (the isolation rule prohibits it; with forwarding off the kernel would not
    route it anyway), yet finds the host's own address; and no NAT rule names the network."""
    c = f"net-out-{netenv.tag}"
    pid = netenv.start(c)
    v4, v6 = address_of(netenv, c), address_of(netenv, c, version=6)
    assert netns_view(pid)["default_routes"] == {4: ["10.213.0.1"], 6: ["fd70:7972:756e::1"]}
    with open(f"/proc/sys/net/ipv4/conf/{SHARED}/forwarding") as f:
        forwarding = f.read().strip() == "1"
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError
    with IPRoute() as ipr:
        bridge = ipr.link_lookup(ifname=SHARED)[0]
        uplink = [r.get_attr("RTA_GATEWAY") for r in ipr.get_default_routes(family=socket.AF_INET)
                  if r.get_attr("RTA_GATEWAY")]
        outside = [(dst, v4, errno.EACCES if forwarding else errno.EHOSTUNREACH)
                   for dst in ["203.0.113.1", *uplink]]
        outside.append(("2001:db8::1", v6, errno.EACCES))  # IPv6 looks the rules up first
        for dst, src, code in outside:
            with pytest.raises(NetlinkError) as info:
                ipr.route("get", dst=dst, src=src, iif=bridge)
            assert info.value.code == code, (dst, info.value)
        local = ipr.route("get", dst="10.213.0.1", src=v4, iif=bridge)
        assert local[0]["type"] == 2  # RTN_LOCAL: the host's own address stays reachable
    for tool in ("iptables-save", "ip6tables-save"):
        rules = subprocess.run([tool, "-t", "nat"], capture_output=True, text=True, check=True)
        named = [line for line in rules.stdout.splitlines()
                 if any(word in line for word in ("10.213.0.", "fd70:7972:756e:", SHARED))]
        assert named == [], (tool, named)


def test_another_network_is_isolated(netenv):
    net_a, net_b = unique_bridge("a"), unique_bridge("b")
    netenv.define({"left": {"bridge": net_a, "ipv4": "10.231.1.0/24", "ipv6": "fd70:7972:756e:a1::/64"},
                   "right": {"bridge": net_b, "ipv4": "10.231.2.0/24", "ipv6": "fd70:7972:756e:b2::/64"}})
    a1, a2, b1 = (f"net-{n}-{netenv.tag}" for n in ("a1", "a2", "b1"))
    netenv.start(a1, "left")
    netenv.start(a2, "left")
    netenv.start(b1, "right")
    assert ping(netenv, a1, address_of(netenv, a2)).returncode == 0
    assert ping(netenv, b1, "10.231.2.1").returncode == 0
    assert ping(netenv, b1, "fd70:7972:756e:b2::1").returncode == 0
    for target in (address_of(netenv, a1), address_of(netenv, a1, version=6)):
        result = ping(netenv, b1, target)
        assert result.returncode != 0, (target, result.stdout)
    assert bridge_ports(net_a) == sorted([netenv.veth(a1), netenv.veth(a2)])
    assert bridge_ports(net_b) == [netenv.veth(b1)]


def test_two_networks_give_eth0_and_eth1(netenv):
    net_a, net_b = unique_bridge("a"), unique_bridge("b")
    netenv.define({"one": {"bridge": net_a, "ipv4": "10.231.3.0/24", "mtu": 1400},
                   "two": {"bridge": net_b, "ipv6": "fd70:7972:756e:c3::/64"}})
    c = f"net-two-{netenv.tag}"
    pid = netenv.start(c, "one,two")
    view = netns_view(pid)
    assert view["links"] == ["eth0", "eth1", "lo"]
    assert view["addresses"]["eth0"] == ["10.231.3.2/24"]
    assert view["addresses"]["eth1"] == ["fd70:7972:756e:c3::2/64"]
    assert view["mtu"]["eth0"] == 1400 and view["mtu"]["eth1"] == 1500
    # The default route goes through the first network only.
    assert view["default_routes"] == {4: ["10.231.3.1"], 6: []}
    assert ping(netenv, c, "fd70:7972:756e:c3::1").returncode == 0


def test_a_pod_member_gets_no_second_interface(netenv):
    first, member = f"net-pod-{netenv.tag}", f"net-member-{netenv.tag}"
    pid = netenv.start(first)

    def join(config):
        net_bundle_edit("default")(config)
        for ns in config["linux"]["namespaces"]:
            if ns["type"] == "network":
                ns["path"] = f"/proc/{pid}/ns/net"
    bundle = netenv.make_bundle(SLEEP, join, name="member")
    netenv.runtime("run", "-d", "--bundle", bundle, member, check=True)
    assert netns_view(pid)["links"] == ["eth0", "lo"]
    assert netenv.our_ports() == [netenv.veth(first)]
    assert netenv.veth(member) not in link_names()
    assert [l[1][0] for l in leases(netenv.runtime.root)] == [first, first]


def test_persistent_bridge_stays(netenv):
    bridge = unique_bridge("p")
    netenv.define({"keep": {"bridge": bridge, "ipv4": "10.231.4.0/24", "persistent": True}})
    c = f"net-keep-{netenv.tag}"
    netenv.start(c, "keep")
    netenv.runtime("delete", "--force", c, check=True)
    assert bridge in link_names() and bridge_ports(bridge) == []
    assert leases(netenv.runtime.root) == []
    delete_link(bridge)
    remove_rules(bridge)


def test_hosts_files_only_when_asked(netenv):
    plain, named = f"net-plain-{netenv.tag}", f"net-hosts-{netenv.tag}"
    netenv.start(plain)
    netenv.start(named, hosts=True)
    assert netenv.exec(plain, "cat", "/etc/hosts").stdout == ""  # the bundle's own, empty
    hosts = netenv.exec(named, "cat", "/etc/hosts").stdout
    assert "127.0.0.1\tlocalhost" in hosts
    assert f"{address_of(netenv, named)}\tpyrunc" in hosts, hosts
    assert netenv.exec(named, "cat", "/etc/hostname").stdout == "pyrunc\n"


def test_full_subnet_is_a_clear_error_and_leaves_nothing(netenv):
    bridge = unique_bridge("f")
    netenv.define({"tiny": {"bridge": bridge, "ipv4": "10.231.5.0/30"}})  # one lease
    first, second = f"net-first-{netenv.tag}", f"net-second-{netenv.tag}"
    netenv.start(first, "tiny")
    result = netenv.create(second, "tiny", check=False)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "pyrunc: subnet 10.231.5.0/30 is full: no free address (post-mortem: pyrunc --root "
        f"{netenv.runtime.root} explain {second})"], result.stderr
    assert second not in netenv.runtime.ids()
    assert netenv.veth(second) not in link_names()
    assert bridge_ports(bridge) == [netenv.veth(first)]


@pytest.mark.parametrize("settings, annotation, expected", [
    ({}, "nope", "config: annotations.pyrunc.network: unknown network 'nope' (known: default)"),
    ({}, "default,", "annotations.pyrunc.network: 'default,': expected <name>[,<name>...]"),
    ({}, None, "annotations.pyrunc.network.hosts: needs pyrunc.network"),
    ({"a": {"bridge": "pyrbad1", "ipv4": "10.231.6.0/24"},
      "b": {"bridge": "pyrbad2", "ipv4": "10.231.6.128/25"}}, "a",
     "networks.b.ipv4.subnet: 10.231.6.128/25 overlaps 10.231.6.0/24 of network a"),
    ({"a": {"bridge": "pyrbad1", "ipv4": "192.0.2.0/26"}}, "a",
     "clashes with the host's route to 192.0.2.0/24"),
])
def test_bad_settings_give_one_line_and_leave_nothing(netenv, settings, annotation, expected):
    if "clashes" in expected and "192.0.2.0/24" not in host_route_prefixes():
        pytest.skip("this host has no route to 192.0.2.0/24 to clash with")
    netenv.define(settings)
    c = f"net-bad-{netenv.tag}"
    if annotation is None:  # the hosts files alone, without a network
        bundle = netenv.make_bundle(SLEEP, lambda config: config.setdefault(
            "annotations", {}).update({"pyrunc.network.hosts": "true"}), name="hosts-only")
        result = netenv.runtime("create", "--bundle", bundle, c)
    else:
        result = netenv.create(c, annotation, check=False)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert netenv.runtime.ids() == [] and netenv.veth(c) not in link_names()


def test_fifty_containers_created_in_parallel_get_fifty_addresses(netenv):
    ids = [f"net-many-{i}-{netenv.tag}" for i in range(50)]
    bundle = netenv.bundle("default")

    def create(container_id):
        return netenv.runtime("create", "--bundle", bundle, container_id, timeout=120)

    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        results = list(pool.map(create, ids))
    assert [r.returncode for r in results] == [0] * 50, [r.stderr for r in results if r.returncode]
    addresses = {}
    for container_id in ids:
        pid = netenv.runtime.state(container_id)["pid"]
        view = netns_view(pid)
        addresses[container_id] = view["addresses"]["eth0"]
    v4 = [a for addrs in addresses.values() for a in addrs if ":" not in a]
    v6 = [a for addrs in addresses.values() for a in addrs if ":" in a]
    assert len(set(v4)) == 50 and len(set(v6)) == 50
    assert len(netenv.our_ports()) == 50
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        deleted = list(pool.map(lambda i: netenv.runtime("delete", "--force", i), ids))
    assert [r.returncode for r in deleted] == [0] * 50
    assert leases(netenv.runtime.root) == [] and netenv.shared_released()


@pytest.mark.parametrize("step", ("init-pid",) + NETWORK_STEPS + ("ready",))
def test_crash_during_create_then_delete_force_leaves_nothing(netenv, step):
    c = f"net-crash-{step}-{netenv.tag}"
    bundle = netenv.bundle("default")
    env = dict(os.environ, PYRUNC_TEST_KILL_AT=step)
    result = netenv.runtime.faulty()("create", "--bundle", bundle, c, env=env, timeout=30)
    assert result.returncode == -9, result.stderr
    assert leases(netenv.runtime.root), "the leases are taken before the kill"
    deleted = netenv.runtime("delete", "--force", c)
    assert deleted.returncode == 0, deleted.stderr
    assert wait_until(lambda: netenv.veth(c) not in link_names(), timeout=5)
    assert leases(netenv.runtime.root) == []
    assert netenv.shared_released()
    netns_mounts = [l for l in open("/proc/self/mountinfo") if "nsfs" in l and c in l]
    assert netns_mounts == []


def test_a_bundle_without_the_annotation_imports_no_pyroute2_nor_yaml(netenv, make_bundle):
    bundle = make_bundle(("true",), name="plain")
    plain = subprocess.run([sys.executable, "-X", "importtime", "-sSE", PYRUNC, "--root",
                            netenv.runtime.root, "run", "--bundle", bundle,
                            f"net-plain-{netenv.tag}"], capture_output=True, text=True, timeout=60)
    assert plain.returncode == 0, plain.stderr
    imported = {line.split("|")[-1].strip() for line in plain.stderr.splitlines()
                if line.startswith("import time:")}
    assert "pyrunc.container" in imported
    assert not {m for m in imported if m.split(".")[0] in ("pyroute2", "yaml")}, imported

    networked = subprocess.run([sys.executable, "-X", "importtime", "-sSE", PYRUNC, "--root",
                                netenv.runtime.root, "run", "--bundle", netenv.bundle(
                                    "default", args=("true",)), f"net-imp-{netenv.tag}"],
                               capture_output=True, text=True, timeout=60)
    assert networked.returncode == 0, networked.stderr
    assert "pyroute2.iproute.linux" in networked.stderr


def test_network_ls_and_inspect(netenv):
    bridge = unique_bridge("i")
    netenv.define({"lab": {"bridge": bridge, "ipv4": "10.231.7.0/24"}})
    c = f"net-inspect-{netenv.tag}"
    netenv.start(c, "lab")
    ls = netenv.runtime("network", "ls")
    assert ls.returncode == 0, ls.stderr
    lines = ls.stdout.splitlines()
    assert lines[0].split() == ["NAME", "BRIDGE", "SUBNETS", "LEASES"]
    assert any(l.split()[:2] == ["lab", bridge] and l.split()[-1] == "1" for l in lines), lines
    assert any(l.split()[:2] == ["default", "pyrunc0"] for l in lines), lines
    inspect = netenv.runtime("network", "inspect", "lab")
    data = json.loads(inspect.stdout)
    assert data["bridge"] == bridge and data["subnets"] == [
        {"subnet": "10.231.7.0/24", "gateway": "10.231.7.1"}]
    assert data["leases"] == [{"container": c, "root": os.path.realpath(netenv.runtime.root),
                               "ifname": "eth0", "address": "10.231.7.2"}]
    missing = netenv.runtime("network", "inspect", "nope")
    assert missing.returncode == 1
    assert missing.stderr.splitlines() == ["pyrunc: unknown network 'nope'"]


@pytest.fixture
def forwarding_host(netenv):
    """A network namespace standing in for a host that forwards (ip_forward on, IPv4 and IPv6):
    pyrunc runs in it through nsenter (which changes nothing but the network namespace), so
    the real host's sysctls are never touched. Removing it removes every link in it."""
    name = f"pyrhost-{netenv.tag}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    path = f"/run/netns/{name}"
    try:
        for sysctl in ("net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding"):
            subprocess.run(["nsenter", f"--net={path}", "sh", "-c",
                            f"echo 1 > /proc/sys/{sysctl}"], check=True)
        yield path
    finally:
        for container_id in netenv.runtime.ids():
            subprocess.run(["nsenter", f"--net={path}",
                            *netenv.runtime.cmd("delete", "--force", container_id)],
                           capture_output=True, timeout=60)
        subprocess.run(["ip", "netns", "del", name], check=True)


@pytest.mark.parametrize("isolation", [True, False])
def test_isolation_holds_on_a_host_that_forwards(netenv, forwarding_host, isolation):
    """With forwarding on, only the isolation rules keep a container of one network from being
    routed into another: without them (isolation: false) the same ping goes through."""
    netenv.define({
        "left": {"bridge": unique_bridge("l"), "ipv4": "10.231.8.0/24",
                 "ipv6": "fd70:7972:756e:d8::/64", "isolation": isolation},
        "right": {"bridge": unique_bridge("r"), "ipv4": "10.231.9.0/24",
                  "ipv6": "fd70:7972:756e:d9::/64", "isolation": isolation}})

    def pyrunc(*args):
        # Output through files, not pipes: the container's process inherits them (see
        # conftest.Runtime).
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            result = subprocess.run(["nsenter", f"--net={forwarding_host}",
                                     *netenv.runtime.cmd(*args)], stdout=out, stderr=err,
                                    timeout=60)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(result.args, result.returncode, out.read(),
                                               err.read())

    a, b = f"net-fwd-a-{netenv.tag}", f"net-fwd-b-{netenv.tag}"
    for container_id, network in ((a, "left"), (b, "right")):
        created = pyrunc("create", "--bundle", netenv.bundle(network), container_id)
        assert created.returncode == 0, created.stderr
        assert pyrunc("start", container_id).returncode == 0
    for target in (address_of(netenv, a), address_of(netenv, a, version=6)):
        flag = "-6" if ":" in target else "-4"
        # A reply must come when nothing isolates; a few tries, as neighbour discovery on a
        # loaded machine can eat the first one.
        tries = ("-c", "1", "-W", "2") if isolation else ("-c", "5", "-W", "10")
        result = pyrunc("exec", b, "ping", flag, *tries, target)
        assert (result.returncode == 0) == (not isolation), (target, result.stdout)
    # Its own gateway stays reachable either way.
    assert pyrunc("exec", b, "ping", "-c", "1", "-W", "2", "10.231.9.1").returncode == 0
    for container_id in (a, b):
        assert pyrunc("delete", "--force", container_id).returncode == 0
