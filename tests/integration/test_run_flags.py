"""runc 1.2's `run` flags on real containers, as root: --keep (the stopped container stays, its
state dir and cgroups, until `delete`) and --no-subreaper (pyrunc still returns the process's
status but reaps nothing the container leaves: the orphans go to the caller's side), seen from
outside (state, the cgroup dirs, /proc/<pid>/status PPid) and inside (the process's own exit)."""
import os
import subprocess

import pytest

from conftest import cgroup_dirs, processes_with_marker, wait_bounded, wait_until


def test_run_keep_leaves_the_stopped_container_for_delete(runtime, make_bundle, tmp_path):
    log = tmp_path / "poststop.log"

    def edit(config):
        config["hooks"] = {"poststop": [{"path": "/bin/sh",
                                         "args": ["sh", "-c", f"echo poststop >> {log}"]}]}

    bundle = make_bundle(("sh", "-c", "echo inside; exit 3"), edit=edit)
    result = runtime("run", "--keep", "-b", bundle, "rn-keep")
    assert result.returncode == 3, result.stderr
    assert result.stdout.strip() == "inside"
    state = runtime.state("rn-keep")
    assert state["status"] == "stopped"
    assert os.path.isdir(os.path.join(runtime.root, "rn-keep"))
    assert cgroup_dirs("rn-keep"), "the cgroups go with `delete`, not before"
    assert not log.exists(), "poststop runs at delete"
    runtime("delete", "rn-keep", check=True)  # no --force needed: it has stopped
    assert runtime.ids() == []
    assert not cgroup_dirs("rn-keep")
    assert log.read_text() == "poststop\n"


def test_run_without_keep_removes_the_container(runtime, make_bundle):
    bundle = make_bundle(("sh", "-c", "exit 3"))
    assert runtime("run", "-b", bundle, "rn-nokeep").returncode == 3
    assert runtime.ids() == []
    assert not cgroup_dirs("rn-nokeep")


@pytest.mark.parametrize("flags, reaped_by_pyrunc", [((), True), (("--no-subreaper",), False)])
def test_no_subreaper_leaves_orphans_to_the_caller(runtime, make_bundle, marker, flags,
                                                   reaped_by_pyrunc):
    """Without a pid namespace of its own, an orphan of the container is reparented to the
    nearest subreaper: pyrunc by default, the caller's side with --no-subreaper. Either way
    pyrunc returns the process's status."""
    def edit(config):
        config["linux"]["namespaces"] = [n for n in config["linux"]["namespaces"]
                                         if n["type"] != "pid"]
        config["process"]["env"].append(marker)

    bundle = make_bundle(("sh", "-c", "(sleep 1000 &); sleep 3; exit 4"), edit=edit)
    proc = subprocess.Popen(runtime.cmd("run", *flags, "-b", bundle, f"rn-reap{len(flags)}"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def orphan():
            for pid in processes_with_marker(marker):
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if f.read() == b"sleep\x001000\x00":
                        return pid
            return None
        assert wait_until(lambda: orphan() is not None, timeout=10)
        with open(f"/proc/{orphan()}/status") as f:
            ppid = int(next(line for line in f if line.startswith("PPid:")).split()[1])
        assert (ppid == proc.pid) == reaped_by_pyrunc, (ppid, proc.pid)
        assert wait_bounded(proc, 30) == 4
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # the container's cgroup went with it, and the orphan with its cgroup
    assert wait_until(lambda: not processes_with_marker(marker), timeout=10)
