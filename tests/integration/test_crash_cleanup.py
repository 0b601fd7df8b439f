"""A `pyrunc create` killed at each step of the init sequence, then `delete --force`: nothing
may be left (state dir, processes, cgroups, mounts)."""
import os
import signal

import pytest

from conftest import host_mounts_mentioning, processes_with_marker, wait_until
from pyrunc.protocol import PARENT_STEPS


def alive(pids):
    result = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                    result.append(pid)
        except OSError:
            continue
    return result


def cgroup_dirs(container_id):
    return [d for d in (f"/sys/fs/cgroup/{c}/{container_id}" for c in os.listdir("/sys/fs/cgroup"))
            if os.path.isdir(d)]


@pytest.mark.parametrize("step", PARENT_STEPS)
def test_killed_create_then_delete_force_leaves_nothing(runtime, make_bundle, step):
    container_id = f"pyrunc-crash-{step}"
    marker = f"PYRUNC_CRASH_MARK={step}-{os.getpid()}"
    bundle = make_bundle(["sleep", "1000"],
                         edit=lambda c: c["process"]["env"].append(marker))
    env = dict(os.environ, PYRUNC_TEST_KILL_AT=step)
    env[marker.split("=")[0]] = marker.split("=")[1]
    result = runtime("create", "-b", bundle, container_id, env=env)
    assert result.returncode == -signal.SIGKILL, result.stderr
    # The id is taken until `delete --force`, whatever the step.
    assert container_id in runtime.ids()
    state = runtime("state", container_id)
    if state.returncode == 0:
        assert '"status"' in state.stdout
    deleted = runtime("delete", "--force", container_id)
    assert deleted.returncode == 0, deleted.stderr
    assert container_id not in runtime.ids()
    assert wait_until(lambda: not alive(processes_with_marker(marker)))
    assert wait_until(lambda: not cgroup_dirs(container_id)), cgroup_dirs(container_id)
    assert host_mounts_mentioning(bundle) == []


def test_crash_after_ready_leaves_a_created_init_that_delete_kills(runtime, make_bundle):
    bundle = make_bundle(["sleep", "1000"])
    env = dict(os.environ, PYRUNC_TEST_KILL_AT="ready")
    assert runtime("create", "-b", bundle, "pyrunc-crash-ready2", env=env).returncode == -9
    state = runtime.state("pyrunc-crash-ready2")
    assert state["status"] in ("creating", "created")
    pid = state["pid"]
    assert alive([pid]) == [pid]
    runtime("delete", "--force", "pyrunc-crash-ready2", check=True)
    assert wait_until(lambda: not alive([pid]))
