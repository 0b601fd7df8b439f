"""All six OCI hooks: order, the state on stdin, the namespace each runs in, failures, timeouts."""
import os
import subprocess
import uuid

from conftest import wait_until
from featutil import PYTHON_HOST, cid, marked_env
from leftovers import assert_nothing_left

HOOK = """#!/bin/sh
state=$(cat)
status=$(echo "$state" | sed -n 's/.*"status":"\\([a-z]*\\)".*/\\1/p')
annotated=$(echo "$state" | grep -c '"org.example.test":"yes"')
echo "$1 $status $(readlink /proc/self/ns/mnt) $annotated" >> "$2"
"""


def hooked_bundle(make_bundle, tmp_path, busybox_rootfs, hooks_edit=None, args=("true",)):
    """A bundle whose six hooks append 'name status mnt-ns' to tmp_path/log/hooks.log;
    startContainer runs inside the container, so its script and log dir are there too."""
    rootfs = tmp_path / "rootfs"
    subprocess.run(["cp", "-a", busybox_rootfs, str(rootfs)], check=True)
    (rootfs / "hook.sh").write_text(HOOK)
    (rootfs / "hook.sh").chmod(0o755)
    logdir = tmp_path / "log"
    logdir.mkdir()
    host_hook = str(rootfs / "hook.sh")
    host_log = str(logdir / "hooks.log")

    def edit(config):
        config["root"]["path"] = str(rootfs)
        config["mounts"].append({"destination": "/hooklog", "type": "bind",
                                 "source": str(logdir), "options": ["bind"]})
        config["hooks"] = {
            kind: [{"path": host_hook, "args": ["hook.sh", kind, host_log]}]
            for kind in ("prestart", "createRuntime", "createContainer", "poststart", "poststop")
        }
        config["hooks"]["startContainer"] = [
            {"path": "/hook.sh", "args": ["hook.sh", "startContainer", "/hooklog/hooks.log"]}]
        config["annotations"] = {"org.example.test": "yes"}
        if hooks_edit:
            hooks_edit(config["hooks"])
    return make_bundle(list(args), edit=edit), logdir / "hooks.log"


def test_six_hooks_in_order_and_in_their_namespaces(runtime, make_bundle, tmp_path,
                                                    busybox_rootfs):
    bundle, log = hooked_bundle(make_bundle, tmp_path, busybox_rootfs)
    runtime("run", "-b", bundle, "hooks-all", check=True)
    rows = [line.split() for line in log.read_text().splitlines()]
    assert [r[0] for r in rows] == ["prestart", "createRuntime", "createContainer",
                                    "startContainer", "poststart", "poststop"]
    status = {r[0]: r[1] for r in rows}
    # runtime.md: "created" is the state after lifecycle step 2 (the environment made), which
    # the create-time hooks (steps 3-5) follow; the validation suite's hooks_stdin checks it.
    assert status["prestart"] == status["createRuntime"] == status["createContainer"] == "created"
    assert status["startContainer"] == "created"
    assert status["poststart"] == "running" and status["poststop"] == "stopped"
    host_mnt = os.readlink("/proc/self/ns/mnt")
    ns = {r[0]: r[2] for r in rows}
    for runtime_side in ("prestart", "createRuntime", "poststart", "poststop"):
        assert ns[runtime_side] == host_mnt, runtime_side
    for container_side in ("createContainer", "startContainer"):
        assert ns[container_side] != host_mnt, container_side
    assert ns["createContainer"] == ns["startContainer"]
    assert all(r[3] == "1" for r in rows), rows  # every hook saw the annotations


def test_failing_prestart_leaves_nothing(runtime, make_bundle, tmp_path, busybox_rootfs):
    bundle, log = hooked_bundle(make_bundle, tmp_path, busybox_rootfs,
                                lambda h: h["prestart"].insert(0, {"path": "/bin/false"}))
    result = runtime("run", "-b", bundle, "hooks-fail")
    assert result.returncode == 1 and "hooks.prestart[0]" in result.stderr
    assert runtime.ids() == []
    assert not os.path.exists("/sys/fs/cgroup/pids/hooks-fail")
    assert not log.exists() or "createContainer" not in log.read_text()


def test_hook_timeout_is_enforced(runtime, make_bundle, tmp_path, busybox_rootfs):
    bundle, _log = hooked_bundle(make_bundle, tmp_path, busybox_rootfs,
                                 lambda h: h["createRuntime"].insert(
                                     0, {"path": "/bin/sleep", "args": ["sleep", "30"],
                                         "timeout": 1}))
    result = runtime("create", "-b", bundle, "hooks-timeout", timeout=20)
    assert result.returncode == 1
    assert "hooks.createRuntime[0]" in result.stderr and "timed out" in result.stderr
    assert runtime.ids() == []


def test_failing_poststart_and_poststop_do_not_fail(runtime, make_bundle, tmp_path,
                                                   busybox_rootfs):
    def edit(hooks):
        hooks["poststart"].insert(0, {"path": "/bin/false"})
        hooks["poststop"].insert(0, {"path": "/bin/false"})
    bundle, log = hooked_bundle(make_bundle, tmp_path, busybox_rootfs, edit, ("sleep", "100"))
    runtime("create", "-b", bundle, "hooks-post", check=True)
    runtime("start", "hooks-post", check=True)
    runtime("delete", "--force", "hooks-post", check=True)
    assert runtime.ids() == []
    kinds = [line.split()[0] for line in log.read_text().splitlines()]
    assert "poststart" in kinds and "poststop" in kinds  # the later hooks still ran


def test_hook_output_stays_out_of_the_container_output(runtime, make_bundle, tmp_path,
                                                       busybox_rootfs):
    bundle, _log = hooked_bundle(make_bundle, tmp_path, busybox_rootfs,
                                 lambda h: h["createRuntime"].insert(
                                     0, {"path": "/bin/echo", "args": ["echo", "HOOK-NOISE"]}),
                                 ("echo", "container-output"))
    log_file = tmp_path / "pyrunc.log"
    result = runtime("run", "-b", bundle, "hooks-out", check=True,
                     global_args=("--log", str(log_file)))
    assert result.stdout == "container-output\n"
    assert "HOOK-NOISE" in log_file.read_text()


def test_failing_start_container_hook_fails_start(runtime, make_bundle, tmp_path,
                                                  busybox_rootfs):
    bundle, log = hooked_bundle(make_bundle, tmp_path, busybox_rootfs,
                                lambda h: h["startContainer"].insert(0, {"path": "/bin/false"}),
                                ("sleep", "100"))
    runtime("create", "-b", bundle, "hooks-startfail", check=True)
    result = runtime("start", "hooks-startfail")
    assert result.returncode == 1 and "did not start" in result.stderr
    assert runtime.state("hooks-startfail")["status"] == "stopped"
    runtime("delete", "hooks-startfail", check=True)
    kinds = [line.split()[0] for line in log.read_text().splitlines()]
    assert "poststart" not in kinds


# -- hooks -----------------------------------------------------------------------------------------

HOOK_CODE = ("import json, sys; s = json.load(sys.stdin); "
             "open(sys.argv[1], 'a').write(' '.join([sys.argv[2], s['status'], str(s['pid']), "
             "s['id'], s['bundle']]) + '\\n')")


def recording_hook(log, name):
    return {"path": PYTHON_HOST, "args": ["python", "-c", HOOK_CODE, str(log), name]}


def read_hook_log(log):
    return [line.split() for line in log.read_text().splitlines()] if log.exists() else []


def test_hooks_run_in_order_with_the_state(runtime, make_bundle, tmp_path):
    log = tmp_path / "hooks.log"
    container = cid("hooks")

    def edit(config):
        config["hooks"] = {kind: [recording_hook(log, kind)] for kind in
                           ("prestart", "createRuntime", "createContainer", "poststart",
                            "poststop")}
        config["process"]["args"] = ["sleep", "1000"]
    bundle = make_bundle(edit=edit)
    runtime("run", "-d", "-b", bundle, container, check=True)
    pid = runtime.state(container)["pid"]
    runtime("kill", container, "KILL", check=True)
    assert wait_until(lambda: runtime.state(container)["status"] == "stopped")
    runtime("delete", container, check=True)
    entries = read_hook_log(log)
    assert [e[:2] for e in entries] == [
        ["prestart", "created"], ["createRuntime", "created"],
        ["createContainer", "created"], ["poststart", "running"], ["poststop", "stopped"]]
    for name, _status, hook_pid, hook_id, hook_bundle in entries:
        assert (hook_id, hook_bundle) == (container, bundle), name
        if name in ("prestart", "createRuntime", "poststart"):
            assert hook_pid == str(pid), name  # the host's view of the container's pid
    assert_nothing_left(runtime, container)


def _failing_create_runtime(log):
    def edit(config):
        config["hooks"] = {
            "prestart": [recording_hook(log, "prestart")],
            "createRuntime": [{"path": "/bin/sh",
                               "args": ["sh", "-c", "echo hook-said-no >&2; exit 3"]}],
            "poststop": [recording_hook(log, "poststop")],
        }
        config["process"]["args"] = ["sleep", "1000"]
    return edit


def test_failing_create_runtime_hook_fails_create(runtime, make_bundle, tmp_path):
    log = tmp_path / "hooks.log"
    container, marker = cid("hookfail"), uuid.uuid4().hex
    bundle = make_bundle(edit=_failing_create_runtime(log))
    result = runtime("create", "-b", bundle, container, env=marked_env(marker))
    assert result.returncode == 1
    assert "hooks.createRuntime[0]" in result.stderr
    assert "hook-said-no" in result.stderr
    assert "Traceback" not in result.stderr
    assert_nothing_left(runtime, container, markers=marker)
    assert [e[:2] for e in read_hook_log(log)][0] == ["prestart", "created"]


def test_failing_create_runtime_hook_still_runs_poststop(runtime, make_bundle, tmp_path):
    """runtime.md lifecycle step 4: a failing createRuntime hook stops the container and
    continues at step 12 (destroy), then 13 (poststop hooks); runc's destroy() does that."""
    log = tmp_path / "hooks.log"
    container = cid("hookstop")
    bundle = make_bundle(edit=_failing_create_runtime(log))
    assert runtime("create", "-b", bundle, container).returncode == 1
    assert [e[:2] for e in read_hook_log(log)] == [["prestart", "created"],
                                                   ["poststop", "stopped"]]
