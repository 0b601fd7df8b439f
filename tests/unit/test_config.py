"""config.json validation: good configs pass, each bad one names its field. No root needed."""
import json

import pytest

from pyrunc import config
from pyrunc.errors import ConfigError
from pyrunc.spec import default_spec


@pytest.fixture
def bundle(tmp_path):
    (tmp_path / "rootfs").mkdir()
    return tmp_path


def check(bundle, edit=None):
    cfg = default_spec()
    cfg["process"]["terminal"] = False
    if edit:
        edit(cfg)
    return config.validate(cfg, str(bundle))


def field_of(bundle, edit):
    with pytest.raises(ConfigError) as info:
        check(bundle, edit)
    return info.value.field, str(info.value)


def test_default_spec_is_valid(bundle):
    assert check(bundle)["root"]["path"] == "rootfs"


def test_unknown_properties_are_ignored(bundle):
    check(bundle, lambda c: c.update(futureThing={"a": 1}))


@pytest.mark.parametrize("edit, field", [
    (lambda c: c["linux"]["namespaces"].append({"type": "bogus"}), "linux.namespaces[6].type"),
    (lambda c: c["linux"]["namespaces"].append({"type": "pid"}), "linux.namespaces[6].type"),
    (lambda c: c["linux"]["namespaces"].pop(4), "linux.namespaces"),
    (lambda c: c["mounts"].append({"destination": "relative"}), "mounts[7].destination"),
    (lambda c: c["mounts"].append({"destination": "/a/../../etc"}), "mounts[7].destination"),
    (lambda c: c["mounts"].append({"destination": "/x", "options": ["bind"]}), "mounts[7].source"),
    (lambda c: c["process"]["rlimits"].append({"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}),
     "process.rlimits[1].type"),
    (lambda c: c["process"]["rlimits"].append({"type": "RLIMIT_CORE", "soft": 2, "hard": 1}),
     "process.rlimits[1]"),
    (lambda c: c["process"]["user"].update(uid=-1), "process.user.uid"),
    (lambda c: c["process"].update(args=[]), "process.args"),
    (lambda c: c["process"].update(cwd="tmp"), "process.cwd"),
    (lambda c: c["process"].update(env=["NOEQUALS"]), "process.env[0]"),
    (lambda c: c["linux"].update(devices=[{"path": "/dev/x", "type": "z"}]),
     "linux.devices[0].type"),
    (lambda c: c["linux"]["namespaces"].remove({"type": "uts"}), "hostname"),
    (lambda c: c["linux"].update(uidMappings=[{"containerID": 0, "hostID": 1, "size": 1}]),
     "linux.uidMappings"),
    (lambda c: c["linux"].update(sysctl={"kernel.panic": "1"}), "linux.sysctl.kernel.panic"),
    (lambda c: c["linux"].update(rootfsPropagation="sideways"), "linux.rootfsPropagation"),
    (lambda c: c["process"].update(scheduler={"policy": "SCHED_BOGUS"}), "process.scheduler.policy"),
    (lambda c: c["linux"].update(cgroupsPath="/a/../../b"), "linux.cgroupsPath"),
    (lambda c: c["linux"].update(timeOffsets={"monotonic": {"secs": 1}}), "linux.timeOffsets"),
    (lambda c: c["hooks"].update(prestart=[{"path": "rel"}]) if "hooks" in c else
     c.update(hooks={"prestart": [{"path": "rel"}]}), "hooks.prestart[0].path"),
    (lambda c: c["linux"].update(seccomp={"defaultAction": "SCMP_ACT_BOGUS"}),
     "linux.seccomp.defaultAction"),
    (lambda c: c["root"].update(path="missing"), "root.path"),
])
def test_bad_field_is_named(bundle, edit, field):
    got, message = field_of(bundle, edit)
    assert got == field
    assert message.startswith(f"config: {field}: ")


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="config.json: not found"):
        config.load_bundle_config(str(tmp_path))
    (tmp_path / "config.json").write_text("{oops")
    with pytest.raises(ConfigError, match="config.json: invalid JSON"):
        config.load_bundle_config(str(tmp_path))
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="must hold a JSON object"):
        config.load_bundle_config(str(tmp_path))


def test_yaml_bundle_loads_when_there_is_no_config_json(tmp_path):
    (tmp_path / "config.yaml").write_text("ociVersion: 1.0.2\nroot:\n  path: rootfs\n"
                                          "process:\n  args: [sh]\n")
    cfg = config.load_bundle_config(str(tmp_path))
    assert cfg["process"]["args"] == ["sh"]
    (tmp_path / "config.json").write_text(json.dumps({"ociVersion": "from-json"}))
    assert config.load_bundle_config(str(tmp_path))["ociVersion"] == "from-json"


def test_builtin_bundle_config_is_valid(tmp_path):
    import os

    import pyrunc.builtin_rootfs as recipe
    (tmp_path / "rootfs").mkdir()
    (tmp_path / "config.yaml").write_text(open(recipe.CONFIG).read())
    cfg = config.load_bundle_config(str(tmp_path))
    config.validate(cfg, str(tmp_path))
    assert os.path.basename(recipe.CONFIG) == "config.yaml"


@pytest.mark.parametrize("edit, field", [
    (lambda c: c["linux"].update(seccomp={"defaultAction": "SCMP_ACT_ALLOW",
                                          "architectures": ["SCMP_ARCH_BOGUS"]}),
     "linux.seccomp.architectures[0]"),
    (lambda c: c["linux"].update(seccomp={"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_FROBNICATE"}]}),
     "linux.seccomp.syscalls[0].action"),
    (lambda c: c["linux"].update(
        namespaces=c["linux"]["namespaces"] + [{"type": "user"}],
        uidMappings=[{"containerID": 0, "hostID": 1000, "size": 10},
                     {"containerID": 5, "hostID": 5000, "size": 10}],
        gidMappings=[{"containerID": 0, "hostID": 1000, "size": 10}]),
     "linux.uidMappings[1]"),
    (lambda c: c["linux"].update(
        namespaces=c["linux"]["namespaces"] + [{"type": "user"}],
        uidMappings=[{"containerID": 0, "hostID": 1000, "size": 10}],
        gidMappings=[{"containerID": 0, "hostID": 1000, "size": 10},
                     {"containerID": 100, "hostID": 1005, "size": 1}]),
     "linux.gidMappings[1]"),
])
def test_security_bad_input_is_named(bundle, edit, field):
    got, _message = field_of(bundle, edit)
    assert got == field
