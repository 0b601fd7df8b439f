"""podman 4.3 with its CNI backend uses pyrunc-cni (named as the plugin type of a network of
its own) and pyrunc as the runtime: two containers on that network ping each other; removing
them leaves no veth, lease, bridge or namespace. podman reads a containers.conf of this test's
own (CONTAINERS_CONF), so the host's podman settings are not touched."""
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from conftest import PYRUNC
from netutil import bridge_ports, delete_link, link_names, remove_rules

pytestmark = [pytest.mark.engine, pytest.mark.podman, pytest.mark.root]

PODMAN = "/usr/bin/podman"
IMAGE = "localhost/pyrunc-busybox"
PREPARE = Path(__file__).resolve().parents[2] / "scripts" / "prepare-podman"
CNI_BIN = os.path.dirname(sys.executable)  # where pip installed pyrunc-cni


class Podman:
    def __init__(self, tmp_path):
        self.tag = uuid.uuid4().hex[:6]
        self.network = f"pyrpod{self.tag}"
        self.leases = tmp_path / "leases"
        conf_dir = tmp_path / "cni"
        conf_dir.mkdir()
        (conf_dir / f"{self.network}.conflist").write_text(json.dumps({
            "cniVersion": "1.0.0", "name": self.network, "plugins": [{
                "type": "pyrunc-cni", "bridge": self.network, "isGateway": True,
                "isDefaultGateway": True, "persistent": False,
                "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.232.9.0/24"}]],
                         "dataDir": str(self.leases)}}]}))
        self.conf = tmp_path / "containers.conf"
        self.conf.write_text(f"""
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[network]
network_backend = "cni"
cni_plugin_dirs = ["{CNI_BIN}", "/usr/lib/cni"]
network_config_dir = "{conf_dir}"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime_supports_json = ["crun", "runc", "pyrunc"]
""")
        self.names = []

    def __call__(self, *args, timeout=120):
        env = dict(os.environ, CONTAINERS_CONF=str(self.conf))
        return subprocess.run([PODMAN, "--runtime", PYRUNC, *args], capture_output=True,
                              text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)


@pytest.fixture
def podman(tmp_path):
    if not os.access(PODMAN, os.X_OK):
        pytest.fail("podman is not installed (scripts/install installs it)")
    p = Podman(tmp_path)
    if p("image", "exists", IMAGE).returncode != 0:
        prepared = subprocess.run([str(PREPARE)], capture_output=True, text=True, timeout=600)
        assert prepared.returncode == 0, prepared.stderr
    netns_before = set(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else set()
    yield p
    for name in p.names:
        p("rm", "--force", "--time", "0", name)
    left = [n for n in link_names() if n == p.network]
    delete_link(p.network)
    remove_rules(p.network)
    netns_after = set(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else set()
    assert not left, f"bridge {p.network} left"
    assert not (netns_after - netns_before), netns_after - netns_before


def ok(result):
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_two_podman_containers_ping_each_other_through_pyrunc_cni(podman):
    names = [f"pyrunc-cni-{n}-{podman.tag}" for n in ("a", "b")]
    podman.names += names
    for name in names:
        ok(podman("run", "-d", "--name", name, "--network", podman.network, "--cap-add",
                  "NET_RAW", IMAGE, "sleep", "300"))
    addresses = {}
    for name in names:
        addresses[name] = ok(podman("inspect", "--format",
                                    f"{{{{.NetworkSettings.Networks.{podman.network}.IPAddress}}}}",
                                    name)).strip()
    assert sorted(addresses.values()) == ["10.232.9.2", "10.232.9.3"]
    assert len(bridge_ports(podman.network)) == 2

    a, b = names
    ok(podman("exec", a, "ping", "-c", "1", "-W", "2", addresses[b]))
    ok(podman("exec", b, "ping", "-c", "1", "-W", "2", addresses[a]))
    ok(podman("exec", b, "ping", "-c", "1", "-W", "2", "10.232.9.1"))
    inside = ok(podman("exec", a, "ip", "route"))
    assert "default via 10.232.9.1 dev eth0" in inside, inside

    for name in names:
        ok(podman("rm", "--force", "--time", "0", name))
    assert podman.network not in link_names()  # not persistent: gone with its last port
    lease_lines = [line for f in podman.leases.iterdir() for line in f.read_text().splitlines()
                   if not line.startswith("last")]
    assert lease_lines == []
