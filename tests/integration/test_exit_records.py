"""How a detached container's init ended, recorded when pyrunc next looks (pyrunc/exitrecord.py):
its exit status, the signal that killed it, and whether the OOM killer did, shown by `state` in
extra keys and by `explain ID`, and kept after the init's reaper collected it.

The container is created under a stand-in for an engine's shim: a subreaper (the init is
reparented to it when stage1 exits) that reaps only when the test says so, so that `state` is
first run while the init is an unreaped zombie, as a shim's `state` can be, and again after."""
import json
import os
import subprocess
import sys

import pytest

from conftest import wait_until

pytestmark = pytest.mark.cgroup

# A subreaper running `pyrunc create` (its argv); reaps every child when it reads a line.
SHIM = r'''
import ctypes, os, subprocess, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
rc = subprocess.call(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
print(rc, flush=True)
sys.stdin.readline()
while True:
    try:
        pid, status = os.waitpid(-1, 0)
    except ChildProcessError:
        break
    print(pid, status, flush=True)
'''


class Shim:
    def __init__(self, runtime, bundle, container_id):
        self.proc = subprocess.Popen([sys.executable, "-c", SHIM,
                                      *runtime.cmd("create", "--bundle", bundle, container_id)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        assert line == "0", f"create under the shim exited {line!r}"

    def reap(self):
        """Reap the init; returns [(pid, wait status)]."""
        out, _ = self.proc.communicate("\n", timeout=30)
        return [tuple(map(int, line.split())) for line in out.splitlines()]

    def close(self):
        if self.proc.poll() is None:
            self.proc.communicate("\n", timeout=30)


@pytest.fixture
def shim(runtime):
    made = []

    def make(bundle, container_id):
        s = Shim(runtime, bundle, container_id)
        made.append(s)
        return s
    yield make
    for s in made:
        s.close()


def zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def run_detached(runtime, shim, bundle, container_id):
    s = shim(bundle, container_id)
    pid = runtime.state(container_id)["pid"]
    runtime("start", container_id, check=True)
    return s, pid


def explain_json(runtime, container_id):
    result = runtime("explain", "--format", "json", container_id, check=True)
    return json.loads(result.stdout)


def test_exit_status_is_recorded_and_outlives_the_reap(runtime, make_bundle, shim):
    bundle = make_bundle(("sh", "-c", "exit 7"))
    s, pid = run_detached(runtime, shim, bundle, "exit-status")
    assert wait_until(lambda: zombie(pid)), "the init did not exit"
    state = runtime.state("exit-status")
    assert state["status"] == "stopped"
    assert (state.get("exitStatus"), state.get("exitSignal"), state.get("oomKilled")) == \
        (7, None, False)
    # the shim reaps it: the status is gone from /proc, not from pyrunc
    assert (pid, 7 << 8) in s.reap()
    assert not os.path.exists(f"/proc/{pid}")
    assert runtime.state("exit-status")["exitStatus"] == 7
    explained = explain_json(runtime, "exit-status")
    assert explained["exit"]["exitStatus"] == 7
    assert "exited with status 7" in runtime("explain", "exit-status", check=True).stdout
    runtime("delete", "exit-status", check=True)


def test_the_killing_signal_is_recorded(runtime, make_bundle, shim):
    bundle = make_bundle(("sleep", "1000"))
    s, pid = run_detached(runtime, shim, bundle, "exit-signal")
    runtime("kill", "exit-signal", "KILL", check=True)
    assert wait_until(lambda: zombie(pid)), "the init did not die"
    state = runtime.state("exit-signal")
    assert (state.get("exitStatus"), state.get("exitSignal"), state.get("oomKilled")) == \
        (None, "SIGKILL", False)
    assert (pid, 9) in s.reap()
    assert runtime.state("exit-signal")["exitSignal"] == "SIGKILL"
    assert "killed by SIGKILL" in runtime("explain", "exit-signal", check=True).stdout
    runtime("delete", "exit-signal", check=True)


def test_an_oom_kill_is_recorded(runtime, make_bundle, shim):
    """dd's 64 MiB buffer, filled from /dev/zero, in a 16 MiB memory cgroup: the kernel's OOM
    killer kills it (the host has no swap, so no swap limit is needed)."""
    limit = 16 << 20

    def edit(config):
        config["linux"]["resources"] = {"memory": {"limit": limit}}
    bundle = make_bundle(("dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"), edit)
    s, pid = run_detached(runtime, shim, bundle, "exit-oom")
    assert wait_until(lambda: zombie(pid)), "the init was not killed"
    state = runtime.state("exit-oom")
    assert (state.get("exitSignal"), state.get("oomKilled")) == ("SIGKILL", True), state
    explained = explain_json(runtime, "exit-oom")
    assert explained["exit"]["oomKills"] >= 1
    assert (pid, 9) in s.reap()
    assert runtime.state("exit-oom")["oomKilled"] is True
    assert "by the OOM killer" in runtime("explain", "exit-oom", check=True).stdout
    runtime("delete", "exit-oom", check=True)


def test_a_running_container_has_no_exit_keys(runtime, make_bundle, shim):
    bundle = make_bundle(("sleep", "1000"))
    s, _pid = run_detached(runtime, shim, bundle, "exit-none")
    state = runtime.state("exit-none")
    assert state["status"] == "running"
    assert not {"exitStatus", "exitSignal", "oomKilled"} & set(state)
    runtime("delete", "--force", "exit-none", check=True)
    s.reap()
