"""Broken and borderline configs that config.validate must judge before anything is made:
wrong types, unknown values, the ociVersion range, reserved annotations. Pure logic, no root;
the CLI's one-line rendering of these ConfigErrors is test_bad_input's."""
import pytest

from pyrunc import config as config_mod
from pyrunc.errors import ConfigError
from pyrunc.spec import default_spec


@pytest.fixture
def bundle(tmp_path):
    (tmp_path / "rootfs").mkdir()
    return str(tmp_path)


def edited(change):
    config = default_spec()
    config["process"]["terminal"] = False
    change(config)
    return config


BROKEN = {
    "process not an object": (lambda c: c.update(process=[]), "process"),
    "mounts not a list": (lambda c: c.update(mounts={"not": "a list"}), "mounts"),
    "a mount that is null": (lambda c: c["mounts"].append(None), "mounts["),
    "namespace type a number": (lambda c: c["linux"].update(namespaces=[{"type": 5}]),
                                "linux.namespaces[0].type"),
    "namespaces a string": (lambda c: c["linux"].update(namespaces="pid"), "linux.namespaces"),
    "args not strings": (lambda c: c["process"].update(args=[1, 2]), "process.args"),
    "uid a name": (lambda c: c["process"].update(user={"uid": "root"}), "process.user.uid"),
    "rlimit without values": (lambda c: c["process"].update(rlimits=[{"type": "RLIMIT_NOFILE"}]),
                              "process.rlimits[0]"),
    "bounding a string": (lambda c: c["process"].update(capabilities={"bounding": "CAP_KILL"}),
                          "process.capabilities.bounding"),
    "hook path a number": (lambda c: c.update(hooks={"prestart": [{"path": 3}]}),
                           "hooks.prestart[0].path"),
    "seccomp rule action unknown": (lambda c: c["linux"].update(seccomp={
        "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "x"}]}),
        "linux.seccomp.syscalls[0]"),
    "device major negative": (lambda c: c["linux"].update(devices=[
        {"path": "/dev/x", "type": "c", "major": -1, "minor": 0}]), "linux.devices[0].major"),
    "root path null": (lambda c: c.update(root={"path": None}), "root.path"),
    "ociVersion null": (lambda c: c.update(ociVersion=None), "ociVersion"),
    "seccomp default action unknown": (lambda c: c["linux"].update(
        seccomp={"defaultAction": "SCMP_ACT_BOGUS"}), "linux.seccomp.defaultAction"),
    "seccomp architecture unknown": (lambda c: c["linux"].update(seccomp={
        "defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]}),
        "linux.seccomp.architectures"),
    "rlimit type unknown": (lambda c: c["process"].update(
        rlimits=[{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]), "process.rlimits[0].type"),
    "uid and gid maps of different shapes": (lambda c: c["linux"].update(
        namespaces=c["linux"]["namespaces"] + [{"type": "user"}],
        uidMappings=[{"containerID": 0, "hostID": 100000, "size": 100},
                     {"containerID": 50, "hostID": 300000, "size": 100}],
        gidMappings=[{"containerID": 0, "hostID": 100000, "size": 100}]), "linux.uidMappings"),
    "a reserved pyrunc annotation": (lambda c: c.update(annotations={"pyrunc.bogus": "x"}),
                                     "annotations.pyrunc.bogus"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_config_is_refused_naming_the_field(bundle, case):
    change, field = BROKEN[case]
    with pytest.raises(ConfigError) as info:
        config_mod.validate(edited(change), bundle)
    assert field in str(info.value), (case, str(info.value))


@pytest.mark.parametrize("version, ok", [("1.0.0", True), ("1.1.0", True), ("1.2.1", True),
                                         ("1.9.0-rc1", True), ("2.0.0", False),
                                         ("0.5.0", False)])
def test_every_1x_oci_version_is_accepted(bundle, version, ok):
    config = edited(lambda c: c.update(ociVersion=version))
    if ok:
        assert config_mod.validate(config, bundle) is config
    else:
        with pytest.raises(ConfigError) as info:
            config_mod.validate(config, bundle)
        assert info.value.field == "ociVersion"
