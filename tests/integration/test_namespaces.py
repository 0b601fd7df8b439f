"""Namespaces on real containers, from outside (/proc/<pid>/ns/*, uid_map, /proc/<pid>/cgroup,
the host's cgroup tree) and from inside (the container's own output): user with id maps, time
with offsets, cgroup with cgroupsPath, the defaults, uts names and namespaced sysctls, and files
made through a user namespace."""
import os
import socket
import subprocess
import time

from featutil import PYTHON_HOST, SUFFIX, cid, ns_inode, run_detached, script, status_field

YEAR = 365 * 86400
ID_MAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def test_user_namespace_maps_ids(runtime, make_bundle, tmp_path):
    def edit(config):
        config["linux"]["namespaces"].append({"type": "user"})
        config["linux"]["uidMappings"] = ID_MAP
        config["linux"]["gidMappings"] = ID_MAP
        script(config, "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; "
                       "cat /etc/hostname; stat -c %u /bin/busybox; echo READY; exec sleep 1000")
    container = cid("userns")
    pid, out = run_detached(runtime, make_bundle(edit=edit), container, tmp_path)
    for name in ("uid_map", "gid_map"):
        with open(f"/proc/{pid}/{name}") as f:
            assert f.read().split() == ["0", "100000", "65536"], name
    assert status_field(pid, "Uid") == ["100000"] * 4
    assert status_field(pid, "Gid") == ["100000"] * 4
    assert ns_inode(pid, "user") != ns_inode("self", "user")
    lines = out.split("\n")
    assert lines[0:2] == ["0", "0"]
    assert lines[2].split() == ["0", "100000", "65536"]
    assert lines[3].split() == ["0", "100000", "65536"]
    # The image belongs to the host's root, unmapped inside: readable, owned by the overflow uid.
    assert lines[4] == "pyrunc"
    assert lines[5] == "65534"
    # exec joins the same user namespace: root inside, the same map
    joined = runtime("exec", container, "sh", "-c", "id -u; cat /proc/self/uid_map", check=True)
    assert joined.stdout.split() == ["0", "0", "100000", "65536"]


def test_time_namespace_offsets_move_each_clock(runtime, make_bundle, tmp_path):
    """monotonic and boottime are separate clocks: /proc/uptime follows boottime only."""
    def edit(config):
        config["linux"]["namespaces"].append({"type": "time"})
        config["linux"]["timeOffsets"] = {"monotonic": {"secs": YEAR},
                                          "boottime": {"secs": 2 * YEAR, "nanosecs": 0}}
        script(config, "cat /proc/uptime; cat /proc/self/timens_offsets; echo READY; "
                       "exec sleep 1000")
    container = cid("timens")
    host_uptime = float(open("/proc/uptime").read().split()[0])
    pid, out = run_detached(runtime, make_bundle(edit=edit), container, tmp_path)
    lines = out.splitlines()
    assert abs(float(lines[0].split()[0]) - host_uptime - 2 * YEAR) < 30
    assert sorted(line.split() for line in lines[1:3]) == [
        ["boottime", str(2 * YEAR), "0"], ["monotonic", str(YEAR), "0"]]
    assert ns_inode(pid, "time") != ns_inode("self", "time")
    # CLOCK_MONOTONIC itself, read by a process that joins the container's time namespace.
    probe = ("import time; print(time.clock_gettime(time.CLOCK_MONOTONIC), "
             "time.clock_gettime(time.CLOCK_BOOTTIME))")
    host_mono = time.clock_gettime(time.CLOCK_MONOTONIC)
    host_boot = time.clock_gettime(time.CLOCK_BOOTTIME)
    joined = subprocess.run(["nsenter", "-t", str(pid), "-T", PYTHON_HOST, "-c", probe],
                            capture_output=True, text=True, check=True, timeout=30)
    mono, boot = map(float, joined.stdout.split())
    assert abs(mono - host_mono - YEAR) < 30
    assert abs(boot - host_boot - 2 * YEAR) < 30


def test_exec_joins_the_time_namespace(runtime, make_bundle, tmp_path):
    def edit(config):
        config["linux"]["namespaces"].append({"type": "time"})
        config["linux"]["timeOffsets"] = {"boottime": {"secs": YEAR}}
        script(config, "echo READY; exec sleep 1000")
    container = cid("timexec")
    run_detached(runtime, make_bundle(edit=edit), container, tmp_path)
    host_uptime = float(open("/proc/uptime").read().split()[0])
    result = runtime("exec", container, "cat", "/proc/uptime")
    assert result.returncode == 0, result.stderr
    assert abs(float(result.stdout.split()[0]) - host_uptime - YEAR) < 30


def test_time_namespace_with_a_user_namespace(runtime, make_bundle):
    """The offsets are written for a time namespace owned by the container's user namespace
    (runc's timens.bats has this case too)."""
    def edit(config):
        config["linux"]["namespaces"] += [{"type": "user"}, {"type": "time"}]
        config["linux"]["uidMappings"] = ID_MAP
        config["linux"]["gidMappings"] = ID_MAP
        config["linux"]["timeOffsets"] = {"boottime": {"secs": YEAR}}
        script(config, "id -u; cat /proc/uptime")
    host_uptime = float(open("/proc/uptime").read().split()[0])
    result = runtime("run", "-b", make_bundle(edit=edit), cid("usertime"))
    assert result.returncode == 0, result.stderr
    uid, uptime = result.stdout.splitlines()[:2]
    assert uid == "0"
    assert abs(float(uptime.split()[0]) - host_uptime - YEAR) < 30


def test_cgroup_namespace_default_path(runtime, make_bundle, tmp_path):
    container = cid("cgns")
    bundle = make_bundle(edit=lambda c: script(c, "cat /proc/self/cgroup; echo READY; "
                                                  "exec sleep 1000"))
    pid, out = run_detached(runtime, bundle, container, tmp_path)
    inside = out.split()
    assert inside and all(line.endswith(":/") for line in inside), inside
    with open(f"/proc/{pid}/cgroup") as f:
        outside = f.read().split()
    assert len(outside) == len(inside)
    assert all(line.endswith(f":/{container}") for line in outside), outside
    assert ns_inode(pid, "cgroup") != ns_inode("self", "cgroup")
    with open(f"/sys/fs/cgroup/pids/{container}/cgroup.procs") as f:
        assert str(pid) in f.read().split()


def test_cgroups_path_nested_is_made_and_removed(runtime, make_bundle, tmp_path):
    container = cid("cgpath")
    parent = f"pyrunc-test-cg-{SUFFIX}"  # unique: another test may hold pyrunc-test-cg

    def edit(config):
        config["linux"]["cgroupsPath"] = f"/{parent}/{container}"
        script(config, "cat /proc/self/cgroup; echo READY; exec sleep 1000")
    pid, out = run_detached(runtime, make_bundle(edit=edit), container, tmp_path)
    leaf = f"/sys/fs/cgroup/pids/{parent}/{container}"
    try:
        assert os.path.isdir(leaf)
        with open(f"{leaf}/cgroup.procs") as f:
            assert str(pid) in f.read().split()
        with open(f"/proc/{pid}/cgroup") as f:
            assert f":pids:/{parent}/{container}\n" in f.read()
        assert ":pids:/\n" in out + "\n"
        inside_mounts = runtime("exec", container, "cat", "/proc/self/mountinfo",
                                check=True).stdout
        assert " /sys/fs/cgroup/pids " in inside_mounts
        for hierarchy in os.listdir("/sys/fs/cgroup"):
            assert os.path.isdir(f"/sys/fs/cgroup/{hierarchy}/{parent}/{container}"), hierarchy
        runtime("delete", "--force", container, check=True)
        assert not os.path.exists(leaf)
        for hierarchy in os.listdir("/sys/fs/cgroup"):
            assert not os.path.exists(f"/sys/fs/cgroup/{hierarchy}/{parent}"), hierarchy
    finally:
        runtime("delete", "--force", container)
        for hierarchy in os.listdir("/sys/fs/cgroup"):
            for d in (f"/sys/fs/cgroup/{hierarchy}/{parent}/{container}",
                      f"/sys/fs/cgroup/{hierarchy}/{parent}"):
                if os.path.isdir(d):
                    try:
                        os.rmdir(d)
                    except OSError:
                        pass


def test_new_namespaces_by_default_and_shared_when_not_listed(runtime, make_bundle, tmp_path):
    container = cid("nsdef")
    bundle = make_bundle(edit=lambda c: script(c, "echo $$; echo READY; exec sleep 1000"))
    pid, out = run_detached(runtime, bundle, container, tmp_path)
    assert out.split() == ["1"]  # pid 1 of its own pid namespace
    for kind in ("ipc", "uts", "net", "pid", "mnt", "cgroup"):
        assert ns_inode(pid, kind) != ns_inode("self", kind), kind
    for kind in ("user", "time"):  # not in the config: the runtime's own
        assert ns_inode(pid, kind) == ns_inode("self", kind), kind

    def host_network(config):
        config["linux"]["namespaces"] = [n for n in config["linux"]["namespaces"]
                                         if n["type"] != "network"]
        script(config, "echo READY; exec sleep 1000")
    shared = cid("nshost")
    pid2, _ = run_detached(runtime, make_bundle(edit=host_network, name="hostnet"), shared,
                           tmp_path)
    assert ns_inode(pid2, "net") == ns_inode("self", "net")
    assert ns_inode(pid2, "uts") != ns_inode("self", "uts")


def test_hostname_and_domainname(runtime, make_bundle):
    host_name = socket.gethostname()
    host_domain = open("/proc/sys/kernel/domainname").read()

    def edit(config):
        config["hostname"] = "feat-host"
        config["domainname"] = "feat.example"
        script(config, "hostname; cat /proc/sys/kernel/domainname")
    out = runtime("run", "-b", make_bundle(edit=edit), cid("uts"), check=True).stdout
    assert out.split() == ["feat-host", "feat.example"]
    assert socket.gethostname() == host_name
    assert open("/proc/sys/kernel/domainname").read() == host_domain


def test_sysctl_in_new_net_and_ipc_namespaces(runtime, make_bundle):
    host_forward = open("/proc/sys/net/ipv4/ip_forward").read()
    host_msgmax = open("/proc/sys/kernel/msgmax").read()
    wanted_forward = "0" if host_forward.strip() == "1" else "1"

    def edit(config):
        config["linux"]["sysctl"] = {"net.ipv4.ip_forward": wanted_forward,
                                     "kernel.msgmax": "12345"}
        script(config, "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax")
    out = runtime("run", "-b", make_bundle(edit=edit), cid("sysctl"), check=True).stdout
    assert out.split() == [wanted_forward, "12345"]
    assert open("/proc/sys/net/ipv4/ip_forward").read() == host_forward
    assert open("/proc/sys/kernel/msgmax").read() == host_msgmax


def test_user_namespace_files_and_devices(runtime, make_bundle):
    """Root in the container is host uid 100000: what it writes on a bind mount is owned by
    that uid on the host; /dev nodes are bind mounts of the host's (mknod is not allowed)."""
    import shutil
    import tempfile
    from pathlib import Path
    # The init, already in the user namespace, must reach the source: not under pytest's 0700
    # tmp (sources opened by the parent and passed as fds would lift this; not done yet).
    shared = Path(tempfile.mkdtemp(prefix="pyrunc-userns-"))
    os.chown(shared, 100000, 100000)
    try:
        _run_userns_files(runtime, make_bundle, shared)
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def _run_userns_files(runtime, make_bundle, shared):
    def edit(config):
        config["linux"]["namespaces"].append({"type": "user"})
        config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        # /tmp exists in the image: userns root may not create mount points in a rootfs
        # owned by the host's root
        config["mounts"].append({"destination": "/tmp", "type": "bind",
                                 "source": str(shared), "options": ["bind"]})
        config["process"]["args"] = ["sh", "-c", "echo hi > /tmp/made-inside; "
                                     "stat -c %t:%T /dev/null; grep -c ' /dev/null ' "
                                     "/proc/self/mountinfo; echo x > /dev/null && echo dev-ok"]
    bundle = make_bundle(edit=edit)
    out = runtime("run", "-b", bundle, cid("userfiles"), check=True).stdout.split()
    made = os.stat(shared / "made-inside")
    assert (made.st_uid, made.st_gid) == (100000, 100000)
    assert out == ["1:3", "1", "dev-ok"]
