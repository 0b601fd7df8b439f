"""The foundation's acceptance points, end to end, against the installed `pyrunc`."""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import (host_mounts_mentioning, processes_with_marker, run_on_pty, wait_bounded,
                      wait_until)


def test_run_prints_what_the_container_sees(runtime, make_bundle):
    script = "echo pid=$$; hostname; cat /proc/self/mountinfo"
    bundle = make_bundle(["sh", "-c", script], edit=lambda c: c.update(hostname="acc-host"))
    result = runtime("run", "--bundle", bundle, "acc-run", check=True)
    lines = result.stdout.splitlines()
    assert lines[0] == "pid=1"
    assert lines[1] == "acc-host"
    inside = lines[2:]
    # Its own mount table: / is the rootfs, /proc is its own, the host's /run is not there.
    mountpoints = {line.split()[4]: line for line in inside}
    assert mountpoints["/"].split()[3].endswith("/rootfs")  # the root is the bundle's rootfs
    assert " - proc " in mountpoints["/proc"]
    host = {line.split()[4] for line in open("/proc/self/mountinfo")}
    host_only = {m for m in host if m != "/" and not m.startswith(("/proc", "/dev", "/sys"))}
    assert host_only and not host_only & set(mountpoints)


@pytest.mark.parametrize("script, expected", [("exit 0", 0), ("exit 42", 42)])
def test_run_exit_code_is_the_containers(runtime, make_bundle, script, expected):
    bundle = make_bundle(["sh", "-c", script])
    assert runtime("run", "-b", bundle, "acc-exit").returncode == expected
    assert runtime.ids() == []


def test_run_killed_by_signal_exits_128_plus_n(runtime, make_bundle):
    bundle = make_bundle(["sleep", "1000"])
    proc = subprocess.Popen(runtime.cmd("run", "-b", bundle, "acc-sig"))
    assert wait_until(lambda: "acc-sig" in runtime.ids() and
                    runtime.state("acc-sig")["status"] == "running")
    runtime("kill", "acc-sig", "KILL", check=True)
    assert wait_bounded(proc, 20) == 128 + 9
    assert runtime.ids() == []


def test_builtin_bundle_runs(runtime):
    result = runtime("run", "--builtin", "acc-builtin", check=True)
    assert "hello from a pyrunc container" in result.stdout
    assert "pid: 1" in result.stdout


def test_lifecycle(runtime, make_bundle):
    bundle = make_bundle(["sleep", "1000"])
    runtime("create", "--bundle", bundle, "acc-life", check=True)
    state = runtime.state("acc-life")
    assert state["status"] == "created"
    pid = state["pid"]
    assert os.path.exists(f"/proc/{pid}")
    assert set(state) >= {"ociVersion", "id", "pid", "status", "bundle", "rootfs", "created",
                          "owner", "annotations"}
    listed = json.loads(runtime("list", "--format", "json", check=True).stdout)
    assert [(c["id"], c["status"]) for c in listed] == [("acc-life", "created")]
    runtime("start", "acc-life", check=True)
    assert runtime.state("acc-life")["status"] == "running"
    assert open(f"/proc/{pid}/cmdline").read().startswith("sleep")
    # delete of a running container fails and leaves it running
    refused = runtime("delete", "acc-life")
    assert refused.returncode == 1 and "running" in refused.stderr
    assert runtime.state("acc-life")["status"] == "running"
    assert "acc-life" in runtime("list", "-q", check=True).stdout.split()
    runtime("kill", "acc-life", "KILL", check=True)
    assert wait_until(lambda: runtime.state("acc-life")["status"] == "stopped")
    runtime("delete", "acc-life", check=True)
    gone = runtime("state", "acc-life")
    assert gone.returncode == 1 and "does not exist" in gone.stderr
    assert len(gone.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("sig", ["KILL", "SIGKILL", "9", "TERM", "15"])
def test_kill_by_name_and_number(runtime, make_bundle, sig):
    bundle = make_bundle(["sh", "-c", "trap 'exit 3' TERM; while :; do sleep 0.05; done"])
    runtime("run", "-d", "-b", bundle, "acc-kill", check=True)
    runtime("kill", "acc-kill", sig, check=True)
    assert wait_until(lambda: runtime.state("acc-kill")["status"] == "stopped")
    runtime("delete", "acc-kill", check=True)


def test_exec_variants(runtime, make_bundle, tmp_path):
    bundle = make_bundle(["sleep", "1000"])
    runtime("run", "-d", "-b", bundle, "acc-exec", check=True)
    init_pid = runtime.state("acc-exec")["pid"]
    out = runtime("exec", "acc-exec", "sh", "-c", "echo $$; exit 5")
    assert out.returncode == 5 and out.stdout.strip() != "1"
    out = runtime("exec", "--cwd", "/tmp", "--env", "X=y", "--user", "65534:65534", "acc-exec",
                  "sh", "-c", "pwd; echo $X; id -u", check=True)
    assert out.stdout.split() == ["/tmp", "y", "65534"]
    # --detach --pid-file: the pid is written, running, in the container's pid namespace
    pid_file = tmp_path / "exec.pid"
    runtime("exec", "--detach", "--pid-file", str(pid_file), "acc-exec", "sleep", "100",
            check=True)
    pid = int(pid_file.read_text())
    assert os.readlink(f"/proc/{pid}/ns/pid") == os.readlink(f"/proc/{init_pid}/ns/pid")
    assert open(f"/proc/{pid}/cmdline").read().startswith("sleep")
    # --tty: under a pty, the process gets a terminal of the container's own devpts
    code, output = run_on_pty(runtime.cmd("exec", "--tty", "acc-exec", "sh", "-c",
                                          "tty; test -t 0 && echo isatty"))
    assert code == 0
    assert b"/dev/pts/" in output and b"isatty" in output
    # --process FILE
    process = {"args": ["sh", "-c", "echo from-file"], "cwd": "/", "env": ["PATH=/bin"]}
    (tmp_path / "p.json").write_text(json.dumps(process))
    out = runtime("exec", "--process", str(tmp_path / "p.json"), "acc-exec", check=True)
    assert out.stdout.strip() == "from-file"
    runtime("delete", "--force", "acc-exec", check=True)
    assert not os.path.exists(f"/proc/{pid}/cmdline") or wait_until(
        lambda: not os.path.exists(f"/proc/{pid}"))


def test_pod_shares_net_ipc_uts(runtime, make_bundle):
    a = make_bundle(["sleep", "1000"], edit=lambda c: c.update(hostname="pod-a"), name="a")
    runtime("run", "-d", "-b", a, "acc-pod-a", check=True)
    a_pid = runtime.state("acc-pod-a")["pid"]

    def join(config):
        config.pop("hostname")
        namespaces = config["linux"]["namespaces"]
        for ns in namespaces:
            proc_name = {"network": "net", "ipc": "ipc", "uts": "uts"}.get(ns["type"])
            if proc_name:
                ns["path"] = f"/proc/{a_pid}/ns/{proc_name}"
        config["process"]["args"] = ["sleep", "1000"]

    b = make_bundle(edit=join, name="b")
    runtime("run", "-d", "-b", b, "acc-pod-b", check=True)
    b_pid = runtime.state("acc-pod-b")["pid"]
    for ns in ("net", "ipc", "uts"):
        assert os.readlink(f"/proc/{a_pid}/ns/{ns}") == os.readlink(f"/proc/{b_pid}/ns/{ns}")
    assert os.readlink(f"/proc/{a_pid}/ns/pid") != os.readlink(f"/proc/{b_pid}/ns/pid")
    out = runtime("exec", "acc-pod-b", "hostname", check=True)
    assert out.stdout.strip() == "pod-a"
    for name in ("acc-pod-b", "acc-pod-a"):
        runtime("delete", "--force", name, check=True)


BAD_INPUTS = {
    "missing-config": (None, "config.json"),
    "bad-json": ("{not json", "invalid JSON"),
    "unknown-namespace": (lambda c: c["linux"]["namespaces"].append({"type": "bogus"}),
                          "linux.namespaces"),
    "escaping-mount": (lambda c: c["mounts"].append({"destination": "/../../etc",
                                                     "type": "tmpfs", "source": "tmpfs"}),
                       "destination"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_one_line_and_nothing_left(runtime, make_bundle, tmp_path, case):
    change, needle = BAD_INPUTS[case]
    bundle = make_bundle(["true"], edit=change if callable(change) else None)
    config = os.path.join(bundle, "config.json")
    if change is None:
        os.unlink(config)
    elif isinstance(change, str):
        with open(config, "w") as f:
            f.write(change)
    mounts_before = host_mounts_mentioning(bundle)
    env = dict(os.environ, PYRUNC_TEST_MARKER=f"bad-{case}")
    result = runtime("create", "-b", bundle, "acc-bad", env=env)
    assert result.returncode == 1
    assert needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert runtime.ids() == []
    assert host_mounts_mentioning(bundle) == mounts_before
    assert processes_with_marker(f"bad-{case}") == []
    assert not any(os.path.exists(f"/sys/fs/cgroup/{c}/acc-bad") for c in ("pids", "memory"))


def test_bad_id_and_id_in_use(runtime, make_bundle):
    bundle = make_bundle(["sleep", "1000"])
    result = runtime("create", "-b", bundle, "../x")
    assert result.returncode == 1 and "invalid container id" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not os.path.exists(os.path.join(runtime.root, "..", "x"))
    runtime("create", "-b", bundle, "acc-dup", check=True)
    pid = runtime.state("acc-dup")["pid"]
    again = runtime("create", "-b", bundle, "acc-dup")
    assert again.returncode == 1 and "already exists" in again.stderr
    assert runtime.state("acc-dup")["pid"] == pid  # the first one is untouched
    runtime("delete", "--force", "acc-dup", check=True)  # a created one needs --force
    assert not os.path.exists(f"/proc/{pid}") or wait_until(
        lambda: not os.path.exists(f"/proc/{pid}/cmdline") or
        open(f"/proc/{pid}/stat").read().split(") ")[1][0] == "Z")


def test_json_log_ends_with_the_error(runtime, make_bundle, tmp_path):
    log = tmp_path / "log.json"
    bundle = make_bundle(["true"], edit=lambda c: c["linux"]["namespaces"].append(
        {"type": "bogus"}))
    result = runtime("create", "-b", bundle, "acc-log",
                     global_args=("--log", str(log), "--log-format", "json"))
    assert result.returncode == 1
    last = json.loads(log.read_text().splitlines()[-1])
    assert last["level"] == "error" and "linux.namespaces" in last["msg"] and last["time"]


def test_systemd_cgroup_is_a_clear_error(runtime, make_bundle):
    bundle = make_bundle(["true"])
    result = runtime("create", "-b", bundle, "acc-sd", global_args=("--systemd-cgroup",))
    assert result.returncode == 1 and "systemd" in result.stderr
    assert runtime.ids() == []


def test_signals_are_forwarded_by_run(runtime, make_bundle):
    bundle = make_bundle(["sh", "-c", "trap 'exit 7' USR1; while :; do sleep 0.05; done"])
    proc = subprocess.Popen(runtime.cmd("run", "-b", bundle, "acc-fwd"))
    assert wait_until(lambda: "acc-fwd" in runtime.ids() and
                    runtime.state("acc-fwd")["status"] == "running")
    time.sleep(0.2)  # let the shell install its trap
    proc.send_signal(signal.SIGUSR1)
    assert wait_bounded(proc, 20) == 7


def test_api_refuses_to_fork_from_a_threaded_process(runtime, busybox_rootfs, tmp_path):
    """The init path forks; a second thread at fork time is refused, cleanly."""
    script = f"""
import threading, time, pyrunc
from pyrunc.builtin_rootfs import ensure_bundle
threading.Thread(target=time.sleep, args=(1,)).start()
try:
    pyrunc.Container.create("acc-thread", bundle=ensure_bundle(), root={runtime.root!r})
except pyrunc.PyruncError as e:
    print("refused:", e)
"""
    out = subprocess.run([os.environ.get("PYTHON", "/opt/pyrunc/bin/python"), "-c", script],
                         capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert "refused: pyrunc must fork the container's init from a single-threaded" in out.stdout
    assert runtime.ids() == []
    assert not os.path.exists("/sys/fs/cgroup/pids/acc-thread")
