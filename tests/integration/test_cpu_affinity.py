"""CPU affinity: no container process keeps the affinity of pyrunc's caller (runc 1.2.7/1.3.1's
rule: under `taskset -c 0`, the container still gets every CPU its cpuset allows), and
process.execCPUAffinity's `final` (runtime-spec 1.2) is the exec'd process's affinity after it
joined the container's cgroups; the spec leaves the init out of execCPUAffinity. Read from
outside in /proc/PID/status and from inside in /proc/self/status. The host has CPUs 0-1."""
import json
import os

import pytest

from conftest import PYRUNC
from leftovers import assert_nothing_left

pytestmark = pytest.mark.root

if len(os.sched_getaffinity(0)) < 2:
    pytest.skip("needs two CPUs", allow_module_level=True)

ALL = "0-1"


def cpus_of(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Cpus_allowed_list:"):
                return line.split()[1]


def inside(output):
    return output.split("Cpus_allowed_list:")[1].split()[0]


def pinned(runtime):
    """The same runtime, run under `taskset -c 0`."""
    from conftest import Runtime
    return Runtime(runtime.root, ["taskset", "-c", "0", PYRUNC], runtime.used_ids)


def test_the_callers_affinity_is_not_inherited(runtime, make_bundle):
    bundle = make_bundle(["sleep", "600"])
    on_cpu0 = pinned(runtime)
    on_cpu0("run", "-d", "-b", bundle, "aff-reset", check=True)
    pid = runtime.state("aff-reset")["pid"]
    assert cpus_of(pid) == ALL
    shown = on_cpu0("exec", "aff-reset", "cat", "/proc/self/status", check=True).stdout
    assert inside(shown) == ALL
    on_cpu0("delete", "--force", "aff-reset", check=True)
    assert_nothing_left(runtime, "aff-reset")


def test_the_reset_stays_within_the_containers_cpuset(runtime, make_bundle):
    bundle = make_bundle(["sleep", "600"], lambda c: c["linux"].setdefault(
        "resources", {}).update({"cpu": {"cpus": "1"}}))
    on_cpu0 = pinned(runtime)
    on_cpu0("run", "-d", "-b", bundle, "aff-cpuset", check=True)
    assert cpus_of(runtime.state("aff-cpuset")["pid"]) == "1"
    shown = on_cpu0("exec", "aff-cpuset", "cat", "/proc/self/status", check=True).stdout
    assert inside(shown) == "1"
    on_cpu0("delete", "--force", "aff-cpuset", check=True)
    assert_nothing_left(runtime, "aff-cpuset")


def test_exec_cpu_affinity_final_is_the_exec_d_process_s(runtime, make_bundle, tmp_path):
    """From the config's process (exec without --process inherits it) and from --process; the
    init itself is not concerned."""
    def edit(config):
        config["process"]["execCPUAffinity"] = {"initial": "0", "final": "1"}
    bundle = make_bundle(["sleep", "600"], edit)
    on_cpu0 = pinned(runtime)
    on_cpu0("run", "-d", "-b", bundle, "aff-final", check=True)
    assert cpus_of(runtime.state("aff-final")["pid"]) == ALL  # the init: the reset only
    shown = on_cpu0("exec", "aff-final", "cat", "/proc/self/status", check=True).stdout
    assert inside(shown) == "1"

    process = tmp_path / "process.json"
    process.write_text(json.dumps({"args": ["sleep", "600"], "cwd": "/",
                                   "execCPUAffinity": {"initial": "1", "final": "0"}}))
    pid_file = tmp_path / "exec.pid"
    on_cpu0("exec", "-d", "--pid-file", str(pid_file), "-p", str(process), "aff-final",
            check=True)
    assert cpus_of(int(pid_file.read_text())) == "0"  # from outside

    process.write_text(json.dumps({"args": ["sleep", "600"], "cwd": "/",
                                   "execCPUAffinity": {"initial": "1"}}))
    on_cpu0("exec", "-d", "--pid-file", str(pid_file), "-p", str(process), "aff-final",
            check=True)
    assert cpus_of(int(pid_file.read_text())) == ALL  # no final: the cpuset's
    on_cpu0("delete", "--force", "aff-final", check=True)
    assert_nothing_left(runtime, "aff-final")


@pytest.mark.parametrize("value, reason", [
    ({"final": "0-7"}, "CPU 2-7 is not on this host"),
    ({"initial": "1-0"}, "runs backwards"),
    ({"initial": "zero"}, "is not a CPU number"),
    ({"final": 1}, "must be a string"),
])
def test_bad_cpu_lists_are_refused_by_name(runtime, make_bundle, value, reason):
    bundle = make_bundle(["true"], lambda c: c["process"].update(execCPUAffinity=value))
    result = runtime("create", "-b", bundle, "aff-bad")
    assert result.returncode == 1
    key = next(iter(value))
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"pyrunc: config: process.execCPUAffinity.{key}: "), result.stderr
    assert reason in lines[0]
    assert_nothing_left(runtime, "aff-bad", mentions=(bundle,))


def test_a_bad_cpu_list_in_exec_process_is_refused(runtime, make_bundle, tmp_path):
    bundle = make_bundle(["sleep", "600"])
    runtime("run", "-d", "-b", bundle, "aff-badexec", check=True)
    process = tmp_path / "process.json"
    process.write_text(json.dumps({"args": ["true"], "cwd": "/",
                                   "execCPUAffinity": {"final": "0,9"}}))
    result = runtime("exec", "-p", str(process), "aff-badexec")
    assert result.returncode == 255  # exec's own failure, as runc's
    assert "process.execCPUAffinity.final: '0,9': CPU 9 is not on this host" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    runtime("delete", "--force", "aff-badexec", check=True)
