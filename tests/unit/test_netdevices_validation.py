"""linux.netDevices validation (pyrunc.network.netdevices.validate): pure, no netlink."""
import pytest

from pyrunc.errors import ConfigError
from pyrunc.network.netdevices import name_problem, validate

NEW_NET = {"network": "", "mount": ""}


def refused(devices, namespaces=NEW_NET):
    with pytest.raises(ConfigError) as e:
        validate(devices, namespaces)
    return e.value


def test_the_plan_keeps_the_config_order_and_defaults_the_name():
    assert validate({"eth5": {}, "ens4": {"name": "data0"}}, NEW_NET) == [
        {"host": "eth5", "name": "eth5"}, {"host": "ens4", "name": "data0"}]
    assert validate({"eth5": {"name": ""}}, NEW_NET) == [{"host": "eth5", "name": "eth5"}]
    assert validate({}, {}) == []


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a:b", "a b", "tab\tx", "x" * 16])
def test_names_the_kernel_refuses(name):
    assert name_problem(name)


@pytest.mark.parametrize("name", ["eth0", "x" * 15, "veth-1.2", "dummy_0"])
def test_names_the_kernel_takes(name):
    assert name_problem(name) is None


def test_a_bad_host_name_is_refused_by_its_entry():
    assert refused({"a/b": {}}).field == "linux.netDevices.a/b"
    assert refused({"lo": {}}).field == "linux.netDevices.lo"


def test_a_bad_container_name_is_refused_by_its_name_field():
    assert refused({"eth5": {"name": "x" * 16}}).field == "linux.netDevices.eth5.name"
    assert refused({"eth5": {"name": "lo"}}).field == "linux.netDevices.eth5.name"
    assert refused({"eth5": {"name": 5}}).field == "linux.netDevices.eth5.name"


def test_two_devices_may_not_get_one_name():
    err = refused({"eth5": {"name": "data0"}, "eth6": {"name": "data0"}})
    assert err.field == "linux.netDevices.eth6.name" and "linux.netDevices.eth5" in err.reason
    err = refused({"eth5": {}, "eth6": {"name": "eth5"}})
    assert err.field == "linux.netDevices.eth6.name"


def test_entries_must_be_objects():
    assert refused(["eth5"]).field == "linux.netDevices"
    assert refused({"eth5": "data0"}).field == "linux.netDevices.eth5"


def test_a_new_network_namespace_is_required():
    assert "no network entry" in refused({"eth5": {}}, {"mount": ""}).reason
    assert "by path" in refused({"eth5": {}}, {"network": "/run/netns/x"}).reason
