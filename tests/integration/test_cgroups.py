"""cgroups on the real kernel: limits read back from outside (the cgroup files of the
container's processes) and from inside (the container reads its own /sys/fs/cgroup), the
enforcement (pids, memory, devices), the cgroup verbs, cgroupsPath forms, and refusals that
leave nothing behind. Written for any layout: the pure cgroup v2 guest (scripts/vm-v2) runs
these same tests."""
import concurrent.futures
import json
import os
import signal
import subprocess
import time
import uuid

import pytest

import cgutil
from conftest import cgroup_dirs, wait_until

pytestmark = pytest.mark.cgroup

MiB = 1 << 20


def cid(prefix="cg"):
    return f"pyrunc-{prefix}-{uuid.uuid4().hex[:6]}"


def with_resources(resources, **linux):
    def edit(config):
        config["linux"]["resources"] = resources
        config["linux"].update(linux)
    return edit


def started(runtime, make_bundle, args, resources, name=None, bundle_name="bundle", **linux):
    """A running container (run -d) with these resources; returns (id, init pid)."""
    name = name or cid()
    bundle = make_bundle(args, with_resources(resources, **linux), name=bundle_name)
    runtime("run", "-d", "-b", bundle, name, check=True, stdin=subprocess.DEVNULL)
    return name, runtime.state(name)["pid"]


def inside(runtime, name, script):
    return runtime("exec", name, "sh", "-c", script, check=True).stdout


def test_limits_seen_from_outside_and_inside(runtime, make_bundle):
    resources = {"memory": {"limit": 64 * MiB, "reservation": 32 * MiB},
                 "pids": {"limit": 50},
                 "cpu": {"shares": 512, "quota": 25000, "period": 100000, "cpus": "0",
                         "mems": "0"}}
    name, pid = started(runtime, make_bundle, ["sleep", "60"], resources)
    v2 = cgutil.is_v2()
    assert cgutil.read(pid, "memory", "memory.limit_in_bytes", "memory.max") == str(64 * MiB)
    assert cgutil.read(pid, "memory", "memory.soft_limit_in_bytes", "memory.low") == str(32 * MiB)
    assert cgutil.read(pid, "pids", "pids.max", "pids.max") == "50"
    assert cgutil.read(pid, "cpu", "cpu.shares", "cpu.weight") == ("20" if v2 else "512")
    if v2:
        assert cgutil.read(pid, "cpu", "", "cpu.max") == "25000 100000"
    else:
        assert cgutil.read(pid, "cpu", "cpu.cfs_quota_us", "") == "25000"
    assert cgutil.read(pid, "cpuset", "cpuset.cpus", "cpuset.cpus") == "0"
    # Inside: the container's /sys/fs/cgroup is its own cgroup, and its cgroup namespace
    # makes that cgroup its root.
    if v2:
        seen = inside(runtime, name, "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; "
                                     "cat /proc/self/cgroup")
        assert seen.split() == [str(64 * MiB), "50", "0::/"]
    else:
        seen = inside(runtime, name, "cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
                                     "/sys/fs/cgroup/pids/pids.max; grep memory /proc/self/cgroup")
        assert seen.split()[:2] == [str(64 * MiB), "50"]
        assert seen.split()[2].endswith(":memory:/")
    # read-only unless the config says otherwise
    out = runtime("exec", name, "sh", "-c", "mkdir /sys/fs/cgroup/pids/x /sys/fs/cgroup/x 2>&1;"
                  " echo rc=$?")
    assert "Read-only file system" in out.stdout


@pytest.mark.parametrize("options, writable", [
    (["nosuid", "noexec", "nodev", "relatime"], False),  # neither ro nor rw: read-only
    (["nosuid", "noexec", "nodev", "relatime", "rw"], True),
])
def test_cgroup_mount_is_read_only_unless_it_says_rw(runtime, make_bundle, options, writable):
    def edit(config):
        with_resources({"pids": {"limit": 20}})(config)
        for m in config["mounts"]:
            if m["type"] == "cgroup":
                m["options"] = options
    name = cid("mnt")
    runtime("run", "-d", "-b", make_bundle(["sleep", "60"], edit), name, check=True,
            stdin=subprocess.DEVNULL)
    pid = runtime.state(name)["pid"]
    pids_max = "/sys/fs/cgroup/pids.max" if cgutil.is_v2("pids") else \
        "/sys/fs/cgroup/pids/pids.max"
    result = runtime("exec", name, "sh", "-c", f"echo 40 > {pids_max}")
    mounts = [line.split() for line in inside(runtime, name, "cat /proc/self/mountinfo")
              .splitlines() if line.split()[4].startswith("/sys/fs/cgroup")]
    assert mounts
    # Per-mount options (field 6): every mount of the view is rw, or every one is ro.
    assert {m[5].split(",")[0] for m in mounts} == {"rw" if writable else "ro"}, mounts
    if writable:
        assert result.returncode == 0, result.stderr
        assert cgutil.read(pid, "pids", "pids.max", "pids.max") == "40"
    else:
        assert result.returncode != 0 and "Read-only file system" in result.stderr
        assert cgutil.read(pid, "pids", "pids.max", "pids.max") == "20"


def weight_file(pid):
    """The file that holds the container's blkio weight: v1's blkio.weight, or BFQ's
    blkio.bfq.weight on kernels without CFQ; v2's io.bfq.weight when BFQ is there, else
    io.weight (the order pyrunc chooses in)."""
    directory, version = cgutil.cgroup_of(pid, "blkio")
    names = ("blkio.weight", "blkio.bfq.weight") if version == 1 else ("io.bfq.weight",
                                                                       "io.weight")
    for name in names:
        if os.path.exists(os.path.join(directory, name)):
            return name
    return None  # no I/O scheduler with weights on this host's disks (no BFQ)


def host_has_blkio_weights(runtime, make_bundle):
    """Whether a container's cgroup here has a blkio weight file (a container looks)."""
    name = cid("weights")
    runtime("run", "-d", "-b", make_bundle(["sleep", "60"], name="weight-probe"), name,
            check=True, stdin=subprocess.DEVNULL)
    try:
        return weight_file(runtime.state(name)["pid"]) is not None
    finally:
        runtime("delete", "--force", name, check=True)


def weight_text(name, weight):
    """What the file shows (its first line) for a blkio weight: io.weight's scale is converted
    as runc converts it."""
    if name == "io.weight":
        return f"default {1 + (weight - 10) * 9999 // 990}"
    return f"default {weight}" if name.startswith("io.") else str(weight)


def first_line(pid, controller, name):
    return cgutil.read(pid, controller, name, name).splitlines()[0]


def test_block_io_weight_and_throttles(runtime, make_bundle):
    """blockIO's weight and a read-bandwidth and a write-IOPS throttle on a real disk, read
    back from outside and from inside. Where the host's disks have no I/O scheduler with
    weights (no weight file in the container's cgroup), a weight is refused by name, at create
    and at update, and the throttles alone apply."""
    disk = cgutil.whole_disk()
    major, minor = (int(n) for n in disk.split(":"))
    throttles = {"throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": MiB}],
                 "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 100}]}
    probe, probe_pid = started(runtime, make_bundle, ["sleep", "60"], {"blockIO": throttles})
    weight_name = weight_file(probe_pid)
    if weight_name is None:
        refused = runtime("update", "--blkio-weight", "500", probe)
        names = "io.bfq.weight or io.weight" if cgutil.is_v2("blkio") else \
            "blkio.weight or blkio.bfq.weight"
        expected = [f"pyrunc: linux.resources.blockIO.weight: this host's kernel has no {names} "
                    "(no I/O scheduler with weights, such as BFQ, on its disks): no block I/O "
                    "weight can be set"]
        assert refused.returncode == 1 and refused.stderr.strip().splitlines() == expected
        bundle = make_bundle(["true"], with_resources({"blockIO": dict(throttles, weight=500)}),
                             name="weighted")
        container = cid()
        created = runtime("create", "-b", bundle, container)
        # create's failure also says where its post-mortem is (pyrunc/postmortem.py)
        hint = f" (post-mortem: pyrunc --root {runtime.root} explain {container})"
        assert created.returncode == 1 and \
            created.stderr.strip().splitlines() == [expected[0] + hint]
        assert container not in runtime.ids() and not cgroup_dirs(container)
        name, pid = probe, probe_pid
    else:
        name, pid = started(runtime, make_bundle, ["sleep", "60"],
                            {"blockIO": dict(throttles, weight=500)}, bundle_name="weighted")
        assert first_line(pid, "blkio", weight_name) == weight_text(weight_name, 500)
    if cgutil.is_v2("blkio"):
        io_max = [line for line in cgutil.read(pid, "blkio", "", "io.max").splitlines()
                  if line.startswith(disk + " ")]
        assert io_max == [f"{disk} rbps={MiB} wbps=max riops=max wiops=100"]
        seen = inside(runtime, name, "cat /sys/fs/cgroup/io.max")
        assert io_max[0] in seen.splitlines(), seen
    else:
        assert cgutil.read(pid, "blkio", "blkio.throttle.read_bps_device", "") == f"{disk} {MiB}"
        assert cgutil.read(pid, "blkio", "blkio.throttle.write_iops_device", "") == f"{disk} 100"
        assert cgutil.read(pid, "blkio", "blkio.throttle.write_bps_device", "") == ""
        files = "blkio.throttle.read_bps_device" + (f" {weight_name}" if weight_name else "")
        seen = inside(runtime, name, f"cd /sys/fs/cgroup/blkio && cat {files}")
        assert seen.split() == [disk, str(MiB)] + ([weight_text(weight_name, 500)]
                                                   if weight_name else []), seen


def test_one_mib_container_runs_true(runtime, make_bundle):
    """The runtime's own setup is not charged to the container: 1 MiB is enough."""
    bundle = make_bundle(["/bin/true"], with_resources({"memory": {"limit": MiB}}))
    result = runtime("run", "-b", bundle, cid("1mib"), stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr


def test_fork_bomb_stops_at_pids_max(runtime, make_bundle):
    # The inner shell forks until the kernel refuses (and the shell gives up); the outer one
    # then sleeps in the pid it left.
    script = "sh -c 'while true; do sleep 60 & done' 2>/dev/null; exec sleep 60"
    name, pid = started(runtime, make_bundle, ["sh", "-c", script], {"pids": {"limit": 8}})
    def refused():  # pids.events: "max N", forks the limit refused
        return int(cgutil.read(pid, "pids", "pids.events", "pids.events").split()[-1])
    assert wait_until(lambda: refused() > 0)
    current = int(cgutil.read(pid, "pids", "pids.current", "pids.current"))
    assert 2 <= current <= 8
    assert len(json.loads(runtime("ps", "--format", "json", name, check=True).stdout)) == current


def test_memory_hog_is_oom_killed_and_events_reports_it(runtime, make_bundle):
    resources = {"memory": {"limit": 16 * MiB}}
    if not cgutil.is_v2():
        resources["memory"]["swap"] = 16 * MiB  # no swapping out of the way of the OOM killer
    name, pid = started(runtime, make_bundle, ["sleep", "60"], resources)
    events = subprocess.Popen(runtime.cmd("events", "--interval", "60s", name),
                              stdout=subprocess.PIPE, text=True)
    try:
        first = json.loads(events.stdout.readline())  # events is watching from now on
        assert first["type"] == "stats" and first["id"] == name
        assert first["data"]["memory"]["usage"]["limit"] == 16 * MiB
        hog = runtime("exec", name, "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1")
        assert hog.returncode == 128 + signal.SIGKILL
        second = json.loads(events.stdout.readline())
        assert second == {"type": "oom", "id": name}
    finally:
        events.kill()
        events.wait()
    assert runtime.state(name)["status"] == "running"  # dd died, the container goes on


def test_denied_device_gives_eperm_inside(runtime, make_bundle):
    """A node the config creates but no device rule allows cannot be opened; the default
    allow-list (/dev/null...) still works."""
    devices = [{"path": "/dev/fakesda", "type": "b", "major": 8, "minor": 0, "fileMode": 0o666},
               {"path": "/dev/fakemem", "type": "c", "major": 1, "minor": 1, "fileMode": 0o666}]
    script = ("echo x > /dev/fakesda; echo sda=$?; head -c1 /dev/fakemem >/dev/null; echo mem=$?;"
              " echo y > /dev/null; echo null=$?")
    bundle = make_bundle(["sh", "-c", script], with_resources({}, devices=devices))
    result = runtime("run", "-b", bundle, cid("dev"), stdin=subprocess.DEVNULL)
    assert "sda=1" in result.stdout and "mem=1" in result.stdout and "null=0" in result.stdout
    assert result.stderr.count("Operation not permitted") == 2, result.stderr


def test_device_rule_allows_a_node(runtime, make_bundle):
    """/dev/fuse (10:229: any user may open it) is denied by default, allowed by a rule."""
    devices = [{"path": "/dev/fakefuse", "type": "c", "major": 10, "minor": 229,
                "fileMode": 0o666}]
    rules = [{"allow": False, "access": "rwm"},
             {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rw"}]
    script = "exec 3<>/dev/fakefuse; echo fuse=$?"
    denied = runtime("run", "-b", make_bundle(["sh", "-c", script], with_resources(
        {}, devices=devices), name="denied"), cid("dev"), stdin=subprocess.DEVNULL)
    assert "Operation not permitted" in denied.stderr
    allowed = runtime("run", "-b", make_bundle(["sh", "-c", script], with_resources(
        {"devices": rules}, devices=devices), name="allowed"), cid("dev"),
        stdin=subprocess.DEVNULL)
    assert "fuse=0" in allowed.stdout, allowed.stderr


def swap_file(pid):
    """The file of the memory+swap limit (v2: swap alone); None when the kernel does not
    account swap."""
    directory, version = cgutil.cgroup_of(pid, "memory")
    name = "memory.memsw.limit_in_bytes" if version == 1 else "memory.swap.max"
    return name if os.path.exists(os.path.join(directory, name)) else None


def limits_of(pid):
    """What `update` can change, as the container's cgroup files show it (v1 or v2 names and
    values), in one dict."""
    def read(controller, v1_file, v2_file):
        return cgutil.read(pid, controller, v1_file, v2_file)
    if cgutil.is_v2("cpu"):
        quota, period = read("cpu", "", "cpu.max").split()
    else:
        quota, period = read("cpu", "cpu.cfs_quota_us", ""), read("cpu", "cpu.cfs_period_us", "")
    found = {"memory": read("memory", "memory.limit_in_bytes", "memory.max"),
             "reservation": read("memory", "memory.soft_limit_in_bytes", "memory.low"),
             "shares": read("cpu", "cpu.shares", "cpu.weight"), "quota": quota, "period": period,
             "cpus": read("cpuset", "cpuset.cpus", "cpuset.cpus"),
             "mems": read("cpuset", "cpuset.mems", "cpuset.mems"),
             "pids": read("pids", "pids.max", "pids.max")}
    if weight_file(pid):
        found["blkio"] = first_line(pid, "blkio", weight_file(pid))
    if swap_file(pid):
        found["swap"] = read("memory", swap_file(pid), swap_file(pid))
    return found


def last_cpu():
    with open("/sys/devices/system/cpu/online") as f:
        return f.read().strip().replace("-", ",").split(",")[-1]


def test_update_flags_land_in_their_files(runtime, make_bundle):
    name, pid = started(runtime, make_bundle, ["sleep", "60"],
                        {"memory": {"limit": 32 * MiB}, "pids": {"limit": 20}})
    before = limits_of(pid)
    flags = ["--memory", "48m", "--memory-reservation", "24m", "--cpu-shares", "256",
             "--cpu-quota", "20000", "--cpu-period", "50000", "--cpuset-cpus", last_cpu(),
             "--cpuset-mems", "0", "--pids-limit", "30"]
    weights = weight_file(pid)  # None: no weights on this host (test_block_io_weight_and_...)
    if weights:
        flags += ["--blkio-weight", "300"]
    runtime("update", *flags, name, check=True)
    v2 = cgutil.is_v2()
    expected = dict(before, memory=str(48 * MiB), reservation=str(24 * MiB),
                    shares="10" if v2 else "256",  # runc's map of 256 shares onto cpu.weight
                    quota="20000", period="50000", cpus=last_cpu(), mems="0", pids="30")
    if weights:
        expected["blkio"] = weight_text(weights, 300)
    assert limits_of(pid) == expected

    # --memory-swap is memory plus swap (v2's memory.swap.max is swap alone); a kernel that
    # does not account swap has no file for it, and update says so.
    swap = runtime("update", "--memory", "64m", "--memory-swap", "96m", name)
    if swap_file(pid) is None:
        assert swap.returncode == 1
        assert swap.stderr.strip().splitlines() == [
            "pyrunc: linux.resources.memory.swap: this host's kernel does not account swap "
            f"(no {'memory.swap.max' if v2 else 'memory.memsw.limit_in_bytes'}): no swap "
            "limit can be set"], swap.stderr
        assert limits_of(pid) == expected  # nothing was written
    else:
        assert swap.returncode == 0, swap.stderr
        assert limits_of(pid) == dict(expected, memory=str(64 * MiB),
                                      swap=str((32 if v2 else 96) * MiB))


def test_update_resources_file_and_stdin_zero_means_unchanged(runtime, make_bundle, tmp_path):
    """`--resources FILE` and `--resources -`: JSON LinuxResources, with Docker's zeros (its
    update sends every field, 0 meaning "leave as is")."""
    resources = {"memory": {"limit": 32 * MiB, "reservation": 16 * MiB},
                 "pids": {"limit": 20}, "cpu": {"shares": 512}}
    if host_has_blkio_weights(runtime, make_bundle):
        resources["blockIO"] = {"weight": 200}
    name, pid = started(runtime, make_bundle, ["sleep", "60"], resources)
    before = limits_of(pid)

    def docker_style(**fields):
        resources = {"memory": {"limit": 0, "reservation": 0, "swap": 0}, "pids": {"limit": 0},
                     "cpu": {"shares": 0, "quota": 0, "period": 0, "cpus": "", "mems": ""},
                     "blockIO": {"weight": 0}}
        for key, value in fields.items():
            section, field = key.split("_")
            resources[section][field] = value
        return json.dumps(resources)

    path = tmp_path / "resources.json"
    path.write_text(docker_style(memory_limit=64 * MiB))
    runtime("update", "--resources", str(path), name, check=True)
    assert limits_of(pid) == dict(before, memory=str(64 * MiB))
    runtime("update", "--resources", "-", name, input=docker_style(pids_limit=40).encode(),
            check=True)
    assert limits_of(pid) == dict(before, memory=str(64 * MiB), pids="40")
    runtime("update", "-r", "-", name, input=docker_style().encode(), check=True)
    assert limits_of(pid) == dict(before, memory=str(64 * MiB), pids="40")


def test_pause_resume_ps_kill_all(runtime, make_bundle):
    name, pid = started(runtime, make_bundle, ["sh", "-c", "sleep 60 & sleep 60 & sleep 60"],
                        {"pids": {"limit": 20}})
    pids = json.loads(runtime("ps", "--format", "json", name, check=True).stdout)
    assert len(pids) == 3 and pid in pids
    table = runtime("ps", name, check=True).stdout.splitlines()
    assert "PID" in table[0] and len(table) == 4 and all("sleep" in line for line in table[1:])

    runtime("pause", name, check=True)
    assert runtime.state(name)["status"] == "paused"
    v1_freezer = not cgutil.is_v2("freezer")
    if v1_freezer:
        assert cgutil.read(pid, "freezer", "freezer.state", "") == "FROZEN"
    else:
        assert "frozen 1" in cgutil.read(pid, "cgroup", "", "cgroup.events")
    assert runtime("pause", name).returncode == 1
    runtime("resume", name, check=True)
    assert runtime.state(name)["status"] == "running"

    runtime("kill", "--all", name, "KILL", check=True)
    assert wait_until(lambda: runtime.state(name)["status"] == "stopped")
    assert wait_until(lambda: not any(os.path.exists(f"/proc/{p}") for p in pids))
    runtime("delete", name, check=True)
    assert not cgroup_dirs(name)


def dead(pid):
    """Gone, or a zombie: the signal reached it."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return any(line.split()[:2] == ["State:", "Z"] for line in f)
    except FileNotFoundError:
        return True


def test_kill_all_reaches_every_process_a_plain_kill_only_the_init(runtime, make_bundle):
    """The init traps USR1 (it would ignore a signal without a handler: it is pid 1) and counts
    them in a file; its two children die of USR1 (the default action) when it reaches them."""
    script = ("trap 'echo usr1 >> /dev/shm/init' USR1; sleep 600 & sleep 600 &"
              " while true; do sleep 0.1; done")
    name, pid = started(runtime, make_bundle, ["sh", "-c", script], {})

    def children():
        found = []
        for p in json.loads(runtime("ps", "--format", "json", name, check=True).stdout):
            try:
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    if f.read() == b"sleep\x00600\x00":
                        found.append(p)
            except FileNotFoundError:
                continue
        return found

    def init_got():
        return inside(runtime, name, "cat /dev/shm/init 2>/dev/null; true").count("usr1")

    assert wait_until(lambda: len(children()) == 2)
    sleepers = children()
    runtime("kill", name, "USR1", check=True)
    assert wait_until(lambda: init_got() == 1)
    time.sleep(0.3)  # time for a stray signal to have landed
    assert not any(dead(p) for p in sleepers)

    runtime("kill", "--all", name, "USR1", check=True)
    assert wait_until(lambda: all(dead(p) for p in sleepers))
    assert wait_until(lambda: init_got() >= 2)
    time.sleep(0.3)
    assert init_got() == 2  # --all signals the init once, like every other process
    assert runtime.state(name)["status"] == "running"


def test_events_stats_once(runtime, make_bundle):
    name, _ = started(runtime, make_bundle, ["sleep", "60"], {"pids": {"limit": 10}})
    event = json.loads(runtime("events", "--stats", name, check=True).stdout)
    assert event["type"] == "stats" and event["id"] == name
    data = event["data"]
    assert data["pids"] == {"current": 1, "limit": 10}
    assert data["memory"]["usage"]["usage"] > 0
    assert data["cpu"]["usage"]["total"] > 0


def test_delete_force_of_paused_container(runtime, make_bundle):
    name, _ = started(runtime, make_bundle, ["sleep", "60"], {})
    runtime("pause", name, check=True)
    start = time.monotonic()
    runtime("delete", "--force", name, check=True)
    assert time.monotonic() - start < 5
    assert not cgroup_dirs(name)


def test_absolute_cgroups_path_makes_and_removes_parents(runtime, make_bundle):
    top = f"pyrunc-abs-{uuid.uuid4().hex[:6]}"
    name, pid = started(runtime, make_bundle, ["sleep", "60"], {"pids": {"limit": 5}},
                        cgroupsPath=f"/{top}/pod/ctr")
    dirs = cgutil.all_cgroup_dirs(pid)
    assert dirs and all(d.endswith(f"/{top}/pod/ctr") for d in dirs)
    runtime("delete", "--force", name, check=True)
    assert not any(os.path.exists(d.rsplit("/pod/ctr", 1)[0]) for d in dirs)


def test_containers_sharing_a_new_parent_come_and_go_in_parallel(runtime, make_bundle):
    """20 containers under one parent that none of them finds: a run makes it if missing and
    its delete removes it if empty, maybe just before another run makes its cgroup in it (see
    the unit test of that race). Every run succeeds and leaves no cgroup of its own; the
    parent stays only when its maker left while another container still used it (as runc
    leaves parents), and then empty."""
    top = f"pyrunc-shared-{uuid.uuid4().hex[:6]}"
    bundles = {i: make_bundle(["true"], with_resources({"pids": {"limit": 5}},
                                                       cgroupsPath=f"/{top}/c{i}"),
                              name=f"bundle{i}") for i in range(20)}

    def runs(i):
        return [runtime("run", "-b", bundles[i], cid(f"sh{i}"), stdin=subprocess.DEVNULL)
                for _ in range(3)]

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        results = [r for rs in pool.map(runs, range(20)) for r in rs]
    assert [r.returncode for r in results] == [0] * 60, [r.stderr for r in results
                                                         if r.returncode]
    from pyrunc.cgroups.layout import hierarchies
    for parent in [os.path.join(h.mountpoint, top) for h in hierarchies()]:
        if os.path.exists(parent):
            assert [e.name for e in os.scandir(parent) if e.is_dir()] == [], parent
            os.rmdir(parent)


def test_child_cgroups_made_inside_go_with_the_container(runtime, make_bundle):
    """With a writable cgroup mount the container makes a cgroup of its own and moves a
    process into it: ps and kill --all count that process, delete removes that cgroup first."""
    def edit(config):
        for m in config["mounts"]:
            if m["type"] == "cgroup":
                m["options"] = ["nosuid", "noexec", "nodev", "rw"]
    own = "/sys/fs/cgroup" if cgutil.is_v2("pids") else "/sys/fs/cgroup/pids"
    script = (f"mkdir {own}/sub && sh -c 'echo $$ > {own}/sub/cgroup.procs; exec sleep 60' & "
              "exec sleep 60")
    name = cid("sub")
    runtime("run", "-d", "-b", make_bundle(["sh", "-c", script], edit), name, check=True,
            stdin=subprocess.DEVNULL)
    pid = runtime.state(name)["pid"]
    directory, _ = cgutil.cgroup_of(pid, "pids")
    sub = os.path.join(directory, "sub")
    assert wait_until(lambda: os.path.exists(sub) and cgutil.read(pid, "pids", "sub/cgroup.procs",
                                                                  "sub/cgroup.procs"))
    nested = int(cgutil.read(pid, "pids", "sub/cgroup.procs", "sub/cgroup.procs"))
    assert sorted(json.loads(runtime("ps", "--format", "json", name, check=True).stdout)) == \
        sorted([pid, nested])
    runtime("delete", "--force", name, check=True)
    assert not os.path.exists(sub) and not os.path.exists(directory)


def test_delete_reports_a_cgroup_it_cannot_remove(runtime, make_bundle):
    """A cgroup that stays busy (here a mount on its directory, which makes rmdir fail with
    EBUSY as a process that does not leave would) is waited for, then named in delete's error;
    the rest of the container goes."""
    name, pid = started(runtime, make_bundle, ["sleep", "60"], {"pids": {"limit": 5}})
    directory, _ = cgutil.cgroup_of(pid, "pids")
    others = [d for d in cgutil.all_cgroup_dirs(pid) if d != directory]
    subprocess.run(["mount", "--bind", directory, directory], check=True)
    try:
        start = time.monotonic()
        result = runtime("delete", "--force", name)
        assert time.monotonic() - start >= 5
        assert result.returncode == 1
        assert result.stderr.splitlines() == [
            f"pyrunc: cgroup {directory}: still in use after 5 s, left in place"], result.stderr
        assert runtime.ids() == [] and not any(os.path.exists(d) for d in others)
        assert os.path.isdir(directory)
    finally:
        subprocess.run(["umount", directory], check=True)
    os.rmdir(directory)


def test_relative_cgroups_path_is_under_our_own_cgroup(runtime, make_bundle):
    rel = f"pyrunc-rel-{uuid.uuid4().hex[:6]}"
    name, pid = started(runtime, make_bundle, ["sleep", "60"], {}, cgroupsPath=rel)
    with open("/proc/self/cgroup") as f:
        ours = {line.split(":", 2)[1]: line.rstrip("\n").split(":", 2)[2] for line in f}
    with open(f"/proc/{pid}/cgroup") as f:
        theirs = {line.split(":", 2)[1]: line.rstrip("\n").split(":", 2)[2] for line in f}
    for key, path in theirs.items():
        assert path == os.path.join(ours[key], rel), (key, path)
    dirs = cgutil.all_cgroup_dirs(pid)
    runtime("delete", "--force", name, check=True)
    assert dirs and not any(os.path.isdir(d) for d in dirs)


@pytest.mark.parametrize("resources, linux, field", [
    ({"memory": {"limit": -5}}, {}, "linux.resources.memory.limit"),
    ({"pids": {"limit": "many"}}, {}, "linux.resources.pids.limit"),
    ({"unified": {"bogus.knob": "1"}}, {}, "linux.resources.unified.bogus.knob"),
    ({"devices": [{"allow": True, "type": "x", "access": "rwm"}]}, {},
     "linux.resources.devices[0].type"),
    ({"cpu": {"cpus": "97"}}, {}, "linux.resources.cpu.cpus"),
    ({}, {"cgroupsPath": "/a/../../b"}, "linux.cgroupsPath"),
])
def test_bad_values_one_line_error_and_nothing_left(runtime, make_bundle, resources, linux,
                                                    field):
    name = cid("bad")
    bundle = make_bundle(["true"], with_resources(resources, **linux))
    result = runtime("create", "-b", bundle, name)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert runtime.ids() == [] and not cgroup_dirs(name)


def test_unified_on_v1_controller_is_refused(runtime, make_bundle):
    if cgutil.is_v2():
        name, pid = started(runtime, make_bundle, ["sleep", "60"],
                            {"unified": {"memory.high": str(48 * MiB)}})
        assert cgutil.read(pid, "memory", "", "memory.high") == str(48 * MiB)
        return
    bundle = make_bundle(["true"], with_resources({"unified": {"memory.high": "1M"}}))
    result = runtime("create", "-b", bundle, cid("uni"))
    assert result.returncode == 1
    assert "linux.resources.unified.memory.high: the memory controller is not available on " \
           "cgroup v2" in result.stderr


def test_memory_limit_too_low_for_setup_is_named(runtime, make_bundle):
    """Far below what any process needs: create fails naming the field (or, if the init's
    setup squeezed in, the process dies at once); nothing is left either way."""
    name = cid("low")
    bundle = make_bundle(["/bin/true"], with_resources({"memory": {"limit": 16384}}))
    result = runtime("run", "-b", bundle, name, stdin=subprocess.DEVNULL)
    assert result.returncode != 0
    if result.returncode == 1:
        assert "linux.resources.memory.limit" in result.stderr, result.stderr
    else:
        assert result.returncode == 128 + signal.SIGKILL
    assert runtime.ids() == [] and not cgroup_dirs(name)


def test_update_changes_device_rules_of_a_running_container(runtime, make_bundle):
    devices = [{"path": "/dev/fakefuse", "type": "c", "major": 10, "minor": 229,
                "fileMode": 0o666}]
    name, _ = started(runtime, make_bundle, ["sleep", "60"], {}, devices=devices)
    probe = "exec 3<>/dev/fakefuse && echo opened; echo x >/dev/null && echo null-ok"
    before = runtime("exec", name, "sh", "-c", probe)
    assert "opened" not in before.stdout and "Operation not permitted" in before.stderr
    rules = {"devices": [{"allow": True, "type": "c", "major": 10, "minor": 229,
                          "access": "rw"}]}
    runtime("update", "-r", "-", name, input=json.dumps(rules).encode(), check=True)
    after = runtime("exec", name, "sh", "-c", probe, check=True)
    assert "opened" in after.stdout and "null-ok" in after.stdout
