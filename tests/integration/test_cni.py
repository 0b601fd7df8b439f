"""pyrunc-cni side by side with Debian's bridge plugin (containernetworking-plugins): the same
network configuration, the same test cases, run in throwaway network namespaces; the results
have the same shape and the kernel holds the same state (read with pyroute2)."""
import json
import os
import socket
import subprocess
import sys
import uuid

import pytest
from pyroute2 import IPRoute

from netutil import (bridge_ports, delete_link, forwarding_kept, isolation_rules, link_names,
                     remove_rules)

pytestmark = pytest.mark.root

DEBIAN_DIR = "/usr/lib/cni"
PYRUNC_CNI = os.path.join(os.path.dirname(sys.executable), "pyrunc-cni")
PLUGINS = {"bridge": os.path.join(DEBIAN_DIR, "bridge"), "pyrunc-cni": PYRUNC_CNI}


class CniEnv:
    """Namespaces, a bridge and data directories of one test; all removed at the end."""

    def __init__(self, tmp_path):
        self.tag = uuid.uuid4().hex[:6]
        self.bridge = f"pyrcni{self.tag}"
        self.tmp = tmp_path
        self.namespaces = []

    def netns(self):
        name = f"pyrcni-{self.tag}-{len(self.namespaces)}"
        subprocess.run(["ip", "netns", "add", name], check=True)
        self.namespaces.append(name)
        return f"/run/netns/{name}"

    def config(self, plugin, **extra):
        config = {"cniVersion": "1.0.0", "name": f"pyrcni-{self.tag}", "type": plugin,
                  "bridge": self.bridge, "isGateway": True, "isDefaultGateway": True,
                  "ipMasq": False, "mtu": 1400,
                  "ipam": {"type": "host-local",
                           "ranges": [[{"subnet": "10.232.7.0/24"}],
                                      [{"subnet": "fd70:7972:756e:e7::/64"}]],
                           "dataDir": str(self.tmp / f"data-{plugin}")}}
        config.update(extra)
        return config

    def call(self, plugin, command, config, netns="", container_id="c1", ifname="eth0",
             environ=None):
        env = {"PATH": os.environ["PATH"], "CNI_COMMAND": command, "CNI_CONTAINERID": container_id,
               "CNI_NETNS": netns, "CNI_IFNAME": ifname,
               "CNI_PATH": f"{os.path.dirname(PYRUNC_CNI)}:{DEBIAN_DIR}"}
        env.update(environ or {})
        env = {k: v for k, v in env.items() if v is not None}
        data = config if isinstance(config, str) else json.dumps(config)
        result = subprocess.run([PLUGINS[plugin]], input=data, capture_output=True, text=True,
                                env=env, timeout=60)
        parsed = json.loads(result.stdout) if result.stdout.strip() else None
        return result.returncode, parsed, result.stderr

    def cleanup(self):
        for name in self.namespaces:
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        leftovers = [n for n in link_names() if n == self.bridge]
        delete_link(self.bridge)
        remove_rules(self.bridge)
        return leftovers


@pytest.fixture
def cni(tmp_path):
    """The test's CniEnv. Debian's bridge plugin must be there: these tests compare pyrunc-cni
    with it (scripts/install installs containernetworking-plugins), and a suite must not pass by
    skipping. It turns the host's IP forwarding on: forwarding_kept turns it back."""
    assert os.path.exists(PLUGINS["bridge"]), (
        f"{PLUGINS['bridge']} is missing: install containernetworking-plugins (scripts/install)")
    env = CniEnv(tmp_path)
    with forwarding_kept():
        yield env
        env.cleanup()
    assert not [n for n in os.listdir("/run/netns") if n.startswith(f"pyrcni-{env.tag}")]


def kernel_view(netns_path, bridge):
    """What ADD left in the kernel, with the names and MACs that differ by design left out."""
    view = {}
    with IPRoute(netns=netns_path, flags=0) as ipr:
        links = {l.get_attr("IFLA_IFNAME"): l for l in ipr.get_links()}
        view["links"] = sorted(links)
        view["up"] = sorted(n for n, l in links.items() if l["flags"] & 1)
        view["mtu"] = links["eth0"].get_attr("IFLA_MTU")
        view["addresses"] = sorted(
            (a.get_attr("IFA_ADDRESS"), a["prefixlen"], a.get_attr("IFA_BROADCAST"))
            for a in ipr.get_addr(index=links["eth0"]["index"]) if a["scope"] == 0)
        view["routes"] = sorted(
            (family, r["dst_len"], r.get_attr("RTA_DST"), r.get_attr("RTA_GATEWAY"))
            for family in (socket.AF_INET, socket.AF_INET6)
            for r in ipr.get_routes(family=family, table=254)
            if r.get_attr("RTA_DST") != "fe80::" and r["type"] == 1)
    with IPRoute() as ipr:
        index = ipr.link_lookup(ifname=bridge)[0]
        view["bridge_mtu"] = ipr.get_links(index)[0].get_attr("IFLA_MTU")
        view["bridge_addresses"] = sorted(
            (a.get_attr("IFA_ADDRESS"), a["prefixlen"], a.get_attr("IFA_BROADCAST"))
            for a in ipr.get_addr(index=index) if a["scope"] == 0)
        view["bridge_ports"] = len(bridge_ports(bridge))
        view["bridge_up"] = bool(ipr.get_links(index)[0]["flags"] & 1)
    return view


def shape(result):
    """The result without what differs by design (MACs, the host veth's name)."""
    return {"cniVersion": result["cniVersion"],
            "interfaces": [{k: (v if k != "mac" else "<mac>") for k, v in i.items()
                            if not (k == "name" and n == 1)}
                           for n, i in enumerate(result["interfaces"])],
            "ips": result["ips"], "routes": result["routes"], "dns": result["dns"]}


def test_add_check_del_match_the_bridge_plugin(cni):
    netns = cni.netns()
    seen = {}
    for plugin in ("bridge", "pyrunc-cni"):
        config = cni.config(plugin)
        code, result, err = cni.call(plugin, "ADD", config, netns)
        assert code == 0, (plugin, result, err)
        seen[plugin] = (shape(result), kernel_view(netns, cni.bridge))
        assert result["interfaces"][2] == {"name": "eth0", "mac": result["interfaces"][2]["mac"],
                                           "sandbox": netns}

        code, out, err = cni.call(plugin, "CHECK", dict(config, prevResult=result), netns)
        assert (code, out) == (0, None), (plugin, out, err)

        host_end = result["interfaces"][1]["name"]
        assert bridge_ports(cni.bridge) == [host_end]
        code, out, err = cni.call(plugin, "DEL", dict(config, prevResult=result), netns)
        assert (code, out) == (0, None), (plugin, out, err)
        assert host_end not in link_names()
        assert bridge_ports(cni.bridge) == []  # both keep the bridge itself
        # DEL again, and DEL without a namespace, are no errors.
        assert cni.call(plugin, "DEL", config, netns)[0] == 0
        assert cni.call(plugin, "DEL", config, "")[0] == 0
        delete_link(cni.bridge)  # the next plugin makes its own
    assert seen["pyrunc-cni"][0] == seen["bridge"][0]
    assert seen["pyrunc-cni"][1] == seen["bridge"][1]


def test_addresses_are_released_and_not_reused_at_once(cni):
    for plugin in ("bridge", "pyrunc-cni"):
        first, second = cni.netns(), cni.netns()
        config = cni.config(plugin)
        _, a, _ = cni.call(plugin, "ADD", config, first, container_id="a")
        _, b, _ = cni.call(plugin, "ADD", config, second, container_id="b")
        assert [ip["address"] for ip in a["ips"]] == ["10.232.7.2/24", "fd70:7972:756e:e7::2/64"]
        assert [ip["address"] for ip in b["ips"]] == ["10.232.7.3/24", "fd70:7972:756e:e7::3/64"]
        assert cni.call(plugin, "DEL", config, first, container_id="a")[0] == 0
        _, c, _ = cni.call(plugin, "ADD", config, first, container_id="c")
        assert c["ips"][0]["address"] == "10.232.7.4/24", plugin
        for container_id, netns in (("b", second), ("c", first)):
            assert cni.call(plugin, "DEL", config, netns, container_id=container_id)[0] == 0
        delete_link(cni.bridge)
        remove_rules(cni.bridge)


def test_two_namespaces_ping_each_other_through_pyrunc_cni(cni):
    first, second = cni.netns(), cni.netns()
    config = cni.config("pyrunc-cni")
    _, a, _ = cni.call("pyrunc-cni", "ADD", config, first, container_id="a")
    _, b, _ = cni.call("pyrunc-cni", "ADD", config, second, container_id="b")
    for address in (b["ips"][0]["address"], b["ips"][1]["address"], "10.232.7.1"):
        ping = subprocess.run(["ip", "netns", "exec", os.path.basename(first), "busybox",
                               "ping", "-c", "1", "-W", "2", address.split("/")[0]],
                              capture_output=True, text=True, timeout=30)
        assert ping.returncode == 0, (address, ping.stdout, ping.stderr)
    assert isolation_rules(cni.bridge) == [socket.AF_INET, socket.AF_INET6]
    for container_id, netns in (("a", first), ("b", second)):
        assert cni.call("pyrunc-cni", "DEL", config, netns, container_id=container_id)[0] == 0


@pytest.mark.parametrize("plugin", ["bridge", "pyrunc-cni"])
def test_check_notices_a_missing_address(cni, plugin):
    netns = cni.netns()
    config = cni.config(plugin)
    _, result, _ = cni.call(plugin, "ADD", config, netns)
    subprocess.run(["ip", "-n", os.path.basename(netns), "addr", "del", "10.232.7.2/24",
                    "dev", "eth0"], check=True)
    code, error, _ = cni.call(plugin, "CHECK", dict(config, prevResult=result), netns)
    assert code != 0 and error["code"] > 0 and error["msg"]
    assert cni.call(plugin, "DEL", config, netns)[0] == 0


@pytest.mark.parametrize("plugin", ["bridge", "pyrunc-cni"])
@pytest.mark.parametrize("case, code", [
    ("no-netns-variable", 4), ("bad-version", 1), ("bad-json", 6), ("unknown-command", 4),
    ("missing-netns", None),
])
def test_errors_are_cni_error_objects(cni, plugin, case, code):
    config = cni.config(plugin)
    netns = "/run/netns/pyrcni-does-not-exist"
    environ = {}
    if case == "no-netns-variable":
        netns = None
    elif case == "bad-version":
        config["cniVersion"] = "9.9.9"
    elif case == "bad-json":
        config = "{not json"
    elif case == "unknown-command":
        environ["CNI_COMMAND"] = "BOGUS"
    rc, error, _ = cni.call(plugin, "ADD", config, netns, environ=environ)
    assert rc != 0
    assert isinstance(error["msg"], str) and error["msg"]
    if code is not None:
        assert error["code"] == code, error
    else:
        assert error["code"] > 0  # no well-known code: 999 (bridge), 4 (pyrunc-cni)


def test_pyrunc_cni_refuses_nat_and_reports_its_versions(cni):
    rc, error, _ = cni.call("pyrunc-cni", "ADD", cni.config("pyrunc-cni", ipMasq=True),
                            cni.netns())
    assert rc == 1 and error["code"] == 2 and "ipMasq" in error["msg"]
    rc, version, _ = cni.call("pyrunc-cni", "VERSION", {"cniVersion": "1.0.0"})
    assert rc == 0 and "1.0.0" in version["supportedVersions"]
    assert cni.bridge not in link_names()


def test_gc_releases_attachments_the_runtime_forgot(cni):
    config = cni.config("pyrunc-cni", cniVersion="1.1.0")
    keep, lose = cni.netns(), cni.netns()
    assert cni.call("pyrunc-cni", "ADD", config, keep, container_id="keep")[0] == 0
    _, lost, _ = cni.call("pyrunc-cni", "ADD", config, lose, container_id="lose")
    gc = dict(config, **{"cni.dev/valid-attachments": [{"containerID": "keep",
                                                        "ifname": "eth0"}]})
    assert cni.call("pyrunc-cni", "GC", gc)[0] == 0
    assert lost["interfaces"][1]["name"] not in link_names()
    assert len(bridge_ports(cni.bridge)) == 1
    assert cni.call("pyrunc-cni", "STATUS", config)[0] == 0
    assert cni.call("pyrunc-cni", "DEL", config, keep, container_id="keep")[0] == 0


def test_the_bridge_plugin_turns_forwarding_on_and_forwarding_kept_turns_it_back(cni):
    """Shown in a throwaway namespace standing in for the host, with forwarding off: the
    bridge plugin (isGateway: true) turns it on, IPv4 and IPv6, and forwarding_kept (which
    every test of this module runs in, on the real host) restores what was there."""
    host, container = cni.netns(), cni.netns()
    for sysctl in ("net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding"):
        subprocess.run(["nsenter", f"--net={host}", "sh", "-c", f"echo 0 > /proc/sys/{sysctl}"],
                       check=True)
    call = {"plugin": PLUGINS["bridge"], "config": json.dumps(cni.config("bridge")),
            "env": {"PATH": os.environ["PATH"], "CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1",
                    "CNI_NETNS": container, "CNI_IFNAME": "eth0", "CNI_PATH": DEBIAN_DIR}}
    # Run in that namespace: a process reads and writes the sysctls of its own.
    script = """if True:
        import json, subprocess, sys
        from netutil import FORWARDING, forwarding_kept, read_sysctl
        call = json.loads(sys.argv[1])
        with forwarding_kept() as saved:
            added = subprocess.run([call["plugin"]], input=call["config"], env=call["env"],
                                   capture_output=True, text=True)
            during = [read_sysctl(p) for p in FORWARDING]
        print(json.dumps({"rc": added.returncode, "out": added.stdout, "during": during,
                          "after": {p: read_sysctl(p) for p in saved}, "saved": saved}))
    """
    done = subprocess.run(["nsenter", f"--net={host}", sys.executable, "-c", script,
                           json.dumps(call)], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=os.path.dirname(__file__)))
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["rc"] == 0, seen["out"]
    assert seen["during"] == ["1", "1"]
    assert seen["saved"]["/proc/sys/net/ipv4/ip_forward"] == "0"
    assert seen["after"] == seen["saved"]
