"""containerd 1.6 runs its tasks on pyrunc: `ctr run --runc-binary pyrunc`, so containerd's
io.containerd.runc.v2 shim calls pyrunc with runc's command line (global --root <root>/<namespace>
--log <bundle>/log.json --log-format json; create --bundle --pid-file [--console-socket], start,
state, ps --format json, kill [--all], delete [--force], exec --process --detach --pid-file,
pause, resume). The daemon is this module's own (engineutil.Containerd): its root, state and
socket under /tmp, a ctr namespace named pyrunc-test-*, so the containers' cgroups are
/<namespace>/<id> in every hierarchy; all of it is checked to be gone afterwards."""
import json
import os
import re
import uuid

import pytest

from cgutil import all_cgroup_dirs, read
from conftest import run_on_pty, wait_until
from engineutil import Containerd, ok, running

# cgroup: they read the containers' cgroup files, and run in the cgroup-v2 guest too.
pytestmark = [pytest.mark.engine, pytest.mark.cgroup, pytest.mark.root]

IMAGE = "localhost/pyrunc-busybox:latest"


@pytest.fixture(scope="module")
def containerd(busybox_rootfs):
    with running(Containerd()) as daemon:
        daemon.import_rootfs(busybox_rootfs, IMAGE, ["/bin/sh"])
        yield daemon


@pytest.fixture
def task(containerd):
    """A task id for one test, removed afterwards whatever the test did."""
    name = f"t{uuid.uuid4().hex[:10]}"
    yield name
    containerd.ctr("tasks", "kill", "-a", "-s", "KILL", name)
    containerd.ctr("tasks", "delete", "-f", name)
    containerd.ctr("containers", "rm", name)
    assert_gone(containerd, name)


def state_dir(containerd, name):
    return os.path.join(containerd.pyrunc_root, containerd.namespace, name)


def cgroup_dirs(containerd, name):
    found = []
    for top, dirs, _ in os.walk("/sys/fs/cgroup"):
        if top.endswith(f"/{containerd.namespace}/{name}"):
            found.append(top)
        if top.count("/") > 6:
            dirs[:] = []
    return found


def assert_gone(containerd, name):
    """Neither pyrunc's state nor a cgroup of the task remains."""
    assert wait_until(lambda: not os.path.exists(state_dir(containerd, name)), timeout=10), \
        os.listdir(state_dir(containerd, name))
    assert wait_until(lambda: not cgroup_dirs(containerd, name), timeout=10), \
        cgroup_dirs(containerd, name)


def test_ctr_run_rm_goes_through_pyrunc(containerd, task):
    result = ok(containerd.ctr("run", "--rm", *containerd.run_args(), IMAGE, task, "sh", "-c",
                               "echo hello from $$; grep ^0:: /proc/self/cgroup"))
    first, cgroup = result.stdout.splitlines()
    assert first == "hello from 1"
    assert cgroup.endswith(f":/{containerd.namespace}/{task}")
    # The shim ran pyrunc with containerd's JSON log: pyrunc made the state root it names.
    assert os.path.isdir(os.path.join(containerd.pyrunc_root, containerd.namespace))
    assert_gone(containerd, task)


def test_exit_status_reaches_ctr(containerd, task):
    result = containerd.ctr("run", "--rm", *containerd.run_args(), IMAGE, task, "sh", "-c",
                            "exit 7")
    assert result.returncode == 7, result.stderr


def test_detached_task_exec_ps_pause_resume_metrics_kill_all(containerd, task):
    ok(containerd.ctr("run", "-d", "--memory-limit", str(64 << 20), *containerd.run_args(),
                      IMAGE, task, "sh", "-c", "sleep 1000 & sleep 1001 & wait"))
    # pyrunc's own state of the task, in the root the shim gave it.
    with open(os.path.join(state_dir(containerd, task), "state.json")) as f:
        state = json.load(f)
    pid = state["pid"]
    assert ok(containerd.ctr("tasks", "ls")).stdout.split("\n")[1].split() == \
        [task, str(pid), "RUNNING"]
    assert read(pid, "memory", "memory.limit_in_bytes", "memory.max") == str(64 << 20)

    # exec --process --detach --pid-file, in the task's namespaces.
    result = ok(containerd.ctr("tasks", "exec", "--exec-id", "e1", task, "sh", "-c",
                               "echo $$; tr '\\0' ' ' < /proc/1/cmdline"))
    exec_pid, init_cmdline = result.stdout.splitlines()
    assert int(exec_pid) > 1 and init_cmdline.startswith("sh -c sleep 1000")

    # ps --format json: the pids of the task's cgroup.
    assert wait_until(lambda: len(containerd.ctr("tasks", "ps", task).stdout.split("\n")) >= 4,
                      timeout=30), containerd.ctr("tasks", "ps", task)  # slow under TCG
    listed = {int(line.split()[0]) for line in
              ok(containerd.ctr("tasks", "ps", task)).stdout.splitlines()[1:] if line.strip()}
    assert pid in listed and len(listed) == 3, listed

    ok(containerd.ctr("tasks", "pause", task))
    assert ok(containerd.ctr("tasks", "ls")).stdout.split("\n")[1].split()[2] == "PAUSED"
    assert read(pid, "freezer", "freezer.state", "cgroup.freeze") in ("FROZEN", "1")
    ok(containerd.ctr("tasks", "resume", task))
    assert ok(containerd.ctr("tasks", "ls")).stdout.split("\n")[1].split()[2] == "RUNNING"

    metrics = ok(containerd.ctr("tasks", "metrics", task)).stdout
    limit = re.search(r"memory\.(limit_in_bytes|usage_limit)\s+(\d+)", metrics)  # v1, v2
    assert limit and int(limit.group(2)) == 64 << 20, metrics
    assert re.search(r"pids\.current\s+3\b", metrics), metrics

    # kill --all: every process of the cgroup, not only the init.
    cgroups = all_cgroup_dirs(pid)
    ok(containerd.ctr("tasks", "kill", "--all", "--signal", "KILL", task))
    assert wait_until(lambda: ok(containerd.ctr("tasks", "ls")).stdout.split("\n")[1]
                      .split()[2] == "STOPPED")
    for pid_seen in listed:
        assert wait_until(lambda: not os.path.exists(f"/proc/{pid_seen}/cmdline") or
                          open(f"/proc/{pid_seen}/cmdline").read() == "", timeout=10)
    ok(containerd.ctr("tasks", "delete", task))
    ok(containerd.ctr("containers", "rm", task))
    assert_gone(containerd, task)
    assert not [d for d in cgroups if os.path.isdir(d)]


def test_terminal_for_run_and_exec(containerd, task):
    """-t: the shim gives pyrunc a --console-socket and relays the pty master it receives."""
    code, output = run_on_pty(containerd.ctr_argv(
        "run", "--rm", "-t", *containerd.run_args(), IMAGE, task, "sh", "-c", "tty; echo pid=$$"))
    assert code == 0, output
    text = output.decode(errors="replace")
    assert "/dev/pts/0" in text and "pid=1" in text, text
    assert_gone(containerd, task)


def test_exec_with_a_terminal(containerd, task):
    ok(containerd.ctr("run", "-d", *containerd.run_args(), IMAGE, task, "sleep", "1000"))
    code, output = run_on_pty(containerd.ctr_argv(
        "tasks", "exec", "-t", "--exec-id", "tty1", task, "sh", "-c", "tty; echo exec=$$"))
    text = output.decode(errors="replace")
    assert code == 0, text
    assert "/dev/pts/" in text and "exec=" in text, text


@pytest.mark.parametrize("options,command,expected", [
    ([], ["/no/such/program"], "exec '/no/such/program'"),
    (["--cap-add", "CAP_BOGUS"], ["true"], "unknown capability 'CAP_BOGUS'"),
    (["--memory-limit", "4096"], ["true"], "linux.resources.memory.limit: 4096 bytes is too low"),
], ids=["missing-command", "bad-capability", "memory-too-low"])
def test_pyrunc_errors_reach_the_ctr_user(containerd, task, options, command, expected):
    """containerd shows the last "level":"error" line pyrunc wrote to log.json."""
    result = containerd.ctr("run", "--rm", *options, *containerd.run_args(), IMAGE, task,
                            *command)
    assert result.returncode != 0
    assert "OCI runtime create failed" in result.stderr, result.stderr
    assert expected in result.stderr, result.stderr
    assert_gone(containerd, task)
