"""Docker 20.10 (Debian's docker.io, the /usr/bin/docker client) runs containers on pyrunc:
dockerd with the `pyrunc` runtime of scripts/engines/docker-daemon.json starts its own
containerd, whose runc v2 shim calls pyrunc. The daemon is this module's own
(engineutil.Dockerd): data, exec root and socket under /tmp, no default bridge, no iptables,
no forwarding, no NAT; containers get `--network none` or an `--internal` bridge, and nothing
here sends traffic beyond the machine."""
import json
import os
import uuid

import pytest

from cgutil import read
from conftest import containers_in, run_on_pty, wait_until
from engineutil import DOCKER, PYRUNC, Dockerd, ok, running
from pyrunc.capabilities import own_bounding_set
from pyrunc.names import CAP_NUMBERS

# cgroup: they read the containers' cgroup files, and run in the cgroup-v2 guest too.
pytestmark = [pytest.mark.engine, pytest.mark.cgroup, pytest.mark.root]

IMAGE = "localhost/pyrunc-busybox:latest"
RUNTIME = ["--runtime", "pyrunc"]


@pytest.fixture(scope="module")
def docker(busybox_rootfs):
    with running(Dockerd()) as daemon:
        daemon.import_rootfs(busybox_rootfs, IMAGE, ["/bin/sh"])
        yield daemon


@pytest.fixture
def name(docker):
    n = f"pyrunc-{uuid.uuid4().hex[:8]}"
    yield n
    docker.docker("rm", "-f", n)
    assert docker.docker("inspect", n).returncode != 0, f"container {n} left"


def inspect(docker, name):
    return json.loads(ok(docker.docker("inspect", name)).stdout)[0]


def pyrunc_state_root(docker):
    """Where dockerd's shim keeps pyrunc's state: dockerd 20.10 gives every runtime the root
    <exec-root>/runtime-runc/moby (its runc's), pyrunc included."""
    return os.path.join(docker.config["exec-root"], "runtime-runc", "moby")


def test_the_runtime_is_configured(docker):
    info = json.loads(ok(docker.docker("info", "--format", "{{json .Runtimes}}")).stdout)
    assert info["pyrunc"]["path"] == PYRUNC
    assert docker.runtime_names() == ["pyrunc"]


def test_run_rm_exit_status(docker, name):
    result = docker.docker("run", "--rm", *RUNTIME, "--network", "none", "--name", name,
                           IMAGE, "sh", "-c", "echo hello from $$; exit 3")
    assert result.returncode == 3, result.stderr
    assert result.stdout == "hello from 1\n"
    assert not containers_in(pyrunc_state_root(docker))


def test_detached_exec_pause_update_top_stop(docker, name):
    ok(docker.docker("run", "-d", *RUNTIME, "--network", "none", "--name", name,
                     "--memory", "64m", "--pids-limit", "50", "--cpus", "0.5", IMAGE,
                     "sleep", "1000"))
    info = inspect(docker, name)
    container_id, pid = info["Id"], info["State"]["Pid"]
    assert info["HostConfig"]["Runtime"] == "pyrunc"
    with open(os.path.join(pyrunc_state_root(docker), container_id, "state.json")) as f:
        assert json.load(f)["pid"] == pid  # pyrunc made this container

    # The limits, read from the container's cgroup files.
    assert read(pid, "memory", "memory.limit_in_bytes", "memory.max") == str(64 << 20)
    assert read(pid, "pids", "pids.max", "pids.max") == "50"
    quota = read(pid, "cpu", "cpu.cfs_quota_us", "cpu.max").split()[0]
    period = read(pid, "cpu", "cpu.cfs_period_us", "cpu.max").split()[-1]
    assert int(quota) * 2 == int(period), (quota, period)

    result = ok(docker.docker("exec", name, "sh", "-c", "echo $$; tr '\\0' ' ' < /proc/1/cmdline"))
    exec_pid, init_cmdline = result.stdout.splitlines()
    assert int(exec_pid) > 1 and init_cmdline.strip() == "sleep 1000"

    ok(docker.docker("pause", name))
    assert inspect(docker, name)["State"]["Paused"] is True
    assert read(pid, "freezer", "freezer.state", "cgroup.freeze") in ("FROZEN", "1")
    ok(docker.docker("unpause", name))
    assert inspect(docker, name)["State"]["Paused"] is False

    # update: dockerd sends LinuxResources on stdin (`update --resources -`), 0 for unset.
    ok(docker.docker("update", "--memory", "100m", "--memory-swap", "-1", name))
    assert read(pid, "memory", "memory.limit_in_bytes", "memory.max") == str(100 << 20)
    assert read(pid, "pids", "pids.max", "pids.max") == "50"  # untouched by the zeros

    top = ok(docker.docker("top", name)).stdout
    assert "sleep 1000" in top and str(pid) in top

    # kill: sleep as pid 1 ignores SIGTERM, so `docker kill` (SIGKILL) it is.
    ok(docker.docker("kill", name))
    assert wait_until(lambda: inspect(docker, name)["State"]["Status"] == "exited")
    assert inspect(docker, name)["State"]["ExitCode"] == 137
    ok(docker.docker("rm", name))
    assert not os.path.exists(os.path.join(pyrunc_state_root(docker), container_id))


def test_stop_sends_sigterm_first(docker, name):
    ok(docker.docker("run", "-d", *RUNTIME, "--network", "none", "--name", name, IMAGE, "sh",
                     "-c", "trap 'exit 42' TERM; while true; do sleep 0.1; done"))
    ok(docker.docker("stop", "-t", "10", name))
    assert inspect(docker, name)["State"]["ExitCode"] == 42


def test_interactive_terminal(docker, name):
    """-it: a pty through the console socket, our pty on the client's side."""
    code, output = run_on_pty([DOCKER, "run", "--rm", "-it", *RUNTIME, "--network",
                               "none", "--name", name, IMAGE, "sh", "-c", "tty; echo pid=$$"],
                              env=docker.env())
    text = output.decode(errors="replace")
    assert code == 0, text
    assert "/dev/pts/0" in text and "pid=1" in text, text


def test_security_options_reach_the_process(docker, name):
    result = ok(docker.docker(
        "run", "--rm", *RUNTIME, "--network", "none", "--name", name, "--cap-drop", "NET_RAW",
        "--read-only", "--user", "1000:1000", IMAGE, "sh", "-c",
        "id -u; id -g; touch /x 2>&1; grep -E '^(CapBnd|Seccomp):' /proc/self/status"))
    lines = result.stdout.splitlines()
    assert lines[:2] == ["1000", "1000"]
    assert "Read-only file system" in lines[2]
    fields = dict(line.split(":\t") for line in lines[3:])
    bounding = int(fields["CapBnd"], 16)
    assert not bounding & (1 << 13)  # CAP_NET_RAW dropped
    assert bounding & (1 << 0)  # CAP_CHOWN, one of Docker's defaults, kept
    assert fields["Seccomp"].strip() == "2"  # Docker's default profile is loaded


def test_internal_network_two_containers_ping(docker, name):
    """A user-defined --internal bridge: dockerd's prestart hook (libnetwork-setkey, run by
    pyrunc) wires each container; they reach each other by address and by name."""
    from netutil import isolation_rules, remove_rules
    from pyrunc.network import links
    network = f"pyrnet{uuid.uuid4().hex[:6]}"
    network_id = ok(docker.docker("network", "create", "--internal", "--subnet",
                                  "10.234.1.0/24", network)).stdout.strip()
    # Without its iptables rules (the daemon runs with --iptables=false) Docker's internal
    # network would still route through a forwarding host: pyrunc's own isolation rules
    # (iif <bridge> prohibit) keep anything from leaving through the host.
    bridge = "br-" + network_id[:12]
    ipr = links.iproute()
    try:
        links.ensure_isolation(ipr, bridge)
    finally:
        ipr.close()
    assert len(isolation_rules(bridge)) == 2  # IPv4 and IPv6
    other = name + "-b"
    try:
        for n in (name, other):
            ok(docker.docker("run", "-d", *RUNTIME, "--network", network, "--name", n, IMAGE,
                             "sleep", "1000"))
        address = inspect(docker, other)["NetworkSettings"]["Networks"][network]["IPAddress"]
        assert address.startswith("10.234.1.")
        result = ok(docker.docker("exec", name, "ping", "-c", "2", "-W", "5", address))
        assert "2 packets received" in result.stdout
        result = ok(docker.docker("exec", name, "ping", "-c", "1", "-W", "5", other))
        assert "1 packets received" in result.stdout
    finally:
        docker.docker("rm", "-f", other)
        docker.docker("rm", "-f", name)
        ok(docker.docker("network", "rm", network))
        remove_rules(bridge)
    assert not isolation_rules(bridge)


@pytest.mark.parametrize("options,command,expected", [
    ([], ["/no/such/program"], "exec '/no/such/program'"),
    # Docker checks capability names itself; one this host cannot grant gets to pyrunc.
    (["--cap-add", "SYS_RESOURCE"], ["true"],
     "CAP_SYS_RESOURCE not in pyrunc's own bounding set"),
], ids=["missing-command", "capability-not-grantable"])
def test_pyrunc_errors_reach_the_docker_user(docker, name, options, command, expected):
    if "SYS_RESOURCE" in options and own_bounding_set() & (1 << CAP_NUMBERS["CAP_SYS_RESOURCE"]):
        pytest.skip("this host grants CAP_SYS_RESOURCE (the cgroup-v2 guest does)")
    result = docker.docker("run", "--rm", *RUNTIME, "--network", "none", "--name", name,
                           *options, IMAGE, *command)
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr
    assert not containers_in(pyrunc_state_root(docker))


def test_a_memory_limit_below_dockers_own_floor_never_reaches_pyrunc(docker, name):
    """Docker refuses less than 6 MB itself; pyrunc runs with far less (test_cgroups)."""
    result = docker.docker("run", "--rm", *RUNTIME, "--network", "none", "--name", name,
                           "--memory", "4m", IMAGE, "true")
    assert result.returncode != 0 and "Minimum memory limit" in result.stderr
    ok(docker.docker("run", "--rm", *RUNTIME, "--network", "none", "--name", name,
                     "--memory", "6m", IMAGE, "true"))
