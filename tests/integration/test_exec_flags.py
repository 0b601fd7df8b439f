"""runc 1.2's exec flags on real containers, as root: --ignore-paused (and the refusal without
it), --cgroup (a sub-cgroup, per controller on v1), --additional-gids, --cap, the LSM flags, and
runc's exit codes (the process's status; 255 when the exec itself fails; 1 for a command line
without a command). Each is seen from outside (/proc/<pid>/status and cgroup, the cgroup files)
and from inside (what the exec'd command prints)."""
import os
import subprocess
import tempfile

import pytest

import cgutil
from conftest import cgroup_dirs, wait_bounded, wait_until
from leftovers import Leftovers
from pyrunc.cgroups.layout import hierarchies

SLEEP = ("sleep", "1000")


def run_detached(runtime, make_bundle, cid, edit=None):
    bundle = make_bundle(SLEEP, edit=edit, name=f"bundle-{cid}")
    runtime("run", "-d", "-b", bundle, cid, check=True)
    return runtime.state(cid)["pid"]


def exec_failed(result, *named):
    """runc's shape for an exec that could not run: exit 255, one line, no traceback, the
    reason naming each of `named`."""
    assert result.returncode == 255, (result.returncode, result.stdout, result.stderr)
    err = result.stderr.strip()
    assert err and "\n" not in err and "Traceback" not in result.stderr, result.stderr
    assert "exec failed: " in err, err
    for text in named:
        assert text in err, (text, err)
    return err


def detached_exec(runtime, tmp_path, cid, *args):
    """exec --detach with a pid file; the exec'd process's host pid."""
    pid_file = tmp_path / f"exec-{len(os.listdir(tmp_path))}.pid"
    runtime("exec", "--detach", "--pid-file", str(pid_file), *args[:-1], cid, *args[-1],
            check=True)
    return int(pid_file.read_text())


def status_field(pid, name):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key == name:
                return value.strip()
    raise AssertionError(f"no {name} in /proc/{pid}/status")


def container_pids(cid):
    """Every pid in the container's cgroups, read from the cgroup files."""
    pids = set()
    for d in cgroup_dirs(cid):
        for path, _dirs, _files in os.walk(d):
            with open(os.path.join(path, "cgroup.procs")) as f:
                pids.update(int(p) for p in f.read().split())
    return pids


# -- --ignore-paused -------------------------------------------------------------------------------

def test_exec_into_a_paused_container_needs_ignore_paused(runtime, make_bundle, marker):
    cid = "ex-paused"
    init = run_detached(runtime, make_bundle, cid)
    runtime("pause", cid, check=True)
    assert runtime.state(cid)["status"] == "paused"
    snap = Leftovers(runtime, markers=marker)
    refused = runtime("exec", "-e", marker, cid, "true", timeout=30)
    exec_failed(refused, "paused", "--ignore-paused")
    snap.check()
    assert container_pids(cid) == {init}  # nothing joined the frozen cgroup

    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(runtime.cmd("exec", "--ignore-paused", cid, "sh", "-c",
                                            "echo exec-ran; cat /proc/self/cgroup"),
                                stdout=out, stderr=subprocess.STDOUT)
        try:
            # The exec'd process joins the frozen cgroup and waits there, as runc's does.
            assert wait_until(lambda: len(container_pids(cid)) == 2, timeout=10), \
                container_pids(cid)
            exec_pid = (container_pids(cid) - {init}).pop()
            assert proc.poll() is None, "exec returned while the container was paused"
            assert runtime.state(cid)["status"] == "paused"
            assert os.path.exists(f"/proc/{exec_pid}")
            runtime("resume", cid, check=True)
            assert wait_bounded(proc, 30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        out.seek(0)
        lines = out.read().decode().splitlines()
    assert lines[0] == "exec-ran", lines
    assert "0::/" in lines  # inside its cgroup namespace: the container's own cgroup


# -- --cgroup --------------------------------------------------------------------------------------

def _v1_key(controller):
    return next(h.key for h in hierarchies() if controller in h.controllers)


def make_sub_cgroup(parent, name):
    """mkdir, and on a v1 cpuset the parent's cpus and mems (it takes no task without them)."""
    sub = os.path.join(parent, name)
    os.mkdir(sub)
    for setting in ("cpuset.cpus", "cpuset.mems"):
        if os.path.exists(os.path.join(parent, setting)):
            with open(os.path.join(parent, setting)) as f:
                value = f.read()
            with open(os.path.join(sub, setting), "w") as f:
                f.write(value)


def proc_cgroups(pid):
    """{hierarchy key: path} of a process, from the host's /proc/<pid>/cgroup."""
    found = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _num, key, path = line.rstrip("\n").split(":", 2)
            found[key] = path
    return found


def test_exec_cgroup_joins_a_sub_cgroup(runtime, make_bundle, tmp_path):
    cid = "ex-cgsub"
    run_detached(runtime, make_bundle, cid)
    for d in cgroup_dirs(cid):  # the container's owner makes its sub-cgroups
        make_sub_cgroup(d, "sub")

    # SUB: the sub-cgroup in every hierarchy, seen from outside...
    pid = detached_exec(runtime, tmp_path, cid, "--cgroup", "sub", SLEEP)
    seen = proc_cgroups(pid)
    for d in cgroup_dirs(cid):
        with open(os.path.join(d, "sub", "cgroup.procs")) as f:
            assert str(pid) in f.read().split(), d
    assert all(path.endswith(f"/{cid}/sub") for path in seen.values()), seen
    # ...and from inside (its cgroup namespace's root is the container's cgroup)
    inside = runtime("exec", "--cgroup", "/sub/", cid, "cat", "/proc/self/cgroup", check=True)
    assert {line.split(":", 2)[2] for line in inside.stdout.splitlines()} == {"/sub"}

    if cgutil.is_v2("memory"):  # the v2 guest: a controller cannot be named (runc: v1 only)
        exec_failed(runtime("exec", "--cgroup", "memory:sub", cid, "true"), "--cgroup",
                    "only be named on cgroup v1")
    else:
        _per_controller(runtime, tmp_path, cid)

    before = container_pids(cid)
    exec_failed(runtime("exec", "--cgroup", "nosuch", cid, "true"), "--cgroup", "nosuch",
                "does not exist")
    exec_failed(runtime("exec", "--cgroup", "bogus:sub", cid, "true"), "--cgroup", "bogus")
    exec_failed(runtime("exec", "--cgroup", "../..", cid, "true"), "--cgroup", "climb out")
    assert container_pids(cid) == before  # a refused exec started nothing
    # delete removes the sub-cgroups with the container's own (the runtime fixture checks)
    runtime("delete", "--force", cid, check=True)
    assert not cgroup_dirs(cid)


def _per_controller(runtime, tmp_path, cid):
    """CTRL:SUB on v1: that controller's hierarchy only; the others stay at the container's."""
    memory_key = _v1_key("memory")
    memory_dir = next(d for d in cgroup_dirs(cid) if "/memory/" in d or d.endswith("/memory"))
    make_sub_cgroup(memory_dir, "msub")
    pid = detached_exec(runtime, tmp_path, cid, "--cgroup", "memory:msub", SLEEP)
    seen = proc_cgroups(pid)
    assert seen[memory_key].endswith(f"/{cid}/msub"), seen
    assert all(path.endswith(f"/{cid}") for key, path in seen.items() if key != memory_key), seen
    # both forms together: memory in msub, the rest in sub
    pid = detached_exec(runtime, tmp_path, cid, "--cgroup", "sub", "--cgroup", "memory:msub",
                        SLEEP)
    seen = proc_cgroups(pid)
    assert seen[memory_key].endswith(f"/{cid}/msub")
    assert all(path.endswith(f"/{cid}/sub") for key, path in seen.items() if key != memory_key)


# -- --additional-gids, --cap ----------------------------------------------------------------------

def test_exec_additional_gids(runtime, make_bundle, tmp_path):
    cid = "ex-gids"
    run_detached(runtime, make_bundle, cid)
    inside = runtime("exec", "--user", "1000:1000", "-g", "10", "--additional-gids", "20",
                     cid, "id", "-G", check=True)
    assert inside.stdout.split() == ["1000", "10", "20"]
    pid = detached_exec(runtime, tmp_path, cid, "-u", "1000:1000", "-g", "10", "-g", "20", SLEEP)
    assert status_field(pid, "Groups").split() == ["10", "20"]
    assert status_field(pid, "Gid").split()[0] == "1000"
    exec_failed(runtime("exec", "-g", "staff", cid, "true"), "--additional-gids", "staff")


CAP_SYS_ADMIN = 21


def test_exec_cap_adds_a_capability(runtime, make_bundle, tmp_path):
    cid = "ex-cap"
    run_detached(runtime, make_bundle, cid)  # the default spec has no CAP_SYS_ADMIN
    plain = runtime("exec", cid, "grep", "^CapEff", "/proc/self/status", check=True)
    assert not int(plain.stdout.split()[1], 16) & (1 << CAP_SYS_ADMIN)
    inside = runtime("exec", "--cap", "CAP_SYS_ADMIN", cid, "sh", "-c",
                     "grep ^CapEff /proc/self/status; hostname exec-set-it && hostname",
                     check=True)
    lines = inside.stdout.splitlines()
    assert int(lines[0].split()[1], 16) & (1 << CAP_SYS_ADMIN)
    assert lines[1] == "exec-set-it"  # sethostname needs CAP_SYS_ADMIN: it worked
    pid = detached_exec(runtime, tmp_path, cid, "--cap", "CAP_SYS_ADMIN", SLEEP)
    for field in ("CapEff", "CapPrm", "CapBnd"):
        assert int(status_field(pid, field), 16) & (1 << CAP_SYS_ADMIN), field
    # no inheritable set in the default spec: no ambient one either (as runc's --cap)
    assert not int(status_field(pid, "CapAmb"), 16) & (1 << CAP_SYS_ADMIN)
    exec_failed(runtime("exec", "--cap", "CAP_BOGUS", cid, "true"), "CAP_BOGUS")


# -- LSM flags -------------------------------------------------------------------------------------

@pytest.mark.parametrize("flag, lsm_name, present", [
    ("--apparmor", "AppArmor", os.path.exists("/sys/kernel/security/apparmor")),
    ("--process-label", "SELinux", os.path.exists("/sys/fs/selinux/enforce"))])
def test_exec_lsm_flags_without_the_lsm_are_refused_by_name(runtime, make_bundle, marker,
                                                          flag, lsm_name, present):
    if present:
        pytest.skip(f"{lsm_name} is enabled here: the flag is applied (lsm.exec_attributes)")
    cid = "ex-lsm"
    run_detached(runtime, make_bundle, cid)
    snap = Leftovers(runtime, markers=marker)
    exec_failed(runtime("exec", "-e", marker, flag, "unconfined", cid, "true"), flag,
                f"{lsm_name} is not enabled")
    snap.check()


# -- exit codes ------------------------------------------------------------------------------------

def test_exec_exit_codes_are_runcs(runtime, make_bundle):
    cid = "ex-codes"
    run_detached(runtime, make_bundle, cid)
    assert runtime("exec", cid, "sh", "-c", "exit 3").returncode == 3
    exec_failed(runtime("exec", cid, "/no/such/program"), "/no/such/program")
    exec_failed(runtime("exec", "ex-nosuch", "true"), "ex-nosuch", "does not exist")
    usage = runtime("exec", cid)  # no command: a usage error, before anything is looked at
    assert usage.returncode == 1 and "command" in usage.stderr, usage.stderr
    assert runtime.state(cid)["status"] == "running"
