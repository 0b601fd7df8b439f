"""The cgroup drivers without a kernel: each controller's v1 and v2 writes for a config, the
v1->v2 conversions, the refusals that name a field, the layout read from mountinfo, and the
manager writing into a temporary directory laid out like cgroupfs."""
import pytest

from pyrunc.cgroups import blkio, cpu, cpuset, hugetlb, layout, memory, network, pids, rdma, unified
from pyrunc.cgroups.files import CgroupDir, CgroupError, PlannedDir
from pyrunc.cgroups.manager import ContainerCgroup
from pyrunc.errors import ConfigError

V1, V2 = PlannedDir(1), PlannedDir(2)


def files(writes):
    return [(name, value) for name, value, _field in writes]


def fake_cgroup(tmp_path, name, version, content):
    """A directory with the given files, as a cgroup of that version would have them."""
    d = tmp_path / name
    d.mkdir(parents=True)
    for filename, text in content.items():
        (d / filename).write_text(text)
    return CgroupDir(str(d), version)


# -- memory ----------------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def private_parent_registry(tmp_path, monkeypatch):
    """The marks of pyrunc-made parent cgroups go to a private directory here, never to the
    host's /run/pyrunc-cgroups."""
    from pyrunc.cgroups import manager
    monkeypatch.setattr(manager, "PARENT_MARKS", str(tmp_path / "registry"))


def test_memory_v1_files():
    res = {"memory": {"limit": 1 << 20, "reservation": 1 << 19, "swap": 2 << 20,
                      "swappiness": 10, "disableOOMKiller": True}}
    assert files(memory.writes(res, V1)) == [
        ("memory.limit_in_bytes", "1048576"), ("memory.memsw.limit_in_bytes", "2097152"),
        ("memory.soft_limit_in_bytes", "524288"), ("memory.swappiness", "10"),
        ("memory.oom_control", "1")]


def test_memory_v1_raises_swap_limit_first_when_it_grows(tmp_path):
    d = fake_cgroup(tmp_path, "m", 1, {"memory.memsw.limit_in_bytes": "2097152\n"})
    res = {"memory": {"limit": 8 << 20, "swap": 16 << 20}}
    assert files(memory.writes(res, d))[0][0] == "memory.memsw.limit_in_bytes"
    res = {"memory": {"limit": 1 << 20, "swap": 1 << 20}}
    assert files(memory.writes(res, d))[0][0] == "memory.limit_in_bytes"
    assert files(memory.writes({"memory": {"limit": 1 << 20, "swap": -1}}, d))[0] == \
        ("memory.memsw.limit_in_bytes", "-1")


@pytest.mark.parametrize("version, name", [(1, "memory.memsw.limit_in_bytes"),
                                           (2, "memory.swap.max")])
def test_a_swap_limit_without_swap_accounting_says_so(tmp_path, version, name):
    d = fake_cgroup(tmp_path, "m", version, {"memory.usage_in_bytes": "0\n"})
    with pytest.raises(CgroupError) as e:
        memory.writes({"memory": {"limit": 1 << 20, "swap": 2 << 20}}, d)
    assert str(e.value) == (f"linux.resources.memory.swap: this host's kernel does not account "
                            f"swap (no {name}): no swap limit can be set")
    assert files(memory.writes({"memory": {"limit": 1 << 20}}, d))[0][1] == "1048576"


def test_memory_v2_files_and_swap_conversion():
    res = {"memory": {"limit": 4 << 20, "swap": 6 << 20, "reservation": 1 << 20}}
    assert files(memory.writes(res, V2)) == [
        ("memory.max", "4194304"), ("memory.swap.max", "2097152"), ("memory.low", "1048576")]
    assert files(memory.writes({"memory": {"limit": -1, "swap": -1}}, V2)) == [
        ("memory.max", "max"), ("memory.swap.max", "max")]


@pytest.mark.parametrize("res, field", [
    ({"memory": {"limit": -2}}, "linux.resources.memory.limit"),
    ({"memory": {"limit": "1g"}}, "linux.resources.memory.limit"),
    ({"memory": {"swappiness": 101}}, "linux.resources.memory.swappiness"),
    ({"memory": {"limit": 1 << 20, "swap": 1 << 19}}, "linux.resources.memory.swap"),
    ({"memory": {"swap": 1 << 20}}, "linux.resources.memory.swap"),
    ({"memory": {"swappiness": 0}}, "linux.resources.memory.swappiness"),
])
def test_memory_v2_refusals_name_the_field(res, field):
    with pytest.raises(ConfigError) as e:
        memory.writes(res, V2)
    assert e.value.field == field


def test_memory_zero_means_unset_as_docker_sends_it():
    assert memory.writes({"memory": {"limit": 0, "swap": 0, "reservation": 0}}, V1) == []


def test_memory_check_before_update(tmp_path):
    d = fake_cgroup(tmp_path, "m", 2, {"memory.current": "8388608\n"})
    res = {"memory": {"limit": 1 << 20, "checkBeforeUpdate": True}}
    with pytest.raises(CgroupError, match="below the current usage"):
        memory.writes(res, d, updating=True)
    assert files(memory.writes(res, d)) == [("memory.max", "1048576")]  # create: no check


# -- cpu, cpuset, pids -----------------------------------------------------------------------------

def test_cpu_shares_to_weight_matches_runc_map():
    assert [cpu.shares_to_weight(s) for s in (2, 1024, 262144)] == [1, 39, 10000]


def test_cpu_v1_and_v2_files(tmp_path):
    res = {"cpu": {"shares": 1024, "quota": 50000, "period": 100000, "burst": 1000, "idle": 0,
                   "realtimeRuntime": 950000, "realtimePeriod": 1000000}}
    assert files(cpu.writes(res, V1)) == [
        ("cpu.shares", "1024"), ("cpu.cfs_period_us", "100000"), ("cpu.cfs_quota_us", "50000"),
        ("cpu.cfs_burst_us", "1000"), ("cpu.rt_period_us", "1000000"),
        ("cpu.rt_runtime_us", "950000"), ("cpu.idle", "0")]
    del res["cpu"]["realtimeRuntime"], res["cpu"]["realtimePeriod"]
    assert files(cpu.writes(res, V2)) == [
        ("cpu.weight", "39"), ("cpu.max", "50000 100000"), ("cpu.max.burst", "1000"),
        ("cpu.idle", "0")]
    d = fake_cgroup(tmp_path, "c", 2, {"cpu.max": "max 250000\n"})
    assert files(cpu.writes({"cpu": {"quota": 20000}}, d)) == [("cpu.max", "20000 250000")]
    assert files(cpu.writes({"cpu": {"quota": -1}}, d)) == [("cpu.max", "max 250000")]


def test_cpu_realtime_refused_on_v2():
    with pytest.raises(ConfigError, match="realtimeRuntime"):
        cpu.writes({"cpu": {"realtimeRuntime": 1000}}, V2)


def test_cpuset_and_pids():
    assert files(cpuset.writes({"cpu": {"cpus": "0-1", "mems": "0"}}, V1)) == [
        ("cpuset.cpus", "0-1"), ("cpuset.mems", "0")]
    assert files(pids.writes({"pids": {"limit": 64}}, V2)) == [("pids.max", "64")]
    assert files(pids.writes({"pids": {"limit": -1}}, V1)) == [("pids.max", "max")]
    # runtime-spec 1.3: 0 is a real limit; left out (or null) leaves pids.max alone
    assert files(pids.writes({"pids": {"limit": 0}}, V1)) == [("pids.max", "0")]
    assert files(pids.writes({"pids": {"limit": 0}}, V2)) == [("pids.max", "0")]
    assert pids.writes({"pids": {}}, V2) == pids.writes({"pids": {"limit": None}}, V2) == []
    with pytest.raises(ConfigError, match="pids.limit"):
        pids.writes({"pids": {"limit": -5}}, V1)


def test_cpuset_inherits_parent_on_v1(tmp_path):
    parent = fake_cgroup(tmp_path, "p", 1, {"cpuset.cpus": "0-1\n", "cpuset.mems": "0\n"})
    child = fake_cgroup(tmp_path, "p/c", 1, {"cpuset.cpus": "\n", "cpuset.mems": "\n"})
    cpuset.inherit(child, parent)
    assert (child.read("cpuset.cpus"), child.read("cpuset.mems")) == ("0-1", "0")


# -- blkio, hugetlb, network, rdma -----------------------------------------------------------------

def test_blkio_uses_bfq_files_when_cfq_is_gone(tmp_path):
    d = fake_cgroup(tmp_path, "b", 1, {"blkio.bfq.weight": "100\n"})
    res = {"blockIO": {"weight": 500,
                       "weightDevice": [{"major": 8, "minor": 0, "weight": 300}],
                       "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                       "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 100}]}}
    assert files(blkio.writes(res, d)) == [
        ("blkio.bfq.weight", "500"), ("blkio.bfq.weight_device", "8:0 300"),
        ("blkio.throttle.read_bps_device", "8:0 1048576"),
        ("blkio.throttle.write_iops_device", "8:16 100")]


def test_blkio_v2_converts_weight_and_throttles_to_io_max(tmp_path):
    d = fake_cgroup(tmp_path, "io", 2, {"io.weight": "default 100\n"})
    res = {"blockIO": {"weight": 1000,
                       "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 2097152}]}}
    assert files(blkio.writes(res, d)) == [("io.weight", "default 10000"),
                                           ("io.max", "8:0 wbps=2097152")]
    assert blkio.weight_to_io_weight(10) == 1 and blkio.weight_to_io_weight(500) == 4950


@pytest.mark.parametrize("version, names", [(1, "blkio.weight or blkio.bfq.weight"),
                                           (2, "io.bfq.weight or io.weight")])
def test_blkio_weight_without_a_weighing_scheduler_is_refused_by_name(tmp_path, version, names):
    """A host whose disks have no I/O scheduler with weights (this one: mq-deadline, no BFQ)
    has no weight file; throttles still work there."""
    d = fake_cgroup(tmp_path, "noweight", version, {})
    throttle = {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1}]}
    assert len(blkio.writes({"blockIO": throttle}, d)) == 1
    for res, field in (({"weight": 500}, "linux.resources.blockIO.weight"),
                       ({"weightDevice": [{"major": 8, "minor": 0, "weight": 300}]},
                        "linux.resources.blockIO.weightDevice[0].weight")):
        with pytest.raises(CgroupError) as e:
            blkio.writes({"blockIO": dict(res, **throttle)}, d)
        assert e.value.field == field
        assert f"this host's kernel has no {names}" in str(e.value)


@pytest.mark.parametrize("res, field", [
    ({"blockIO": {"weight": 5}}, "linux.resources.blockIO.weight"),
    ({"blockIO": {"throttleReadBpsDevice": [{"major": 8, "rate": 1}]}},
     "linux.resources.blockIO.throttleReadBpsDevice[0]"),
    ({"blockIO": {"weightDevice": [{"major": 8, "minor": -3, "weight": 100}]}},
     "linux.resources.blockIO.weightDevice[0].minor"),
])
def test_blkio_refusals(res, field):
    with pytest.raises(ConfigError) as e:
        blkio.writes(res, V1)
    assert e.value.field == field


def test_hugetlb_sizes_must_exist(tmp_path):
    d = fake_cgroup(tmp_path, "h", 2, {"hugetlb.2MB.max": "max\n", "hugetlb.2MB.rsvd.max": "max"})
    res = {"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}
    assert files(hugetlb.writes(res, d)) == [("hugetlb.2MB.max", "4194304"),
                                             ("hugetlb.2MB.rsvd.max", "4194304")]
    with pytest.raises(ConfigError, match=r"hugepageLimits\[0\].pageSize: 3MB is not"):
        hugetlb.writes({"hugepageLimits": [{"pageSize": "3MB", "limit": 1}]}, d)


def test_network_and_rdma():
    res = {"network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5}]}}
    assert files(network.NetCls.writes(res, V1)) == [("net_cls.classid", "1048577")]
    assert files(network.NetPrio.writes(res, V1)) == [("net_prio.ifpriomap", "eth0 5")]
    with pytest.raises(ConfigError, match="classID: cgroup v2 has no net_cls"):
        network.NetCls.writes(res, V2)
    res = {"rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}}}
    assert files(rdma.writes(res, V2)) == [("rdma.max", "mlx5_1 hca_handle=3 hca_object=10000")]


# -- unified ---------------------------------------------------------------------------------------

def test_unified_keys():
    res = {"unified": {"memory.high": "64M", "cgroup.max.depth": "3"}}
    assert files(unified.writes(res, {"memory"}, True)) == [("memory.high", "64M"),
                                                            ("cgroup.max.depth", "3")]
    with pytest.raises(ConfigError, match=r"unified.memory.high: needs cgroup v2"):
        unified.writes(res, set(), False)
    with pytest.raises(ConfigError, match=r"unified.bogus.x: the bogus controller"):
        unified.writes({"unified": {"bogus.x": "1"}}, {"memory"}, True)
    for key in ("cgroup.procs", "../memory.max", "nodot"):
        with pytest.raises(ConfigError):
            unified.writes({"unified": {key: "1"}}, {"memory"}, True)


# -- layout ----------------------------------------------------------------------------------------

MOUNTINFO_HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
"""
MOUNTINFO_V2 = "41 23 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n"


def test_layout_kinds(tmp_path):
    hybrid = tmp_path / "hybrid"
    hybrid.write_text(MOUNTINFO_HYBRID)
    found = layout.hierarchies(str(hybrid))
    assert [h.key for h in found] == ["cpu,cpuacct", "memory", "name=systemd", ""]
    assert layout.kind(found) == "hybrid"
    v2 = tmp_path / "v2"
    v2.write_text(MOUNTINFO_V2)
    assert layout.kind(layout.hierarchies(str(v2))) == "v2"
    assert layout.kind([h for h in found if h.key]) == "v1"


def test_cgroups_path_forms(tmp_path):
    v2 = tmp_path / "v2"
    v2.write_text(MOUNTINFO_V2)
    found = layout.hierarchies(str(v2))
    assert layout.container_paths("", "web", found) == {"": "/sys/fs/cgroup/web"}
    assert layout.container_paths("/pods/a/b", "web", found) == {"": "/sys/fs/cgroup/pods/a/b"}
    with pytest.raises(ConfigError, match="escapes"):
        layout.container_paths("/pods/../../x", "web", found)
    with pytest.raises(ConfigError, match="root of a cgroup"):
        layout.container_paths("/", "web", found)


# -- the manager on a fake cgroupfs ----------------------------------------------------------------

def test_manager_writes_each_controller_where_it_lives(tmp_path):
    """A hybrid layout: memory and pids on v1, the rest unavailable; a field for a missing
    controller is refused by name, an unlimited one passes."""
    mem = fake_cgroup(tmp_path, "memory/c1", 1, {"memory.limit_in_bytes": "", "memory.swappiness": ""})
    pid = fake_cgroup(tmp_path, "pids/c1", 1, {"pids.max": ""})
    uni = fake_cgroup(tmp_path, "unified/c1", 2, {"cgroup.controllers": ""})
    cg = ContainerCgroup({"memory": mem.path, "pids": pid.path, "": uni.path})
    cg.apply({"memory": {"limit": 1 << 20, "swappiness": 0}, "pids": {"limit": 10},
              "hugepageLimits": [{"pageSize": "2MB", "limit": -1}]}, updating=True)
    assert (mem.read("memory.limit_in_bytes"), mem.read("memory.swappiness"),
            pid.read("pids.max")) == ("1048576", "0", "10")
    with pytest.raises(CgroupError, match=r"hugepageLimits\[0\].limit: the hugetlb controller"):
        cg.check({"hugepageLimits": [{"pageSize": "2MB", "limit": 1 << 21}]})
    with pytest.raises(ConfigError, match=r"unified.memory.high: the memory controller"):
        cg.check({"unified": {"memory.high": "1M"}})


def test_manager_kernel_refusal_names_the_field(tmp_path):
    d = fake_cgroup(tmp_path, "pids/c1", 1, {})
    (tmp_path / "pids/c1/pids.max").mkdir()  # writing to it fails like a refused value
    cg = ContainerCgroup({"pids": d.path})
    with pytest.raises(CgroupError, match=r"^linux.resources.pids.limit: the kernel refused '5'"):
        cg.apply({"pids": {"limit": 5}}, updating=True)


def test_create_walks_again_when_a_shared_parent_vanishes(tmp_path, monkeypatch):
    """Another container made the parent; its delete removes it (empty) between our look and
    our mkdir of the child, which then fails with ENOENT: create makes the parent again."""
    import os
    from pyrunc.cgroups import manager
    parent = tmp_path / "pids" / "pod"
    parent.mkdir(parents=True)
    child = parent / "ctr"
    real_mkdir = os.mkdir
    removed = []

    def racing_mkdir(path, mode=0o777):
        if str(path) == str(child) and not removed:
            os.rmdir(parent)  # the other container's delete, just in time
            removed.append(path)
        return real_mkdir(path, mode)

    monkeypatch.setattr(manager.os, "mkdir", racing_mkdir)
    created = ContainerCgroup({"pids": str(child)}).create()
    assert removed and created == [str(parent), str(child)] and child.is_dir()


def test_create_gives_up_when_the_parent_keeps_vanishing(tmp_path, monkeypatch):
    import os
    from pyrunc.cgroups import manager
    parent = tmp_path / "pids" / "pod"
    parent.mkdir(parents=True)
    real_mkdir = os.mkdir
    tries = []

    def always_racing(path, mode=0o777):
        if str(path) == str(parent / "ctr"):
            tries.append(path)
            os.rmdir(parent)
        real_mkdir(path, mode)

    monkeypatch.setattr(manager.os, "mkdir", always_racing)
    with pytest.raises(CgroupError, match=r"^linux.cgroupsPath: cannot create .*/pod/ctr: No "):
        ContainerCgroup({"pids": str(parent / "ctr")}).create()
    assert len(tries) == manager.CREATE_ATTEMPTS and not parent.exists()


def test_destroy_removes_child_cgroups_and_reports_what_stays(tmp_path):
    """The container's own cgroup loses the cgroups made inside it, deepest first; one that
    cannot go is reported by name (a plain directory with a file in it stands in for a busy
    cgroup: its rmdir fails at once, without the wait for EBUSY); a parent still in use by
    another container stays silently."""
    from pyrunc.cgroups import manager
    parent = tmp_path / "pids" / "pod"
    mine, nested = parent / "a", parent / "a" / "sub" / "deeper"
    stuck, other = parent / "b", parent / "c"
    for d in (nested, stuck, other):
        d.mkdir(parents=True)
    (stuck / "cgroup.procs").write_text("")
    created = [str(parent), str(mine), str(stuck)]
    left = manager.destroy(created, leaves=[str(mine), str(stuck)], timeout=0.1)
    assert not mine.exists() and stuck.is_dir() and other.is_dir()
    assert isinstance(left, manager.CgroupsLeftError) and left.left == [str(stuck)]
    assert str(left) == f"cgroup {stuck}: still in use after 0.1 s, left in place"
    other.rmdir()
    (stuck / "cgroup.procs").unlink()
    assert manager.destroy(created, leaves=[str(stuck)]) is None and not parent.exists()


# -- freezer and the first migration ---------------------------------------------------------------

def test_freezer_finds_the_v1_freezer_else_v2_freeze(tmp_path):
    from pyrunc.cgroups import freezer
    assert freezer.UNIFIED == layout.UNIFIED  # a copy, so that state.py imports freezer alone
    v1 = fake_cgroup(tmp_path, "freezer/c", 1, {"freezer.state": "FROZEN\n"})
    v2 = fake_cgroup(tmp_path, "unified/c", 2, {"cgroup.freeze": "0\n",
                                                 "cgroup.events": "populated 1\nfrozen 0\n"})
    found = freezer.freezer_of({"cpu,cpuacct": "/x", "freezer": v1.path, "": v2.path})
    assert (found.path, found.version) == (v1.path, 1) and freezer.is_frozen(found)
    found = freezer.freezer_of({"memory": "/x", "": v2.path})
    assert (found.path, found.version) == (v2.path, 2) and not freezer.is_frozen(found)
    assert freezer.freezer_of({"memory": "/x"}) is None


def test_first_migration_goes_to_a_neutral_hierarchy_only(tmp_path):
    import os
    from pyrunc import spawn
    dirs = {key: fake_cgroup(tmp_path, name, 1, {"cgroup.procs": ""}).path
            for key, name in (("memory", "memory/c"), ("pids", "pids/c"),
                              ("name=systemd", "systemd/c"))}
    pid = ContainerCgroup(dirs).start_first_migration()
    assert pid
    spawn.reap(pid)
    written = {key: open(os.path.join(d, "cgroup.procs")).read() for key, d in dirs.items()}
    assert written == {"memory": "", "pids": "", "name=systemd": "0"}
    # nothing neutral (pure v2, or only limiting controllers): no helper at all
    assert ContainerCgroup({"": dirs["memory"]}).start_first_migration() is None
    assert ContainerCgroup({"pids": dirs["pids"]}).start_first_migration() is None


def test_pids_and_removal_order_see_child_cgroups(tmp_path):
    """A cgroup without children is not listed (one stat: a directory's link count is 2 plus
    its subdirectories, on cgroupfs as on tmpfs and ext4); one with children is walked."""
    from pyrunc.cgroups import manager
    leaf = fake_cgroup(tmp_path, "pids/c", 1, {"cgroup.procs": "10\n11\n"})
    assert manager._subtree(leaf.path) == [leaf.path]
    fake_cgroup(tmp_path, "pids/c/inner", 1, {"cgroup.procs": "12\n"})
    fake_cgroup(tmp_path, "pids/c/inner/deeper", 1, {"cgroup.procs": "13\n"})
    assert ContainerCgroup({"pids": leaf.path}).pids() == [10, 11, 12, 13]
    assert manager._children_first(leaf.path) == [
        leaf.path + "/inner/deeper", leaf.path + "/inner", leaf.path]
    assert manager._subtree(str(tmp_path / "missing")) == []
    assert ContainerCgroup({"pids": str(tmp_path / "missing")}).pids() == []


# -- kill --all through cgroup.kill, PSI in the stats ----------------------------------------------

@pytest.mark.parametrize("layout_, sig, has_file, used", [
    ("v2", 9, True, True),        # pure v2, SIGKILL, Linux >= 5.14: the kernel kills them all
    ("v2", 15, True, False),      # cgroup.kill only sends SIGKILL: TERM goes pid by pid
    ("v2", 9, False, False),      # an older kernel: pid by pid
    ("hybrid", 9, True, False),   # v1 controllers: runc's v1 manager signals each pid too
    ("v1", 9, False, False),
])
def test_kill_all_uses_cgroup_kill_only_on_v2(tmp_path, layout_, sig, has_file, used):
    content = {"cgroup.procs": "4242\n"}
    if has_file:
        content["cgroup.kill"] = ""
    paths = {}
    if layout_ in ("v2", "hybrid"):
        paths[""] = fake_cgroup(tmp_path, "unified/c1", 2, content).path
    if layout_ in ("v1", "hybrid"):
        paths["pids"] = fake_cgroup(tmp_path, "pids/c1", 1, {"cgroup.procs": "4242\n"}).path
    assert ContainerCgroup(paths).kill_all(sig) is used
    if has_file:
        assert (tmp_path / "unified/c1/cgroup.kill").read_text() == ("1" if used else "")


PRESSURE = ("some avg10=1.50 avg60=0.25 avg300=0.00 total=12345\n"
            "full avg10=0.00 avg60=0.00 avg300=0.00 total=67\n")


def test_psi_parse():
    from pyrunc.cgroups import psi
    assert psi.parse(PRESSURE) == {
        "some": {"avg10": 1.5, "avg60": 0.25, "avg300": 0.0, "total": 12345},
        "full": {"avg10": 0.0, "avg60": 0.0, "avg300": 0.0, "total": 67}}
    # cpu.pressure had no "full" line before Linux 5.13; an unknown line or value is skipped
    assert psi.parse("some avg10=0.00 total=3\nlater x=1\n") == {"some": {"avg10": 0.0,
                                                                         "total": 3}}
    assert psi.parse("") == {}


def test_stats_carry_psi_on_v2_only(tmp_path):
    v2 = fake_cgroup(tmp_path, "unified/c1", 2, {
        "cgroup.controllers": "cpu memory io pids\n", "cpu.stat": "usage_usec 5\n",
        "memory.current": "4096\n", "memory.stat": "anon 1\n", "pids.current": "1\n",
        "cpu.pressure": PRESSURE, "memory.pressure": PRESSURE, "io.pressure": PRESSURE})
    stats = ContainerCgroup({"": v2.path}).stats()
    for key in ("cpu", "memory", "blkio"):
        assert stats[key]["psi"]["some"]["total"] == 12345, key
    assert "psi" not in stats["pids"]
    # v1: no pressure files, no psi; a v2 cgroup whose kernel has no PSI: none either
    v1 = fake_cgroup(tmp_path, "cpu/c1", 1, {"cpuacct.usage": "5\n", "cpu.stat": ""})
    assert "psi" not in ContainerCgroup({"cpu,cpuacct": v1.path}).stats().get("cpu", {})
    bare = fake_cgroup(tmp_path, "unified/c2", 2, {"cgroup.controllers": "cpu\n",
                                                   "cpu.stat": "usage_usec 5\n"})
    assert "psi" not in ContainerCgroup({"": bare.path}).stats()["cpu"]
