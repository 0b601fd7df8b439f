"""The OCI contract: state and spec validate against the runtime-spec schemas, features has
features.md's fields, list matches runc's shape, YAML bundles behave as their JSON twins."""
import json
import os

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
    # runc 1.2's recursive options and runtime-spec 1.2's id-mapped mounts
    assert {"rro", "rrw", "rnosuid", "rsuid", "rnodev", "rdev", "rnoexec", "rexec", "rnoatime",
            "ratime", "rrelatime", "rnorelatime", "rstrictatime", "rnostrictatime",
            "rnodiratime", "rdiratime", "rnosymfollow", "rsymfollow", "idmap",
            "ridmap"} <= set(f["mountOptions"])
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
    assert linux["intelRdt"] == {"enabled": False, "schemata": False}
    assert linux["mountExtensions"] == {"idmap": {"enabled": True}}
    # runtime-spec 1.3: what is recognised and not done says false; memoryPolicy is done
    assert linux["netDevices"] == {"enabled": True}
    assert set(linux["memoryPolicy"]["modes"]) >= {"MPOL_DEFAULT", "MPOL_BIND",
                                                    "MPOL_INTERLEAVE", "MPOL_PREFERRED",
                                                    "MPOL_LOCAL"}
    assert set(linux["memoryPolicy"]["flags"]) == {"MPOL_F_NUMA_BALANCING",
                                                    "MPOL_F_RELATIVE_NODES",
                                                    "MPOL_F_STATIC_NODES"}
    assert "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" in sc["knownFlags"]
    assert f["potentiallyUnsafeConfigAnnotations"] == ["pyrunc.network", "pyrunc.network.",
                                                       "pyrunc.trace"]


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
