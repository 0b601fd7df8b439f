"""`pyrunc explain` without root: the warnings on a corpus of misspelt and suspicious configs
(pyrunc/configlint.py), and the plan's order and content for configs on made-up cgroup hosts
(pyrunc/explain.py). The plan against what the init path really does is checked with the trace
in tests/integration/test_explain.py."""
import copy
import json

import pytest

from pyrunc import configlint, explain
from pyrunc.cgroups.layout import Hierarchy
from pyrunc.spec import default_spec


def base():
    config = default_spec()
    config["process"]["terminal"] = False
    return config


def fields_of(warnings):
    return [w["field"] for w in warnings]


def lint(edit):
    config = base()
    edit(config)
    return configlint.warnings(config)


def test_the_default_spec_has_no_warning():
    assert configlint.warnings(base()) == []


# (what a user wrote, the field warned about, the suggestion that must be in the message)
MISSPELT = [
    (lambda c: c["linux"].update(rootPropagation="private"), "linux.rootPropagation",
     "did you mean linux.rootfsPropagation?"),
    (lambda c: c.update(rootPropagation="private"), "rootPropagation",
     "did you mean linux.rootfsPropagation?"),
    (lambda c: c.update(hostName="x"), "hostName", "did you mean hostname?"),
    (lambda c: c.update(proces={}), "proces", "did you mean process?"),
    (lambda c: c.update(namespaces=[]), "namespaces", "did you mean linux.namespaces?"),
    (lambda c: c["process"].update(noNewPrivilege=True), "process.noNewPrivilege",
     "did you mean process.noNewPrivileges?"),
    (lambda c: c["process"]["capabilities"].update(ambiant=[]), "process.capabilities.ambiant",
     "did you mean process.capabilities.ambient?"),
    (lambda c: c["mounts"][2].update(option=["ro"]), "mounts[2].option",
     "did you mean mounts.options?"),
    (lambda c: c["linux"]["resources"].update(memroy={"limit": 1 << 30}),
     "linux.resources.memroy", "did you mean linux.resources.memory?"),
    (lambda c: c["linux"]["resources"].update(memory={"limt": 1 << 30}),
     "linux.resources.memory.limt", "did you mean linux.resources.memory.limit?"),
    (lambda c: c["linux"].update(cgroupPath="/x"), "linux.cgroupPath",
     "did you mean linux.cgroupsPath?"),
    (lambda c: c["linux"].update(readOnlyPaths=[]), "linux.readOnlyPaths",
     "did you mean linux.readonlyPaths?"),
    (lambda c: c["process"]["rlimits"][0].update(Soft=1), "process.rlimits[0].Soft",
     "did you mean process.rlimits.soft?"),
    (lambda c: c.update(hooks={"preStart": []}), "hooks.preStart",
     "did you mean hooks.prestart?"),
    (lambda c: c["linux"].update(seccomp={"defaultAction": "SCMP_ACT_ALLOW",
                                          "syscall": []}),
     "linux.seccomp.syscall", "did you mean linux.seccomp.syscalls?"),
]


@pytest.mark.parametrize("edit, field, suggestion", MISSPELT)
def test_a_misspelt_field_is_named_with_the_likely_intended_one(edit, field, suggestion):
    warnings = lint(edit)
    assert fields_of(warnings) == [field]
    assert suggestion in warnings[0]["message"]


def test_an_unknown_field_far_from_any_known_one_gets_no_guess():
    warnings = lint(lambda c: c.update(zzqqxx=1))
    assert fields_of(warnings) == ["zzqqxx"]
    assert "did you mean" not in warnings[0]["message"]


def test_free_maps_are_not_looked_into():
    def edit(c):
        c["annotations"] = {"anything.at.all": "x"}
        c["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
        c["linux"]["resources"]["unified"] = {"memory.high": "1G"}
    assert lint(edit) == []


def test_other_platforms_sections_are_known():
    assert lint(lambda c: c.update(windows={"layerFolders": []}, vm={})) == []


def test_ambient_capability_not_inheritable():
    def edit(c):
        caps = c["process"]["capabilities"]
        caps["ambient"] = ["CAP_KILL", "CAP_CHOWN"]
        caps["inheritable"] = ["CAP_KILL"]
    warnings = lint(edit)
    assert fields_of(warnings) == ["process.capabilities.ambient"]
    # CAP_KILL is permitted and inheritable; CAP_CHOWN is neither
    assert "CAP_CHOWN is not in inheritable and permitted" in warnings[0]["message"]


def test_effective_capability_not_permitted():
    warnings = lint(lambda c: c["process"]["capabilities"]["effective"].append("CAP_SYS_TIME"))
    assert fields_of(warnings) == ["process.capabilities.effective"]


@pytest.mark.parametrize("limit, warned", [
    (256 << 10, True), (configlint.MEMORY_FLOOR - 1, True), (configlint.MEMORY_FLOOR, False),
    (1 << 30, False), (-1, False)])
def test_memory_limit_below_the_runtime_floor(limit, warned):
    warnings = lint(lambda c: c["linux"]["resources"].update(memory={"limit": limit}))
    assert fields_of(warnings) == (["linux.resources.memory.limit"] if warned else [])


@pytest.mark.parametrize("seccomp, denied", [
    ({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["execve"], "action": "SCMP_ACT_ERRNO"}]}, ["execve"]),
    ({"defaultAction": "SCMP_ACT_ERRNO",
      "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}]},
     [n for n in configlint.LIBC_STARTUP if n != "read"]),
    ({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["mprotect", "getpid"], "action": "SCMP_ACT_KILL"}]},
     ["mprotect"]),
    ({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["openat"], "action": "SCMP_ACT_ERRNO",
                    "args": [{"index": 2, "value": 1, "op": "SCMP_CMP_EQ"}]}]}, ["openat"]),
    ({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["mount", "reboot"], "action": "SCMP_ACT_ERRNO"}]}, []),
    ({"defaultAction": "SCMP_ACT_ERRNO",
      "syscalls": [{"names": list(configlint.LIBC_STARTUP), "action": "SCMP_ACT_ALLOW"}]}, []),
])
def test_seccomp_denying_what_libc_needs_at_start(seccomp, denied):
    got = [name for name, _action in configlint.seccomp_denied_at_startup(seccomp)]
    assert got == denied
    warnings = lint(lambda c: c["linux"].update(seccomp=copy.deepcopy(seccomp)))
    assert fields_of(warnings) == (["linux.seccomp"] if denied else [])
    if denied:
        assert denied[0] in warnings[0]["message"]


def test_seccomp_against_the_default_profile(tmp_path):
    reference = tmp_path / "default.json"
    reference.write_text(json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read", "write", "ptrace"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1,
                                                                  "op": "SCMP_CMP_EQ"}]},
        {"names": ["bpf"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_BPF"]}}]}))
    mine = {"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["ptrace", "clone", "bpf"], "action": "SCMP_ACT_ERRNO"}]}
    # conditional rules of the default do not count; ptrace is allowed there and denied here
    assert configlint.seccomp_denied_vs_default(mine, str(reference)) == ["ptrace"]
    assert configlint.seccomp_denied_vs_default(mine, str(tmp_path / "none")) is None


def test_several_problems_are_all_reported():
    def edit(c):
        c["linux"]["rootPropagation"] = "shared"
        c["process"]["capabilities"]["ambient"] = ["CAP_KILL"]
        c["linux"]["resources"]["memory"] = {"limit": 512 << 10}
    assert fields_of(lint(edit)) == ["linux.rootPropagation", "process.capabilities.ambient",
                                     "linux.resources.memory.limit"]


# -- the plan ------------------------------------------------------------------------------------

HYBRID = [Hierarchy("/cg/memory", "cgroup", "memory", ("memory",)),
          Hierarchy("/cg/cpu,cpuacct", "cgroup", "cpu,cpuacct", ("cpu", "cpuacct")),
          Hierarchy("/cg/pids", "cgroup", "pids", ("pids",)),
          Hierarchy("/cg/devices", "cgroup", "devices", ("devices",)),
          Hierarchy("/cg/unified", "cgroup2", "", ())]


def plan(config, host=HYBRID, container_id="c1", bundle="/b"):
    return explain.explain_config(config, bundle, container_id, host, rootless=False)["steps"]


def ops(steps, op):
    return [s for s in steps if s["op"] == op]


def index_of(steps, predicate):
    return next(i for i, s in enumerate(steps) if predicate(s))


def test_cgroup_writes_come_from_the_drivers_with_their_fields_v1():
    config = base()
    config["linux"]["resources"] = {"memory": {"limit": 64 << 20}, "pids": {"limit": 50},
                                    "cpu": {"shares": 512, "quota": 20000, "period": 100000}}
    writes = {(s["path"], s["value"]): s["field"] for s in ops(plan(config), "cgroup-write")}
    assert writes[("/cg/memory/c1/memory.limit_in_bytes", str(64 << 20))] == \
        "linux.resources.memory.limit"
    assert writes[("/cg/pids/c1/pids.max", "50")] == "linux.resources.pids.limit"
    assert writes[("/cg/cpu,cpuacct/c1/cpu.shares", "512")] == "linux.resources.cpu.shares"
    assert writes[("/cg/cpu,cpuacct/c1/cpu.cfs_quota_us", "20000")] == \
        "linux.resources.cpu.quota"
    # the device rules: reset, then runc's default allow-list
    assert writes[("/cg/devices/c1/devices.deny", "a")] == "linux.resources.devices"
    assert ("/cg/devices/c1/devices.allow", "c 1:3 rwm") in writes


def test_cgroup_writes_on_a_pure_v2_host(tmp_path):
    # A unified hierarchy's root as the driver reads it: which controllers it offers.
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    config = base()
    config["linux"]["resources"] = {"memory": {"limit": 64 << 20}, "cpu": {"shares": 1024}}
    steps = plan(config, [Hierarchy(str(tmp_path), "cgroup2", "", ())])
    writes = {(s["path"], s["value"]) for s in ops(steps, "cgroup-write")}
    assert (f"{tmp_path}/c1/memory.max", str(64 << 20)) in writes
    # the v1 shares converted as runc converts them
    from pyrunc.cgroups.cpu import shares_to_weight
    assert (f"{tmp_path}/c1/cpu.weight", str(shares_to_weight(1024))) in writes
    [program] = ops(steps, "cgroup-device-program")
    assert program["path"] == f"{tmp_path}/c1" and program["rules"] > 0
    assert [s["path"] for s in ops(steps, "cgroup-mkdir")] == [f"{tmp_path}/c1"]


def test_a_cgroups_path_is_followed_and_its_missing_parents_made():
    config = base()
    config["linux"]["cgroupsPath"] = "/pods/x"
    steps = plan(config)
    made = [s["path"] for s in ops(steps, "cgroup-mkdir")]
    assert made[:2] == ["/cg/memory/pods", "/cg/memory/pods/x"]  # the parent first
    assert "a parent" in ops(steps, "cgroup-mkdir")[0]["text"]
    assert {s["field"] for s in ops(steps, "cgroup-mkdir")} == {"linux.cgroupsPath"}


def test_a_new_v1_cpuset_inherits_its_parents_cpus_and_mems(tmp_path):
    (tmp_path / "cpuset.cpus").write_text("0-3\n")
    (tmp_path / "cpuset.mems").write_text("0\n")
    steps = plan(base(), [Hierarchy(str(tmp_path), "cgroup", "cpuset", ("cpuset",))])
    writes = [(s["path"], s["value"]) for s in ops(steps, "cgroup-write")]
    assert writes[:2] == [(f"{tmp_path}/c1/cpuset.cpus", "0-3"),
                          (f"{tmp_path}/c1/cpuset.mems", "0")]


def test_an_existing_cgroup_is_used_not_made(tmp_path):
    (tmp_path / "c1").mkdir()
    steps = plan(base(), [Hierarchy(str(tmp_path), "cgroup", "pids", ("pids",))])
    assert ops(steps, "cgroup-mkdir") == []
    assert ops(steps, "cgroup-use")[0]["path"] == f"{tmp_path}/c1"


def test_the_order_is_the_init_paths():
    config = base()
    config["hooks"] = {k: [{"path": f"/bin/{k}"}] for k in
                       ("prestart", "createRuntime", "createContainer", "startContainer",
                        "poststart", "poststop")}
    steps = plan(config)
    order = [index_of(steps, lambda s: s["op"] == "cgroup-mkdir"),
             index_of(steps, lambda s: s["op"] == "unshare"),
             index_of(steps, lambda s: s["op"] == "fork"),
             index_of(steps, lambda s: s["op"] == "mount" and s["target"] == "/proc"),
             index_of(steps, lambda s: s.get("kind") == "prestart"),
             index_of(steps, lambda s: s.get("kind") == "createContainer"),
             index_of(steps, lambda s: s["op"] == "pivot_root"),
             index_of(steps, lambda s: s["op"] == "sethostname"),
             index_of(steps, lambda s: s["field"] == "linux.maskedPaths[0]"),
             index_of(steps, lambda s: s["op"] == "unshare" and s["flags"] == "cgroup"),
             index_of(steps, lambda s: s["op"] == "setrlimit"),
             index_of(steps, lambda s: s["op"] == "user"),
             index_of(steps, lambda s: s["op"] == "capset"),
             index_of(steps, lambda s: s.get("kind") == "startContainer"),
             index_of(steps, lambda s: s["op"] == "execve"),
             index_of(steps, lambda s: s.get("kind") == "poststart"),
             index_of(steps, lambda s: s.get("kind") == "poststop")]
    assert order == sorted(order)


def test_every_config_mount_in_order_with_its_flags():
    config = base()
    config["mounts"].append({"destination": "/data", "source": "/srv", "type": "bind",
                             "options": ["rbind", "ro", "nosuid", "rprivate"]})
    mounts = [s for s in ops(plan(config), "mount") if s["field"].startswith("mounts[")]
    firsts = []
    for s in mounts:
        if s["field"] not in [f for f, _t in firsts]:
            firsts.append((s["field"], s["target"]))
    assert [t for _f, t in firsts] == [m["destination"] for m in config["mounts"]]
    sysfs = next(s for s in mounts if s["target"] == "/sys")
    assert sysfs["fstype"] == "sysfs" and "ro" in explain.flag_names(sysfs["flags"])
    data = [s for s in mounts if s["target"] == "/data"]
    assert [explain.flag_names(s["flags"]) for s in data] == \
        ["bind,rec", "ro,nosuid,remount,bind", "private,rec"]


def test_joined_namespaces_by_path_user_first():
    config = base()
    config["linux"]["namespaces"] = [{"type": "network", "path": "/proc/1/ns/net"},
                                     {"type": "user", "path": "/proc/1/ns/user"},
                                     {"type": "mount"}, {"type": "pid"}]
    steps = plan(config)
    joins = ops(steps, "setns")
    assert [(s["kind"], s["path"]) for s in joins] == [("user", "/proc/1/ns/user"),
                                                      ("network", "/proc/1/ns/net")]
    assert ops(steps, "unshare")[0]["flags"] == "mount,pid"
    assert "joins the network namespace /proc/1/ns/net" in ops(steps, "network")[0]["text"]
    shared = [s for s in steps if s["op"] == "note" and "shares the runtime's" in s["text"]]
    assert "ipc, uts" in shared[0]["text"]


def test_a_new_user_namespace_and_its_maps():
    config = base()
    config["linux"]["namespaces"].append({"type": "user"})
    config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    steps = plan(config)
    assert [s["flags"] for s in ops(steps, "unshare")][0] == "user"
    maps = ops(steps, "id-map")
    assert [s["file"] for s in maps] == ["uid_map", "gid_map"]
    assert "0:100000:65536" in maps[0]["text"]
    # no mknod in a user namespace: the host's nodes are bound
    assert not ops(steps, "mknod")
    assert any(s["op"] == "mount" and s["target"] == "/dev/null" for s in steps)


def test_seccomp_is_loaded_last_with_no_new_privs_and_early_without():
    config = base()
    config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW"}
    late = plan(config)
    assert ops(late, "seccomp")[0]["who"] == "start"
    config["process"]["noNewPrivileges"] = False
    early = plan(config)
    assert ops(early, "seccomp")[0]["who"] == "init"
    assert index_of(early, lambda s: s["op"] == "seccomp") < \
        index_of(early, lambda s: s["op"] == "capset")


def test_rootless_makes_no_cgroups():
    steps = explain.explain_config(base(), "/b", "c1", HYBRID, rootless=True)["steps"]
    assert not ops(steps, "cgroup-mkdir") and not ops(steps, "cgroup-write")


def test_summary_and_rendering():
    config = base()
    config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read", "write", "execve"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["kill"], "action": "SCMP_ACT_KILL"}]}
    result = explain.explain_config(config, "/b", "c1", HYBRID, rootless=False)
    s = result["summary"]
    assert s["capabilities"]["bounding"] == config["process"]["capabilities"]["bounding"]
    assert s["seccomp"]["syscalls by action"] == {"SCMP_ACT_ALLOW": 3, "SCMP_ACT_KILL": 1}
    assert "mmap (SCMP_ACT_ERRNO)" in s["seccomp"]["denied at libc start-up"]
    text = explain.render(result)
    assert "warnings:\n  linux.seccomp: denies brk" in text
    assert "mount proc on /proc type proc" in text
    assert "pivot_root into" in text


def test_flag_names():
    from pyrunc.mountopts import MS_BIND, MS_RDONLY, MS_REC, MS_SLAVE
    assert explain.flag_names(MS_BIND | MS_REC) == "bind,rec"
    assert explain.flag_names(MS_SLAVE | MS_REC) == "slave,rec"
    assert explain.flag_names(MS_RDONLY) == "ro"


def test_idmapped_and_recursive_mounts_are_planned():
    """The parent makes the id-mapped mount before any namespace; the init attaches it in its
    place among the mounts (no bind of its source) and applies the recursive options last."""
    config = base()
    mapping = [{"containerID": 0, "hostID": 1000, "size": 1}]
    config["mounts"].append({"destination": "/data", "type": "bind", "source": "/srv",
                             "options": ["rbind", "ridmap", "rro", "rnosuid"],
                             "uidMappings": mapping, "gidMappings": mapping})
    steps = plan(config)
    [made] = ops(steps, "idmap")
    assert made["who"] == "parent" and "/srv" in made["text"] and "recursively" in made["text"]
    assert index_of(steps, lambda s: s["op"] == "idmap") < \
        index_of(steps, lambda s: s["op"] == "unshare")
    [attach] = ops(steps, "attach")
    assert attach["field"] == "mounts[7]" and attach["who"] == "init"
    assert not [s for s in ops(steps, "mount") if s.get("source") == "/srv"]
    [rec] = ops(steps, "mount_setattr")
    assert "rro, rnosuid" in rec["text"] and rec["field"] == "mounts[7]"
