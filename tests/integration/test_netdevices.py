"""linux.netDevices (runtime-spec 1.3): a host interface moves into the container's network
namespace (renamed when the entry says so), keeps its permanent global addresses, is up there,
and comes back to the host under its own name, with its addresses, when the container is
deleted: after a plain delete, a delete --force of a running container, and a delete after the
init exited (pyrunc holds the namespace: the kernel would destroy a virtual device with it).
Seen from outside through netlink (pyroute2) and from inside with busybox's `ip`.

This kernel has no dummy driver, so the devices are one end of a veth pair (the other stays on
the host). Debian's runc 1.1.5 knows no netDevices (it ignores the field and leaves the device
on the host), so there is no oracle to compare with here."""
import json
import os
import time
import uuid

import pytest
from pyroute2 import IPRoute

from leftovers import assert_nothing_left
from netutil import addresses_of, delete_link, netns_view

pytestmark = pytest.mark.root

SLEEP = ["sleep", "600"]
ADDRESS = "10.231.9.7/24"
ADDRESS6 = "fd09::9:7/64"


@pytest.fixture
def links():
    """links(n): n fresh host interfaces (pyrn + tag, the host's leftover check catches pyr*),
    each one end of a veth pair whose peer is <name>p, with an address on the first; removed at
    the end, wherever they are."""
    made = []

    def make(count=1):
        names = []
        with IPRoute() as ipr:
            for _ in range(count):
                name = f"pyrn{uuid.uuid4().hex[:8]}"
                ipr.link("add", ifname=name, kind="veth", peer=f"{name}p")
                made.append(name)
                names.append(name)
            index = ipr.link_lookup(ifname=names[0])[0]
            ipr.addr("add", index=index, address=ADDRESS.split("/")[0], prefixlen=24)
            ipr.addr("add", index=index, address=ADDRESS6.split("/")[0], prefixlen=64,
                     flags=0x02)
        return names
    yield make
    for name in made:
        delete_link(name)  # its peer goes with it


def host_links():
    return set(os.listdir("/sys/class/net"))


def host_addresses(name):
    with IPRoute() as ipr:
        return addresses_of(ipr, name)


def bundle_with(make_bundle, devices, args=SLEEP, edit=None):
    def change(config):
        config["linux"]["netDevices"] = devices
        if edit:
            edit(config)
    return make_bundle(args, change, name=f"bundle-{uuid.uuid4().hex[:6]}")


def test_devices_move_in_renamed_and_come_back_on_delete(runtime, make_bundle, links):
    kept, renamed = links(2)
    bundle = bundle_with(make_bundle, {kept: {}, renamed: {"name": "data0"}})
    runtime("create", "-b", bundle, "nd-move", check=True)
    pid = runtime.state("nd-move")["pid"]

    # outside: gone from the host, in the container's namespace under the new names, up, with
    # the permanent global addresses of the host (not the link-local one the kernel made)
    assert kept not in host_links() and renamed not in host_links()
    view = netns_view(pid)
    assert {kept, "data0", "lo"} <= set(view["links"])
    assert renamed not in view["links"]
    assert {kept, "data0"} <= set(view["up"])
    assert view["addresses"][kept] == sorted([ADDRESS, ADDRESS6])
    assert view["addresses"]["data0"] == []

    # inside: the container's own `ip` sees the same
    shown = runtime("exec", "nd-move", "ip", "-o", "addr", "show", check=True).stdout
    assert f"{kept}    inet {ADDRESS}" in shown, shown
    assert f"{kept}    inet6 {ADDRESS6}" in shown, shown
    names = runtime("exec", "nd-move", "ls", "/sys/class/net", check=True).stdout.split()
    assert {kept, "data0"} <= set(names), names

    runtime("start", "nd-move", check=True)
    runtime("kill", "nd-move", "KILL", check=True)
    assert wait_stopped(runtime, "nd-move")
    runtime("delete", "nd-move", check=True)
    assert {kept, renamed} <= host_links()
    assert "data0" not in host_links()
    assert host_addresses(kept) == sorted([ADDRESS, ADDRESS6])
    assert_nothing_left(runtime, "nd-move", links=(kept, renamed), mentions=(runtime.root,))


def wait_stopped(runtime, container_id, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if runtime.state(container_id)["status"] == "stopped":
            return True
        time.sleep(0.05)
    return False


def test_delete_force_of_a_running_container_gives_the_device_back(runtime, make_bundle, links):
    (device,) = links(1)
    bundle = bundle_with(make_bundle, {device: {"name": "ext0"}})
    runtime("run", "-d", "-b", bundle, "nd-force", check=True)
    assert runtime.state("nd-force")["status"] == "running"
    assert device not in host_links()
    runtime("delete", "--force", "nd-force", check=True)
    assert device in host_links() and "ext0" not in host_links()
    assert host_addresses(device) == sorted([ADDRESS, ADDRESS6])
    assert_nothing_left(runtime, "nd-force", links=(device,), mentions=(runtime.root,))


def test_a_device_outlives_the_init_until_delete(runtime, make_bundle, links):
    """A veth dies with its namespace: pyrunc keeps the namespace (a bind mount in the state
    dir) from the init's exit to delete, which takes the device back."""
    (device,) = links(1)
    bundle = bundle_with(make_bundle, {device: {"name": "short0"}},
                         args=["sh", "-c", "ip -o link show short0 > /dev/null"])
    result = runtime("run", "-b", bundle, "nd-exit")  # foreground: the process's status
    assert result.returncode == 0, result.stderr
    assert device in host_links()
    assert host_addresses(device) == sorted([ADDRESS, ADDRESS6])

    runtime("create", "-b", bundle, "nd-exit2", check=True)
    runtime("start", "nd-exit2", check=True)
    assert wait_stopped(runtime, "nd-exit2")
    assert device not in host_links()  # still the container's, in its held namespace
    runtime("delete", "nd-exit2", check=True)
    assert device in host_links()
    assert host_addresses(device) == sorted([ADDRESS, ADDRESS6])
    assert_nothing_left(runtime, "nd-exit", "nd-exit2", links=(device,),
                        mentions=(runtime.root,))


def test_a_missing_device_is_one_line_and_leaves_nothing(runtime, make_bundle):
    bundle = bundle_with(make_bundle, {"pyrnmissing0": {}})
    result = runtime("create", "-b", bundle, "nd-missing")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "linux.netDevices.pyrnmissing0" in lines[0], lines
    assert "no such network device" in lines[0], lines
    assert_nothing_left(runtime, "nd-missing", mentions=(bundle, runtime.root))


@pytest.mark.parametrize("devices, namespaces, field", [
    ({"lo": {}}, None, "linux.netDevices.lo"),
    ({"pyrnx": {"name": "a/b"}}, None, "linux.netDevices.pyrnx.name"),
    ({"pyrnx": {}}, ["pid", "mount", "uts"], "linux.netDevices"),
])
def test_bad_net_devices_are_refused_by_name(runtime, make_bundle, devices, namespaces, field):
    def edit(config):
        if namespaces is not None:
            config["linux"]["namespaces"] = [{"type": t} for t in namespaces]
    bundle = bundle_with(make_bundle, devices, edit=edit)
    result = runtime("create", "-b", bundle, "nd-bad")
    assert result.returncode == 1
    assert result.stderr.startswith(f"pyrunc: config: {field}: "), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert_nothing_left(runtime, "nd-bad", mentions=(bundle,))


def test_a_create_failing_after_the_move_moves_the_device_back(runtime, make_bundle, links):
    """The createRuntime hook runs once the devices are in the container: its failure ends the
    create, which gives them back before it returns."""
    (device,) = links(1)

    def failing_hook(config):
        config["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": [
            "sh", "-c", f"test ! -e /sys/class/net/{device} && exit 3"]}]}
    bundle = bundle_with(make_bundle, {device: {"name": "gone0"}}, edit=failing_hook)
    result = runtime("create", "-b", bundle, "nd-fail")
    assert result.returncode == 1
    assert "createRuntime" in result.stderr and len(result.stderr.strip().splitlines()) == 1, \
        result.stderr
    assert device in host_links() and "gone0" not in host_links()
    assert host_addresses(device) == sorted([ADDRESS, ADDRESS6])
    assert_nothing_left(runtime, "nd-fail", links=(device,), mentions=(bundle, runtime.root))


def test_features_say_net_devices_are_enabled(runtime):
    features = json.loads(runtime("features", check=True).stdout)
    assert features["linux"]["netDevices"] == {"enabled": True}


def test_explain_plans_the_move(runtime, make_bundle):
    bundle = bundle_with(make_bundle, {"pyrnplan0": {"name": "data0"}})
    plan = json.loads(runtime("explain", "--bundle", bundle, "--format", "json",
                              check=True).stdout)
    steps = [s for s in plan["steps"] if s["op"] == "net-devices"]
    assert len(steps) == 1 and steps[0]["field"] == "linux.netDevices"
    assert "pyrnplan0 as data0" in steps[0]["text"]
    assert any(s["op"] == "cpu-affinity" for s in plan["steps"])
