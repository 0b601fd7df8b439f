"""pyrunc.network.ipam: lease files in a temporary root (no root needed): all-or-none
allocation, round robin after a release, a full subnet, release by container id, the lock
between processes."""
import ipaddress
import multiprocessing
import os

import pytest

from pyrunc.errors import NetworkError
from pyrunc.network import ipam, settings


def network(name="n", ipv4="10.9.0.0/29", ipv6=None, bridge=None):
    spec = {"bridge": bridge or f"pyr{name}"}
    if ipv4:
        spec["ipv4"] = ipv4
    if ipv6:
        spec["ipv6"] = ipv6
    return settings.parse_network("/test", name, spec)


def allocate(root, container_id, *networks):
    with ipam.Locked(root):
        got = ipam.allocate(root, container_id,
                            [(n, f"eth{i}") for i, n in enumerate(networks)])
    return {ifname: [str(a) for a in addresses] for ifname, addresses in got.items()}


def release(root, container_id):
    with ipam.Locked(root):
        return ipam.release(root, container_id)


def test_addresses_skip_the_gateway_and_come_in_order(tmp_path):
    root = str(tmp_path)
    n = network(ipv6="fd09::/64")
    assert allocate(root, "a", n) == {"eth0": ["10.9.0.2/29", "fd09::2/64"]}
    assert allocate(root, "b", n) == {"eth0": ["10.9.0.3/29", "fd09::3/64"]}
    leases = ipam.read(root, "n")
    assert [(l.container_id, l.ifname, str(l.address)) for l in leases.leases] == [
        ("a", "eth0", "10.9.0.2"), ("a", "eth0", "fd09::2"),
        ("b", "eth0", "10.9.0.3"), ("b", "eth0", "fd09::3")]
    assert ipam.network_names(root) == ["n"]
    assert os.listdir(root) == ["network@n.leases"]


def test_a_released_address_is_not_given_again_at_once(tmp_path):
    root = str(tmp_path)
    n = network()
    first = allocate(root, "a", n)["eth0"]
    allocate(root, "b", n)
    assert [str(l.address) for _, l in release(root, "a")] == ["10.9.0.2"]
    again = allocate(root, "c", n)["eth0"]
    assert again != first and again == ["10.9.0.4/29"]


def test_round_robin_wraps_to_free_addresses(tmp_path):
    root = str(tmp_path)
    n = network()  # /29: hosts .1 to .6, .1 the gateway: five leases
    for i in range(5):
        allocate(root, f"c{i}", n)
    release(root, "c1")  # 10.9.0.3
    assert allocate(root, "again", n)["eth0"] == ["10.9.0.3/29"]


def test_a_full_subnet_is_a_clear_error_and_changes_nothing(tmp_path):
    root = str(tmp_path)
    small, other = network(), network("o", ipv4="10.8.0.0/24")
    for i in range(5):
        allocate(root, f"c{i}", small)
    before = {name: open(ipam.lease_path(root, name)).read() for name in ("n",)}
    with pytest.raises(NetworkError) as info:
        allocate(root, "late", other, small)  # the first network had room: rolled back too
    assert str(info.value) == "subnet 10.9.0.0/29 is full: no free address"
    assert open(ipam.lease_path(root, "n")).read() == before["n"]
    assert not os.path.exists(ipam.lease_path(root, "o"))


def test_two_networks_two_interfaces(tmp_path):
    root = str(tmp_path)
    got = allocate(root, "a", network("x", ipv4="10.1.0.0/24"), network("y", ipv4="10.2.0.0/24"))
    assert got == {"eth0": ["10.1.0.2/24"], "eth1": ["10.2.0.2/24"]}
    assert sorted(name for name, _ in release(root, "a")) == ["x", "y"]
    assert release(root, "a") == []


def test_the_same_interface_twice_is_refused(tmp_path):
    root = str(tmp_path)
    allocate(root, "a", network())
    with pytest.raises(NetworkError):
        allocate(root, "a", network())


def test_remove_empty_keeps_files_with_leases(tmp_path):
    root = str(tmp_path)
    allocate(root, "a", network("x", ipv4="10.1.0.0/24"))
    allocate(root, "b", network("y", ipv4="10.2.0.0/24"))
    release(root, "a")
    with ipam.Locked(root):
        ipam.remove_empty(root)
    assert ipam.network_names(root) == ["y"]


def test_lease_file_round_trip_and_bad_lines():
    text = "last4 10.0.0.3\nlast6 fd00::3\n# note\na eth0 10.0.0.3\na eth0 fd00::3\n"
    parsed = ipam.LeaseFile.parse(text)
    assert parsed.last == {4: ipaddress.ip_address("10.0.0.3"),
                           6: ipaddress.ip_address("fd00::3")}
    assert ipam.LeaseFile.parse(parsed.render()).render() == parsed.render()
    with pytest.raises(NetworkError) as info:
        ipam.LeaseFile.parse("a eth0\n")
    assert "line 1" in str(info.value)
    with pytest.raises(NetworkError):
        ipam.LeaseFile.parse("a eth0 10.0.0.300\n")


def test_a_large_ipv6_subnet_is_not_scanned(tmp_path):
    root = str(tmp_path)
    n = network(ipv4=None, ipv6="fd09::/64")
    assert allocate(root, "a", n) == {"eth0": ["fd09::2/64"]}


def _allocate_in_child(args):
    root, container_id = args
    return allocate(root, container_id, network(ipv4="10.9.0.0/24"))["eth0"][0]


def test_processes_allocating_at_once_get_distinct_addresses(tmp_path):
    """The lock is what keeps them apart: 40 processes, 40 different addresses."""
    root = str(tmp_path)
    with multiprocessing.get_context("fork").Pool(8) as pool:
        got = pool.map(_allocate_in_child, [(root, f"c{i}") for i in range(40)])
    assert len(set(got)) == 40
    assert len(ipam.read(root, "n").leases) == 40
