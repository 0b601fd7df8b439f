"""Fault injection on the init path: `pyrunc create`, run through the tests' double
(tests/pyrunc_faulty.py), SIGKILLs itself at each step of PARENT_STEPS (PYRUNC_TEST_KILL_AT=<step>,
at pyrunc.protocol.checkpoint(<step>)). Whatever the step, `pyrunc delete --force` (the installed
pyrunc) must then succeed and leave nothing behind: no state directory, no process of the
container, no cgroup directory, no mount on the host.

Processes are found from the outside, through /proc: a process is the container's if it was not
there before the test and its command line or environment names the container (its id, its
bundle, a marker put in pyrunc's environment and in the container's), or if it lives in a pid
namespace seen to belong to the container. Processes of unrelated tests running at the same time
on this host (other pid namespaces) are not mistaken for ours."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import uuid

import pytest

from conftest import cgroup_dirs, read_file, run_bounded, wait_until
from leftovers import assert_nothing_left
from pyrunc_faulty import PARENT_STEPS

SELF_PIDNS = os.readlink("/proc/self/ns/pid")


# -- looking from the outside ---------------------------------------------------------------------

def process_table():
    """{pid: (start time, state letter)} for every process now visible in /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = read_file(f"/proc/{entry}/stat")
        if not stat:
            continue
        fields = stat[stat.rindex(b")") + 2:].split()
        table[int(entry)] = (int(fields[19]), fields[0].decode())
    return table


def pid_namespace(pid):
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


class Tracker:
    """Remembers what ran before the test; finds the container's processes that appeared since."""

    def __init__(self, tags):
        self.tags = [t.encode() for t in tags]
        self.before = {pid: start for pid, (start, _) in process_table().items()}
        self.namespaces = set()  # pid namespaces seen to hold the container's processes

    def _is_new(self, pid, start):
        return self.before.get(pid) != start

    def _tagged(self, pid):
        for name in ("cmdline", "environ"):
            data = read_file(f"/proc/{pid}/{name}")
            if data and any(t in data for t in self.tags):
                return True
        return False

    def live(self):
        """Live (non-zombie) processes of the container; learns their pid namespaces."""
        found = []
        for pid, (start, letter) in process_table().items():
            if letter in ("Z", "X") or not self._is_new(pid, start):
                continue
            ns = pid_namespace(pid)
            if self._tagged(pid):
                if ns and ns != SELF_PIDNS:
                    self.namespaces.add(ns)
                found.append(pid)
            elif ns and ns != SELF_PIDNS and ns in self.namespaces:
                found.append(pid)
        return found

    def note(self, pid):
        """The init's pid, read from state.json: its namespace is the container's."""
        ns = pid_namespace(pid)
        if ns and ns != SELF_PIDNS:
            self.namespaces.add(ns)


def alive(pid):
    stat = read_file(f"/proc/{pid}/stat")
    if not stat:
        return False
    return stat[stat.rindex(b")") + 2:].split()[0] not in (b"Z", b"X")


# -- fixtures -------------------------------------------------------------------------------------

@pytest.fixture
def own_rootfs(busybox_rootfs, runtime):
    """A private copy of the busybox rootfs: a host mount naming it can only be ours. Not
    under tmp_path, whose 0700 parents a user namespace's root could not traverse."""
    parent = tempfile.mkdtemp(prefix="pyrunc-fault-", dir="/tmp")
    os.chmod(parent, 0o755)
    rootfs = os.path.join(parent, "rootfs")
    subprocess.run(["cp", "-a", busybox_rootfs, rootfs], check=True)
    yield rootfs
    for container_id in runtime.ids():  # a failed test's container goes before its rootfs
        run_bounded(runtime.cmd("delete", "--force", container_id), capture_output=True,
                       timeout=60)
    shutil.rmtree(parent)


@pytest.fixture(params=["plain", "userns"])
def faulty(request, runtime, make_bundle, own_rootfs):
    """A bundle whose process sleeps, and the means to crash `create` in it at a step. With
    "userns" the init path has one more exchange (USERNS_READY / USERNS_MAPPED)."""
    marker_value = uuid.uuid4().hex
    marker = f"PYRUNC_FAULT_MARK={marker_value}"

    def edit(config):
        config["root"]["path"] = own_rootfs
        config["process"]["env"].append(marker)
        if request.param == "userns":
            config["linux"]["namespaces"].append({"type": "user"})
            for key in ("uidMappings", "gidMappings"):
                config["linux"][key] = [{"containerID": 0, "hostID": 300000, "size": 65536}]

    bundle = make_bundle(["sleep", "1000"], edit=edit)

    class Faulty:
        pass

    f = Faulty()
    f.bundle = bundle
    f.rootfs = own_rootfs
    f.marker = marker

    def crash(step, container_id):
        f.tracker = Tracker([container_id, bundle, marker, own_rootfs])
        env = dict(os.environ, PYRUNC_TEST_KILL_AT=step, PYRUNC_FAULT_MARK=marker_value)
        result = runtime.faulty()("create", "--bundle", bundle, container_id, env=env,
                                  timeout=30)
        assert result.returncode == -signal.SIGKILL, (
            f"create with PYRUNC_TEST_KILL_AT={step} should die by SIGKILL, got "
            f"{result.returncode}\n{result.stdout}\n{result.stderr}")
        return result

    f.crash = crash
    return f


def state_json(runtime, container_id):
    data = read_file(os.path.join(runtime.root, container_id, "state.json"))
    return json.loads(data) if data else {}


# -- tests ----------------------------------------------------------------------------------------

def test_the_installed_pyrunc_has_no_kill_points(runtime, faulty):
    """The kill points are the double's: `pyrunc` itself creates the container whatever
    PYRUNC_TEST_KILL_AT says."""
    container_id = f"pyrunc-fault-none-{uuid.uuid4().hex[:6]}"
    env = dict(os.environ, PYRUNC_TEST_KILL_AT=PARENT_STEPS[0])
    runtime("create", "--bundle", faulty.bundle, container_id, env=env, check=True)
    assert runtime.state(container_id)["status"] == "created"
    runtime("delete", "--force", container_id, check=True)


@pytest.mark.parametrize("step", PARENT_STEPS)
def test_crash_at_step_then_delete_force_leaves_nothing(runtime, faulty, step):
    container_id = f"pyrunc-fault-{step}-{uuid.uuid4().hex[:6]}"
    faulty.crash(step, container_id)

    # The id stays taken by the half-made container until it is deleted.
    assert os.path.isdir(os.path.join(runtime.root, container_id))
    again = runtime("create", "--bundle", faulty.bundle, container_id)
    assert again.returncode != 0
    assert "exist" in again.stderr, again.stderr
    data = state_json(runtime, container_id)
    if data.get("pid"):
        faulty.tracker.note(data["pid"])
    faulty.tracker.live()  # learn the namespaces of whatever still runs

    # `state` answers without a traceback: the container is half-made, or its init is gone.
    state = runtime("state", container_id)
    assert "Traceback" not in state.stderr, state.stderr
    if state.returncode == 0:
        assert json.loads(state.stdout)["status"] in ("creating", "created", "stopped"), \
            state.stdout

    deleted = runtime("delete", "--force", container_id)
    assert deleted.returncode == 0, deleted.stderr
    assert_nothing_left(runtime, container_id, mentions=(faulty.rootfs, faulty.bundle),
                        tracked=faulty.tracker.live, timeout=10)

    # And the id can be taken again: a fresh create under it works.
    runtime("create", "--bundle", faulty.bundle, container_id, check=True)
    assert runtime.state(container_id)["status"] == "created"
    runtime("delete", "--force", container_id, check=True)
    assert_nothing_left(runtime, container_id, mentions=(faulty.rootfs, faulty.bundle),
                        tracked=faulty.tracker.live, timeout=10)


@pytest.mark.parametrize("step", PARENT_STEPS)
def test_what_exists_after_the_crash(runtime, faulty, step):
    """Sanity of the injection itself: the crash happens where the step says, so the cleanup
    above had something to clean."""
    container_id = f"pyrunc-fault-where-{step}-{uuid.uuid4().hex[:6]}"
    faulty.crash(step, container_id)
    data = state_json(runtime, container_id)
    index = PARENT_STEPS.index(step)
    if index <= PARENT_STEPS.index("forked"):
        assert not data.get("pid")  # the init's pid is not known yet
    if index >= PARENT_STEPS.index("init-pid"):
        assert data.get("pid", 0) > 0
        assert data.get("cgroups_created"), data.get("cgroups_created")
        assert cgroup_dirs(container_id)
    if index >= PARENT_STEPS.index("ready"):
        # The init has done everything and waits on the exec fifo: alive, pid 1 of its own
        # pid namespace.
        pid = data["pid"]
        assert alive(pid)
        nspid = [line for line in read_file(f"/proc/{pid}/status", "r").splitlines()
                 if line.startswith("NSpid:")][0].split()[1:]
        assert nspid == [str(pid), "1"], nspid
        assert os.path.exists(os.path.join(runtime.root, container_id, "exec.fifo"))
    if step == "state-written":
        assert data.get("status_hint") == "created"
    runtime("delete", "--force", container_id, check=True)
    assert_nothing_left(runtime, container_id, mentions=(faulty.rootfs, faulty.bundle),
                        tracked=faulty.tracker.live, timeout=10)


def test_crash_at_ready_leaves_a_waiting_init_that_state_reports_and_delete_kills(
        runtime, faulty):
    container_id = f"pyrunc-fault-ready-{uuid.uuid4().hex[:6]}"
    faulty.crash("ready", container_id)
    state = runtime.state(container_id)
    # pyrunc died before writing `created`, but the init is ready and waits on the fifo.
    assert state["status"] in ("created", "creating"), state
    pid = state["pid"]
    assert pid > 0
    faulty.tracker.note(pid)
    assert alive(pid)
    assert faulty.tracker.live() == [pid]  # stage1 is gone, only the init is left
    # Still pyrunc's own code (not the container's sleep): it has not been started.
    assert b"sleep" not in read_file(f"/proc/{pid}/cmdline")
    # The init is blocked opening the exec fifo for writing (it never gets further alone).
    assert wait_until(lambda: read_file(f"/proc/{pid}/wchan") == b"wait_for_partner", timeout=5), \
        read_file(f"/proc/{pid}/stack")
    runtime("delete", "--force", container_id, check=True)
    assert wait_until(lambda: not alive(pid), timeout=10), f"init {pid} survived delete"
    assert_nothing_left(runtime, container_id, mentions=(faulty.rootfs, faulty.bundle),
                        tracked=faulty.tracker.live, timeout=10)


@pytest.mark.parametrize("step", ["ready", "state-written"])
def test_container_created_before_the_crash_can_still_start(runtime, faulty, step):
    """Past `ready` everything of the container is made: `start` runs it as if create had
    returned normally."""
    container_id = f"pyrunc-fault-start-{step}-{uuid.uuid4().hex[:6]}"
    faulty.crash(step, container_id)
    pid = runtime.state(container_id)["pid"]
    runtime("start", container_id, check=True)
    assert wait_until(lambda: b"sleep" in (read_file(f"/proc/{pid}/cmdline") or b""), timeout=10), \
        read_file(f"/proc/{pid}/cmdline")
    assert runtime.state(container_id)["status"] == "running"
    runtime("kill", container_id, "KILL", check=True)
    assert wait_until(lambda: runtime.state(container_id)["status"] == "stopped", timeout=10)
    runtime("delete", container_id, check=True)
    assert_nothing_left(runtime, container_id, mentions=(faulty.rootfs, faulty.bundle),
                        tracked=faulty.tracker.live, timeout=10)
