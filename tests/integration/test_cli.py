"""The small verbs and the command line itself: `spec` (plain and --rootless), --version and -v,
--help of a verb, an unknown flag, --systemd-cgroup refused with nothing left."""
import json
import os
import uuid

from conftest import PYRUNC, run_bounded
from featutil import cid, marked_env
from leftovers import assert_nothing_left


def test_spec_writes_a_runnable_config(runtime, tmp_path, busybox_rootfs):
    bundle = tmp_path / "spec-bundle"
    bundle.mkdir()
    run_bounded([PYRUNC, "spec", "-b", str(bundle)], check=True, timeout=30)
    config = json.loads((bundle / "config.json").read_text())
    assert config["process"]["terminal"] is True and config["root"]["path"] == "rootfs"
    config["root"]["path"] = busybox_rootfs
    config["process"]["terminal"] = False
    (bundle / "config.json").write_text(json.dumps(config))
    result = runtime("run", "-b", str(bundle), cid("spec"), input=b"echo from-spec; hostname\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["from-spec", config["hostname"]]
    again = run_bounded([PYRUNC, "spec", "-b", str(bundle)], capture_output=True, text=True,
                           timeout=30)
    assert again.returncode == 1 and "exists" in again.stderr
    assert json.loads((bundle / "config.json").read_text()) == config  # not overwritten


def test_spec_rootless_has_a_user_namespace(tmp_path):
    run_bounded([PYRUNC, "spec", "--rootless", "-b", str(tmp_path)], check=True, timeout=30)
    linux = json.loads((tmp_path / "config.json").read_text())["linux"]
    types = [ns["type"] for ns in linux["namespaces"]]
    assert "user" in types and "network" not in types
    assert linux["uidMappings"] == [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]
    assert linux["gidMappings"] == [{"containerID": 0, "hostID": os.getegid(), "size": 1}]
    assert "resources" not in linux


def test_version():
    import pyrunc
    for flag in ("--version", "-v"):
        result = run_bounded([PYRUNC, flag], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0
        lines = result.stdout.splitlines()
        assert lines[0] == f"pyrunc version {pyrunc.__version__}"
        assert any(line.startswith("spec: 1.") for line in lines)


def test_systemd_cgroup_is_refused_cleanly(runtime, make_bundle):
    container, marker = cid("systemd"), uuid.uuid4().hex
    result = runtime("create", "-b", make_bundle(), container, global_args=["--systemd-cgroup"],
                     env=marked_env(marker))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--systemd-cgroup" in lines[0], result.stderr
    assert_nothing_left(runtime, container, markers=marker)


def test_version_and_help(runtime):
    out = run_bounded([runtime.cmd()[0], "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "pyrunc version" in out.stdout and "spec: 1.0.2" in out.stdout
    help_text = run_bounded([runtime.cmd()[0], "create", "--help"], capture_output=True,
                               text=True).stdout
    for flag in ("--bundle", "--console-socket", "--pid-file", "--no-pivot", "--no-new-keyring",
                 "--preserve-fds"):
        assert flag in help_text
    bad = run_bounded([runtime.cmd()[0], "create", "--bogus", "x"], capture_output=True,
                         text=True)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and "--bogus" in bad.stderr
