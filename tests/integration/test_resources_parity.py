"""runtime-spec 1.3 / runc 1.2-1.4 resource behaviour on real containers, as root: pids.limit 0
is a limit (and update's own rules for it), PSI in `events --stats` where the cgroup is v2,
user.* sysctls in a user namespace, linux.memoryPolicy, and the refusals by name (intelRdt
without resctrl, a seccomp flag this libseccomp cannot set). Seen from outside (the cgroup
files, /proc/<pid>/numa_maps and status, the host's sysctls) and from inside."""
import json
import os
import subprocess

import cgutil
from test_bad_input import fails_cleanly

ID_MAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def started(runtime, make_bundle, name, args=("sleep", "1000"), edit=None):
    bundle = make_bundle(args, edit=edit, name=f"bundle-{name}")
    runtime("run", "-d", "-b", bundle, name, check=True, stdin=subprocess.DEVNULL)
    return runtime.state(name)["pid"]


def refused_cleanly(runtime, make_bundle, marker, name, edit, *named):
    """create fails in one line naming each of `named`, exit 1, nothing left (the bad-input
    check of test_bad_input)."""
    def marked(config):
        config["process"]["env"].append(marker)
        edit(config)
    bundle = make_bundle(edit=marked, name=f"bundle-{name}")
    return fails_cleanly(runtime, marker, "create", bundle, name, *named)


def pids_max(pid):
    return cgutil.read(pid, "pids", "pids.max", "pids.max")


# -- pids.limit 0 ----------------------------------------------------------------------------------

def test_pids_limit_zero_is_a_limit(runtime, make_bundle, tmp_path):
    def zero(config):
        config["linux"]["resources"] = {"pids": {"limit": 0}}

    inside_file = "/sys/fs/cgroup/pids.max" if cgutil.is_v2("pids") else \
        "/sys/fs/cgroup/pids/pids.max"
    # inside: the container's own cgroup says 0 (cat is exec'd: no fork needed)
    seen = runtime("run", "-b", make_bundle(("cat", inside_file), edit=zero, name="b0"),
                   "rp-pids0-run", check=True)
    assert seen.stdout.strip() == "0"
    # outside: pids.max is 0, and a process of the container cannot fork
    pid = started(runtime, make_bundle, "rp-pids0", edit=zero)
    assert pids_max(pid) == "0"
    forked = runtime("exec", "rp-pids0", "sh", "-c", "(true); echo forked")
    assert forked.returncode != 0 and "forked" not in forked.stdout, forked
    assert "can't fork" in forked.stderr, forked.stderr  # busybox sh: EAGAIN from fork

    # update: --pids-limit N sets N; Docker's update JSON sends 0 for "unchanged", which stays
    # so; only the flag sets a limit of 0; -1 is max.
    runtime("update", "--pids-limit", "5", "rp-pids0", check=True)
    assert pids_max(pid) == "5"
    zeros = tmp_path / "docker-update.json"
    zeros.write_text(json.dumps({"memory": {"limit": 0}, "pids": {"limit": 0}}))
    runtime("update", "--resources", str(zeros), "rp-pids0", check=True)
    assert pids_max(pid) == "5"
    runtime("update", "--pids-limit", "0", "rp-pids0", check=True)
    assert pids_max(pid) == "0"
    with open(os.path.join(runtime.root, "rp-pids0", "state.json")) as f:
        assert json.load(f)["config"]["linux"]["resources"]["pids"]["limit"] == 0
    runtime("update", "--pids-limit", "-1", "rp-pids0", check=True)
    assert pids_max(pid) == "max"


# -- PSI in events --stats -------------------------------------------------------------------------

def test_events_stats_carry_psi_where_the_cgroup_is_v2(runtime, make_bundle):
    pid = started(runtime, make_bundle, "rp-psi")
    out = runtime("events", "--stats", "rp-psi", check=True)
    data = json.loads(out.stdout)["data"]
    for key, controller, name in (("cpu", "cpu", "cpu.pressure"),
                                  ("memory", "memory", "memory.pressure"),
                                  ("blkio", "blkio", "io.pressure")):
        directory, version = cgutil.cgroup_of(pid, controller)
        if version == 2 and os.path.exists(os.path.join(directory, name)):
            psi = data[key]["psi"]
            assert set(psi["some"]) == {"avg10", "avg60", "avg300", "total"}, psi
            assert isinstance(psi["some"]["total"], int)
        else:  # v1 (this hybrid host keeps cpu, memory and blkio there): no psi, as runc
            assert "psi" not in data.get(key, {}), (key, data.get(key))


# -- user.* sysctls --------------------------------------------------------------------------------

def test_user_sysctls_in_a_user_namespace(runtime, make_bundle, marker):
    host_file = "/proc/sys/user/max_user_namespaces"
    with open(host_file) as f:
        host_before = f.read()

    def userns(config):
        config["linux"]["namespaces"].append({"type": "user"})
        config["linux"]["uidMappings"] = ID_MAP
        config["linux"]["gidMappings"] = ID_MAP
        config["linux"]["sysctl"] = {"user.max_user_namespaces": "7"}

    seen = runtime("run", "-b", make_bundle(("cat", host_file), edit=userns, name="b-u"),
                   "rp-usersysctl", check=True)
    assert seen.stdout.strip() == "7"  # the container's user namespace's own limit
    with open(host_file) as f:
        assert f.read() == host_before  # the host's is its own

    def no_userns(config):
        config["linux"]["sysctl"] = {"user.max_user_namespaces": "7"}
    refused_cleanly(runtime, make_bundle, marker, "rp-usersysctl-no", no_userns,
                    "linux.sysctl.user.max_user_namespaces", "needs a user namespace")


# -- linux.memoryPolicy ----------------------------------------------------------------------------

def numa_policies(text):
    """The policy column of a numa_maps text (one per mapping)."""
    return {line.split()[1] for line in text.splitlines() if line.strip()}


def test_memory_policy_is_the_processes_own(runtime, make_bundle, marker):
    def bind(config):
        config["linux"]["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": "0",
                                           "flags": ["MPOL_F_STATIC_NODES"]}

    pid = started(runtime, make_bundle, "rp-mpol", edit=bind)
    with open(f"/proc/{pid}/numa_maps") as f:  # outside: the init's mappings
        assert numa_policies(f.read()) == {"bind=static:0"}
    inside = runtime("exec", "rp-mpol", "cat", "/proc/self/numa_maps", check=True)
    assert numa_policies(inside.stdout) == {"bind=static:0"}  # exec gets it too

    def interleave(config):
        config["linux"]["memoryPolicy"] = {"mode": "MPOL_INTERLEAVE", "nodes": "0"}
    seen = runtime("run", "-b", make_bundle(("cat", "/proc/self/numa_maps"), edit=interleave,
                                            name="b-il"), "rp-mpol-il", check=True)
    assert numa_policies(seen.stdout) == {"interleave:0"}

    def missing_node(config):
        config["linux"]["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": "0,63"}
    refused_cleanly(runtime, make_bundle, marker, "rp-mpol-bad", missing_node,
                    "linux.memoryPolicy.nodes", "node 63 is not online")


# -- refused by name -------------------------------------------------------------------------------

def test_intel_rdt_without_resctrl_is_refused_by_name(runtime, make_bundle, marker):
    with open("/proc/self/mounts") as f:
        has_resctrl = any(line.split()[2] == "resctrl" for line in f)

    def rdt(config):
        config["linux"]["intelRdt"] = {"closID": "guaranteed_group", "l3CacheSchema": "L3:0=f"}
    reason = "not supported yet" if has_resctrl else "no resctrl filesystem"
    refused_cleanly(runtime, make_bundle, marker, "rp-rdt", rdt, "linux.intelRdt", reason)


FLAG = "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"


def test_seccomp_wait_killable_recv_applied_or_refused_by_name(runtime, make_bundle, marker):
    features = json.loads(runtime("features", check=True).stdout)["linux"]["seccomp"]
    assert FLAG in features["knownFlags"]

    def flagged(config):
        config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "flags": [FLAG],
                                      "syscalls": [{"names": ["unshare"],
                                                    "action": "SCMP_ACT_ERRNO"}]}
    if FLAG in features["supportedFlags"]:
        pid = started(runtime, make_bundle, "rp-wkr", edit=flagged)
        with open(f"/proc/{pid}/status") as f:
            assert "Seccomp:\t2\n" in f.read()
    else:  # this host: libseccomp 2.5 has no attribute for it
        refused_cleanly(runtime, make_bundle, marker, "rp-wkr", flagged,
                        "linux.seccomp.flags", FLAG, "libseccomp")
