"""podman 4.3 drives pyrunc (through conmon) as its OCI runtime.

Setup (scripts/prepare-podman, run once per session if needed): /etc/pyrunc-test/containers.conf
(cgroupfs, file events, netns "none": no bridge, no iptables on the host) and the local image
localhost/pyrunc-busybox made from the built-in rootfs. Every `podman run` here also says
`--network none` itself, so the host's network is never touched whatever the conf says.

As root podman gives the runtime no --root: pyrunc keeps the containers' state in its default
root, /run/pyrunc/<full container id>, and their cgroups are /libpod_parent/libpod-<id> in every
hierarchy. Both are checked to be gone when podman is done with a container."""
import glob
import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import wait_until

PODMAN = "/usr/bin/podman"
PYRUNC = shutil.which("pyrunc") or "/usr/local/bin/pyrunc"
IMAGE = "localhost/pyrunc-busybox"
CONF = "/etc/pyrunc-test/containers.conf"
PREPARE = Path(__file__).resolve().parents[2] / "scripts" / "prepare-podman"
PYRUNC_STATE_ROOT = "/run/pyrunc"  # podman passes no --root: pyrunc's default

pytestmark = [pytest.mark.engine, pytest.mark.podman]


def podman(*args, timeout=120, input=None):
    env = dict(os.environ, CONTAINERS_CONF=CONF)
    # "pyrunc" by name: the runtime entry of the conf, the README's podman snippet.
    argv = [PODMAN, "--runtime", "pyrunc", "--cgroup-manager=cgroupfs", "--events-backend=file",
            *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                          input=input, stdin=None if input is not None else subprocess.DEVNULL)


def ok(result):
    """Assert a podman command succeeded; show podman's (and so pyrunc's) error if not."""
    assert result.returncode == 0, (f"{' '.join(result.args)} -> {result.returncode}\n"
                                    f"stdout: {result.stdout}\nstderr: {result.stderr}")
    return result


@pytest.fixture(scope="session")
def image():
    assert os.access(PODMAN, os.X_OK), "podman is not installed (scripts/install installs it)"
    have_conf = os.path.exists(CONF)
    have_image = have_conf and podman("image", "exists", IMAGE).returncode == 0
    if not have_image:
        prepared = subprocess.run([str(PREPARE)], capture_output=True, text=True, timeout=600)
        assert prepared.returncode == 0, f"scripts/prepare-podman failed:\n{prepared.stderr}"
    ok(podman("image", "exists", IMAGE))
    return IMAGE


@pytest.fixture
def name(image):
    """A container name for one test; whatever is left of it is removed afterwards: by podman,
    then, should podman have failed to, by pyrunc itself in its (and podman's) state root."""
    n = f"pyrunc-podman-{uuid.uuid4().hex[:8]}"
    yield n
    inspect = podman("inspect", "--format", "{{.Id}}", n)
    podman("rm", "--force", "--time", "0", n)
    if inspect.returncode == 0:
        container_id = inspect.stdout.strip()
        if os.path.exists(os.path.join(PYRUNC_STATE_ROOT, container_id)):
            subprocess.run([PYRUNC, "delete", "--force", container_id], capture_output=True,
                           timeout=60)
    assert podman("container", "exists", n).returncode == 1, f"podman container {n} left"


def traces_of(container_id):
    """What pyrunc or podman left on the host for this container id."""
    left = []
    state_dir = os.path.join(PYRUNC_STATE_ROOT, container_id)
    if os.path.exists(state_dir):
        left.append(state_dir)
    left += glob.glob(f"/sys/fs/cgroup/*/libpod_parent/libpod-{container_id}")
    left += glob.glob(f"/sys/fs/cgroup/*/{container_id}")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{entry}/stat", "rb") as f:
                if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                    continue
        except OSError:
            continue
        if container_id.encode() in cmdline:
            words = cmdline.decode(errors="replace").split("\0")
            left.append(f"process {entry}: {' '.join(words)}")
    return left


def assert_no_traces(container_id):
    assert wait_until(lambda: not traces_of(container_id), timeout=15), traces_of(container_id)


def test_run_rm_prints_hello(name, tmp_path):
    cidfile = tmp_path / "cid"
    result = ok(podman("run", "--rm", "--network", "none", "--name", name, "--cidfile",
                       str(cidfile), IMAGE, "echo", "hello"))
    assert result.stdout == "hello\n"
    container_id = cidfile.read_text().strip()
    assert len(container_id) == 64
    assert podman("container", "exists", name).returncode == 1  # --rm removed it
    assert_no_traces(container_id)


def test_exit_code_propagates(name, tmp_path):
    cidfile = tmp_path / "cid"
    result = podman("run", "--rm", "--network", "none", "--name", name, "--cidfile",
                    str(cidfile), IMAGE, "sh", "-c", "exit 3")
    assert result.returncode == 3, result.stderr
    assert_no_traces(cidfile.read_text().strip())


def test_stdin_reaches_the_container(name):
    result = ok(podman("run", "--rm", "-i", "--network", "none", "--name", name, IMAGE,
                       "sh", "-c", "cat; echo pid=$$", input="through conmon\n"))
    assert result.stdout == "through conmon\npid=1\n"


def test_run_with_a_terminal(name):
    """podman -t: conmon hands pyrunc a --console-socket, pyrunc sends back the pty master.
    No terminal is needed on the test's own stdin."""
    result = ok(podman("run", "--rm", "-t", "--network", "none", "--name", name, IMAGE,
                       "sh", "-c", "tty; echo pid=$$"))
    lines = result.stdout.replace("\r\n", "\n").splitlines()
    assert lines[0].startswith("/dev/pts/"), result.stdout
    assert lines[1] == "pid=1"


def test_detached_exec_stop_rm(name):
    container_id = ok(podman("run", "-d", "--network", "none", "--name", name, IMAGE,
                             "sleep", "1000")).stdout.strip()
    assert len(container_id) == 64
    info = json.loads(ok(podman("inspect", name)).stdout)[0]
    assert info["State"]["Status"] == "running"
    assert info["OCIRuntime"] in ("pyrunc", PYRUNC), info["OCIRuntime"]
    pid = info["State"]["Pid"]
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert f.read() == b"sleep\x001000\x00"

    # pyrunc's own view of the container podman made.
    state = subprocess.run([PYRUNC, "state", container_id], capture_output=True, text=True,
                           timeout=30)
    assert state.returncode == 0, state.stderr
    oci = json.loads(state.stdout)
    assert (oci["status"], oci["pid"]) == ("running", pid)

    # exec: a new process in the container's pid namespace (pid 1 is the sleep).
    result = ok(podman("exec", name, "sh", "-c", "echo $$; tr '\\0' ' ' < /proc/1/cmdline"))
    exec_pid, init_cmdline = result.stdout.splitlines()
    assert int(exec_pid) > 1
    assert init_cmdline.strip() == "sleep 1000"

    # exec -t works without a terminal on our stdin, too.
    result = ok(podman("exec", "-t", name, "sh", "-c", "tty"))
    assert result.stdout.strip().startswith("/dev/pts/"), result.stdout

    # stop -t 2: sleep, pid 1, ignores SIGTERM; podman kills it after 2 s.
    started = time.monotonic()
    ok(podman("stop", "-t", "2", name))
    took = time.monotonic() - started
    assert 1.5 < took < 30, took
    info = json.loads(ok(podman("inspect", name)).stdout)[0]
    assert info["State"]["Status"] == "exited", info["State"]
    assert info["State"]["ExitCode"] == 137
    assert wait_until(lambda: not os.path.exists(f"/proc/{pid}/cmdline")
                      or open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z")

    ok(podman("rm", name))
    assert podman("container", "exists", name).returncode == 1
    assert_no_traces(container_id)


def test_read_only_volume_and_root(name, tmp_path):
    volume = tmp_path / "pyrunc-volume"
    volume.mkdir()
    (volume / "file").write_text("from the host\n")
    result = podman("run", "--rm", "--network", "none", "--read-only", "--name", name,
                    "-v", f"{volume}:/data:ro", IMAGE, "sh", "-c",
                    "cat /data/file; touch /data/new 2>&1; touch /x 2>&1; "
                    "touch /tmp/ok && echo tmp-writable")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "from the host" in out
    assert out.count("Read-only file system") == 2, out
    assert "tmp-writable" in out  # podman --read-only keeps a tmpfs on /tmp
    assert sorted(os.listdir(volume)) == ["file"]


def test_kill_wait_restart(name):
    container_id = ok(podman("run", "-d", "--network", "none", "--name", name, IMAGE,
                             "sleep", "1000")).stdout.strip()
    first_pid = json.loads(ok(podman("inspect", name)).stdout)[0]["State"]["Pid"]
    ok(podman("kill", "--signal", "KILL", name))
    assert ok(podman("wait", name)).stdout.strip() == "137"
    ok(podman("restart", name))
    info = json.loads(ok(podman("inspect", name)).stdout)[0]
    assert info["State"]["Status"] == "running"
    assert info["State"]["Pid"] != first_pid
    assert ok(podman("exec", name, "echo", "after-restart")).stdout == "after-restart\n"
    ok(podman("rm", "--force", "--time", "0", name))
    assert_no_traces(container_id)


def test_security_options_are_visible_inside(name):
    result = ok(podman(
        "run", "--rm", "--network", "none", "--name", name, "--cap-drop", "ALL", "--cap-add",
        "NET_BIND_SERVICE", "--security-opt", "no-new-privileges", "--user", "1000",
        "--ulimit", "nofile=1024:1024",
        # the host's hard nproc is 32768 here; podman would ask for more
        "--ulimit", "nproc=32768:32768", IMAGE, "sh", "-c",
        "grep -E '^(CapBnd|CapEff|CapPrm|NoNewPrivs|Seccomp):' /proc/self/status; id -u;"
        " ulimit -n"))
    fields = dict(line.split(":\t") for line in result.stdout.split("\n") if ":\t" in line)
    assert int(fields["CapBnd"], 16) == 1 << 10  # CAP_NET_BIND_SERVICE only
    # podman raises the added cap as ambient for a non-root user, so uid 1000 keeps it (runc
    # shows the same sets)
    assert int(fields["CapEff"], 16) == int(fields["CapPrm"], 16) == 1 << 10
    assert fields["NoNewPrivs"].strip() == "1"
    assert fields["Seccomp"].strip() == "2"  # podman's default profile is loaded
    assert result.stdout.split()[-2:] == ["1000", "1024"]
