"""Regression tests for the two hangs of issue 13, reproduced as reported, and for the bounds
around them: the preserved fds are exactly the caller's (never pyrunc's own lock, channel, fifo
or log), `delete --force` removes a container whatever its processes hold, a frozen cgroup is
refused at create, and `start` of a stopped or frozen init fails at once instead of waiting.

The callers are made exactly: a small Python program closes every fd but stdio, opens 3-5 on
/dev/null, marks 0-99 inheritable and execs pyrunc, as a shell or an engine would."""
import fcntl
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

from conftest import cgroup_dirs, read_file, run_bounded, wait_until
from pyrunc.cgroups.layout import hierarchies

pytestmark = pytest.mark.root

# A caller with fds 3-5 open on /dev/null, 0-99 inheritable, nothing else: then pyrunc.
CALLER = r"""
import os, sys
os.closerange(3, 65536)
for want in (3, 4, 5):
    fd = os.open("/dev/null", os.O_RDONLY)
    assert fd == want, fd
for fd in range(100):
    try:
        os.set_inheritable(fd, True)
    except OSError:
        pass
os.execv(sys.argv[1], sys.argv[1:])
"""

# The container's own view of its fds: `[ -e ]` is a shell builtin, so the shell opens nothing.
LIST_FDS = 'for i in $(seq 0 200); do [ -e /proc/$$/fd/$i ] && echo -n "$i "; done; echo'


def as_caller(runtime, *args, timeout=30):
    """pyrunc run by CALLER; output through files (a created init keeps its stdio open)."""
    argv = [sys.executable, "-c", CALLER, *runtime.cmd(*args)]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = run_bounded(argv, timeout=timeout, stdout=out, stderr=err,
                           stdin=subprocess.DEVNULL)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(argv, proc.returncode, out.read().decode(),
                                           err.read().decode())


def new_id(what):
    return f"pyrunc-hang-{what}-{uuid.uuid4().hex[:6]}"


def _runs_sleep(pid):
    if (read_file(f"/proc/{pid}/cmdline") or b"").startswith(b"sleep\0"):
        return True
    children = (read_file(f"/proc/{pid}/task/{pid}/children") or b"").split()
    return any((read_file(f"/proc/{int(c)}/cmdline") or b"").startswith(b"sleep\0")
               for c in children)


def fd_targets(pid):
    """{fd: what it points at} of a live process."""
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            pass
    return out


# -- 1. --preserve-fds 100 -------------------------------------------------------------------------

def test_run_preserve_fds_100_from_a_caller_with_a_few_fds(runtime, make_bundle):
    """The reported hang: `run --preserve-fds 100` from a caller with 3-5 open and 0-99
    inheritable. pyrunc's lock landed in the free fds of the range, the init kept it, and
    `run`'s own start then waited for that lock forever. Now the container sees exactly the
    caller's fds, and the whole run takes a moment."""
    bundle = make_bundle(["sh", "-c", LIST_FDS])
    container_id = new_id("run")
    started = time.monotonic()
    result = as_caller(runtime, "run", "--preserve-fds", "100", "-b", bundle, container_id)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 20
    assert result.stdout.split() == ["0", "1", "2", "3", "4", "5"], result.stdout
    assert runtime.ids() == []


@pytest.mark.parametrize("count", [0, 1, 3, 5, 100, 1000])
def test_create_never_hands_the_init_a_runtime_fd(runtime, make_bundle, count):
    """Whatever N: the waiting init holds none of pyrunc's state-dir fds in the preserved
    range (the fifo's O_PATH fd it needs sits above it), and start, state and delete answer."""
    bundle = make_bundle(["sh", "-c", LIST_FDS + "; sleep 1000"])
    container_id = new_id(f"create{count}")
    result = as_caller(runtime, "create", "--preserve-fds", str(count), "-b", bundle,
                       container_id)
    assert result.returncode == 0, result.stderr
    pid = runtime.state(container_id)["pid"]
    targets = fd_targets(pid)
    state_dir = os.path.join(runtime.root, container_id)
    for fd, target in targets.items():
        if 3 <= fd < 3 + count:  # the caller's (/dev/null) or a close-on-exec placeholder
            assert target == "/dev/null", (fd, target)
        elif fd >= 3:
            assert target == os.path.join(state_dir, "exec.fifo"), (fd, target)
    assert state_dir not in targets.values(), targets  # the lock's directory fd
    runtime("start", container_id, check=True, timeout=15)
    # Settled once the shell has listed its fds and runs sleep (exec'd, or as its child): while
    # it lists them, its $(seq) pipe is open too. Its cmdline names sleep from the start.
    assert wait_until(lambda: _runs_sleep(pid))
    fds = sorted(fd_targets(pid))
    assert fds == [0, 1, 2] + [f for f in (3, 4, 5) if f < 3 + count], fds
    runtime("delete", "--force", container_id, check=True, timeout=15)


def test_exec_preserve_fds_100_passes_only_the_callers(runtime, make_bundle):
    bundle = make_bundle(["sleep", "1000"])
    container_id = new_id("exec")
    runtime("run", "-d", "-b", bundle, container_id, check=True)
    result = as_caller(runtime, "exec", "--preserve-fds", "100", container_id, "sh", "-c",
                       LIST_FDS)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "1", "2", "3", "4", "5"], result.stdout
    runtime("delete", "--force", container_id, check=True, timeout=15)


def test_preserve_fds_past_the_fd_limit_is_one_line(runtime, make_bundle):
    bundle = make_bundle(["true"])
    container_id = new_id("limit")
    result = runtime("run", "--preserve-fds", "100000000", "-b", bundle, container_id)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "--preserve-fds" in result.stderr, result.stderr
    assert runtime.ids() == []


# -- delete --force and the lock -------------------------------------------------------------------

def test_delete_force_removes_a_container_whose_process_holds_the_lock(runtime, make_bundle):
    """A process of the container that holds the container's lock (here an exec'd sleep that
    got the state dir as a preserved fd, then locked through the test's copy) blocked every
    command on it. delete --force kills it and removes the container, at once."""
    bundle = make_bundle(["sleep", "1000"])
    container_id = new_id("held")
    runtime("run", "-d", "-b", bundle, container_id, check=True)
    state_dir = os.path.join(runtime.root, container_id)
    fd = os.open(state_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        exec_argv = runtime.cmd("exec", "--detach", "--preserve-fds", "1", container_id,
                                "sleep", "1000")
        run_bounded(exec_argv, timeout=30, check=True, close_fds=False,
                    preexec_fn=lambda: os.dup2(fd, 3), stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL)
        fcntl.flock(fd, fcntl.LOCK_EX)  # the same open file: the container's sleep holds it now
    finally:
        os.close(fd)
    busy = runtime("kill", container_id, "CONT", timeout=30)
    assert busy.returncode == 1 and "busy" in busy.stderr, busy.stderr
    assert busy.stderr.count("\n") == 1, busy.stderr
    started = time.monotonic()
    deleted = runtime("delete", "--force", container_id, timeout=30)
    assert deleted.returncode == 0, deleted.stderr
    assert time.monotonic() - started < 10
    assert runtime.ids() == []
    assert wait_until(lambda: not cgroup_dirs(container_id), timeout=5)


def test_delete_force_names_a_lock_holder_outside_the_container(runtime, make_bundle):
    """A holder that is not the container's (here the test itself) is not killed: delete
    --force waits for it within the lock's bound and then fails in one line naming its pid;
    state still answers meanwhile."""
    bundle = make_bundle(["sleep", "1000"])
    container_id = new_id("foreign")
    runtime("create", "-b", bundle, container_id, check=True)
    fd = os.open(os.path.join(runtime.root, container_id), os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        started = time.monotonic()
        result = runtime("delete", "--force", container_id, timeout=30)
        took = time.monotonic() - started
        assert result.returncode == 1, result.stderr
        assert f"pid {os.getpid()}" in result.stderr and "busy" in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert 3 < took < 15, took
        assert runtime.state(container_id)["status"] == "created"
    finally:
        os.close(fd)
    runtime("delete", "--force", container_id, check=True, timeout=15)


# -- 2. a frozen cgroup ----------------------------------------------------------------------------

def _mount(key):
    for h in hierarchies():
        if (key == "" and h.key == "") or (key and key in h.key.split(",")):
            return h.mountpoint
    pytest.skip(f"no {key or 'unified'} hierarchy here")


@pytest.fixture
def frozen_cgroup():
    """frozen_cgroup(kind, nested): a cgroup named pyrunc-frozen-* frozen through the v1
    freezer or v2's cgroup.freeze; removed (thawed first) at the end."""
    made = []

    def make(kind):
        base = _mount("freezer" if kind == "v1" else "")
        name = f"pyrunc-frozen-{uuid.uuid4().hex[:6]}"
        path = os.path.join(base, name)
        os.mkdir(path)
        made.append((kind, path))
        if kind == "v1":
            with open(os.path.join(path, "freezer.state"), "w") as f:
                f.write("FROZEN")
        else:
            with open(os.path.join(path, "cgroup.freeze"), "w") as f:
                f.write("1")
        return name, path

    yield make
    for kind, path in made:
        with open(os.path.join(path, "freezer.state" if kind == "v1" else "cgroup.freeze"),
                  "w") as f:
            f.write("THAWED" if kind == "v1" else "0")
        for sub, _dirs, _files in sorted(os.walk(path), key=lambda w: -w[0].count("/")):
            os.rmdir(sub)


@pytest.mark.cgroup
@pytest.mark.parametrize("kind", ["v1", "v2"])
@pytest.mark.parametrize("nested", [False, True], ids=["itself", "parent"])
def test_run_refuses_a_frozen_cgroup(runtime, make_bundle, frozen_cgroup, kind, nested):
    """The reported hang: `run -d` with cgroupsPath naming a frozen cgroup (or a cgroup to be
    made under a frozen one) waited forever for an init that the freezer had stopped. Refused
    at once, naming the cgroup; nothing is made."""
    if kind == "v2" and not os.path.exists(os.path.join(_mount(""), "cgroup.subtree_control")):
        pytest.skip("no cgroup2 mount")
    name, path = frozen_cgroup(kind)
    cgroups_path = f"/{name}/child" if nested else f"/{name}"
    bundle = make_bundle(["sleep", "1000"],
                         edit=lambda c: c["linux"].__setitem__("cgroupsPath", cgroups_path))
    container_id = new_id("frozen")
    started = time.monotonic()
    result = runtime("run", "-d", "-b", bundle, container_id, timeout=20)
    assert time.monotonic() - started < 10
    assert result.returncode == 1, result.stderr
    assert f"cgroup {path} is frozen" in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert runtime.ids() == []
    for h in hierarchies():  # nothing made under the frozen one, nor beside it elsewhere
        assert not os.path.exists(os.path.join(h.mountpoint, name, "child"))
        if h.mountpoint != os.path.dirname(path):
            assert not os.path.exists(os.path.join(h.mountpoint, name))


@pytest.mark.cgroup
def test_create_fails_fast_when_the_init_is_frozen_during_setup(runtime, make_bundle):
    """A freeze that comes after the check (here a prestart hook freezes the container's own
    cgroup while the init waits for it) is seen within a fraction of a second: create fails
    naming it, and removes everything."""
    freezer = _mount("freezer")
    container_id = new_id("midfreeze")
    target = os.path.join(freezer, container_id, "freezer.state")

    def edit(config):
        config["hooks"] = {"prestart": [{"path": "/bin/sh",
                                         "args": ["sh", "-c", f"echo FROZEN > {target}"]}]}
    bundle = make_bundle(["true"], edit=edit)
    started = time.monotonic()
    result = runtime("create", "-b", bundle, container_id, timeout=30)
    assert time.monotonic() - started < 10
    assert result.returncode == 1
    assert "frozen" in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert runtime.ids() == []
    assert wait_until(lambda: not cgroup_dirs(container_id), timeout=5), cgroup_dirs(container_id)


def test_start_of_a_stopped_init_fails_at_once_and_works_after_sigcont(runtime, make_bundle):
    bundle = make_bundle(["sleep", "1000"])
    container_id = new_id("stopped")
    runtime("create", "-b", bundle, container_id, check=True)
    pid = runtime.state(container_id)["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        assert wait_until(lambda: read_file(f"/proc/{pid}/stat").split(b") ")[1][:1] == b"T")
        started = time.monotonic()
        result = runtime("start", container_id, timeout=20)
        assert time.monotonic() - started < 5
        assert result.returncode == 1 and "stopped" in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1
        for verb in (("state", container_id), ("list",), ("kill", container_id, "CONT")):
            assert runtime(*verb, timeout=10).returncode == 0
    finally:
        os.kill(pid, signal.SIGCONT)
    runtime("start", container_id, check=True, timeout=15)
    assert wait_until(lambda: b"sleep" in (read_file(f"/proc/{pid}/cmdline") or b""))
    runtime("delete", "--force", container_id, check=True, timeout=15)


@pytest.mark.cgroup
def test_start_of_a_paused_created_container_is_refused_and_resume_works(runtime, make_bundle):
    bundle = make_bundle(["sleep", "1000"])
    container_id = new_id("paused")
    runtime("create", "-b", bundle, container_id, check=True)
    runtime("pause", container_id, check=True, timeout=15)
    assert runtime.state(container_id)["status"] == "paused"
    started = time.monotonic()
    result = runtime("start", container_id, timeout=20)
    assert time.monotonic() - started < 5
    assert result.returncode == 1 and "paused" in result.stderr, result.stderr
    runtime("resume", container_id, check=True, timeout=15)
    assert runtime.state(container_id)["status"] == "created"
    runtime("start", container_id, check=True, timeout=15)
    assert runtime.state(container_id)["status"] == "running"
    runtime("delete", "--force", container_id, check=True, timeout=15)


def test_a_stuck_container_never_blocks_state_list_kill_delete(runtime, make_bundle):
    """A running container whose every process is SIGSTOPped: state, list, kill and delete
    --force each answer within a bound."""
    bundle = make_bundle(["sh", "-c", "sleep 1000 & sleep 1000"])
    container_id = new_id("stuck")
    runtime("run", "-d", "-b", bundle, container_id, check=True)
    pid = runtime.state(container_id)["pid"]
    os.kill(pid, signal.SIGSTOP)
    for verb in (("state", container_id), ("list", "--format", "json"),
                 ("kill", container_id, "TERM"), ("kill", "--all", container_id, "TERM")):
        started = time.monotonic()
        result = runtime(*verb, timeout=15)
        assert result.returncode == 0, (verb, result.stderr)
        assert time.monotonic() - started < 10, verb
    assert container_id in json.dumps(json.loads(runtime("list", "--format", "json").stdout))
    runtime("delete", "--force", container_id, check=True, timeout=20)
    assert runtime.ids() == []
