"""pyrunc.network.settings: the networks file, the built-in default network and the checks
across networks and against the host's routes (given as data: no root, no netlink)."""
import ipaddress

import pytest

from pyrunc.errors import ConfigError, SettingsError
from pyrunc.network import settings

PATH = "/test/pyrunc.yaml"


def routes(*pairs):
    return [(ipaddress.ip_network(net), dev) for net, dev in pairs]


def load(document, host_routes=()):
    return settings.load(host_routes=routes(*host_routes), path=PATH, document=document)


def error_of(document, host_routes=()):
    with pytest.raises(SettingsError) as info:
        load(document, host_routes)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"settings {PATH}: ")
    return message


def test_default_network_exists_without_a_file():
    networks = load({})
    default = networks["default"]
    assert default.bridge == "pyrunc0"
    assert [str(s.network) for s in default.subnets] == ["10.213.0.0/24", "fd70:7972:756e::/64"]
    assert [str(s.gateway) for s in default.subnets] == ["10.213.0.1", "fd70:7972:756e::1"]
    assert default.mtu == 1500 and default.isolation and not default.persistent


def test_default_network_avoids_the_hosts_routes():
    networks = load({}, [("10.213.0.0/16", "eth0"), ("fd70:7972:756e::/64", "eth1"),
                         ("0.0.0.0/0", "eth0"), ("fe80::/64", "eth0")])
    assert [str(s.network) for s in networks["default"].subnets] == [
        "10.214.0.0/24", "fd70:7972:756e:1::/64"]
    # Both IPv6 candidates taken: the default network is IPv4 only.
    networks = load({}, [("fd70:7972:756e::/48", "eth1")])
    assert [s.version for s in networks["default"].subnets] == [4]


def test_default_network_ignores_its_own_bridge_routes():
    networks = load({}, [("10.213.0.0/24", "pyrunc0")])
    assert str(networks["default"].subnets[0].network) == "10.213.0.0/24"


def test_default_network_avoids_the_files_networks():
    networks = load({"networks": {"a": {"bridge": "pyra", "ipv4": "10.213.0.0/16"}}})
    assert str(networks["default"].subnets[0].network) == "10.214.0.0/24"


def test_a_full_network_definition():
    networks = load({"networks": {"lab": {
        "bridge": "pyrlab", "mtu": 1400, "isolation": False, "persistent": True,
        "ipv4": {"subnet": "10.50.0.0/24", "gateway": "10.50.0.254"},
        "ipv6": {"subnet": "fd50::/64"}}}})
    lab = networks["lab"]
    assert (lab.bridge, lab.mtu, lab.isolation, lab.persistent) == ("pyrlab", 1400, False, True)
    assert [str(s.gateway) for s in lab.subnets] == ["10.50.0.254", "fd50::1"]
    assert lab.describe()["subnets"][1] == {"subnet": "fd50::/64", "gateway": "fd50::1"}


def test_the_file_may_redefine_default():
    networks = load({"networks": {"default": {"ipv4": "10.77.0.0/24"}}})
    assert networks["default"].bridge == "pyrunc0"
    assert [str(s.network) for s in networks["default"].subnets] == ["10.77.0.0/24"]


@pytest.mark.parametrize("document, field, reason", [
    ([], "(top)", "must be a mapping"),
    ({"netwroks": {}}, "netwroks", "unknown setting"),
    ({"networks": []}, "networks", "mapping"),
    ({"networks": {"a b": {"bridge": "x", "ipv4": "10.1.0.0/24"}}}, "networks.a b", "name"),
    ({"networks": {"a": "x"}}, "networks.a", "must be a mapping"),
    ({"networks": {"a": {"ipv4": "10.1.0.0/24"}}}, "networks.a.bridge", "required"),
    ({"networks": {"a": {"bridge": "pyr-much-too-long", "ipv4": "10.1.0.0/24"}}},
     "networks.a.bridge", "1 to 15"),
    ({"networks": {"a": {"bridge": "pyr/a", "ipv4": "10.1.0.0/24"}}}, "networks.a.bridge", "'/'"),
    ({"networks": {"a": {"bridge": "pyra"}}}, "networks.a", "needs an ipv4 or an ipv6"),
    ({"networks": {"a": {"bridge": "pyra", "ipv4": "10.1.0.1/24"}}}, "networks.a.ipv4.subnet",
     "host bits set"),
    ({"networks": {"a": {"bridge": "pyra", "ipv4": "fd00::/64"}}}, "networks.a.ipv4.subnet",
     "not an IPv4 subnet"),
    ({"networks": {"a": {"bridge": "pyra", "ipv4": "10.1.0.0/31"}}}, "networks.a.ipv4.subnet",
     "too small"),
    ({"networks": {"a": {"bridge": "pyra", "ipv4": {"subnet": "10.1.0.0/24",
                                                    "gateway": "10.2.0.1"}}}},
     "networks.a.ipv4.gateway", "not a host of"),
    ({"networks": {"a": {"bridge": "pyra", "ipv4": {"subnet": "10.1.0.0/24",
                                                    "gateway": "10.1.0.255"}}}},
     "networks.a.ipv4.gateway", "not a host of"),
    ({"networks": {"a": {"bridge": "pyra", "ipv4": {"subnet": "10.1.0.0/24", "gw": "x"}}}},
     "networks.a.ipv4.gw", "unknown setting"),
    ({"networks": {"a": {"bridge": "pyra", "ipv4": "10.1.0.0/24", "mtu": 20}}},
     "networks.a.mtu", "68 to 65535"),
    ({"networks": {"a": {"bridge": "pyra", "ipv6": "fd01::/64", "mtu": 1000}}},
     "networks.a.mtu", "1280 to 65535"),
    ({"networks": {"a": {"bridge": "pyra", "ipv4": "10.1.0.0/24", "persistent": "yes"}}},
     "networks.a.persistent", "true or false"),
    ({"networks": {"a": {"bridge": "pyra", "ipv4": "10.1.0.0/24", "nat": True}}},
     "networks.a.nat", "unknown setting"),
])
def test_bad_fields_are_named(document, field, reason):
    message = error_of(document)
    assert f": {field}: " in message and reason in message, message


def test_overlapping_subnets_are_refused():
    message = error_of({"networks": {
        "a": {"bridge": "pyra", "ipv4": "10.1.0.0/16"},
        "b": {"bridge": "pyrb", "ipv4": "10.1.2.0/24"}}})
    assert "networks.b.ipv4.subnet: 10.1.2.0/24 overlaps 10.1.0.0/16 of network a" in message


def test_a_shared_bridge_is_refused():
    message = error_of({"networks": {
        "a": {"bridge": "pyrx", "ipv4": "10.1.0.0/24"},
        "b": {"bridge": "pyrx", "ipv4": "10.2.0.0/24"}}})
    assert "networks.b.bridge: pyrx is also the bridge of network a" in message


def test_a_subnet_clashing_with_a_host_route_is_refused():
    message = error_of({"networks": {"a": {"bridge": "pyra", "ipv4": "192.0.2.0/25"}}},
                       [("192.0.2.0/24", "eth0")])
    assert "networks.a.ipv4.subnet: 192.0.2.0/25 clashes with the host's route to " \
           "192.0.2.0/24 on eth0" in message


def test_routes_on_the_networks_own_bridge_and_the_default_route_are_fine():
    networks = load({"networks": {"a": {"bridge": "pyra", "ipv4": "10.9.0.0/24",
                                        "ipv6": "fd09::/64"}}},
                    [("10.9.0.0/24", "pyra"), ("0.0.0.0/0", "eth0"), ("::/0", "eth0"),
                     ("fe80::/64", "pyra"), ("ff00::/8", "eth0")])
    assert "a" in networks


def test_select_names_the_unknown_network():
    networks = load({})
    assert settings.select(networks, ["default"]) == [networks["default"]]
    with pytest.raises(ConfigError) as info:
        settings.select(networks, ["default", "nope"])
    assert str(info.value) == ("config: annotations.pyrunc.network: unknown network 'nope' "
                               "(known: default)")
    with pytest.raises(ConfigError):
        settings.select(networks, ["default", "default"])


def test_read_file(tmp_path, monkeypatch):
    path = tmp_path / "pyrunc.yaml"
    path.write_text("networks:\n  a:\n    bridge: pyra\n    ipv4: 10.3.0.0/24\n")
    assert settings.read_file(str(path))["networks"]["a"]["bridge"] == "pyra"
    path.write_text("networks: [unclosed\n")
    with pytest.raises(SettingsError) as info:
        settings.read_file(str(path))
    assert "not valid YAML" in str(info.value)
    monkeypatch.delenv("PYRUNC_SETTINGS", raising=False)
    assert settings.read_file(str(tmp_path / "missing.yaml")) == {}
    monkeypatch.setenv("PYRUNC_SETTINGS", str(tmp_path / "missing.yaml"))
    assert settings.settings_path() == str(tmp_path / "missing.yaml")
    with pytest.raises(SettingsError) as info:
        settings.read_file(settings.settings_path())
    assert "no such file" in str(info.value)
