"""pyrunc.network.ipam: lease files in a temporary directory (no root needed): all-or-none
allocation, round robin after a release, a full subnet, release by container id and state root,
one file per bridge that goes with its last lease, the lock between processes."""
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


def allocate(book, container_id, *networks):
    with book.locked():
        got = book.allocate(container_id, [(n, f"eth{i}") for i, n in enumerate(networks)])
    return {ifname: [str(a) for a in addresses] for ifname, addresses in got.items()}


def release(book, container_id):
    with book.locked():
        return book.release(container_id)


def test_addresses_skip_the_gateway_and_come_in_order(tmp_path):
    book = ipam.Book(str(tmp_path), "/run/r1")
    n = network(ipv6="fd09::/64")
    assert allocate(book, "a", n) == {"eth0": ["10.9.0.2/29", "fd09::2/64"]}
    assert allocate(book, "b", n) == {"eth0": ["10.9.0.3/29", "fd09::3/64"]}
    leases = book.read("pyrn")
    assert [(l.container_id, l.ifname, str(l.address), l.root) for l in leases.leases] == [
        ("a", "eth0", "10.9.0.2", "/run/r1"), ("a", "eth0", "fd09::2", "/run/r1"),
        ("b", "eth0", "10.9.0.3", "/run/r1"), ("b", "eth0", "fd09::3", "/run/r1")]
    assert book.bridges() == ["pyrn"]
    assert os.listdir(tmp_path) == ["pyrn.leases"]  # one file per bridge


def test_a_released_address_is_not_given_again_at_once(tmp_path):
    book = ipam.Book(str(tmp_path))
    n = network()
    first = allocate(book, "a", n)["eth0"]
    allocate(book, "b", n)
    assert [str(l.address) for _, l in release(book, "a")] == ["10.9.0.2"]
    again = allocate(book, "c", n)["eth0"]
    assert again != first and again == ["10.9.0.4/29"]


def test_round_robin_wraps_to_free_addresses(tmp_path):
    book = ipam.Book(str(tmp_path))
    n = network()  # /29: hosts .1 to .6, .1 the gateway: five leases
    for i in range(5):
        allocate(book, f"c{i}", n)
    release(book, "c1")  # 10.9.0.3
    assert allocate(book, "again", n)["eth0"] == ["10.9.0.3/29"]


def test_a_full_subnet_is_a_clear_error_and_changes_nothing(tmp_path):
    book = ipam.Book(str(tmp_path))
    small, other = network(), network("o", ipv4="10.8.0.0/24")
    for i in range(5):
        allocate(book, f"c{i}", small)
    before = open(book.path("pyrn")).read()
    with pytest.raises(NetworkError) as info:
        allocate(book, "late", other, small)  # the first network had room: rolled back too
    assert str(info.value) == "subnet 10.9.0.0/29 is full: no free address"
    assert open(book.path("pyrn")).read() == before
    assert not os.path.exists(book.path("pyro"))


def test_two_networks_two_interfaces(tmp_path):
    book = ipam.Book(str(tmp_path))
    got = allocate(book, "a", network("x", ipv4="10.1.0.0/24"), network("y", ipv4="10.2.0.0/24"))
    assert got == {"eth0": ["10.1.0.2/24"], "eth1": ["10.2.0.2/24"]}
    assert sorted(bridge for bridge, _ in release(book, "a")) == ["pyrx", "pyry"]
    assert release(book, "a") == []


def test_the_same_interface_twice_is_refused(tmp_path):
    book = ipam.Book(str(tmp_path))
    allocate(book, "a", network())
    with pytest.raises(NetworkError):
        allocate(book, "a", network())


def test_a_bridge_file_goes_with_its_last_lease(tmp_path):
    """Only a bridge with leases has a file (and with it the round robin)."""
    book = ipam.Book(str(tmp_path))
    allocate(book, "a", network("x", ipv4="10.1.0.0/24"))
    allocate(book, "b", network("y", ipv4="10.2.0.0/24"))
    allocate(book, "c", network("y", ipv4="10.2.0.0/24"))
    release(book, "a")
    release(book, "b")
    assert book.bridges() == ["pyry"] and os.listdir(tmp_path) == ["pyry.leases"]
    release(book, "c")
    assert os.listdir(tmp_path) == []


def test_state_roots_share_a_bridge_without_sharing_ids(tmp_path):
    """Two state roots on one bridge: distinct addresses, and the same container id in both
    roots holds and releases only its own leases."""
    n = network(ipv4="10.9.0.0/24")
    one, two = ipam.Book(str(tmp_path), "/run/one"), ipam.Book(str(tmp_path), "/run/two")
    assert allocate(one, "web", n) == {"eth0": ["10.9.0.2/24"]}
    assert allocate(two, "web", n) == {"eth0": ["10.9.0.3/24"]}  # not refused as "twice"
    assert [(b, str(l.address), l.root) for b, l in release(one, "web")] == [
        ("pyrn", "10.9.0.2", "/run/one")]
    assert [(l.container_id, str(l.address), l.root) for l in one.read("pyrn").leases] == [
        ("web", "10.9.0.3", "/run/two")]
    assert release(one, "web") == []


def test_lease_file_round_trip_and_bad_lines():
    text = ("last4 10.0.0.3\nlast6 fd00::3\n# note\na eth0 10.0.0.3 /run/odd%20root\n"
            "a eth0 fd00::3\n")
    parsed = ipam.LeaseFile.parse(text)
    assert parsed.last == {4: ipaddress.ip_address("10.0.0.3"),
                           6: ipaddress.ip_address("fd00::3")}
    assert [l.root for l in parsed.leases] == ["/run/odd root", None]
    assert parsed.render() == text.replace("# note\n", "")
    assert ipam.LeaseFile.parse(parsed.render()).render() == parsed.render()
    with pytest.raises(NetworkError) as info:
        ipam.LeaseFile.parse("a eth0\n")
    assert "line 1" in str(info.value)
    with pytest.raises(NetworkError):
        ipam.LeaseFile.parse("a eth0 10.0.0.300\n")


def test_the_host_book_names_the_state_root_as_a_real_path(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    book = ipam.Book.host(str(tmp_path / "link") + "/")
    assert book.directory == ipam.HOST_DIR and book.root == str(tmp_path / "real")


def test_a_large_ipv6_subnet_is_not_scanned(tmp_path):
    book = ipam.Book(str(tmp_path))
    n = network(ipv4=None, ipv6="fd09::/64")
    assert allocate(book, "a", n) == {"eth0": ["fd09::2/64"]}


def _allocate_in_child(args):
    directory, root, container_id = args
    return allocate(ipam.Book(directory, root), container_id,
                    network(ipv4="10.9.0.0/24"))["eth0"][0]


def test_processes_allocating_at_once_get_distinct_addresses(tmp_path):
    """The lock is what keeps them apart: 40 processes from two state roots, 40 different
    addresses."""
    jobs = [(str(tmp_path), f"/run/root{i % 2}", f"c{i}") for i in range(40)]
    with multiprocessing.get_context("fork").Pool(8) as pool:
        got = pool.map(_allocate_in_child, jobs)
    assert len(set(got)) == 40
    assert len(ipam.Book(str(tmp_path)).read("pyrn").leases) == 40
