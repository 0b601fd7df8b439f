"""The OCI contract: state and spec validate against the runtime-spec schemas, features has
features.md's fields, list matches runc's shape, YAML bundles behave as their JSON twins."""
import json
import os
import subprocess

import jsonschema
import pytest
import yaml

from conftest import run_bounded

SCHEMAS = "/usr/share/gocode/src/github.com/opencontainers/runtime-spec/schema"


def schema_validator(name):
    """A validator for one of Debian's runtime-spec 1.0.2 schemas, resolving its $refs."""
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    def load(filename):
        with open(os.path.join(SCHEMAS, filename)) as f:
            return Resource.from_contents(json.load(f), default_specification=DRAFT4)

    registry = Registry().with_resources(
        (f"file://{SCHEMAS}/{n}", load(n)) for n in os.listdir(SCHEMAS) if n.endswith(".json"))
    registry = registry.with_resources((n, load(n)) for n in os.listdir(SCHEMAS)
                                       if n.endswith(".json"))
    with open(os.path.join(SCHEMAS, name)) as f:
        schema = json.load(f)
    schema.setdefault("$id", f"file://{SCHEMAS}/{name}")
    return jsonschema.Draft4Validator(schema, registry=registry)


@pytest.fixture(scope="module", autouse=True)
def schemas_present():
    assert os.path.isdir(SCHEMAS), "golang-github-opencontainers-specs-dev is not installed"


def test_state_validates_against_the_state_schema(runtime, make_bundle):
    validator = schema_validator("state-schema.json")
    assert not validator.is_valid({"ociVersion": "1.0.2", "id": "x", "status": "bogus",
                                   "bundle": "/b"})  # the schema really checks
    bundle = make_bundle(["sleep", "1000"], edit=lambda c: c.update(
        annotations={"org.example": "v"}))
    runtime("create", "-b", bundle, "contract-state", check=True)
    for step in ("created", "running", "stopped"):
        state = runtime.state("contract-state")
        assert state["status"] == step
        validator.validate(state)
        assert state["annotations"] == {"org.example": "v"}
        if step == "created":
            runtime("start", "contract-state", check=True)
        elif step == "running":
            runtime("kill", "contract-state", "KILL", check=True)
            from conftest import wait_until
            assert wait_until(lambda: runtime.state("contract-state")["status"] == "stopped")
    runtime("delete", "contract-state", check=True)


def test_spec_validates_against_the_config_schema(runtime, tmp_path):
    validator = schema_validator("config-schema.json")
    assert not validator.is_valid({"ociVersion": "1.0.2", "root": {"path": 3}})
    for flags in ([], ["--rootless"]):
        bundle = tmp_path / ("b" + "".join(flags))
        bundle.mkdir()
        run_bounded(runtime.cmd("spec", "--bundle", str(bundle), *flags), check=True)
        validator.validate(json.loads((bundle / "config.json").read_text()))


def test_spec_format_yaml_is_the_same_config(runtime, tmp_path):
    as_json, as_yaml = tmp_path / "j", tmp_path / "y"
    as_json.mkdir()
    as_yaml.mkdir()
    run_bounded(runtime.cmd("spec", "--bundle", str(as_json)), check=True)
    run_bounded(runtime.cmd("spec", "--format", "yaml", "--bundle", str(as_yaml)), check=True)
    assert not (as_yaml / "config.json").exists()
    assert yaml.safe_load((as_yaml / "config.yaml").read_text()) == json.loads(
        (as_json / "config.json").read_text())


def test_features_has_the_fields_of_features_md(runtime):
    out = run_bounded(runtime.cmd("features"), capture_output=True, text=True, check=True)
    f = json.loads(out.stdout)
    assert f["ociVersionMin"] == "1.0.0" and f["ociVersionMax"].startswith("1.")
    assert f["hooks"] == ["prestart", "createRuntime", "createContainer", "startContainer",
                          "poststart", "poststop"]
    assert {"ro", "rw", "bind", "rbind", "nosuid", "rprivate", "tmpcopyup"} <= set(
        f["mountOptions"])
    linux = f["linux"]
    assert set(linux["namespaces"]) == {"cgroup", "ipc", "mount", "network", "pid", "time",
                                        "user", "uts"}
    assert "CAP_SYS_ADMIN" in linux["capabilities"] and "CAP_CHECKPOINT_RESTORE" in \
        linux["capabilities"]
    assert set(linux["cgroup"]) == {"v1", "v2", "systemd", "systemdUser", "rdma"}
    assert linux["cgroup"]["systemd"] is False
    sc = linux["seccomp"]
    assert sc["enabled"] is True and "SCMP_ACT_ERRNO" in sc["actions"]
    assert "SCMP_ACT_NOTIFY" in sc["actions"]  # with linux.seccomp.listenerPath
    assert "SCMP_CMP_MASKED_EQ" in sc["operators"] and "SCMP_ARCH_X86_64" in sc["archs"]
    assert set(sc["supportedFlags"]) <= set(sc["knownFlags"])
    assert linux["apparmor"]["enabled"] == os.path.exists("/sys/kernel/security/apparmor")
    assert linux["selinux"]["enabled"] == os.path.exists("/sys/fs/selinux/enforce")
    assert linux["intelRdt"] == {"enabled": False}
    assert linux["mountExtensions"] == {"idmap": {"enabled": False}}


def test_list_json_has_runcs_shape(runtime, make_bundle):
    bundle = make_bundle(["sleep", "1000"])
    runtime("create", "-b", bundle, "contract-list", check=True)
    listed = json.loads(runtime("list", "--format", "json", check=True).stdout)
    assert len(listed) == 1
    entry = listed[0]
    assert set(entry) >= {"ociVersion", "id", "pid", "status", "bundle", "rootfs", "created",
                          "owner"}
    assert entry["id"] == "contract-list" and entry["status"] == "created"
    assert isinstance(entry["pid"], int) and entry["pid"] > 0
    table = runtime("list", check=True).stdout.splitlines()
    assert table[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]


def test_yaml_bundle_behaves_as_its_json_twin(runtime, make_bundle, tmp_path):
    script = "echo $$; hostname; id -u; ls /; cat /proc/self/status | grep -E '^Cap(Eff|Bnd)'"
    json_bundle = make_bundle(["sh", "-c", script], name="json-twin")
    config = json.loads(open(os.path.join(json_bundle, "config.json")).read())
    yaml_bundle = tmp_path / "yaml-twin"
    yaml_bundle.mkdir()
    (yaml_bundle / "config.yaml").write_text(yaml.safe_dump(config))
    from_json = runtime("run", "-b", json_bundle, "twin-json", check=True).stdout
    from_yaml = runtime("run", "-b", str(yaml_bundle), "twin-yaml", check=True).stdout
    assert from_json == from_yaml and from_json.startswith("1\n")


def test_config_json_wins_over_config_yaml(runtime, make_bundle):
    bundle = make_bundle(["echo", "from-json"])
    with open(os.path.join(bundle, "config.yaml"), "w") as f:
        f.write("ociVersion: 1.0.2\nroot: {path: nowhere}\nprocess: {args: [echo, from-yaml]}\n")
    result = runtime("run", "-b", bundle, "twin-both", check=True)
    assert result.stdout == "from-json\n"
    assert "config.json" in result.stderr and "config.yaml" in result.stderr


@pytest.mark.parametrize("version, ok", [("1.0.0", True), ("1.1.0", True), ("1.2.1", True),
                                         ("1.9.0-rc1", True), ("2.0.0", False),
                                         ("0.5.0", False)])
def test_every_1x_oci_version_is_accepted(runtime, make_bundle, version, ok):
    bundle = make_bundle(["true"], edit=lambda c: c.update(ociVersion=version))
    result = runtime("run", "-b", bundle, "contract-version")
    assert (result.returncode == 0) == ok, result.stderr
    if not ok:
        assert "ociVersion" in result.stderr


def test_reserved_pyrunc_annotations(runtime, make_bundle):
    bundle = make_bundle(["true"], edit=lambda c: c.update(annotations={"pyrunc.bogus": "x"}))
    result = runtime("create", "-b", bundle, "contract-annot")
    assert result.returncode == 1 and "annotations.pyrunc.bogus" in result.stderr
    assert runtime.ids() == []


BROKEN = [
    lambda c: c.update(process=[]),
    lambda c: c.update(mounts={"not": "a list"}),
    lambda c: c["mounts"].append(None),
    lambda c: c["linux"].update(namespaces=[{"type": 5}]),
    lambda c: c["linux"].update(namespaces="pid"),
    lambda c: c["process"].update(args=[1, 2]),
    lambda c: c["process"].update(user={"uid": "root"}),
    lambda c: c["process"].update(rlimits=[{"type": "RLIMIT_NOFILE"}]),
    lambda c: c["process"].update(capabilities={"bounding": "CAP_KILL"}),
    lambda c: c.update(hooks={"prestart": [{"path": 3}]}),
    lambda c: c["linux"].update(seccomp={"defaultAction": "SCMP_ACT_ALLOW",
                                         "syscalls": [{"names": [], "action": "x"}]}),
    lambda c: c["linux"].update(devices=[{"path": "/dev/x", "type": "c", "major": -1,
                                          "minor": 0}]),
    lambda c: c.update(root={"path": None}),
    lambda c: c.update(ociVersion=None),
    lambda c: c["linux"].update(seccomp={"defaultAction": "SCMP_ACT_BOGUS"}),
    lambda c: c["linux"].update(seccomp={"defaultAction": "SCMP_ACT_ALLOW",
                                         "architectures": ["SCMP_ARCH_VAX"]}),
    lambda c: c["process"].update(rlimits=[{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]),
    lambda c: c["linux"].update(
        namespaces=c["linux"]["namespaces"] + [{"type": "user"}],
        uidMappings=[{"containerID": 0, "hostID": 100000, "size": 100},
                     {"containerID": 50, "hostID": 300000, "size": 100}],
        gidMappings=[{"containerID": 0, "hostID": 100000, "size": 100}]),
]


@pytest.mark.parametrize("index", range(len(BROKEN)))
def test_broken_configs_give_one_line_and_leave_nothing(runtime, make_bundle, index):
    bundle = make_bundle(["true"], edit=BROKEN[index], name=f"broken{index}")
    result = runtime("create", "-b", bundle, f"contract-broken-{index}")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pyrunc: config: "), result.stderr
    assert "Traceback" not in result.stderr
    assert runtime.ids() == []
