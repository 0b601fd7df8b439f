"""pyrunc.config: loading a bundle's config and validating it. Pure logic, no root needed: the
bundles are temporary directories whose rootfs is an empty directory."""
import copy
import json

import pytest

from pyrunc import config as config_mod
from pyrunc.errors import ConfigError, PyruncError
from pyrunc.spec import default_spec


@pytest.fixture
def bundle(tmp_path):
    (tmp_path / "rootfs").mkdir()
    return tmp_path


def good():
    """runc spec's default, as `pyrunc spec` writes it (root.path 'rootfs')."""
    return default_spec()


def refused(config, bundle, field):
    """Validate config; it must fail with a ConfigError naming field. Returns the error."""
    with pytest.raises(ConfigError) as info:
        config_mod.validate(config, str(bundle))
    err = info.value
    assert err.field == field, f"expected field {field!r}, got {err.field!r}: {err}"
    assert field in str(err)
    assert isinstance(err, PyruncError)
    return err


# -- the good cases ------------------------------------------------------------------------------

def test_default_spec_passes_and_is_returned_unchanged(bundle):
    config = good()
    before = copy.deepcopy(config)
    assert config_mod.validate(config, str(bundle)) is config
    assert config == before


def test_default_rootless_spec_passes(bundle):
    config_mod.validate(default_spec(rootless=True), str(bundle))


def test_load_bundle_config_reads_config_json(bundle):
    config = good()
    (bundle / "config.json").write_text(json.dumps(config))
    assert config_mod.load_bundle_config(str(bundle)) == config


def test_unknown_top_level_property_is_ignored(bundle):
    config = good()
    config["vendorExtension"] = {"anything": [1, 2, 3]}
    config["process"]["someFutureField"] = True
    config["linux"]["someFutureField"] = "x"
    (bundle / "config.json").write_text(json.dumps(config))
    loaded = config_mod.load_bundle_config(str(bundle))
    assert config_mod.validate(loaded, str(bundle))["vendorExtension"] == {"anything": [1, 2, 3]}


def test_yaml_bundle_loads_when_there_is_no_config_json(bundle):
    (bundle / "config.yaml").write_text(
        "# a hand-written config\n"
        "ociVersion: '1.0.2'\n"
        "root: {path: rootfs, readonly: true}\n"
        "hostname: from-yaml\n"
        "process:\n"
        "  args: [sh, -c, 'echo hi']\n"
        "  cwd: /\n"
        "  user: {uid: 0, gid: 0}\n"
        "mounts:\n"
        "  - {destination: /proc, type: proc, source: proc}\n"
        "linux:\n"
        "  namespaces: [{type: mount}, {type: uts}, {type: pid}]\n")
    config = config_mod.load_bundle_config(str(bundle))
    assert config["hostname"] == "from-yaml"
    assert config["process"]["args"] == ["sh", "-c", "echo hi"]
    assert config["linux"]["namespaces"] == [{"type": "mount"}, {"type": "uts"}, {"type": "pid"}]
    config_mod.validate(config, str(bundle))


def test_config_json_wins_over_config_yaml(bundle):
    config = good()
    config["hostname"] = "from-json"
    (bundle / "config.json").write_text(json.dumps(config))
    (bundle / "config.yaml").write_text("ociVersion: '1.0.2'\nhostname: from-yaml\n")
    assert config_mod.load_bundle_config(str(bundle))["hostname"] == "from-json"


# -- loading failures ----------------------------------------------------------------------------

def test_missing_config_json(bundle):
    with pytest.raises(ConfigError) as info:
        config_mod.load_bundle_config(str(bundle))
    assert info.value.field == "config.json"
    assert "config.json" in str(info.value)
    assert str(bundle) in str(info.value)


def test_missing_bundle_directory(tmp_path):
    with pytest.raises(ConfigError) as info:
        config_mod.load_bundle_config(str(tmp_path / "nope"))
    assert info.value.field == "bundle"


@pytest.mark.parametrize("text", ['{"ociVersion": "1.0.2",', "not json at all", "{'a': 1}", ""])
def test_bad_json(bundle, text):
    (bundle / "config.json").write_text(text)
    with pytest.raises(ConfigError) as info:
        config_mod.load_bundle_config(str(bundle))
    assert info.value.field == "config.json"
    assert "invalid JSON" in str(info.value)


def test_json_that_is_not_an_object(bundle):
    (bundle / "config.json").write_text("[1, 2]")
    with pytest.raises(ConfigError) as info:
        config_mod.load_bundle_config(str(bundle))
    assert info.value.field == "config.json"


def test_bad_yaml(bundle):
    (bundle / "config.yaml").write_text("root: [unclosed\n  - x: {\n")
    with pytest.raises(ConfigError) as info:
        config_mod.load_bundle_config(str(bundle))
    assert info.value.field == "config.yaml"
    assert "\n" not in str(info.value)  # one line, fit for the CLI's one-line error


# -- validation failures, each naming its field ----------------------------------------------------

def test_unknown_namespace_type(bundle):
    config = good()
    config["linux"]["namespaces"].append({"type": "bogus"})
    index = len(config["linux"]["namespaces"]) - 1
    err = refused(config, bundle, f"linux.namespaces[{index}].type")
    assert "bogus" in str(err)


def test_duplicate_namespace(bundle):
    config = good()
    config["linux"]["namespaces"].append({"type": "pid"})
    index = len(config["linux"]["namespaces"]) - 1
    err = refused(config, bundle, f"linux.namespaces[{index}].type")
    assert "twice" in str(err)


def test_namespace_path_that_does_not_exist(bundle):
    config = good()
    config["linux"]["namespaces"][0] = {"type": "pid", "path": str(bundle / "no-such-ns")}
    refused(config, bundle, "linux.namespaces[0].path")


def test_no_mount_namespace(bundle):
    """runc runs a config without a mount namespace (in the runtime's, chrooted); what would
    change the host's own mounts is refused by name."""
    config = good()
    config["linux"]["namespaces"] = [ns for ns in config["linux"]["namespaces"]
                                     if ns["type"] != "mount"]
    refused(config, bundle, "linux.maskedPaths")
    config["linux"].pop("maskedPaths", None)
    refused(config, bundle, "linux.readonlyPaths")
    config["linux"].pop("readonlyPaths", None)
    config["linux"]["rootfsPropagation"] = "rshared"
    refused(config, bundle, "linux.rootfsPropagation")
    del config["linux"]["rootfsPropagation"]
    config_mod.validate(config, str(bundle))


def test_joining_a_mount_namespace_and_hostname_in_a_joined_uts(bundle):
    config = good()
    for ns in config["linux"]["namespaces"]:
        if ns["type"] in ("mount", "uts"):
            ns["path"] = "/proc/self/ns/" + ("mnt" if ns["type"] == "mount" else "uts")
    config["hostname"] = "joined"
    config_mod.validate(config, str(bundle))


@pytest.mark.parametrize("destination", ["relative/path", "proc", "/../../etc", "/dev/../../x",
                                         "/a/.."])
def test_mount_destination_relative_or_escaping(bundle, destination):
    config = good()
    config["mounts"][0]["destination"] = destination
    err = refused(config, bundle, "mounts[0].destination")
    assert repr(destination) in str(err)


def test_mount_destination_with_dots_inside_a_name_is_fine(bundle):
    config = good()
    config["mounts"].append({"destination": "/srv/a..b/..c", "type": "tmpfs", "source": "tmpfs"})
    config_mod.validate(config, str(bundle))


def test_mount_without_destination(bundle):
    config = good()
    del config["mounts"][2]["destination"]
    err = refused(config, bundle, "mounts[2].destination")
    assert "required" in str(err)


def test_bind_mount_without_source(bundle):
    config = good()
    config["mounts"].append({"destination": "/mnt", "options": ["rbind"]})
    refused(config, bundle, f"mounts[{len(config['mounts']) - 1}].source")


def test_bad_rlimit_type(bundle):
    config = good()
    config["process"]["rlimits"] = [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]
    err = refused(config, bundle, "process.rlimits[0].type")
    assert "RLIMIT_BOGUS" in str(err)


def test_rlimit_soft_above_hard(bundle):
    config = good()
    config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024},
                                    {"type": "RLIMIT_NPROC", "soft": 200, "hard": 100}]
    err = refused(config, bundle, "process.rlimits[1]")
    assert "200" in str(err) and "100" in str(err)


def test_rlimit_value_not_an_integer(bundle):
    config = good()
    config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": "10", "hard": 10}]
    refused(config, bundle, "process.rlimits[0].soft")


@pytest.mark.parametrize("soft,hard", [(-1, 1024), (-1, -1), (1024, 2**64), (2**64, 2**64)])
def test_rlimit_value_out_of_range(bundle, soft, hard):
    """rlimits are uint64 in the runtime spec (runc cannot even decode a negative one); -1
    must not slip through to setrlimit, where it means RLIM_INFINITY."""
    config = good()
    config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": soft, "hard": hard}]
    with pytest.raises(ConfigError) as info:
        config_mod.validate(config, str(bundle))
    assert info.value.field.startswith("process.rlimits[0]"), info.value


def test_rlimit_unlimited_is_accepted(bundle):
    config = good()
    config["process"]["rlimits"] = [{"type": "RLIMIT_CORE", "soft": 2**64 - 1,
                                     "hard": 2**64 - 1}]
    config_mod.validate(config, str(bundle))


@pytest.mark.parametrize("key", ["uid", "gid"])
def test_negative_user_id(bundle, key):
    config = good()
    config["process"]["user"][key] = -1
    err = refused(config, bundle, f"process.user.{key}")
    assert "negative" in str(err)


def test_uid_that_is_a_boolean(bundle):
    config = good()
    config["process"]["user"]["uid"] = True
    refused(config, bundle, "process.user.uid")


def test_bad_device_type(bundle):
    config = good()
    config["linux"]["devices"] = [
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229},
        {"path": "/dev/odd", "type": "x", "major": 1, "minor": 1},
    ]
    err = refused(config, bundle, "linux.devices[1].type")
    assert "'x'" in str(err)


def test_device_path_relative(bundle):
    config = good()
    config["linux"]["devices"] = [{"path": "dev/null", "type": "c", "major": 1, "minor": 3}]
    refused(config, bundle, "linux.devices[0].path")


def test_hostname_without_uts_namespace(bundle):
    config = good()
    config["linux"]["namespaces"] = [ns for ns in config["linux"]["namespaces"]
                                     if ns["type"] != "uts"]
    err = refused(config, bundle, "hostname")
    assert "uts" in str(err)


def test_no_hostname_without_uts_namespace_is_fine(bundle):
    config = good()
    config["linux"]["namespaces"] = [ns for ns in config["linux"]["namespaces"]
                                     if ns["type"] != "uts"]
    del config["hostname"]
    config_mod.validate(config, str(bundle))


@pytest.mark.parametrize("key", ["uidMappings", "gidMappings"])
def test_id_mappings_without_user_namespace(bundle, key):
    config = good()
    config["linux"][key] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    err = refused(config, bundle, f"linux.{key}")
    assert "user namespace" in str(err)


def test_user_namespace_without_mappings(bundle):
    config = good()
    config["linux"]["namespaces"].append({"type": "user"})
    refused(config, bundle, "linux.uidMappings")


@pytest.mark.parametrize("key", ["kernel.panic", "vm.swappiness", "kernel.hostname_bogus"])
def test_sysctl_not_namespaced(bundle, key):
    config = good()
    config["linux"]["sysctl"] = {key: "1"}
    err = refused(config, bundle, f"linux.sysctl.{key}")
    assert "not namespaced" in str(err)


def test_namespaced_sysctls_pass_with_their_namespace(bundle):
    config = good()
    config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shmmax": "65536",
                                 "fs.mqueue.msg_max": "10"}
    config_mod.validate(config, str(bundle))


def test_user_sysctls_need_a_user_namespace(bundle):
    """user.* (the ucount limits) belong to the user namespace: allowed with one only."""
    config = good()
    config["linux"]["sysctl"] = {"user.max_user_namespaces": "7"}
    err = refused(config, bundle, "linux.sysctl.user.max_user_namespaces")
    assert "needs a user namespace" in str(err)
    config["linux"]["namespaces"].append({"type": "user"})
    config["linux"]["uidMappings"] = config["linux"]["gidMappings"] = [
        {"containerID": 0, "hostID": 100000, "size": 65536}]
    config_mod.validate(config, str(bundle))


@pytest.mark.parametrize("mounts, named", [
    ("proc /proc proc rw 0 0\n", "no resctrl filesystem"),
    ("resctrl /sys/fs/resctrl resctrl rw 0 0\n", "not supported yet")])
def test_intel_rdt_is_refused_with_the_hosts_reason(bundle, tmp_path, mounts, named):
    path = tmp_path / "mounts"
    path.write_text(mounts)
    assert named in config_mod.intel_rdt_refusal(str(path))
    config = good()
    config["linux"]["intelRdt"] = {"closID": "guaranteed_group"}
    err = refused(config, bundle, "linux.intelRdt")
    assert config_mod.intel_rdt_refusal() in str(err)


def test_net_sysctl_without_network_namespace(bundle):
    config = good()
    config["linux"]["namespaces"] = [ns for ns in config["linux"]["namespaces"]
                                     if ns["type"] != "network"]
    config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    refused(config, bundle, "linux.sysctl.net.ipv4.ip_forward")


@pytest.mark.parametrize("value", ["bogus", "RPRIVATE", "private,rshared"])
def test_bad_rootfs_propagation(bundle, value):
    config = good()
    config["linux"]["rootfsPropagation"] = value
    refused(config, bundle, "linux.rootfsPropagation")


@pytest.mark.parametrize("value", config_mod.PROPAGATIONS)
def test_every_known_rootfs_propagation_passes(bundle, value):
    config = good()
    config["linux"]["rootfsPropagation"] = value
    config_mod.validate(config, str(bundle))


@pytest.mark.parametrize("section,key,value", [
    ("process", "execCPUAffinity", {"initial": "0", "final": "0"}),
    ("linux", "netDevices", {"eth1": {"name": "eth1"}}),
])
def test_fields_once_refused_as_not_supported_are_accepted(bundle, section, key, value):
    config = good()
    config[section][key] = value
    config_mod.validate(config, str(bundle))


def test_bad_scheduler_policy_is_refused(bundle):
    config = good()
    config["process"]["scheduler"] = {"policy": "SCHED_BOGUS"}
    refused(config, bundle, "process.scheduler.policy")


def test_missing_root(bundle):
    config = good()
    del config["root"]
    refused(config, bundle, "root")


def test_root_path_that_does_not_exist(bundle):
    config = good()
    config["root"]["path"] = "no-such-rootfs"
    refused(config, bundle, "root.path")


@pytest.mark.parametrize("version", ["2.0.0", "0.9", "latest"])
def test_oci_version_of_another_major(bundle, version):
    config = good()
    config["ociVersion"] = version
    refused(config, bundle, "ociVersion")


def test_missing_process_args(bundle):
    config = good()
    config["process"]["args"] = []
    refused(config, bundle, "process.args")


def test_relative_cwd(bundle):
    config = good()
    config["process"]["cwd"] = "tmp"
    refused(config, bundle, "process.cwd")


def test_env_entry_without_equals(bundle):
    config = good()
    config["process"]["env"].append("JUSTANAME")
    refused(config, bundle, f"process.env[{len(config['process']['env']) - 1}]")


def test_env_entry_without_a_name(bundle):
    """Found by the differential harness: runc refuses "=x" (no variable name); so does pyrunc."""
    config = good()
    config["process"]["env"].append("=x")
    err = refused(config, bundle, f"process.env[{len(config['process']['env']) - 1}]")
    assert "empty variable name" in str(err)


@pytest.mark.parametrize("field", ["hostname", "domainname"])
def test_sysctl_conflicting_with_the_uts_fields(bundle, field):
    """Found by the differential harness: runc refuses linux.sysctl kernel.hostname beside the
    hostname field (and kernel.domainname beside domainname); so does pyrunc. Alone it is fine."""
    config = good()
    config.pop("hostname")
    config["linux"]["sysctl"] = {f"kernel.{field}": "other"}
    config_mod.validate(copy.deepcopy(config), str(bundle))
    config[field] = "mine"
    err = refused(config, bundle, f"linux.sysctl.kernel.{field}")
    assert f"conflicts with the {field} field" in str(err)


def test_null_properties_are_absent_ones(bundle):
    """Found by the differential harness: runc reads "user": null, "env": null as absent; pyrunc
    did too in validation, but then met the None while starting the process."""
    config = good()
    config["process"]["user"] = None
    config["process"]["env"] = None
    config["linux"]["sysctl"] = None
    config_mod.validate(config, str(bundle))
    assert "user" not in config["process"] and "env" not in config["process"]
    assert "sysctl" not in config["linux"]
    config["process"]["env"] = ["A=1", None]  # a null item is no absent property: refused
    refused(config, bundle, "process.env[1]")


def test_validate_process_names_the_prefix_it_is_given():
    with pytest.raises(ConfigError) as info:
        config_mod.validate_process({"args": ["sh"], "user": {"uid": -5}}, "exec process")
    assert info.value.field == "exec process.user.uid"


# -- security fields -----------------------------------------------------------------------------

def _with_user_ns(config, uid_maps, gid_maps):
    config["linux"]["namespaces"].append({"type": "user"})
    config["linux"]["uidMappings"] = uid_maps
    config["linux"]["gidMappings"] = gid_maps
    return config


@pytest.mark.parametrize("edit, field", [
    (lambda c: c["linux"].update(seccomp={"defaultAction": "SCMP_ACT_ALLOW",
                                          "architectures": ["SCMP_ARCH_BOGUS"]}),
     "linux.seccomp.architectures[0]"),
    (lambda c: c["linux"].update(seccomp={"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_FROBNICATE"}]}),
     "linux.seccomp.syscalls[0].action"),
    (lambda c: c["linux"].update(seccomp={"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
     "linux.seccomp.listenerPath"),
    (lambda c: _with_user_ns(c, [{"containerID": 0, "hostID": 1000, "size": 10},
                                 {"containerID": 5, "hostID": 5000, "size": 10}],
                             [{"containerID": 0, "hostID": 1000, "size": 10}]),
     "linux.uidMappings[1]"),
    (lambda c: _with_user_ns(c, [{"containerID": 0, "hostID": 1000, "size": 10}],
                             [{"containerID": 0, "hostID": 1000, "size": 10},
                              {"containerID": 100, "hostID": 1005, "size": 1}]),
     "linux.gidMappings[1]"),
    (lambda c: c["process"].update(ioPriority={"class": "IOPRIO_CLASS_BOGUS"}),
     "process.ioPriority.class"),
    (lambda c: c["linux"].update(personality={"domain": "LINUX64"}), "linux.personality.domain"),
])
def test_security_bad_input_is_named(bundle, edit, field):
    config = good()
    edit(config)
    refused(config, bundle, field)


def test_builtin_bundle_config_is_valid(tmp_path):
    import pyrunc.builtin_rootfs as recipe
    (tmp_path / "rootfs").mkdir()
    (tmp_path / "config.yaml").write_text(open(recipe.CONFIG).read())
    config_mod.validate(config_mod.load_bundle_config(str(tmp_path)), str(tmp_path))


def test_a_capability_no_linux_has_is_refused_by_name(bundle):
    config = good()
    config["process"]["capabilities"]["effective"].append("CAP_BOGUS")
    index = len(config["process"]["capabilities"]["effective"]) - 1
    err = refused(config, bundle, f"process.capabilities.effective[{index}]")
    assert "unknown capability 'CAP_BOGUS'" in str(err)


def test_every_capability_linux_knows_is_accepted(bundle):
    from pyrunc import names
    config = good()
    config["process"]["capabilities"]["bounding"] = list(names.CAPABILITIES)
    config_mod.validate(config, str(bundle))
