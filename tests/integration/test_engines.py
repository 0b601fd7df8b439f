"""podman drives pyrunc as its OCI runtime (through conmon), with an image made locally."""
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

PODMAN = "/usr/bin/podman"
IMAGE = "localhost/pyrunc-busybox"
CONF = "/etc/pyrunc-test/containers.conf"
REPO = Path(__file__).resolve().parents[2]
PYRUNC = shutil.which("pyrunc") or "/usr/local/bin/pyrunc"


def podman(*args, timeout=120, check=False):
    env = dict(os.environ, CONTAINERS_CONF=CONF)
    cmd = [PODMAN, "--runtime", PYRUNC, "--cgroup-manager=cgroupfs", "--events-backend=file",
           *args]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                            stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} -> {result.returncode}\n{result.stdout}\n"
                             f"{result.stderr}")
    return result


@pytest.fixture(scope="module", autouse=True)
def prepared():
    assert os.path.exists(PODMAN), "podman is not installed (scripts/install installs it)"
    subprocess.run([str(REPO / "scripts" / "prepare-podman")], check=True, capture_output=True,
                   timeout=300)


@pytest.fixture
def name():
    n = f"pyrunc-engine-{uuid.uuid4().hex[:8]}"
    yield n
    podman("rm", "-f", "-t", "0", n)


def test_podman_run_rm(name):
    result = podman("run", "--rm", "--name", name, IMAGE, "sh", "-c", "echo hello; echo $$",
                    check=True)
    assert result.stdout.split() == ["hello", "1"]
    assert podman("container", "exists", name).returncode == 1  # --rm removed it


def test_podman_exit_code(name):
    assert podman("run", "--rm", "--name", name, IMAGE, "sh", "-c", "exit 3").returncode == 3


def test_podman_detached_exec_stop_rm(name):
    podman("run", "-d", "--name", name, IMAGE, "sleep", "1000", check=True)
    inspect = podman("inspect", "--format", "{{.State.Status}} {{.State.Pid}}", name, check=True)
    status, pid = inspect.stdout.split()
    assert status == "running"
    assert open(f"/proc/{pid}/cmdline").read().startswith("sleep")
    out = podman("exec", name, "sh", "-c", "echo in-exec $$", check=True)
    assert out.stdout.split()[0] == "in-exec" and out.stdout.split()[1] != "1"
    assert podman("exec", name, "sh", "-c", "exit 4").returncode == 4
    podman("stop", "-t", "1", name, check=True)
    assert podman("inspect", "--format", "{{.State.Status}}", name,
                  check=True).stdout.strip() == "exited"
    podman("rm", name, check=True)
    assert podman("container", "exists", name).returncode == 1
    assert not os.path.exists(f"/proc/{pid}/cmdline") or \
        not open(f"/proc/{pid}/cmdline").read().startswith("sleep")


def test_podman_tty(name):
    result = podman("run", "--rm", "-t", "--name", name, IMAGE, "sh", "-c", "tty", check=True)
    assert "/dev/pts/" in result.stdout


def test_podman_security_options_are_visible_inside(name):
    result = podman("run", "--rm", "--name", name, "--cap-drop", "ALL", "--cap-add",
                    "NET_BIND_SERVICE", "--security-opt", "no-new-privileges", "--user", "1000",
                    "--ulimit", "nofile=1024:1024",
                    # the host's hard nproc is 32768 here; podman would ask for more
                    "--ulimit", "nproc=32768:32768", IMAGE, "sh", "-c",
                    "grep -E '^(CapBnd|CapEff|CapPrm|NoNewPrivs|Seccomp):' /proc/self/status;"
                    " id -u; ulimit -n", check=True)
    lines = result.stdout.split("\n")
    fields = dict(line.split(":\t") for line in lines if ":\t" in line)
    assert int(fields["CapBnd"], 16) == 1 << 10  # CAP_NET_BIND_SERVICE only
    # podman raises the added cap as ambient for a non-root user, so uid 1000 keeps it (runc
    # shows the same sets)
    assert int(fields["CapEff"], 16) == int(fields["CapPrm"], 16) == 1 << 10
    assert fields["NoNewPrivs"].strip() == "1"
    assert fields["Seccomp"].strip() == "2"  # podman's default profile is loaded
    assert result.stdout.split()[-2:] == ["1000", "1024"]
