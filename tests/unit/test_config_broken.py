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

_MAP = [{"containerID": 0, "hostID": 1000, "size": 1}]


def _mount(**fields):
    """A change that appends a mount (mounts[7]: a bind of / unless fields say otherwise)."""
    m = {"destination": "/data", "type": "bind", "source": "/", "options": ["bind"]}
    m.update(fields)
    return lambda c: c["mounts"].append(m)


# Mounts (runtime-spec 1.2+): an option is applied or refused by name, never dropped.
BROKEN.update({
    "mount uidMappings without gidMappings": (_mount(uidMappings=_MAP), "mounts[7].gidMappings"),
    "mount gidMappings without uidMappings": (_mount(gidMappings=_MAP), "mounts[7].uidMappings"),
    "mount mapping with a negative size": (
        _mount(uidMappings=[{"containerID": 0, "hostID": 0, "size": -1}], gidMappings=_MAP),
        "mounts[7].uidMappings[0].size"),
    "mount mappings overlapping": (
        _mount(uidMappings=_MAP * 2, gidMappings=_MAP), "mounts[7].uidMappings[1]"),
    "idmap without mappings or a user namespace": (
        _mount(options=["bind", "idmap"]), 'mounts[7].options: "idmap": the mount has no'),
    "ridmap without mappings or a user namespace": (
        _mount(options=["rbind", "ridmap"]), 'mounts[7].options: "ridmap"'),
    "idmap with ridmap": (_mount(options=["rbind", "idmap", "ridmap"], uidMappings=_MAP,
                                 gidMappings=_MAP), 'mounts[7].options: "ridmap": given with'),
    "idmap on proc": (_mount(type="proc", source="proc", options=["idmap"], uidMappings=_MAP,
                             gidMappings=_MAP), 'mounts[7].options: "idmap": pyrunc makes'),
    "mappings on mqueue": (_mount(type="mqueue", source="mqueue", options=[], uidMappings=_MAP,
                                  gidMappings=_MAP), "mounts[7].uidMappings: pyrunc makes"),
    "idmap with tmpcopyup": (_mount(type="tmpfs", source="tmpfs", options=["idmap", "tmpcopyup"],
                                    uidMappings=_MAP, gidMappings=_MAP),
                             'mounts[7].options: "tmpcopyup": not with idmap'),
    "sync on a bind": (_mount(options=["rbind", "sync"]), 'mounts[7].options: "sync": a flag of '
                       "the filesystem's superblock"),
    "lazytime on a bind": (_mount(options=["bind", "lazytime"]), '"lazytime"'),
    "a tmpfs option on a bind": (_mount(options=["rbind", "mode=755"]),
                                 'mounts[7].options: "mode=755": a filesystem option'),
    "tmpcopyup on a bind": (_mount(options=["rbind", "tmpcopyup"]), '"tmpcopyup": copies'),
    "remount on a bind": (_mount(options=["bind", "remount"]), '"remount": a bind mount is made'),
    "a data option on a type bind mount": (_mount(options=["size=1k"]), '"size=1k"'),
})


def test_mount_options_that_are_accepted(bundle):
    """What a bind or a tmpfs takes: the flags, propagation, recursive options, idmap with
    mappings (or the container's user namespace), and mappings without either option (runc
    1.2 applies them as idmap's)."""
    mounts = [
        {"destination": "/a", "type": "bind", "source": "/", "options": [
            "rbind", "ro", "nosuid", "rro", "rnoatime", "ratime", "rnosymfollow", "rprivate",
            "idmap", "defaults"], "uidMappings": _MAP, "gidMappings": _MAP},
        {"destination": "/b", "type": "bind", "source": "/", "uidMappings": _MAP,
         "gidMappings": _MAP},
        {"destination": "/c", "type": "tmpfs", "source": "tmpfs", "options": [
            "ridmap", "size=1m", "mode=755", "sync"], "uidMappings": _MAP, "gidMappings": _MAP},
        {"destination": "/d", "type": "tmpfs", "source": "tmpfs", "options": [
            "nosuid", "tmpcopyup", "rnodev", "mode=1777"]},
    ]
    config_mod.validate(edited(lambda c: c["mounts"].extend(mounts)), bundle)

    def with_userns(c):
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = _MAP
        c["linux"]["gidMappings"] = _MAP
        c["mounts"].append({"destination": "/e", "type": "bind", "source": "/",
                            "options": ["rbind", "ridmap"]})
    config_mod.validate(edited(with_userns), bundle)


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
