"""The trace of the init path (create --trace FILE, the pyrunc.trace annotation; pyrunc/trace.py)
against the plan `pyrunc explain` gives for the same config: every planned primitive was done,
by the process the plan says, in the plan's order, and nothing of those kinds was done that the
plan did not say (explain.match). The trace's fd never reaches the container's program."""
import json
import os
from pathlib import Path

import pytest

from conftest import wait_until

pytestmark = pytest.mark.cgroup


def rich(tmp_path, cgroups_path=None):
    """A config that touches most of the plan: a bind mount, hostname, sysctl, rlimits, a
    memory and a pids limit, read-only and masked paths, cpuset (v1 inheritance), and maybe
    a cgroupsPath whose parent is missing."""
    shared = tmp_path / "shared"
    shared.mkdir()

    def edit(config):
        config["mounts"].append({"destination": "/tmp", "source": str(shared), "type": "bind",
                                 "options": ["rbind", "ro", "nosuid"]})
        config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "0"}
        config["linux"]["resources"] = {"memory": {"limit": 64 << 20}, "pids": {"limit": 64}}
        config["process"]["rlimits"].append({"type": "RLIMIT_NPROC", "soft": 100, "hard": 100})
        if cgroups_path:
            config["linux"]["cgroupsPath"] = cgroups_path
    return edit


def traced_run(runtime, bundle, cid, trace):
    runtime("create", "--bundle", bundle, "--trace", str(trace), cid, check=True)
    pid = runtime.state(cid)["pid"]
    runtime("start", cid, check=True)
    assert wait_until(lambda: runtime.state(cid)["status"] == "stopped")
    return pid


def lines(trace):
    return [json.loads(line) for line in trace.read_text().splitlines()]


# A parent no other test uses: made (and marked) by the create, removed by the delete.
PARENT = "/pyrunc-trace-parent"


@pytest.mark.parametrize("cgroups_path", [None, f"{PARENT}/trace-plan"])
def test_the_plan_matches_the_trace(runtime, make_bundle, tmp_path, cgroups_path):
    bundle = make_bundle(("true",), rich(tmp_path, cgroups_path))
    trace = tmp_path / "trace.jsonl"
    traced_run(runtime, bundle, "trace-plan", trace)
    events = lines(trace)
    assert {e["who"] for e in events} == {"parent", "stage1", "init"}
    # what failed is only what may (os.makedirs(exist_ok=True) meeting an existing dir)
    failed = [e for e in events if e["result"] not in ("ok", "called")]
    assert all(e["op"] == "mkdir" and "errno 17" in e["result"] for e in failed), failed
    explained = json.loads(runtime("explain", "--format", "json", "trace-plan",
                                   check=True).stdout)
    assert explained["trace_unmatched"] == []
    from pyrunc.explain import MATCHED_OPS
    planned = [s for s in explained["steps"] if s["op"] in MATCHED_OPS]
    missing = [s["text"] for s in planned if not s.get("traced")]
    assert missing == []
    # the process the plan names did it
    for step in planned:
        who = step["traced"][0]["who"]
        assert who == ("init" if step["who"] == "start" else step["who"]), (step, who)
    # in the plan's order, process by process
    position = {json.dumps(e, sort_keys=True): i for i, e in enumerate(events)}
    for who in ("parent", "stage1", "init"):
        order = [position[json.dumps(s["traced"][0], sort_keys=True)] for s in planned
                 if s["traced"][0]["who"] == who]
        assert order == sorted(order), who
    # what the config asked for is among them
    done = {(e["op"], e.get("path") or e.get("target")) for e in events}
    assert ("sethostname", None) in {(e["op"], None) for e in events}
    assert any(op == "cgroup-write" and p.endswith("memory.limit_in_bytes")
               or op == "cgroup-write" and p.endswith("/memory.max") for op, p in done)
    assert ("mount", "/tmp") in done and ("mount", "/proc/keys") in done
    text = runtime("explain", "trace-plan", check=True).stdout
    assert "      did: init 1: mount" in text
    if cgroups_path:
        made = [s["path"] for s in planned if s["op"] == "cgroup-mkdir"]
        assert any(p.endswith(PARENT) for p in made), made  # the parent, in each hierarchy
    runtime("delete", "trace-plan", check=True)
    if cgroups_path:
        from conftest import cgroup_dirs
        assert not cgroup_dirs(PARENT.strip("/"))


def test_the_annotation_traces_every_container_of_the_bundle(runtime, make_bundle, tmp_path):
    def edit(config):
        config["annotations"] = {"pyrunc.trace": "trace.jsonl"}
    bundle = make_bundle(("true",), edit)
    runtime("create", "--bundle", bundle, "trace-annotated", check=True)
    trace = os.path.join(bundle, "trace.jsonl")
    assert any(e["op"] == "pivot_root" for e in lines(Path(trace)))
    runtime("delete", "--force", "trace-annotated", check=True)


def test_the_host_wide_directory_traces_every_container(runtime, make_bundle, tmp_path):
    """$PYRUNC_TRACE_DIR, set where engines run pyrunc, traces every create and run into
    DIR/<id>.jsonl; explain ID shows it; unset, nothing is written."""
    traces = tmp_path / "traces"
    traces.mkdir()
    env = dict(os.environ, PYRUNC_TRACE_DIR=str(traces))
    runtime("run", "--bundle", make_bundle(("true",), name="a"), "trace-dir-run", env=env,
            check=True)
    runtime("create", "--bundle", make_bundle(("true",), name="b"), "trace-dir-create",
            env=env, check=True)
    assert sorted(os.listdir(traces)) == ["trace-dir-create.jsonl", "trace-dir-run.jsonl"]
    for name in os.listdir(traces):
        events = lines(traces / name)
        assert {e["who"] for e in events} == {"parent", "stage1", "init"}, name
        assert any(e["op"] == "pivot_root" for e in events), name
    explained = json.loads(runtime("explain", "--format", "json", "trace-dir-create",
                                   check=True).stdout)
    assert explained["trace_unmatched"] == []
    assert any(s.get("traced") for s in explained["steps"])
    runtime("delete", "--force", "trace-dir-create", check=True)
    env.pop("PYRUNC_TRACE_DIR")
    runtime("run", "--bundle", make_bundle(("true",), name="c"), "trace-dir-off", env=env,
            check=True)
    assert sorted(os.listdir(traces)) == ["trace-dir-create.jsonl", "trace-dir-run.jsonl"]


def test_a_failing_create_keeps_the_last_trace_lines(runtime, make_bundle, tmp_path):
    def edit(config):
        config["mounts"].append({"destination": "/tmp", "type": "nosuchfs", "source": "x"})
    bundle = make_bundle(("true",), edit)
    trace = tmp_path / "trace.jsonl"
    result = runtime("create", "--bundle", bundle, "--trace", str(trace), "trace-fail")
    assert result.returncode == 1 and "explain trace-fail" in result.stderr
    [failed] = [e for e in lines(trace) if e["result"] != "ok"]
    assert (failed["who"], failed["op"], failed["target"], failed["fstype"]) == \
        ("init", "mount", "/tmp", "nosuchfs")
    assert "errno 19" in failed["result"]
    pm = json.loads(runtime("explain", "--format", "json", "trace-fail",
                            check=True).stdout)["postmortems"][0]
    assert failed in [json.loads(line) for line in pm["trace"]]


def test_the_trace_fd_does_not_reach_the_program(runtime, make_bundle, tmp_path):
    def fds(cid, trace):
        bundle = make_bundle(("sh", "-c", "ls /proc/self/fd > /dev/shm/x; cat /dev/shm/x"),
                             name=cid)
        out = tmp_path / f"{cid}.out"
        with open(out, "w") as f:
            args = ["--trace", str(trace)] if trace else []
            runtime("run", "--bundle", bundle, *args, cid, stdout=f, check=True)
        return out.read_text().split()
    assert fds("trace-fd", tmp_path / "t.jsonl") == fds("trace-nofd", None)


@pytest.mark.parametrize("value, reason", [("../outside.jsonl", "inside the bundle"),
                                           ("/etc/trace.jsonl", "inside the bundle"),
                                           ("link.jsonl", "symbolic links")])
def test_the_annotation_cannot_lead_out_of_the_bundle(runtime, make_bundle, tmp_path, value,
                                                      reason):
    """An annotation may come from a pod's author: pyrunc must not append to a host file."""
    def edit(config):
        config["annotations"] = {"pyrunc.trace": value}
    bundle = make_bundle(("true",), edit)
    target = tmp_path / "host-file"
    target.write_text("precious\n")
    os.symlink(target, os.path.join(bundle, "link.jsonl"))
    result = runtime("create", "--bundle", bundle, "trace-out")
    assert result.returncode == 1 and reason in result.stderr, result.stderr
    assert "annotations.pyrunc.trace" in result.stderr
    assert target.read_text() == "precious\n"
    assert not os.path.exists(tmp_path / "outside.jsonl")
    assert runtime.ids() == []
