"""The pure parts of pyrunc.network.attach and pyrunc.network.cni: the annotations, the names
of host veths, the hosts files, the CNI configuration and error objects (no root, no netlink)."""
import io
import json

import pytest

from pyrunc.errors import ConfigError
from pyrunc.network import attach, cni


def test_requested_names():
    assert attach.requested_names({}) == []
    assert attach.requested_names({"pyrunc.network": "default"}) == ["default"]
    assert attach.requested_names({"pyrunc.network": "a, b"}) == ["a", "b"]
    for bad in ("", "a,,b", "a,"):
        with pytest.raises(ConfigError) as info:
            attach.requested_names({"pyrunc.network": bad})
        assert str(info.value).startswith("config: annotations.pyrunc.network: ")
    with pytest.raises(ConfigError):
        attach.requested_names({"pyrunc.network": ",".join(f"n{i}" for i in range(9))})


def test_wants_hosts():
    assert attach.wants_hosts({}) is False
    assert attach.wants_hosts({"pyrunc.network.hosts": "true"}) is True
    with pytest.raises(ConfigError) as info:
        attach.wants_hosts({"pyrunc.network.hosts": "yes"})
    assert "annotations.pyrunc.network.hosts" in str(info.value)


def test_host_veth_names_fit_ifnamsiz_and_are_stable():
    long_id = "x" * 1024
    names = {attach.host_ifname(i, f, root) for i in ("a", "b", long_id) for f in ("eth0", "eth1")
             for root in (None, "/run/one", "/run/two")}  # one id may live in two state roots
    assert len(names) == 18
    assert all(len(n) <= 15 and n.startswith("pyr") for n in names)
    assert attach.host_ifname("a", "eth0", "/run/one") == attach.host_ifname("a", "eth0",
                                                                             "/run/one")


def config_with_namespaces(*kinds, annotations=None):
    return {"annotations": annotations or {},
            "linux": {"namespaces": [{"type": k} if isinstance(k, str) else k for k in kinds]}}


def test_plan_refusals_come_before_any_lease(tmp_path):
    def plan(config, rootless=False):
        return attach.plan_for_create("c", config, str(tmp_path), str(tmp_path), rootless,
                                      on_record=lambda r: pytest.fail("no lease expected"))
    assert plan(config_with_namespaces("network")) is None  # no annotation
    want = {"pyrunc.network": "default"}
    with pytest.raises(ConfigError) as info:
        plan(config_with_namespaces("pid", annotations=want))
    assert "needs a new network namespace" in str(info.value)
    with pytest.raises(ConfigError) as info:
        plan(config_with_namespaces("network", annotations=want), rootless=True)
    assert "need root" in str(info.value)
    # A pod member joins the first container's namespace: no interface of its own.
    joined = config_with_namespaces({"type": "network", "path": "/proc/1/ns/net"},
                                    annotations=want)
    assert plan(joined) is None
    with pytest.raises(ConfigError):
        plan(config_with_namespaces("network", annotations={"pyrunc.network.hosts": "true"}))
    assert list(tmp_path.iterdir()) == []


def test_hosts_files_and_their_mounts(tmp_path):
    config = {"hostname": "web", "mounts": []}
    record = {"interfaces": [{"addresses": ["10.1.0.2/24", "fd01::2/64"]},
                             {"addresses": ["10.2.0.2/24"]}]}
    attach._add_hosts_files(config, record, str(tmp_path), "c1")
    assert (tmp_path / "hosts").read_text() == (
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        "10.1.0.2\tweb\nfd01::2\tweb\n10.2.0.2\tweb\n")
    assert (tmp_path / "hostname").read_text() == "web\n"
    assert [m["destination"] for m in config["mounts"]] == ["/etc/hosts", "/etc/hostname"]
    assert config["mounts"][0]["source"] == str(tmp_path / "hosts")


# -- pyrunc-cni ----------------------------------------------------------------------------------

def cni_config(**extra):
    config = {"cniVersion": "1.0.0", "name": "net1", "type": "pyrunc-cni", "bridge": "pyrc1",
              "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.5.0.0/24"}],
                                                        [{"subnet": "fd05::/64",
                                                          "gateway": "fd05::fe"}]],
                       "routes": [{"dst": "10.6.0.0/16"}], "dataDir": "/tmp/x"}}
    config.update(extra)
    return config


def test_cni_configuration_becomes_a_network():
    network, book, routes = cni.parse_network(cni_config(mtu=1400), check_routes=False)
    assert (network.name, network.bridge, network.mtu) == ("net1", "pyrc1", 1400)
    assert [str(s.gateway) for s in network.subnets] == ["10.5.0.1", "fd05::fe"]
    assert network.persistent and network.isolation
    assert (book.directory, book.root) == ("/tmp/x", None)  # CNI's leases: no state root
    assert [(str(d), g) for d, g in routes] == [("10.6.0.0/16", None)]
    legacy = cni_config(ipam={"subnet": "10.7.0.0/24", "gateway": "10.7.0.9"})
    network, book, _ = cni.parse_network(legacy, check_routes=False)
    assert str(network.subnets[0].gateway) == "10.7.0.9"
    assert book.directory == cni.DEFAULT_DATA_DIR


@pytest.mark.parametrize("extra, code, text", [
    ({"ipMasq": True}, cni.UNSUPPORTED_FIELD, "ipMasq"),
    ({"isGateway": False}, cni.UNSUPPORTED_FIELD, "isGateway"),
    ({"ipam": {"type": "dhcp"}}, cni.UNSUPPORTED_FIELD, "ipam.type"),
    ({"ipam": {"ranges": [[{"subnet": "10.5.0.0/24", "rangeStart": "10.5.0.9"}]]}},
     cni.UNSUPPORTED_FIELD, "rangeStart"),
    ({"ipam": {}}, cni.INVALID_CONFIG, "needs ranges"),
    ({"bridge": "a-bridge-name-too-long"}, cni.INVALID_CONFIG, "bridge"),
    ({"ipam": {"subnet": "10.5.0.0/33"}}, cni.INVALID_CONFIG, "ipv4.subnet"),
    ({"ipam": {"subnet": "10.5.0.0/24", "routes": [{"gw": "10.5.0.1"}]}},
     cni.INVALID_CONFIG, "ipam.routes[0]"),
])
def test_cni_configuration_errors(extra, code, text):
    with pytest.raises(cni.CniError) as info:
        cni.parse_network(cni_config(**extra), check_routes=False)
    assert info.value.code == code and text in info.value.msg, info.value.msg


def run_cni(monkeypatch, capsys, environ, stdin):
    for key in ("CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"):
        monkeypatch.delenv(key, raising=False)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = cni.main()
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else None


def test_cni_version_and_error_objects(monkeypatch, capsys):
    code, out = run_cni(monkeypatch, capsys, {"CNI_COMMAND": "VERSION"}, '{"cniVersion":"1.0.0"}')
    assert code == 0 and out == {"cniVersion": "1.0.0",
                                 "supportedVersions": cni.SUPPORTED_VERSIONS}
    code, out = run_cni(monkeypatch, capsys, {"CNI_COMMAND": "ADD"},
                        json.dumps(cni_config(cniVersion="2.0.0")))
    assert code == 1 and out["code"] == cni.INCOMPATIBLE_VERSION
    assert out["cniVersion"] == "1.0.0"  # an error in a version the runtime can read
    code, out = run_cni(monkeypatch, capsys, {"CNI_COMMAND": "ADD"}, "{oops")
    assert code == 1 and out["code"] == cni.DECODING_FAILURE
    code, out = run_cni(monkeypatch, capsys, {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c"},
                        json.dumps(cni_config()))
    assert code == 1 and out == {"cniVersion": "1.0.0", "code": cni.INVALID_ENV,
                                 "msg": "CNI_NETNS is required for ADD"}
    code, out = run_cni(monkeypatch, capsys,
                        {"CNI_COMMAND": "DEL", "CNI_CONTAINERID": "bad id", "CNI_IFNAME": "eth0"},
                        json.dumps(cni_config()))
    assert code == 1 and out["code"] == cni.INVALID_ENV and "CNI_CONTAINERID" in out["msg"]
    code, out = run_cni(monkeypatch, capsys, {"CNI_COMMAND": "NOPE"}, json.dumps(cni_config()))
    assert code == 1 and out["code"] == cni.INVALID_ENV
